package list

import (
	"github.com/nftgo/nftgo/ruleset"
)

// protoFor returns the header description a load at base refers to under
// the current protocol context.
func (c *rctx) protoFor(base ruleset.PayloadBase) *protoDesc {
	if int(base) < len(c.proto) && c.proto[base] != nil {
		return c.proto[base]
	}
	return nil
}

// protoAt is protoFor with stacked link headers: loads past the Ethernet
// header read the VLAN header once `ether type 8021q` was matched.
//
// Ref: nftables src/payload.c — get_stacked_desc
func (c *rctx) protoAt(base ruleset.PayloadBase, off int) *protoDesc {
	d := c.protoFor(base)
	if base == ruleset.BaseLink && d == protoVLAN {
		if off < 112 {
			return protoEth
		}
		// each stacked 802.1Q/802.1ad header is 32 bits further in
		if k := (off - 112) / 32; k > 0 && k < c.vlans && vlanAt(k) != nil {
			return vlanAt(k)
		}
	}
	if d == nil && base == ruleset.BaseTransport {
		// nft's proto_th: the ports of any transport header
		return protoTH
	}
	return d
}

// icmpCtx returns the ICMP type the context knows, -1 for none.
func (c *rctx) icmpCtx() int { return c.icmpType }

// depIndex returns the slot holding the dependency of a base-b field: the
// match that established b's protocol, or for the transport header the
// stored ICMP type match.
//
// Ref: nftables src/payload.c — payload_dependency_exists,
// payload_dependency_get
func (c *rctx) depIndex(b ruleset.PayloadBase) int {
	if int(b) < len(c.deps) && c.deps[b] >= 0 {
		return int(b)
	}
	if b == ruleset.BaseTransport && c.deps[3] >= 0 {
		return 3
	}
	return -1
}

// killDep removes the match a higher layer field makes redundant.
//
// Ref: nftables src/payload.c — payload_dependency_kill,
// payload_may_dependency_kill, payload_may_dependency_kill_icmp
func (c *rctx) killDep(p *payloadExpr) {
	if p.f == nil {
		return
	}
	slot := c.depIndex(p.base)
	if slot < 0 {
		return
	}
	dep, _ := c.stmts[c.deps[slot]].(*matchStmt)
	if dep == nil {
		return
	}
	if dp, ok := dep.left.(*payloadExpr); ok {
		switch c.family {
		case ruleset.FamilyINet, ruleset.FamilyBridge, ruleset.FamilyNetdev:
			if dp.base == ruleset.BaseNetwork && (dp.proto == protoIP || dp.proto == protoIP6) &&
				p.base == ruleset.BaseTransport {
				return
			}
			if dp.base == p.base {
				if p.isProtoKey() {
					return
				}
				if p.base == ruleset.BaseLink {
					if dp.proto != nil && dp.proto.name == "vlan" {
						return
					}
					if dp.proto == protoEth {
						if rv, ok := dep.right.(*valueExpr); ok && len(rv.data) == 2 && rv.uint() != 0x8100 {
							return
						}
					}
				}
			}
		}
		if p.base == ruleset.BaseTransport && dp.base == ruleset.BaseTransport &&
			(dp.proto == protoICMP || dp.proto == protoICMP6) {
			if p.f.dep == 0 || dp.proto != p.proto || c.depIcmpType != p.f.dep {
				return
			}
		}
	}
	c.dead[c.deps[slot]] = true
	c.deps[slot] = -1
}

func (p *payloadExpr) isProtoKey() bool {
	return p.f != nil && p.proto.protoKey >= 0 && p.f == &p.proto.fields[p.proto.protoKey]
}

// storeDep records a protocol key match (ip protocol, ip6 nexthdr, ether
// type, icmp type) so that a field of the layer above can hide it. ICMP
// echo types are not stored: `icmp type echo-request icmp id 1` keeps both.
//
// Ref: nftables src/payload.c — payload_dependency_store,
// payload_dependency_store_icmp_type
func (c *rctx) storeDep(idx int, p *payloadExpr, v uint64) {
	if p.proto == protoICMP || p.proto == protoICMP6 {
		t := int(v)
		if p.proto == protoICMP && t == 0 {
			t = 8
		}
		c.depIcmpType = t
		if p.proto == protoICMP && t == 8 || p.proto == protoICMP6 && (t == 128 || t == 129) {
			return
		}
	}
	slot := int(p.base) + 1
	if (p.proto == protoEth || p.proto != nil && p.proto.name == "vlan") && (v == 0x8100 || v == 0x88a8) {
		// a stacked header: the dependency belongs to the link layer
		// Ref: nftables src/payload.c — payload_is_stacked
		slot = int(p.base)
	}
	if slot < len(c.deps) {
		c.deps[slot] = idx
	}
}

