package vm

import (
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// ctLen is the register size of a ct key; dirRequired tells whether the
// key needs a direction attribute. l3 is the table family (tuple address
// keys are 4 bytes in ip, 16 in ip6/inet).
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_init.
func ctLen(k ruleset.CtKey, dir int, fam ruleset.Family) (n int, err error) {
	needDir := false
	switch k {
	case ruleset.CtState, ruleset.CtStatus, ruleset.CtMark, ruleset.CtSecmark, ruleset.CtExpiration, ruleset.CtID:
		n = 4
	case ruleset.CtDirection, ruleset.CtL3Protocol, ruleset.CtProtocol:
		n = 1
	case ruleset.CtHelper, ruleset.CtLabels:
		n = 16
	case ruleset.CtSrc, ruleset.CtDst:
		needDir = true
		switch fam {
		case ruleset.FamilyIPv4:
			n = 4
		case ruleset.FamilyIPv6, ruleset.FamilyINet, ruleset.FamilyBridge, ruleset.FamilyNetdev:
			n = 16
		default:
			return 0, errAFNoSupport
		}
	case ruleset.CtSrcIP, ruleset.CtDstIP:
		needDir, n = true, 4
	case ruleset.CtSrcIP6, ruleset.CtDstIP6:
		needDir, n = true, 16
	case ruleset.CtProtoSrc, ruleset.CtProtoDst:
		needDir, n = true, 2
	case ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt:
		n = 8
	case ruleset.CtZone:
		n = 2
	default:
		return 0, errNotSupp
	}
	if needDir && dir == ruleset.CtDirUnset {
		return 0, errInval
	}
	if dir != ruleset.CtDirUnset {
		switch k {
		case ruleset.CtSrc, ruleset.CtDst, ruleset.CtSrcIP, ruleset.CtDstIP, ruleset.CtSrcIP6, ruleset.CtDstIP6,
			ruleset.CtProtoSrc, ruleset.CtProtoDst, ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt, ruleset.CtZone:
		default:
			return 0, errInval
		}
	}
	return n, nil
}

// ctGetEval loads a conntrack key. `ct state` never BREAKs; every other key
// BREAKs when no entry is attached.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval.
func (m *machine) ctGetEval(in *insn) {
	d := in.dreg
	c := m.conn
	if ruleset.CtKey(in.key) == ruleset.CtState {
		m.store32(d, m.ctState())
		return
	}
	if c == nil && m.tmpl && ruleset.CtKey(in.key) == ruleset.CtZone {
		m.store16(d, m.zone)
		return
	}
	if c == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	dir := int(in.aux)
	switch ruleset.CtKey(in.key) {
	case ruleset.CtDirection:
		m.store8(d, ct.Direction(m.info))
	case ruleset.CtStatus:
		m.store32(d, c.Status)
	case ruleset.CtMark:
		m.store32(d, c.Mark)
	case ruleset.CtSecmark, ruleset.CtID:
		m.store32(d, 0)
	case ruleset.CtExpiration:
		m.store32(d, c.Expiration(m.now))
	case ruleset.CtHelper:
		m.verdict = ruleset.VerdictBreak
	case ruleset.CtLabels:
		m.store(d, zeroName[:])
	case ruleset.CtL3Protocol:
		m.store8(d, c.L3Proto())
	case ruleset.CtProtocol:
		m.store8(d, c.Protocol())
	case ruleset.CtSrc, ruleset.CtDst, ruleset.CtSrcIP, ruleset.CtDstIP, ruleset.CtSrcIP6, ruleset.CtDstIP6:
		t := m.ctTuple(c, dir)
		k := ruleset.CtKey(in.key)
		switch k {
		case ruleset.CtSrcIP, ruleset.CtDstIP:
			if t.L3 != packet.NFProtoIPv4 {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case ruleset.CtSrcIP6, ruleset.CtDstIP6:
			if t.L3 != packet.NFProtoIPv6 {
				m.verdict = ruleset.VerdictBreak
				return
			}
		}
		a := &t.Src
		if k == ruleset.CtDst || k == ruleset.CtDstIP || k == ruleset.CtDstIP6 {
			a = &t.Dst
		}
		m.store(d, a[:in.len])
	case ruleset.CtProtoSrc:
		t := m.ctTuple(c, dir)
		m.storeBE16(d, t.SrcPort)
	case ruleset.CtProtoDst:
		t := m.ctTuple(c, dir)
		m.storeBE16(d, t.DstPort)
	case ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt:
		m.store64(d, m.ctCounter(c, ruleset.CtKey(in.key), in.aux2))
	case ruleset.CtZone:
		m.store16(d, c.Zone)
	default:
		m.verdict = ruleset.VerdictBreak
	}
}

// ctTuple copies one direction's tuple: TupleDir does not allocate, where
// Tuple(1) must build the reply tuple of an entry without NAT.
func (m *machine) ctTuple(c *ct.Conn, dir int) ct.Tuple {
	return c.TupleDir(uint8(dir))
}

// ctCounter reads the accounting extension: one direction, or both summed
// when the expression has none (dir 2); 0 without accounting.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval_counter.
func (m *machine) ctCounter(c *ct.Conn, k ruleset.CtKey, dir uint8) uint64 {
	var pk, by uint64
	for d := uint8(0); d < 2; d++ {
		if dir != 2 && d != dir {
			continue
		}
		p, b, ok := m.ct.Counters(c, d)
		if !ok {
			return 0
		}
		pk += p
		by += b
	}
	switch k {
	case ruleset.CtPkts:
		return pk
	case ruleset.CtBytes:
		return by
	}
	if pk == 0 {
		return 0
	}
	return by / pk
}

// ctSetEval writes the entry's mark; templates and untracked packets are
// left alone.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_set_eval.
func (m *machine) ctSetEval(in *insn) {
	if ruleset.CtKey(in.key) == ruleset.CtZone {
		m.ctSetZoneEval(in)
		return
	}
	c := m.conn
	if c == nil {
		return
	}
	switch ruleset.CtKey(in.key) {
	case ruleset.CtMark:
		c.SetMark(m.load32(in.sreg))
	}
}

// ctSetZoneEval attaches a conntrack template with the zone, before
// conntrack runs; a packet that already has an entry keeps it.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_set_zone_eval.
func (m *machine) ctSetZoneEval(in *insn) {
	if m.conn != nil || m.untracked {
		return
	}
	m.tmpl = true
	m.zone = uint16(m.load32(in.sreg))
}

// ctState is the `ct state` bitmask of the packet: it never BREAKs.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval (NFT_CT_STATE).
func (m *machine) ctState() uint32 {
	c := m.conn
	info := m.info
	if c == nil && m.untracked {
		info = ct.Untracked
	}
	if c == nil && m.tmpl {
		// A template is an attached ct with ctinfo NEW; there is no
		// template check in nft_ct_get_eval.
		return 1 << (uint32(ct.New)%3 + 1)
	}
	return ct.StateBits(c, info)
}
