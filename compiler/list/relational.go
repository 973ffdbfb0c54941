package list

import (
	"bytes"

	"github.com/nftgo/nftgo/ruleset"
)

// bitwise normalises `(x & mask) ^ xor` into nft's and/xor/or form.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_bitwise_bool
func bitwiseVal(src *regVal, mask, xor []byte) *regVal {
	n := len(mask)
	if len(xor) > n {
		n = len(xor)
	}
	m := make([]byte, n)
	x := make([]byte, n)
	copy(m, mask)
	copy(x, xor)
	o := make([]byte, n)
	if !allOnes(m, n*8) || !allZero(x) {
		for i := range m {
			o[i] = x[i] &^ m[i]
			x[i] &= m[i]
			m[i] |= o[i]
		}
	}
	v := &regVal{inner: src, bits: src.bits, order: src.order, origMask: append([]byte(nil), mask...), origXor: append([]byte(nil), xor...)}
	if !(src.bits > 0 && allOnes(m, src.bits) && allZero(m[min(len(m), (src.bits+7)/8):])) {
		v.mask = m
	}
	if !allZero(x) {
		v.xor = x
	}
	if !allZero(o) {
		v.or = o
	}
	if v.mask == nil && v.xor == nil && v.or == nil {
		c := *src
		return &c
	}
	return v
}

// chain builds the printed form of a bitwise register value:
// `(x & m) ^ x | o`, constants typed like the operand.
func (c *rctx) chain(v *regVal, left expr) expr {
	return c.chainTyped(v, left, left.dtype())
}

func (c *rctx) chainTyped(v *regVal, left expr, dt *dtype) expr {
	e := left
	k := func(b []byte) *valueExpr {
		return &valueExpr{dt: dt, data: trim(b, v.inner.bits), order: v.inner.order, bits: v.inner.bits, mode: pmode{orList: true}}
	}
	if v.mask != nil {
		e = &binopExpr{op: "&", left: e, right: k(v.mask)}
	}
	if v.xor != nil {
		e = &binopExpr{op: "^", left: e, right: k(v.xor)}
	}
	if v.or != nil {
		e = &binopExpr{op: "|", left: e, right: k(v.or)}
	}
	return e
}

// cmp decodes a comparison of a register with a constant.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_cmp,
// payload_match_postprocess, ct_meta_common_postprocess,
// relational_binop_postprocess
func (c *rctx) cmp(op string, v *regVal, data []byte) {
	switch {
	case v.raw != nil:
		c.payloadMatch(op, v.raw, data)
		return
	case v.inner != nil && v.xor == nil && v.or == nil && v.mask != nil:
		c.maskedMatch(op, v, data)
		return
	case v.inner != nil:
		left := c.resolve(v.inner)
		c.emit(&matchStmt{op: op, left: c.chain(v, left), right: c.constant(left, data, v.inner.order, v.inner.bits)})
		return
	}
	left := c.resolve(v)
	if n := len(data) * 8; n > 0 && n < v.bits && left.dtype().kind != kString && (op == "==" || op == "!=") {
		// a comparison shorter than the key is a prefix match
		// Ref: nftables src/netlink_delinearize.c — netlink_parse_cmp
		full := make([]byte, (v.bits+7)/8)
		copy(full, data)
		c.emit(&matchStmt{op: op, left: left, right: &prefixExpr{v: &valueExpr{dt: left.dtype(), data: full, order: v.order, bits: v.bits}, plen: n}})
		return
	}
	right := &valueExpr{dt: left.dtype(), data: trim(data, v.bits), order: v.order, bits: v.bits}
	if m, ok := left.(*metaExpr); ok && (m.key == ruleset.MetaIifname || m.key == ruleset.MetaOifname ||
		m.key == ruleset.MetaBriIifname || m.key == ruleset.MetaBriOifname || m.key == ruleset.MetaIifkind ||
		m.key == ruleset.MetaOifkind || m.key == ruleset.MetaSdifname) && len(data) < 16 {
		right.wildcard = true
	}
	if v.bits > 0 && len(data)*8 < v.bits && right.dt.kind == kString {
		right.wildcard = true
	}
	if op == "==" {
		c.metaCtDeps(left, right)
	}
	idx := c.emit(&matchStmt{op: op, left: left, right: right})
	if op == "==" {
		c.metaStore(idx, left, right.uint())
	}
}

