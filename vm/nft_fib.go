package vm

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// NFTA_FIB_F_* flags and NFT_FIB_RESULT_* values (uapi nf_tables.h).
const (
	fibSaddr   = 1 << 0
	fibDaddr   = 1 << 1
	fibMark    = 1 << 2
	fibIif     = 1 << 3
	fibOif     = 1 << 4
	fibPresent = 1 << 5
	fibAll     = fibSaddr | fibDaddr | fibMark | fibIif | fibOif | fibPresent

	fibResOif      = 1
	fibResOifname  = 2
	fibResAddrtype = 3
)

// Route types (enum rtn_type) fib ... type loads.
const (
	rtnUnicast     = 1
	rtnLocal       = 2
	rtnBroadcast   = 3
	rtnMulticast   = 5
	rtnUnreachable = 7
)

// loadFib is nft_fib_init.
//
// Ref: net/netfilter/nft_fib.c — nft_fib_init.
func (l *loader) loadFib(x *ruleset.Fib) (in insn, st int32, err error) {
	st = -1
	f := x.Flags
	if f&^fibAll != 0 || f&(fibSaddr|fibDaddr) == fibSaddr|fibDaddr || f&(fibIif|fibOif) == fibIif|fibOif || f&(fibSaddr|fibDaddr) == 0 {
		return in, st, errInval
	}
	n := 4
	switch x.Result {
	case fibResOif:
		if f&fibOif != 0 {
			return in, st, errInval
		}
	case fibResOifname:
		if f&fibOif != 0 {
			return in, st, errInval
		}
		if f&fibPresent == 0 {
			n = 16
		}
	case fibResAddrtype:
	default:
		return in, st, errInval
	}
	switch l.t.Family {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet, ruleset.FamilyNetdev:
	default:
		// Only ip, ip6, inet and netdev register a fib expression type.
		return in, st, errNoEnt
	}
	in.op, in.key, in.mask, in.len = opFib, x.Result, f, uint8(n)
	in.dreg, err = l.store(x.DReg, n)
	return in, st, err
}

// fibHooks is nft_fib_validate: the hooks where the lookup's inputs exist.
func fibHooks(x *ruleset.Fib) []ruleset.Hook {
	pre, in, fwd, out, post := ruleset.HookPrerouting, ruleset.HookInput, ruleset.HookForward, ruleset.HookOutput, ruleset.HookPostrouting
	switch x.Result {
	case fibResOif, fibResOifname:
		return []ruleset.Hook{pre, in, fwd}
	case fibResAddrtype:
		switch {
		case x.Flags&fibIif != 0:
			return []ruleset.Hook{pre, in, fwd}
		case x.Flags&fibOif != 0:
			return []ruleset.Hook{out, post, fwd}
		}
		return []ruleset.Hook{pre, in, fwd, out, post}
	}
	return nil
}

// fibAllows is nft_fib_validate for the base chain's hook. In a netdev
// table the kernel 6.18 answers as if ingress were prerouting and egress
// came after routing: the lookups that need an input device (oif,
// oifname, type with iif) are refused on egress, type with oif on ingress
// (measured with nft 1.0.6 on 6.18).
func fibAllows(x *ruleset.Fib, fam ruleset.Family, h *ruleset.ChainHook) error {
	hook := h.Hook
	if fam == ruleset.FamilyNetdev {
		hook = ruleset.HookPrerouting
		if h.Hook == ruleset.HookNetdevEgress {
			hook = ruleset.HookPostrouting
		}
	}
	for _, ok := range fibHooks(x) {
		if hook == ok {
			return nil
		}
	}
	return errNotSupp
}

// fibEval dispatches on the family the packet has now (nft_fib_inet_eval);
// in a netdev chain that is the packet's own protocol (nft_fib_netdev_eval),
// IPv4 or IPv6, anything else BREAKs.
func (m *machine) fibEval(in *insn) {
	switch m.pkt.NFProto {
	case packet.NFProtoIPv4, packet.NFProtoIPv6:
	default:
		m.verdict = ruleset.VerdictBreak
		return
	}
	src, dst := rawAddrs(m.pkt)
	if src == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	var dev *iface
	switch {
	case in.mask&fibIif != 0:
		dev = m.in
	case in.mask&fibOif != 0:
		dev = m.out
	}
	if in.key == fibResAddrtype {
		a := src
		if in.mask&fibDaddr != 0 {
			a = dst
		}
		m.store32(in.dreg, m.host.addrType(a, dev, in.mask&(fibIif|fibOif) != 0))
		return
	}
	// Prerouting of a looped-back packet: the answer is its in device.
	// Netdev ingress is hook 0, NF_INET_PRE_ROUTING, to the kernel too.
	if (m.hook == ruleset.HookPrerouting || m.hook == ruleset.HookIngress && m.nfproto == uint8(ruleset.FamilyNetdev)) && m.in != nil && m.in == m.host.lo {
		m.fibStore(in, m.in)
		return
	}
	if len(src) == 4 && src[0] == 0 && (binary.BigEndian.Uint32(dst) == 0xffffffff || dst[0] == 224 && dst[1] == 0 && dst[2] == 0) {
		// DHCP-style 0.0.0.0 sources to broadcast or local multicast.
		m.fibStore(in, m.in)
		return
	}
	a := src
	if in.mask&fibDaddr != 0 {
		a = dst
	}
	found := m.host.fibLookup(a, dev, m.in)
	if found == nil && dev == nil && len(a) == 16 && a[0] == 0xfe && a[1]&0xc0 == 0x80 {
		// Link-local: the lookup is bound to the packet's device.
		found = m.in
	}
	m.fibStore(in, found)
}

