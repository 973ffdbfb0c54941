package compiler

// Key expressions: payload fields, meta and ct keys, concatenations and
// constant binary operations on them.
// Ref: src/parser_bison.y — primary_expr, payload_expr, meta_expr, ct_expr,
// concat_expr; src/evaluate.c — expr_evaluate_payload, expr_evaluate_binop.

import (

	"github.com/nftgo/nftgo/ruleset"
)

// keyExpr reads `primary [. primary]…` with optional binary operations.
func (r *rulectx) keyExpr() *xexpr {
	x := r.binopExpr()
	if x == nil {
		return nil
	}
	if !(r.peek().kind == 'o' && r.peek().s == ".") {
		return x
	}
	cat := &xexpr{kind: xConcat, t0: x.t0, fields: []*xexpr{x}, dt: &dtype{name: "concat"}}
	for r.peek().kind == 'o' && r.peek().s == "." {
		r.next()
		y := r.binopExpr()
		if y == nil {
			return nil
		}
		cat.fields = append(cat.fields, y)
	}
	cat.bits = cat.bytesLen() * 8
	return cat
}

func (r *rulectx) binopExpr() *xexpr {
	x := r.primary()
	if x == nil {
		return nil
	}
	for {
		t := r.peek()
		op := t.s
		if t.kind != 'o' && t.kind != 'w' {
			return x
		}
		switch op {
		case "&", "and":
			op = "&"
		case "|", "or":
			op = "|"
		case "^", "xor":
			op = "^"
		case "<<", "lshift":
			op = "<<"
		case ">>", "rshift":
			op = ">>"
		default:
			return x
		}
		r.next()
		if p := r.peek(); p.kind == 'o' && p.s == "(" && op != "<<" && op != ">>" {
			v, ok := r.parenValue(x)
			if !ok {
				return nil
			}
			x.applyBinop(op, v.from)
			continue
		}
		vt := r.next()
		if op == "<<" || op == ">>" {
			n, ok := parseUint(vt.s)
			if !ok {
				r.fail(vt, "syntax error, unexpected %s", vt.s)
				return nil
			}
			x.shiftAmt = uint32(n.Uint64())
			x.shiftOp = ruleset.BitwiseLshift
			if op == ">>" {
				x.shiftOp = ruleset.BitwiseRshift
			}
			continue
		}
		b, err := r.c.scalar(x, vt.s, vt.kind == 's')
		if err != nil {
			// Addresses and other non-integer keys take plain integers
			// as bitwise operands.
			if n, ok := parseUint(vt.s); ok && n.BitLen() <= x.bytesLen()*8 {
				b, err = encodeInt(n, x.bytesLen(), x.order), nil
			}
		}
		if err != nil {
			r.fail(vt, "%s", err.Error())
			return nil
		}
		x.applyBinop(op, b)
	}
}

// applyBinop folds `op b` into (reg & mask) ^ xor.
// Ref: src/netlink_linearize.c — combine_binop.
func (x *xexpr) applyBinop(op string, b []byte) {
	{
		n := len(b)
		if x.mask == nil {
			x.mask = make([]byte, n)
			for i := range x.mask {
				x.mask[i] = 0xff
			}
			x.xor = make([]byte, n)
		}
		// Fold into (reg & mask) ^ xor. Ref: src/netlink_linearize.c — combine_binop.
		for i := 0; i < n && i < len(x.mask); i++ {
			switch op {
			case "&":
				x.mask[i] &= b[i]
				x.xor[i] &= b[i]
			case "|":
				x.mask[i] &^= b[i]
				x.xor[i] |= b[i]
			case "^":
				x.xor[i] ^= b[i]
			}
		}
	}
}

var protoWords = map[string]bool{"ether": true, "vlan": true, "arp": true, "ip": true, "ip6": true, "icmp": true,
	"igmp": true, "icmpv6": true, "tcp": true, "udp": true, "udplite": true, "sctp": true, "dccp": true, "ah": true,
	"esp": true, "comp": true, "th": true}

