package vm

import (
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// errProto is what nf_ct_netns_get answers for a family conntrack has no
// hooks for (netdev, and bridge without nf_conntrack_bridge): nft prints
// "Could not process rule: Protocol error".
var errProto = errors.New("Protocol error")

// NF_SYNPROXY_OPT_* (uapi nf_synproxy.h).
const (
	synOptMSS       = 0x01
	synOptWscale    = 0x02
	synOptSackPerm  = 0x04
	synOptTimestamp = 0x08
	synOptECN       = 0x10
	synOptMask      = 0x1f
)

// synproxyInfo is struct nf_synproxy_info: what a synproxy statement or
// object was configured with.
type synproxyInfo struct {
	mss     uint16
	wscale  uint8
	options uint8
}

// synproxyOpts is struct synproxy_options: what the client's segment
// offered, turned into what the answer carries.
type synproxyOpts struct {
	options   uint8
	wscale    uint8
	mss       uint16 // mss_option
	mssEncode uint16
	tsval     uint32
	tsecr     uint32
}

// replyAttach is a conntrack attachment handed to the reply being sent.
type replyAttach struct {
	set       bool
	conn      *ct.Conn
	info      ct.Info
	untracked bool
	// tmpl is a conntrack template (zone) handed on in place of an entry.
	tmpl bool
	zone uint16
}

// synproxyInfoOf reads the statement's attributes from the netlink debug
// body ("mss N wscale N "). libnftnl prints no flags, so timestamp and
// sack-perm are not known here; mss and wscale are flagged when set, as nft
// flags them (src/parser_bison.y — synproxy_arg).
func synproxyInfoOf(b netlinkBody) (synproxyInfo, error) {
	var si synproxyInfo
	mss, _ := b.num("mss")
	ws, _ := b.num("wscale")
	if mss > 0xffff || ws > 0xff {
		return si, errInval
	}
	si.mss, si.wscale = uint16(mss), uint8(ws)
	if mss != 0 {
		si.options |= synOptMSS
	}
	if ws != 0 {
		si.options |= synOptWscale
	}
	if f, ok := b.num("flags"); ok {
		if f&^synOptMask != 0 {
			return si, errNotSupp
		}
		si.options = uint8(f)
	}
	return si, nil
}

// loadSynproxy is nft_synproxy_init: the statement takes conntrack
// (nf_ct_netns_get), which has no netdev or bridge hooks here.
//
// Ref: net/netfilter/nft_synproxy.c — nft_synproxy_do_init.
func (l *loader) loadSynproxy(b netlinkBody) (in insn, st int32, err error) {
	st = -1
	si, err := synproxyInfoOf(b)
	if err != nil {
		return in, st, err
	}
	if err := synproxyFamily(l.t.Family); err != nil {
		return in, st, err
	}
	in.op, in.idx = opSynproxy, l.m.addSynproxy(si)
	return in, st, nil
}

func synproxyFamily(f ruleset.Family) error {
	switch f {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
		return nil
	}
	return errProto
}

func (m *machine) addSynproxy(si synproxyInfo) int32 {
	m.synproxies = append(m.synproxies, si)
	return int32(len(m.synproxies) - 1)
}

// synproxyHooks is nft_synproxy_validate: input and forward only.
//
// Ref: net/netfilter/nft_synproxy.c — nft_synproxy_validate.
func synproxyHooks(fam ruleset.Family, h *ruleset.ChainHook) error {
	if fam == ruleset.FamilyINet && h.Hook == ruleset.HookIngress {
		return errNotSupp
	}
	if h.Hook != ruleset.HookInput && h.Hook != ruleset.HookForward {
		return errNotSupp
	}
	return nil
}

// synproxyEval answers a client's SYN itself with a SYN/ACK whose sequence
// number is a SYN cookie and steals the SYN; a later ACK carrying a valid
// cookie makes it send the SYN to the server (and steals the ACK), an ACK
// with any other number is dropped. Segments with neither flag go on. A
// segment whose checksum is wrong (nearly every IPv6 one, see
// tcpChecksumOK), or whose header or options are cut short, is dropped.
//
// The answer leaves like a reject's reply (through output and
// postrouting, in Result.Reply). The synproxy hooks that then splice the
// server's SYN/ACK into the client's connection (ipv4_synproxy_hook) are
// not modelled.
//
// Ref: net/netfilter/nft_synproxy.c — nft_synproxy_do_eval,
// nft_synproxy_eval_v4, nft_synproxy_eval_v6, nft_synproxy_tcp_options.
func (m *machine) synproxyEval(si *synproxyInfo) {
	p := m.pkt
	if !p.HasL4 || p.L4Proto != packet.ProtoTCP {
		m.verdict = ruleset.VerdictBreak
		return
	}
	v4 := p.NFProto == packet.NFProtoIPv4
	if p.NFProto != packet.NFProtoIPv4 && p.NFProto != packet.NFProtoIPv6 {
		m.verdict = ruleset.VerdictBreak
		return
	}
	if p.FragOff != 0 || !tcpChecksumOK(p) {
		m.verdict = ruleset.VerdictDrop
		return
	}
	th := p.Transport()
	if len(th) < 20 {
		m.verdict = ruleset.VerdictDrop
		return
	}
	var opts synproxyOpts
	if !synproxyParseOptions(th, &opts) {
		m.verdict = ruleset.VerdictDrop
		return
	}
	flags := th[13]
	switch {
	case flags&0x02 != 0:
		// Ref: nft_synproxy_tcp_options.
		if flags&0x40 != 0 && flags&0x80 != 0 { // ece && cwr
			opts.options |= synOptECN
		}
		opts.options &= si.options
		opts.mssEncode = opts.mss
		opts.mss = si.mss
		if opts.options&synOptTimestamp != 0 {
			m.synproxyInitTimestampCookie(si, &opts)
		} else {
			opts.options &^= synOptWscale | synOptSackPerm | synOptECN
		}
		m.pendingErr = m.synproxyClientSynack(p, th, &opts, v4)
		// synproxy_send_tcp: the SYN/ACK carries the SYN's conntrack entry
		// as IP_CT_ESTABLISHED_REPLY (output's conntrack leaves it alone,
		// confirm skips a reply direction). An untracked SYN has no entry
		// (skb_nfct is NULL): its SYN/ACK meets conntrack afresh, which
		// finds it invalid (measured: synproxy-recipe, synproxy-tracked).
		if m.conn != nil {
			m.replyCt = replyAttach{set: true, conn: m.conn, info: ct.EstablishedReply}
		}
		m.verdict = ruleset.VerdictStolen
	case flags&0x10 != 0:
		if b := m.synproxyRecvClientAck(p, th, &opts, v4); b != nil {
			m.pendingErr = b
			m.verdict = ruleset.VerdictStolen
			return
		}
		m.verdict = ruleset.VerdictDrop
	}
}

// tcpChecksumOK is the nf_ip_checksum call of nft_synproxy_do_eval for a
// segment without a verified checksum (CHECKSUM_NONE, as from a tun or a
// capture): the whole segment with a pseudo-header built from ip_hdr(skb)
// — for IPv6 too, where the IPv4 source and destination fields fall on
// bytes 12 to 19 of the IPv6 header, the middle of its source address. An
// IPv6 segment therefore fails unless that happens to sum like its real
// pseudo-header, and synproxy drops it (measured on 6.18: an IPv6 SYN gets
// no SYN/ACK).
//
// Ref: net/netfilter/utils.c — nf_ip_checksum.
func tcpChecksumOK(p *packet.Packet) bool {
	nh := p.Network()
	if len(nh) < 20 || p.ThOff > len(p.Data) {
		return false
	}
	seg := p.Data[p.ThOff:]
	n := uint32(len(seg))
	s := csumPartial(nh[12:20], 0)
	s = csumPartial(seg, s)
	s += n>>16 + n&0xffff + packet.ProtoTCP
	return csumFold(s) == 0
}

// synproxyParseOptions reads MSS, window scale, timestamp and SACK-permitted
// from the options; it fails only when the options run past the packet.
//
// Ref: net/netfilter/nf_synproxy_core.c — synproxy_parse_options.
func synproxyParseOptions(th []byte, o *synproxyOpts) bool {
	length := int(th[12]>>4)*4 - 20
	if length <= 0 {
		return true
	}
	if 20+length > len(th) {
		return false
	}
	b := th[20 : 20+length]
	o.options = 0
	for len(b) > 0 {
		switch b[0] {
		case 0: // EOL
			return true
		case 1: // NOP
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return true
		}
		kind, size := b[0], int(b[1])
		if size < 2 || size > len(b) {
			return true
		}
		switch {
		case kind == 2 && size == 4:
			o.mss = binary.BigEndian.Uint16(b[2:])
			o.options |= synOptMSS
		case kind == 3 && size == 3:
			o.wscale = min(b[2], 14)
			o.options |= synOptWscale
		case kind == 8 && size == 10:
			o.tsval = binary.BigEndian.Uint32(b[2:])
			o.tsecr = binary.BigEndian.Uint32(b[6:])
			o.options |= synOptTimestamp
		case kind == 4 && size == 2:
			o.options |= synOptSackPerm
		}
		b = b[size:]
	}
	return true
}

// synproxyOptionsSize is synproxy_options_size.
func synproxyOptionsSize(o *synproxyOpts) int {
	n := 0
	if o.options&synOptMSS != 0 {
		n += 4
	}
	if o.options&synOptTimestamp != 0 {
		n += 12
	} else if o.options&synOptSackPerm != 0 {
		n += 4
	}
	if o.options&synOptWscale != 0 {
		n += 4
	}
	return n
}

// synproxyBuildOptions is synproxy_build_options: MSS, then timestamp
// (with SACK-permitted in its padding) or SACK-permitted, then window
// scale, each padded to 4 bytes.
func synproxyBuildOptions(b []byte, o *synproxyOpts) {
	if o.options&synOptMSS != 0 {
		b[0], b[1] = 2, 4
		binary.BigEndian.PutUint16(b[2:], o.mss)
		b = b[4:]
	}
	if o.options&synOptTimestamp != 0 {
		if o.options&synOptSackPerm != 0 {
			b[0], b[1] = 4, 2
		} else {
			b[0], b[1] = 1, 1
		}
		b[2], b[3] = 8, 10
		binary.BigEndian.PutUint32(b[4:], o.tsval)
		binary.BigEndian.PutUint32(b[8:], o.tsecr)
		b = b[12:]
	} else if o.options&synOptSackPerm != 0 {
		b[0], b[1], b[2], b[3] = 1, 1, 4, 2
		b = b[4:]
	}
	if o.options&synOptWscale != 0 {
		b[0], b[1], b[2], b[3] = 1, 3, 3, o.wscale
	}
}

// synproxyInitTimestampCookie keeps the client's window scale, SACK and
// ECN wishes in the low bits of the timestamp the SYN/ACK carries
// (tcp_clock_ms of the replay clock).
//
// Ref: net/netfilter/nf_synproxy_core.c — synproxy_init_timestamp_cookie.
func (m *machine) synproxyInitTimestampCookie(si *synproxyInfo, o *synproxyOpts) {
	o.tsecr = o.tsval
	o.tsval = uint32(m.now/1e6) &^ 0x3f
	if o.options&synOptWscale != 0 {
		o.tsval |= uint32(o.wscale)
		o.wscale = si.wscale
	} else {
		o.tsval |= 0xf
	}
	if o.options&synOptSackPerm != 0 {
		o.tsval |= 1 << 4
	}
	if o.options&synOptECN != 0 {
		o.tsval |= 1 << 5
	}
}

// synproxyCheckTimestampCookie reads those wishes back from the echo.
//
// Ref: net/netfilter/nf_synproxy_core.c — synproxy_check_timestamp_cookie.
func synproxyCheckTimestampCookie(o *synproxyOpts) {
	o.wscale = uint8(o.tsecr & 0xf)
	if o.wscale != 0xf {
		o.options |= synOptWscale
	}
	if o.tsecr&(1<<4) != 0 {
		o.options |= synOptSackPerm
	}
	if o.tsecr&(1<<5) != 0 {
		o.options |= synOptECN
	}
}

// synproxyTCP builds the IP and TCP headers of a segment synproxy sends:
// IPv4 with DF, id 0, TTL 64; IPv6 with hop limit 64; window 0 unless
// given.
//
// Ref: net/netfilter/nf_synproxy_core.c — synproxy_build_ip, synproxy_build_ip_ipv6.
func synproxyTCP(src, dst, sport, dport []byte, seq, ack uint32, flags uint8, win uint16, o *synproxyOpts, v4 bool) []byte {
	hl := 40
	if v4 {
		hl = 20
	}
	thl := 20 + synproxyOptionsSize(o)
	b := make([]byte, hl+thl)
	t := b[hl:]
	copy(t[0:2], sport)
	copy(t[2:4], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = uint8(thl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], win)
	synproxyBuildOptions(t[20:], o)
	if v4 {
		ipHeader4(b, src, dst, packet.ProtoTCP, 0, 0x4000)
	} else {
		ipHeader6(b, src, dst, packet.ProtoTCP)
	}
	l4Checksum(b, hl, v4, packet.ProtoTCP, 16)
	return b
}

// synproxyClientSynack answers the SYN: addresses and ports swapped, the
// cookie as sequence number (encoding the client's MSS), SYN|ACK (with ECE
// when ECN was asked for), window 0.
//
// Ref: net/netfilter/nf_synproxy_core.c — synproxy_send_client_synack,
// synproxy_send_client_synack_ipv6.
func (m *machine) synproxyClientSynack(p *packet.Packet, th []byte, o *synproxyOpts, v4 bool) []byte {
	src, dst := rawAddrs(p)
	mss := o.mssEncode
	seq := m.cookieInitSequence(src, dst, th, &mss, v4)
	flags := uint8(0x12)
	if o.options&synOptECN != 0 {
		flags |= 0x40
	}
	return synproxyTCP(dst, src, th[2:4], th[0:2], seq, binary.BigEndian.Uint32(th[4:])+1, flags, 0, o, v4)
}

// synproxyRecvClientAck checks the cookie the ACK returns and, when it is
// valid, builds the SYN to the server: the client's addresses and ports,
// its sequence number minus one, the ISN it acknowledged minus one in the
// acknowledgment field, its window, the MSS the cookie encoded.
//
// Ref: net/netfilter/nf_synproxy_core.c — synproxy_recv_client_ack,
// synproxy_send_server_syn (and the _ipv6 variants).
func (m *machine) synproxyRecvClientAck(p *packet.Packet, th []byte, o *synproxyOpts, v4 bool) []byte {
	src, dst := rawAddrs(p)
	ack := binary.BigEndian.Uint32(th[8:])
	mss := m.cookieCheck(src, dst, th, ack-1, v4)
	if mss == 0 {
		return nil
	}
	o.mss = mss
	o.options |= synOptMSS
	if o.options&synOptTimestamp != 0 {
		synproxyCheckTimestampCookie(o)
	}
	flags := uint8(0x02)
	if o.options&synOptECN != 0 {
		flags |= 0x40 | 0x80
	}
	seq := binary.BigEndian.Uint32(th[4:])
	return synproxyTCP(src, dst, th[0:2], th[2:4], seq-1, ack-1, flags, binary.BigEndian.Uint16(th[14:]), o, v4)
}

// SYN cookies (net/ipv4/syncookies.c, net/ipv6/syncookies.c). The kernel
// keys its hash with a secret drawn at random once per boot
// (net_get_random_once); nftgo's is fixed, so a cookie validates only in
// answer to a SYN/ACK nftgo itself made, never to one the real host sent.
const (
	cookieBits      = 24
	cookieMask      = 1<<cookieBits - 1
	maxSyncookieAge = 2
	syncookiePeriod = 60e9 // TCP_SYNCOOKIE_PERIOD, in ns of the replay clock
)

var (
	msstab4        = [4]uint16{536, 1300, 1440, 1460}
	msstab6        = [4]uint16{1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60}
	syncookieKeys  = [2][2]uint64{{0, 0}, {1, 0}}
	syncookie6Keys = [2][2]uint64{{2, 0}, {3, 0}}
)

// cookieTime is tcp_cookie_time: minutes of the clock.
func (m *machine) cookieTime() uint32 { return uint32(m.now / syncookiePeriod) }

// cookieHash is cookie_hash: siphash of the addresses, ports and count
// under secret c.
func cookieHash(src, dst, th []byte, count uint32, c int, v4 bool) uint32 {
	var buf [40]byte
	if v4 {
		// siphash_4u32(saddr, daddr, sport << 16 | dport, count) with
		// the be16/be32 fields taken as native words.
		copy(buf[0:4], src)
		copy(buf[4:8], dst)
		sp := uint32(binary.LittleEndian.Uint16(th[0:2]))
		dp := uint32(binary.LittleEndian.Uint16(th[2:4]))
		binary.LittleEndian.PutUint32(buf[8:], sp<<16|dp)
		binary.LittleEndian.PutUint32(buf[12:], count)
		return uint32(siphash24(syncookieKeys[c], buf[:16]))
	}
	// struct { saddr; daddr; u32 count; __be16 sport; __be16 dport; }
	copy(buf[0:16], src)
	copy(buf[16:32], dst)
	binary.LittleEndian.PutUint32(buf[32:], count)
	copy(buf[36:38], th[0:2])
	copy(buf[38:40], th[2:4])
	return uint32(siphash24(syncookie6Keys[c], buf[:40]))
}

// cookieInitSequence is __cookie_v4_init_sequence / __cookie_v6_init_sequence
// with secure_tcp_syn_cookie: *mss is rounded down to the table entry the
// cookie encodes.
func (m *machine) cookieInitSequence(src, dst, th []byte, mss *uint16, v4 bool) uint32 {
	tab := &msstab4
	if !v4 {
		tab = &msstab6
	}
	i := len(tab) - 1
	for ; i > 0; i-- {
		if *mss >= tab[i] {
			break
		}
	}
	*mss = tab[i]
	count := m.cookieTime()
	sseq := binary.BigEndian.Uint32(th[4:])
	return cookieHash(src, dst, th, 0, 0, v4) + sseq + count<<cookieBits +
		(cookieHash(src, dst, th, count, 1, v4)+uint32(i))&cookieMask
}

// cookieCheck is __cookie_v4_check / __cookie_v6_check with
// check_tcp_syn_cookie: the MSS the cookie encodes, or 0 when it is not
// one of ours or older than two periods.
func (m *machine) cookieCheck(src, dst, th []byte, cookie uint32, v4 bool) uint16 {
	tab := &msstab4
	if !v4 {
		tab = &msstab6
	}
	seq := binary.BigEndian.Uint32(th[4:]) - 1
	count := m.cookieTime()
	cookie -= cookieHash(src, dst, th, 0, 0, v4) + seq
	diff := (count - cookie>>cookieBits) & (^uint32(0) >> cookieBits)
	if diff >= maxSyncookieAge {
		return 0
	}
	idx := (cookie - cookieHash(src, dst, th, count-diff, 1, v4)) & cookieMask
	if idx >= uint32(len(tab)) {
		return 0
	}
	return tab[idx]
}

// siphash24 is SipHash-2-4 (Aumasson and Bernstein) of msg under the
// 128-bit key k, as lib/siphash.c computes it.
func siphash24(k [2]uint64, msg []byte) uint64 {
	v0 := k[0] ^ 0x736f6d6570736575
	v1 := k[1] ^ 0x646f72616e646f6d
	v2 := k[0] ^ 0x6c7967656e657261
	v3 := k[1] ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for len(msg) >= 8 {
		mi := binary.LittleEndian.Uint64(msg)
		v3 ^= mi
		round()
		round()
		v0 ^= mi
		msg = msg[8:]
	}
	last := uint64(n) << 56
	for i, c := range msg {
		last |= uint64(c) << (8 * i)
	}
	v3 ^= last
	round()
	round()
	v0 ^= last
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// synproxyObjInfo reads a synproxy object's attributes (mss, wscale; the
// compiler keeps no timestamp or sack-perm flag for objects either).
func synproxyObjInfo(o *ruleset.Object) (synproxyInfo, error) {
	var body []string
	for _, a := range o.Attrs {
		if a.Key == "mss" || a.Key == "wscale" {
			body = append(body, a.Key, a.Value)
		}
	}
	return synproxyInfoOf(netlinkBody{fields: body})
}