// metaCtDeps hides an earlier protocol match the meta/ct match makes
// redundant (`meta nfproto ipv6` before `meta l4proto ipv6-icmp`).
//
// Ref: nftables src/netlink_delinearize.c — ct_meta_common_postprocess
func (c *rctx) metaCtDeps(left expr, right *valueExpr) {
	if ce, ok := left.(*ctExpr); ok {
		if ce.key == ruleset.CtSrc || ce.key == ruleset.CtDst {
			// a network-base ct key hides `meta nfproto`
			c.killDepSlot(ruleset.BaseNetwork)
		}
		return
	}
	m, ok := left.(*metaExpr)
	if !ok {
		return
	}
	switch m.key {
	case ruleset.MetaL4proto:
		c.metaKillNetworkDep(right.uint())
	case ruleset.MetaNfproto, ruleset.MetaProtocol:
		if c.deps[0] >= 0 {
			c.killAt(0)
		}
	}
}

// metaStore records meta protocol keys as dependencies and moves the
// protocol context.
func (c *rctx) metaStore(idx int, left expr, v uint64) {
	m, ok := left.(*metaExpr)
	if !ok {
		return
	}
	switch m.key {
	case ruleset.MetaNfproto:
		switch v {
		case 2:
			c.proto[ruleset.BaseNetwork] = protoIP
		case 10:
			c.proto[ruleset.BaseNetwork] = protoIP6
		}
		if c.family == ruleset.FamilyINet || c.family == ruleset.FamilyBridge || c.family == ruleset.FamilyNetdev {
			c.deps[ruleset.BaseNetwork] = idx
		}
	case ruleset.MetaProtocol:
		if p := networkByEtherType(v); p != nil && p != protoVLAN {
			c.proto[ruleset.BaseNetwork] = p
		}
		c.deps[ruleset.BaseNetwork] = idx
	case ruleset.MetaL4proto:
		if p := transportByNum(v); p != nil {
			c.proto[ruleset.BaseTransport] = p
		}
		c.deps[ruleset.BaseTransport] = idx
	case ruleset.MetaIiftype:
		if v == 1 {
			c.proto[ruleset.BaseLink] = protoEth
		}
		c.deps[ruleset.BaseLink] = idx
	}
}

// maskedMatch decodes `bitwise & mask; cmp`: sub-byte header fields,
// flag tests, prefixes, or a plain `x & m == v`.
func (c *rctx) maskedMatch(op string, v *regVal, data []byte) {
	in := v.inner
	nb := in.bits
	data = trim(data, nb)
	mask := trim(v.mask, nb)
	var left expr
	if in.raw != nil {
		raw := in.raw
		d := c.protoAt(raw.base, raw.off)
		var whole *field
		if d != nil {
			whole = d.complete(raw.off, raw.bits, c.icmpType)
		}
		if whole == nil || whole.dt.kind != kBitmask && !whole.dt.prefix {
			if p, shift, ok := c.subField(raw, mask); ok {
				c.killDep(p)
				val := shiftRight(data, shift, p.bits)
				vv := &valueExpr{dt: p.f.dt, data: val, order: boBig, bits: p.bits}
				idx := c.emit(&matchStmt{op: op, left: p, right: vv})
				if op == "==" && p.isProtoKey() {
					c.pctxUpdate(p, vv.uint())
					c.storeDep(idx, p, vv.uint())
				}
				return
			}
		}
		left = c.fieldOf(raw)
	} else if ex, ok := in.e.(*exthdrExpr); ok {
		if sub, shift, ok := subExthdr(ex, mask); ok {
			c.emit(&matchStmt{op: op, left: sub, right: &valueExpr{dt: sub.dtype(), data: shiftRight(data, shift, sub.bits), order: boBig, bits: sub.bits}})
			return
		}
		left = ex
	} else {
		left = c.resolve(in)
	}
	dt := left.dtype()
	o := in.order
	if dt.kind == kLabel && allZero(data) && (op == "!=" || op == "==") {
		if _, ok := singleBit(mask, o); ok {
			nop := ""
			if op == "==" {
				nop = "!"
			}
			c.emit(&matchStmt{op: map[string]string{"": "in", "!": "!"}[nop], left: left, right: &valueExpr{dt: dt, data: mask, order: o, bits: nb}})
			return
		}
	}
	if dt.kind == kBitmask && (op == "==" || op == "!=") {
		mv := toUint(mask, o)
		if allZero(data) {
			if names, ok := bitNames(dt, mv); ok && len(names) > 0 {
				nop := "in"
				if op == "==" {
					nop = "!"
				}
				c.emit(&matchStmt{op: nop, left: left, right: &flagListExpr{dt: dt, names: names}})
				return
			}
		}
		single := mv != 0 && mv&(mv-1) == 0
		if !(single && bytes.Equal(mask, data)) {
			if names, ok := bitNames(dt, mv); ok && len(names) > 0 {
				var val expr = &valueExpr{dt: dt, data: data, order: o, bits: nb}
				if vn, ok := bitNames(dt, toUint(data, o)); ok && len(vn) > 1 {
					val = &flagListExpr{dt: dt, names: vn}
				}
				c.emit(&flagcmpStmt{op: op, left: left, mask: &flagListExpr{dt: dt, names: names}, value: val})
				return
			}
		}
	} else if dt.prefix && (op == "==" || op == "!=") {
		if plen, ok := numPrefixLen(mask, o, nb); ok {
			c.emit(&matchStmt{op: op, left: left, right: &prefixExpr{v: &valueExpr{dt: dt, data: data, order: o, bits: nb}, plen: plen}})
			return
		}
	}
	if p, ok := left.(*payloadExpr); ok && p.f == nil {
		dt = dtRawHex
	}
	c.emit(&matchStmt{op: op, left: c.chainTyped(v, left, dt), right: &valueExpr{dt: dt, data: data, order: o, bits: nb, mode: pmode{orList: true}}})
}