// fibStore is nft_fib_store_result; a failed lookup stores 0 (the whole
// name for oifname, where the kernel zeroes only its first word).
//
// Ref: net/netfilter/nft_fib.c — nft_fib_store_result.
func (m *machine) fibStore(in *insn, dev *iface) {
	if in.mask&fibPresent != 0 {
		w := uint32(0)
		if dev != nil {
			w = 1
		}
		m.store32(in.dreg, w)
		return
	}
	if in.key == fibResOif {
		m.store32(in.dreg, uint32(dev.index()))
		return
	}
	m.store(in.dreg, dev.nameBytes())
}

// fibLookup is the route lookup of nft_fib4_eval/nft_fib6_eval: the route's
// device, or, with an iif/oif restriction, that device if the route uses
// it. Local destinations and unroutable ones give nil.
//
// Ref: net/ipv4/netfilter/nft_fib_ipv4.c — nft_fib4_eval;
// net/ipv6/netfilter/nft_fib_ipv6.c — nft_fib6_eval.
func (h *host) fibLookup(a []byte, dev, in *iface) *iface {
	if h.local(a) {
		return nil // RTN_LOCAL / RTF_LOCAL: "should not see" — result 0
	}
	if len(a) == 4 && h.broadcast4(a) {
		// RTN_BROADCAST of a connected prefix: its device.
		if r := h.lookup4(a); r != nil && (dev == nil || dev == r) {
			return r
		}
		return nil
	}
	r := h.route(a)
	if r == nil {
		return nil
	}
	if dev != nil && dev != r {
		return nil
	}
	return r
}

// addrType is inet_addr_type / inet_dev_addr_type (IPv4: only the local
// table decides, anything else is unicast) and nft_fib6_eval_type.
//
// Ref: net/ipv4/fib_frontend.c — __inet_dev_addr_type;
// net/ipv6/netfilter/nft_fib_ipv6.c — __nft_fib6_eval_type.
func (h *host) addrType(a []byte, dev *iface, restrict bool) uint32 {
	if len(a) == 4 {
		v := binary.BigEndian.Uint32(a)
		switch {
		case a[0] == 0 || v == 0xffffffff:
			return rtnBroadcast
		case a[0]&0xf0 == 0xe0:
			return rtnMulticast
		}
		owner, typ := h.localOwner4(a)
		if typ == 0 || (restrict && dev != owner) {
			return rtnUnicast
		}
		return typ
	}
	if a[0] == 0xff {
		return rtnMulticast
	}
	if h.local(a) {
		if !restrict || dev == h.owner(a) {
			return rtnLocal
		}
		return rtnUnicast
	}
	if h.route(a) == nil && !(a[0] == 0xfe && a[1]&0xc0 == 0x80) {
		return rtnUnreachable
	}
	return rtnUnicast
}

// localOwner4 is the local table: local addresses (and 127/8 on lo) are
// RTN_LOCAL, directed broadcasts RTN_BROADCAST, with the owning device.
func (h *host) localOwner4(a []byte) (*iface, uint32) {
	if a[0] == 127 {
		if binary.BigEndian.Uint32(a) == 0x7fffffff {
			return h.lo, rtnBroadcast
		}
		return h.lo, rtnLocal
	}
	if h.local(a) {
		return h.owner(a), rtnLocal
	}
	if h.broadcast4(a) {
		return h.lookup4(a), rtnBroadcast
	}
	return nil, 0
}

// owner is the interface holding a local address (nil for --local
// addresses given without an interface).
func (h *host) owner(a []byte) *iface {
	for _, i := range h.ifaces {
		for _, x := range i.addrs {
			if x.Is4() && len(a) == 4 {
				b := x.As4()
				if string(b[:]) == string(a) {
					return i
				}
			} else if x.Is6() && len(a) == 16 {
				b := x.As16()
				if string(b[:]) == string(a) {
					return i
				}
			}
		}
	}
	return nil
}