// pctxUpdate moves the protocol context up after an equality match on a
// protocol key.
//
// Ref: nftables src/payload.c — payload_expr_pctx_update
func (c *rctx) pctxUpdate(p *payloadExpr, v uint64) {
	if !p.isProtoKey() {
		return
	}
	switch p.proto {
	case protoEth, protoVLAN, stackedVLANs[0], stackedVLANs[1]:
		if n := networkByEtherType(v); n != nil {
			if n == protoVLAN {
				c.proto[ruleset.BaseLink] = protoVLAN
				c.vlans++
			} else {
				c.proto[ruleset.BaseNetwork] = n
			}
		}
	case protoICMP:
		if v == 0 {
			v = 8
		}
		c.icmpType = int(v)
	case protoICMP6:
		if v == 129 {
			v = 128
		}
		c.icmpType = int(v)
	default:
		if t := transportByNum(v); t != nil {
			c.proto[ruleset.BaseTransport] = t
		}
	}
}

// extractBits returns bits [a, a+n) of the big-endian data as a
// right-aligned big-endian value of ceil(n/8) bytes.
func extractBits(data []byte, a, n int) []byte {
	if a%8 == 0 && n%8 == 0 && a/8+n/8 <= len(data) {
		return append([]byte(nil), data[a/8:a/8+n/8]...)
	}
	out := make([]byte, (n+7)/8)
	for i := 0; i < n; i++ {
		bit := a + i
		if bit/8 >= len(data) {
			break
		}
		if data[bit/8]&(0x80>>uint(bit%8)) != 0 {
			o := (len(out)*8 - n) + i
			out[o/8] |= 0x80 >> uint(o%8)
		}
	}
	return out
}

// shiftLeftBits returns v (n bits, right-aligned) shifted left to fill
// total bits: the value of a prefix of a longer field.
func shiftLeftBits(v []byte, n, total int) []byte {
	out := make([]byte, (total+7)/8)
	for i := 0; i < n; i++ {
		src := len(v)*8 - n + i
		if v[src/8]&(0x80>>uint(src%8)) != 0 {
			out[i/8] |= 0x80 >> uint(i%8)
		}
	}
	return out
}

// payloadMatch splits a compared load into header fields the way
// payload_match_expand does: templates in order from the load's offset,
// a template longer than what is left becomes a prefix, anything without
// a template stays a raw `@base,off,len` match.
//
// Ref: nftables src/netlink_delinearize.c — payload_match_expand;
// src/payload.c — payload_expr_expand
func (c *rctx) payloadMatch(op string, raw *payloadExpr, data []byte) {
	data = trim(data, raw.bits)
	d := c.protoAt(raw.base, raw.off)
	cur, rem := raw.off, raw.bits
	if d != nil && (op == "==" || op == "!=") {
		for i := range d.fields {
			f := &d.fields[i]
			if f.off != cur || rem == 0 {
				continue
			}
			if f.dep != 0 && c.icmpType >= 0 && f.dep != c.icmpType {
				continue
			}
			p := &payloadExpr{proto: d, f: f, base: raw.base, off: f.off, bits: f.bits}
			if f.bits <= rem {
				v := &valueExpr{dt: f.dt, data: extractBits(data, cur-raw.off, f.bits), order: boBig, bits: f.bits}
				c.fieldMatch(op, p, v, v.uint())
				cur += f.bits
				rem -= f.bits
				continue
			}
			v := extractBits(data, cur-raw.off, rem)
			pv := &valueExpr{dt: f.dt, data: shiftLeftBits(v, rem, f.bits), order: boBig, bits: f.bits}
			c.killDep(p)
			c.emit(&matchStmt{op: op, left: p, right: &prefixExpr{v: pv, plen: rem}})
			rem = 0
		}
	} else if d != nil {
		if f := d.complete(cur, rem, c.icmpType); f != nil {
			p := &payloadExpr{proto: d, f: f, base: raw.base, off: f.off, bits: f.bits}
			c.killDep(p)
			c.emit(&matchStmt{op: op, left: p, right: &valueExpr{dt: f.dt, data: data, order: boBig, bits: f.bits}})
			return
		}
	}
	if rem > 0 {
		r := &payloadExpr{base: raw.base, off: cur, bits: rem}
		c.emit(&matchStmt{op: op, left: r, right: &valueExpr{dt: dtRawHex, data: extractBits(data, cur-raw.off, rem), order: boBig, bits: rem}})
	}
}