// dtRawHex types the constants of masked raw payload matches, which nft
// prints in hex (`@ll,0,8 & 0x80 == 0x80`).
var dtRawHex = &dtype{name: "integer", kind: kHexPlain}

// numPrefixLen reads the mask as a number in its byte order and reports
// whether it is a run of leading ones over nbits.
func numPrefixLen(mask []byte, o byteorder, nbits int) (int, bool) {
	if o == boHost {
		return prefixLen(reverse(mask))
	}
	return prefixLen(mask)
}

// shiftRight returns the big-endian value data >> shift, as ceil(n/8)
// bytes holding the low n bits.
func shiftRight(data []byte, shift, n int) []byte {
	total := len(data) * 8
	return extractBits(data, total-shift-n, n)
}

// resolve turns a register value into an expression for use as a key,
// a statement argument or the left side of a lookup.
func (c *rctx) resolve(v *regVal) expr {
	switch {
	case v.raw != nil:
		return c.fieldOf(v.raw)
	case v.inner != nil:
		if v.inner.raw != nil && v.xor == nil && v.or == nil {
			if p, _, ok := c.subField(v.inner.raw, v.mask); ok {
				c.killDep(p)
				return p
			}
		}
		if ex, ok := v.inner.e.(*exthdrExpr); ok && v.xor == nil && v.or == nil {
			if sub, _, ok := subExthdr(ex, v.mask); ok {
				return sub
			}
		}
		return c.chain(v, c.resolve(v.inner))
	case v.imm != nil:
		return &valueExpr{dt: dtInteger, data: v.imm, order: boBig, bits: v.bits}
	case v.e == nil:
		return &rawExpr{s: "# unset register"}
	}
	return v.e
}

// keyShift tells how a lookup key's values are stored when the key is a
// masked sub-field: elements hold the field shifted up by shift bits.
func (c *rctx) keyShift(v *regVal) (shift, fbits int) {
	if v.inner != nil && v.inner.raw != nil && v.xor == nil && v.or == nil {
		if p, s, ok := c.subField(v.inner.raw, v.mask); ok {
			return s, p.bits
		}
	}
	if v.inner != nil && v.xor == nil && v.or == nil {
		if ex, ok := v.inner.e.(*exthdrExpr); ok {
			if sub, s, ok := subExthdr(ex, v.mask); ok {
				return s, sub.bits
			}
		}
	}
	return 0, 0
}
