package ct

import "github.com/nftgo/nftgo/packet"

// Conntrack helpers: protocol parsers attached to an entry that create
// expectations for the related connections the protocol announces (FTP's
// data connections). nftables attaches them with a `ct helper` object and
// `ct helper set "name"`; automatic assignment by port
// (nf_conntrack_helper=1) is off, as in every kernel since 4.7's default,
// so an entry has a helper only when a rule gave it one.

// StatusHelper is IPS_HELPER: a helper was attached explicitly.
const StatusHelper = 0x2000

// Helper is one registered conntrack helper (struct nf_conntrack_helper).
type Helper struct {
	Name string
	// L4 is the transport protocol it is registered for.
	L4 uint8
	// maxExpected and timeout are its expectation policy
	// (nf_conntrack_expect_policy): live expectations per master, and
	// their lifetime in seconds.
	maxExpected uint8
	timeout     uint32
	help        func(t *Table, c *Conn, e *connExt, info Info, p *packet.Packet, j uint32) int
}

// helpers are the helpers nftgo implements. Each is registered for IPv4
// and IPv6 alike.
var helpers = []*Helper{ftpHelper, tftpHelper}

// kernelHelpers are the other helper names Linux 6.18 registers (with
// their protocols): loading an object naming one succeeds in Linux, but
// nftgo would not model its effect, so LookupHelper reports it apart.
var kernelHelpers = map[string][]uint8{
	"amanda": {packet.ProtoUDP}, "irc": {packet.ProtoTCP}, "netbios-ns": {packet.ProtoUDP},
	"pptp": {packet.ProtoTCP}, "sane": {packet.ProtoTCP}, "sip": {packet.ProtoTCP, packet.ProtoUDP},
	"snmp": {packet.ProtoUDP}, "snmp_trap": {packet.ProtoUDP}, "RAS": {packet.ProtoUDP},
	"Q.931": {packet.ProtoTCP}, "H.245": {packet.ProtoTCP},
}

// LookupHelper finds a helper by name and transport protocol
// (nf_conntrack_helper_try_module_get). known reports a helper Linux has;
// for one nftgo does not implement, h is an inert stand-in (see Modelled).
//
// Ref: net/netfilter/nf_conntrack_helper.c — __nf_conntrack_helper_find
func LookupHelper(name string, l4 uint8) (h *Helper, known bool) {
	for _, h := range helpers {
		if h.Name == name && h.L4 == l4 {
			return h, true
		}
	}
	for _, p := range kernelHelpers[name] {
		if p == l4 {
			// Attached and listed like the kernel's, but it parses
			// nothing: no expectation, no RELATED connection.
			return &Helper{Name: name, L4: l4}, true
		}
	}
	return nil, false
}

// Modelled reports whether nftgo parses this helper's protocol. A helper
// Linux has and nftgo does not is still attached by `ct helper set` and
// shows in `conntrack -L`, but creates no expectations.
func (h *Helper) Modelled() bool { return h.help != nil }

// helperState is the table's part for helpers and expectations.
type helperState struct {
	exts    []connExt
	extFree []uint32
	expects []expect
	// cur is the packet In last attached curConn to: the helper at
	// Confirm parses it (nf_confirm runs helper->help on the skb).
	cur     *packet.Packet
	curConn *Conn
	// expectMax is nf_conntrack_expect_max.
	expectMax int
}

// AssignHelper is the tail of nft_ct_helper_obj_eval: an unconfirmed
// entry of the helper's protocol without a helper yet gets h and
// IPS_HELPER. The caller has checked the entry is no template and picked
// h for the entry's family.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_helper_obj_eval
func (t *Table) AssignHelper(c *Conn, h *Helper) {
	if c == nil || h == nil || c.Status&StatusConfirmed != 0 || c.orig.Proto != h.L4 {
		return
	}
	if c.Status&StatusHelper != 0 {
		return
	}
	// nf_ct_helper_ext_add fails when the entry already has a help
	// extension (an `ct expectation` object added one): no helper then.
	if e := t.extFind(c); e != nil && e.help {
		return
	}
	e := t.extOf(c)
	e.help, e.helper = true, h
	c.Status |= StatusHelper
}

// HelperName is what `ct helper` loads: the name of the helper of the
// entry's master, so only entries created by an expectation match; ok is
// false (NFT_BREAK) otherwise.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval (NFT_CT_HELPER)
func (t *Table) HelperName(c *Conn) (name string, ok bool) {
	if c == nil || c.Status&StatusExpected == 0 {
		return "", false
	}
	e := t.extFind(c)
	if e == nil || e.master == nil {
		return "", false
	}
	return e.master.Name, true
}

// Helper returns the helper attached to the entry itself (`conntrack -L`
// prints it as helper=NAME), or nil.
func (t *Table) Helper(c *Conn) *Helper {
	if e := t.extFind(c); e != nil {
		return e.helper
	}
	return nil
}

// help runs the entry's helper on the packet at the confirm hook and
// reports a drop. ICMP errors (RELATED_REPLY) are not shown to helpers.
//
// Ref: net/netfilter/nf_conntrack_proto.c — nf_confirm
func (t *Table) help(c *Conn, info Info, j uint32) bool {
	e := t.extFind(c)
	if e == nil || info == RelatedReply || t.cur == nil {
		return false
	}
	if e.helper != nil && e.helper.help != nil && e.helper.help(t, c, e, info, t.cur, j) == vDrop {
		return true
	}
	if c.Status&statusSeqAdjust != 0 {
		seqAdjust(e, t.cur, Direction(info))
	}
	return false
}