// fieldMatch emits one field comparison and keeps the protocol and
// dependency context up to date.
func (c *rctx) fieldMatch(op string, p *payloadExpr, v *valueExpr, n uint64) {
	if op == "==" {
		c.pctxUpdate(p, n)
	}
	c.killDep(p)
	idx := c.emit(&matchStmt{op: op, left: p, right: v})
	if op == "==" && p.isProtoKey() {
		c.storeDep(idx, p, n)
	}
}

// fieldOf resolves a raw load used whole (a lookup key, a statement
// argument) to its header field, killing the dependency it implies.
//
// Ref: nftables src/payload.c — payload_expr_complete
func (c *rctx) fieldOf(raw *payloadExpr) *payloadExpr {
	if d := c.protoAt(raw.base, raw.off); d != nil {
		if f := d.complete(raw.off, raw.bits, c.icmpType); f != nil {
			p := &payloadExpr{proto: d, f: f, base: raw.base, off: raw.off, bits: raw.bits}
			c.killDep(p)
			return p
		}
	}
	return raw
}

// subField maps a masked load onto the header field the mask selects
// (`ip dscp`, `ip6 flowlabel`, `ip hdrlength`): the mask must be one run of
// ones that is exactly a template. shift is how far the field's values
// sit above bit 0 of the load.
//
// Ref: nftables src/netlink_delinearize.c — binop_postprocess,
// payload_binop_postprocess
func (c *rctx) subField(raw *payloadExpr, mask []byte) (p *payloadExpr, shift int, ok bool) {
	mask = trim(mask, raw.bits)
	lead, ones := 0, 0
	i := 0
	for ; i < raw.bits && mask[i/8]&(0x80>>uint(i%8)) == 0; i++ {
		lead++
	}
	for ; i < raw.bits && mask[i/8]&(0x80>>uint(i%8)) != 0; i++ {
		ones++
	}
	for ; i < raw.bits; i++ {
		if mask[i/8]&(0x80>>uint(i%8)) != 0 {
			return nil, 0, false
		}
	}
	if ones == 0 || ones == raw.bits {
		return nil, 0, false
	}
	d := c.protoAt(raw.base, raw.off+lead)
	if d == nil {
		return nil, 0, false
	}
	f := d.complete(raw.off+lead, ones, c.icmpType)
	if f == nil {
		return nil, 0, false
	}
	p = &payloadExpr{proto: d, f: f, base: raw.base, off: f.off, bits: f.bits}
	return p, raw.bits - lead - ones, true
}

// subFieldAligned is subField for a mask selecting a whole byte-aligned
// template inside a wider load (nft writes `ip ttl` as two bytes to keep
// the checksum update 16-bit aligned).
func (c *rctx) subFieldAligned(raw *payloadExpr, mask []byte, d *protoDesc) (*payloadExpr, int, bool) {
	mask = trim(mask, raw.bits)
	lead, ones, i := 0, 0, 0
	for ; i < raw.bits && mask[i/8]&(0x80>>uint(i%8)) == 0; i++ {
		lead++
	}
	for ; i < raw.bits && mask[i/8]&(0x80>>uint(i%8)) != 0; i++ {
		ones++
	}
	if ones == 0 {
		return nil, 0, false
	}
	f := d.complete(raw.off+lead, ones, c.icmpType)
	if f == nil {
		return nil, 0, false
	}
	return &payloadExpr{proto: d, f: f, base: raw.base, off: f.off, bits: f.bits}, raw.bits - lead - ones, true
}

// stackedVLANs are the second and third VLAN headers of a QinQ frame,
// built once at start-up.
var stackedVLANs = func() []*protoDesc {
	var out []*protoDesc
	for n := 1; n <= 2; n++ {
		d := &protoDesc{name: "vlan", base: ruleset.BaseLink, protoKey: protoVLAN.protoKey}
		for _, f := range protoVLAN.fields {
			f.off += 32 * n
			d.fields = append(d.fields, f)
		}
		out = append(out, d)
	}
	return out
}()

// vlanAt is the VLAN header description k headers deep (0: the first).
func vlanAt(k int) *protoDesc {
	if k <= 0 {
		return protoVLAN
	}
	if k > len(stackedVLANs) {
		return nil
	}
	return stackedVLANs[k-1]
}
