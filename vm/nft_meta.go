package vm

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// metaLen is the register size of each meta key.
//
// Ref: net/netfilter/nft_meta.c — nft_meta_get_init.
func metaLen(k ruleset.MetaKey) (int, bool) {
	switch k {
	case ruleset.MetaLen, ruleset.MetaPriority, ruleset.MetaMark, ruleset.MetaIif, ruleset.MetaOif,
		ruleset.MetaSkuid, ruleset.MetaSkgid, ruleset.MetaRtclassid, ruleset.MetaSecmark,
		ruleset.MetaCPU, ruleset.MetaIifgroup, ruleset.MetaOifgroup, ruleset.MetaCgroup,
		ruleset.MetaPrandom, ruleset.MetaTimeHour, ruleset.MetaSdif:
		return 4, true
	case ruleset.MetaProtocol, ruleset.MetaIiftype, ruleset.MetaOiftype:
		return 2, true
	case ruleset.MetaNfproto, ruleset.MetaL4proto, ruleset.MetaPkttype, ruleset.MetaSecpath,
		ruleset.MetaTimeDay, ruleset.MetaNftrace:
		return 1, true
	case ruleset.MetaIifname, ruleset.MetaOifname, ruleset.MetaIifkind, ruleset.MetaOifkind,
		ruleset.MetaSdifname:
		return 16, true
	case ruleset.MetaTimeNS:
		return 8, true
	}
	return 0, false
}

// ARPHRD_* device types.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNone     = 0xfffe // tun devices, as in the kernel oracle
)

// metaGetEval loads packet metadata.
//
// Ref: net/netfilter/nft_meta.c — nft_meta_get_eval.
func (m *machine) metaGetEval(in *insn) {
	p := m.pkt
	d := in.dreg
	switch ruleset.MetaKey(in.key) {
	case ruleset.MetaLen:
		m.store32(d, uint32(p.Len()))
	case ruleset.MetaProtocol:
		m.storeBE16(d, p.Protocol)
	case ruleset.MetaNfproto:
		m.store8(d, m.nfproto)
	case ruleset.MetaL4proto:
		if !p.HasL4 {
			m.verdict = ruleset.VerdictBreak
			return
		}
		m.store8(d, p.L4Proto)
	case ruleset.MetaPriority:
		m.store32(d, m.priority)
	case ruleset.MetaMark:
		m.store32(d, m.mark)
	case ruleset.MetaIif:
		m.store32(d, uint32(m.in.index()))
	case ruleset.MetaOif:
		m.store32(d, uint32(m.out.index()))
	case ruleset.MetaIifname:
		m.store(d, m.in.nameBytes())
	case ruleset.MetaOifname:
		m.store(d, m.out.nameBytes())
	case ruleset.MetaIiftype, ruleset.MetaOiftype:
		dev := m.in
		if ruleset.MetaKey(in.key) == ruleset.MetaOiftype {
			dev = m.out
		}
		if dev == nil {
			m.verdict = ruleset.VerdictBreak
			return
		}
		m.store16(d, m.devType(dev))
	case ruleset.MetaIifgroup, ruleset.MetaOifgroup:
		dev := m.in
		if ruleset.MetaKey(in.key) == ruleset.MetaOifgroup {
			dev = m.out
		}
		if dev == nil {
			m.verdict = ruleset.VerdictBreak
			return
		}
		m.store32(d, 0)
	case ruleset.MetaPkttype:
		m.store8(d, m.pkttype)
	case ruleset.MetaCPU, ruleset.MetaSecmark, ruleset.MetaSdif:
		m.store32(d, 0)
	case ruleset.MetaNftrace:
		m.store8(d, m.nftrace)
	case ruleset.MetaSecpath:
		m.store8(d, 0)
	case ruleset.MetaPrandom:
		m.store32(d, m.prandom())
	case ruleset.MetaTimeNS:
		m.store64(d, uint64(m.now))
	case ruleset.MetaTimeDay:
		// Days since the epoch (a Thursday), sys_tz 0.
		days := m.now / 86400e9
		m.store8(d, uint8((days+4)%7))
	case ruleset.MetaTimeHour:
		m.store32(d, uint32((m.now/1e9)%86400))
	case ruleset.MetaSdifname:
		m.store(d, zeroName[:])
	case ruleset.MetaIifkind, ruleset.MetaOifkind:
		dev := m.in
		if ruleset.MetaKey(in.key) == ruleset.MetaOifkind {
			dev = m.out
		}
		if dev == nil || m.devType(dev) != arphrdNone {
			// lo and physical devices have no rtnl_link_ops kind.
			m.verdict = ruleset.VerdictBreak
			return
		}
		m.store(d, tunKind[:])
	default:
		// skuid, skgid, cgroup (no socket), rtclassid (no route): the
		// kernel BREAKs.
		m.verdict = ruleset.VerdictBreak
	}
}

var zeroName [16]byte

// tunKind is the link kind of the oracle's tun devices, which interfaces
// of a raw-IP capture stand for.
var tunKind = [16]byte{'t', 'u', 'n'}

// devType is dev->type: Ethernet when the capture has an Ethernet header,
// loopback for lo, otherwise ARPHRD_NONE like the oracle's tun devices.
func (m *machine) devType(dev *iface) uint16 {
	if dev.idx == 1 {
		return arphrdLoopback
	}
	if m.pkt.MACLen == 14 || (m.pkt.MACLen > 14 && m.pkt.HasVLAN) {
		return arphrdEther
	}
	return arphrdNone
}

// prandom is a deterministic xorshift stream: `meta random` must give the
// same replay every time.
func (m *machine) prandom() uint32 {
	m.res.Shared = true
	x := m.rnd
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	m.rnd = x
	return uint32(x >> 32)
}

// metaSetEval writes skb metadata; it never changes the verdict.
//
// Ref: net/netfilter/nft_meta.c — nft_meta_set_eval.
func (m *machine) metaSetEval(in *insn) {
	v := m.load32(in.sreg)
	switch ruleset.MetaKey(in.key) {
	case ruleset.MetaMark:
		m.mark = v
	case ruleset.MetaPriority:
		m.priority = v
	case ruleset.MetaPkttype:
		if pt := uint8(v); pt <= 3 { // skb_pkt_type_ok
			m.pkttype = pt
		}
	case ruleset.MetaNftrace:
		m.nftrace = uint8(v) & 1
	}
}

// pktType derives skb->pkt_type from the Ethernet destination as
// eth_type_trans does; captures without one are PACKET_HOST.
func pktType(p *packet.Packet) uint8 {
	if p.MACLen >= 14 && p.MACOff == 0 && len(p.Data) >= 6 {
		dst := p.Data[:6]
		if binary.BigEndian.Uint32(dst) == 0xffffffff && binary.BigEndian.Uint16(dst[4:]) == 0xffff {
			return 1
		}
		if dst[0]&1 != 0 {
			return 2
		}
	}
	return 0
}
