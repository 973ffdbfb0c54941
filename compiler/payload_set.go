package compiler

// Payload and TCP option mangling. A field that does not cover whole
// checksum words is widened to them (or to whole bytes when the header has
// no checksum), loaded, masked, and written back.
// Ref: src/evaluate.c — stmt_evaluate_payload; src/netlink_linearize.c —
// netlink_gen_payload_stmt; src/payload.c — payload_needs_l4csum_update_pseudohdr.

import (
	"math/big"

	"github.com/nftgo/nftgo/ruleset"
)

// csumInfo gives the checksum a header carries: NFT_PAYLOAD_CSUM_INET and
// its offset in bytes.
var csumInfo = map[string][2]uint32{
	"ip": {1, 10}, "tcp": {1, 16}, "udp": {1, 6}, "udplite": {1, 6}, "icmp": {1, 2}, "icmpv6": {1, 2}, "igmp": {1, 2},
}

// pseudoHeader fields feed the transport checksum's pseudo-header.
var pseudoHeader = map[string]bool{"ip saddr": true, "ip daddr": true, "ip protocol": true,
	"ip6 saddr": true, "ip6 daddr": true, "ip6 nexthdr": true}

func (r *rulectx) rawValue(lhs *xexpr) (*big.Int, bool) {
	tmp := &xexpr{kind: xMeta, dt: lhs.dt, bits: lhs.bits, order: bigEndian, t0: lhs.t0}
	if lhs.bits%8 != 0 {
		tmp.bits = lhs.bits
	}
	v, ok := r.value(tmp)
	if !ok {
		return nil, false
	}
	return new(big.Int).SetBytes(v.from), true
}

func (r *rulectx) payloadSet(lhs *xexpr) {
	p := lhs.proto
	cs := csumInfo[p.name]
	start := lhs.off / 8
	end := (lhs.off + lhs.bits + 7) / 8
	if cs[0] != 0 {
		start &^= 1
		end = (end + 1) &^ 1
	}
	n := end - start
	val, ok := r.rawValue(lhs)
	if !ok {
		return
	}
	var flags uint32
	if pseudoHeader[p.name+" "+lhs.fname] {
		flags = 1
	}
	r.genDeps(lhs)
	w := &ruleset.PayloadWrite{Base: p.base, Offset: uint32(start), Len: uint32(n), SReg: 1, CsumType: cs[0], CsumFlags: flags}
	if cs[0] != 0 {
		w.CsumOffset = cs[1]
	}
	if lhs.off%8 == 0 && lhs.bits%8 == 0 && start == lhs.off/8 && n == lhs.bits/8 {
		r.emit(&ruleset.Immediate{DReg: 1, Data: encodeInt(val, n, bigEndian)})
		r.emit(w)
		return
	}
	shift := uint(n*8 - (lhs.off - start*8) - lhs.bits)
	field := new(big.Int).Lsh(big.NewInt(1), uint(lhs.bits))
	field.Sub(field, big.NewInt(1))
	field.Lsh(field, shift)
	all := new(big.Int).Lsh(big.NewInt(1), uint(n*8))
	all.Sub(all, big.NewInt(1))
	mask := new(big.Int).Xor(all, field)
	xor := new(big.Int).Lsh(val, shift)
	xor.And(xor, field)
	r.emit(&ruleset.Payload{Base: p.base, Offset: uint32(start), Len: uint32(n), DReg: 1})
	r.emit(&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: uint32(n),
		Mask: encodeInt(mask, n, bigEndian), Xor: encodeInt(xor, n, bigEndian)})
	r.emit(w)
}

// exthdrSet writes a TCP option field.
//
// The value is a constant or another expression (`tcp option maxseg size
// set rt mtu`, the MSS clamp of most router firewalls); a host-endian
// source is converted to the option's network byte order first, as
// stmt_evaluate_exthdr's byteorder_conversion does.
func (r *rulectx) exthdrSet(lhs *xexpr) {
	e, isExt := lhs.generic(1).(*ruleset.Exthdr)
	if !isExt || e.Op != ruleset.ExthdrOpTCPOpt || lhs.mask != nil {
		r.fail(lhs.loc(), "unsupported extension header write")
		return
	}
	if t := r.peek(); t.kind == 'w' && exprStart[t.s] && !r.isConstFor(lhs, t) {
		src := r.keyExpr()
		if src == nil {
			return
		}
		if src.bits != lhs.bits {
			r.fail(src.loc(), "datatype mismatch: expected %s, expression has type %s", lhs.dt.desc, src.dt.desc)
			return
		}
		r.genDeps(src)
		reg := r.load(src)
		if src.order == hostEndian && lhs.order == bigEndian && src.bits > 8 {
			n := uint32(src.bits / 8)
			r.emit(&ruleset.Byteorder{Op: ruleset.HtoN, SReg: reg, DReg: reg, Len: n, Size: n})
		}
		r.emit(&ruleset.Exthdr{Op: e.Op, Type: e.Type, Offset: e.Offset, Len: e.Len, SReg: reg, Write: true})
		return
	}
	v, ok := r.value(lhs)
	if !ok {
		return
	}
	r.emit(&ruleset.Immediate{DReg: 1, Data: v.from})
	r.emit(&ruleset.Exthdr{Op: e.Op, Type: e.Type, Offset: e.Offset, Len: e.Len, SReg: 1, Write: true})
}