func (r *rulectx) primary() *xexpr {
	t := r.peek()
	if t.kind == 'o' && t.s == "@" {
		return r.rawPayload(t)
	}
	if t.kind == 'o' && t.s == "(" {
		r.next()
		x := r.binopExpr()
		if x == nil {
			return nil
		}
		if !r.accept(")") {
			r.unexpected()
			return nil
		}
		return x
	}
	if t.kind != 'w' {
		r.unexpected()
		return nil
	}
	if x, ok := r.exthdrPrimary(t); ok {
		return x
	}
	if x, ok := r.miscPrimary(t); ok {
		return x
	}
	if x, ok := r.keyPrimary2(t); ok {
		return x
	}
	switch {
	case protoWords[t.s]:
		r.next()
		p := protos[t.s]
		ft := r.peek()
		fd, ok := p.fields[ft.s]
		if t.s == "arp" && (ft.s == "saddr" || ft.s == "daddr") {
			ok = true
		}
		if ft.kind != 'w' || !ok {
			r.unexpected()
			return nil
		}
		r.next()
		x := &xexpr{kind: xPayload, proto: p, fname: ft.s, off: fd.off, bits: fd.bits, dt: fd.dt, order: bigEndian, t0: t, tEnd: ft}
		if t.s == "vlan" {
			// Stacked VLAN headers: each `vlan type 8021q` moves on 4 bytes.
			x.off += 32 * r.vlanDepth
		}
		if t.s == "arp" && (ft.s == "saddr" || ft.s == "daddr") {
			// arp saddr ip / arp saddr ether
			k := r.next()
			switch {
			case k.s == "ip" && ft.s == "saddr":
				x.off, x.bits, x.dt = 112, 32, tIPv4
			case k.s == "ip" && ft.s == "daddr":
				x.off, x.bits, x.dt = 192, 32, tIPv4
			case k.s == "ether" && ft.s == "saddr":
				x.off, x.bits, x.dt = 64, 48, tEther
			case k.s == "ether" && ft.s == "daddr":
				x.off, x.bits, x.dt = 144, 48, tEther
			default:
				r.unexpected()
				return nil
			}
		}
		x.maskBits()
		return x
	case t.s == "meta":
		r.next()
		k := r.next()
		mt, ok := metaKeys[k.s]
		if !ok {
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil
		}
		if k.s == "nfproto" && r.fam != ruleset.FamilyINet {
			r.fail(tok{pos: t.pos, end: k.end}, "meta nfproto is only useful in the inet family")
			return nil
		}
		return &xexpr{kind: xMeta, meta: mt.key, dt: mt.dt, bits: mt.bits, order: mt.order, t0: t, tEnd: k}
	case shortMeta[t.s]:
		r.next()
		mt := metaKeys[t.s]
		return &xexpr{kind: xMeta, meta: mt.key, dt: mt.dt, bits: mt.bits, order: mt.order, t0: t, tEnd: t}
	case t.s == "ct":
		r.next()
		dir := ruleset.CtDirUnset
		if r.isWord("original") {
			r.next()
			dir = ruleset.CtDirOriginal
		} else if r.isWord("reply") {
			r.next()
			dir = ruleset.CtDirReply
		}
		l3 := ""
		if r.isWord("ip") || r.isWord("ip6") {
			l3 = r.next().s
		}
		k := r.next()
		ct, ok := ctKeys[k.s]
		if !ok {
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil
		}
		x := &xexpr{kind: xCt, ct: ct.key, dir: dir, dt: ct.dt, bits: ct.bits, order: ct.order, t0: t, tEnd: k}
		if ct.dir == 0 && dir != ruleset.CtDirUnset {
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil
		}
		if ct.dir == 2 && dir == ruleset.CtDirUnset {
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil
		}
		if k.s == "saddr" || k.s == "daddr" {
			// ct original ip saddr / ip6 saddr
			switch {
			case r.fam == ruleset.FamilyIPv6 || r.l3 == "ip6":
				x.dt, x.bits = tIPv6, 128
			case r.fam == ruleset.FamilyIPv4 || r.l3 == "ip":
			default:
				x.dt, x.bits = tIPv6, 128
			}
			if l3 == "" && (r.isWord("ip") || r.isWord("ip6")) {
				l3 = r.next().s
			}
			x.ctNoFam = l3 == "" && dir != ruleset.CtDirUnset
			if l3 != "" && r.l3 != "" && r.l3 != l3 {
				r.fail(tok{pos: t.pos, end: k.end}, "conflicting protocols specified: %s vs. %s", r.l3, l3)
				return nil
			}
			if l3 != "" {
				if l3 == "ip" {
					x.dt, x.bits = tIPv4, 32
					x.ct = map[bool]ruleset.CtKey{true: ruleset.CtSrcIP, false: ruleset.CtDstIP}[k.s == "saddr"]
				} else {
					x.dt, x.bits = tIPv6, 128
					x.ct = map[bool]ruleset.CtKey{true: ruleset.CtSrcIP6, false: ruleset.CtDstIP6}[k.s == "saddr"]
				}
			}
		}
		if k.s == "proto-src" || k.s == "proto-dst" {
			x.dt = tService
		}
		return x
	}
	r.unexpected()
	return nil
}
