package list

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// regVal is what a register holds while a rule is read back: an
// expression, how wide it is and in which byte order its bytes sit.
type regVal struct {
	e     expr
	bits  int
	order byteorder
	// raw payload load not yet matched to a header field
	raw *payloadExpr
	// bitwise (x & mask) ^ xor | or applied to inner, nil parts absent
	inner         *regVal
	mask, xor, or []byte
	// the bitwise expression's own mask and xor, before normalisation
	origMask, origXor []byte
	imm               []byte // immediate data
	// mapped: a map lookup result, re-typed by its consumer
	mapSet  *ruleset.Set
	mapKeys []expr
	mapRvs  []*regVal
}

// rctx is the state of decompiling one rule.
//
// Ref: nftables src/netlink_delinearize.c — struct netlink_parse_ctx,
// struct rule_pp_ctx
type rctx struct {
	family ruleset.Family
	table  *ruleset.Table
	regs   map[int]*regVal
	stmts  []stmt
	// protocol context per base (link, network, transport)
	proto [3]*protoDesc
	// icmpType is the ICMP/ICMPv6 type an equality match fixed, -1 if
	// none (nft's th_dep.icmp.type); depIcmpType the one of the stored
	// dependency (payload_dep_ctx icmp_type).
	icmpType, depIcmpType int
	// vlans counts the stacked VLAN headers the context has seen
	vlans int
	// deps holds the index in stmts of the match a field of base b
	// depends on (nft's pdeps[b+1]); deps[3] is the transport header's
	// own protocol key (icmp type). -1 for none.
	deps [4]int
	dead map[int]bool
}

// regSlot maps a netlink register number to its 32-bit slot.
//
// Ref: net/netfilter/nf_tables_api.c — nft_parse_register
func regSlot(r ruleset.Register) int {
	if r <= 4 {
		return int(r) * 4
	}
	return int(r) - 4
}

func newRctx(t *ruleset.Table) *rctx {
	c := &rctx{family: t.Family, table: t, regs: map[int]*regVal{}, dead: map[int]bool{}, deps: [4]int{-1, -1, -1, -1},
		icmpType: -1, depIcmpType: -1}
	switch t.Family {
	case ruleset.FamilyIPv4:
		c.proto[ruleset.BaseNetwork] = protoIP
	case ruleset.FamilyIPv6:
		c.proto[ruleset.BaseNetwork] = protoIP6
	case ruleset.FamilyARP:
		c.proto[ruleset.BaseNetwork] = protoARP
	case ruleset.FamilyBridge:
		c.proto[ruleset.BaseLink] = protoEth
	}
	return c
}

func (c *rctx) findSet(name string) *ruleset.Set {
	for _, s := range c.table.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// decompileRule turns a rule's kernel expressions back into statements.
//
// Ref: nftables src/netlink_delinearize.c — netlink_delinearize_rule,
// rule_postprocess
func decompileRule(t *ruleset.Table, r *ruleset.Rule) (out []stmt, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("list: rule handle %d of table %s %s: cannot decompile: %v", r.Handle, t.Family, t.Name, p)
		}
	}()
	c := newRctx(t)
	for _, e := range r.Exprs {
		c.expr(e)
	}
	for i, s := range c.stmts {
		if !c.dead[i] {
			out = append(out, s)
		}
	}
	return mergeRanges(out), nil
}

// renderRule decompiles and prints one rule; a rule that cannot be read
// back prints as a comment and reports an error instead of stopping the
// listing.
func renderRule(t *ruleset.Table, r *ruleset.Rule) (text string, js []any, err error) {
	defer func() {
		if p := recover(); p != nil {
			text, js = "# nftgo: cannot list this rule", nil
			err = fmt.Errorf("list: rule handle %d of table %s %s: %v", r.Handle, t.Family, t.Name, p)
		}
	}()
	stmts, err := decompileRule(t, r)
	if err != nil {
		return "# nftgo: cannot list this rule", nil, err
	}
	var b strings.Builder
	for i, s := range stmts {
		if i > 0 {
			b.WriteByte(' ')
		}
		s.text(&b)
		js = append(js, s.json())
	}
	return b.String(), js, nil
}

func (c *rctx) set(r ruleset.Register, v *regVal) { c.regs[regSlot(r)] = v }

func (c *rctx) get(r ruleset.Register) *regVal {
	if v, ok := c.regs[regSlot(r)]; ok {
		return v
	}
	return &regVal{e: &rawExpr{s: fmt.Sprintf("reg%d", r)}, bits: 32}
}

func (c *rctx) emit(s stmt) int {
	c.stmts = append(c.stmts, s)
	switch s.(type) {
	case *matchStmt, *flagcmpStmt, *vmapStmt:
	default:
		// Ref: nftables src/netlink_delinearize.c —
		// rule_maybe_reset_payload_deps: any other statement forgets
		// the stored dependencies
		c.deps = [4]int{-1, -1, -1, -1}
		c.depIcmpType = -1
	}
	return len(c.stmts) - 1
}

func cmpOpString(o ruleset.CmpOp) string {
	switch o {
	case ruleset.CmpEq:
		return "=="
	case ruleset.CmpNeq:
		return "!="
	case ruleset.CmpLt:
		return "<"
	case ruleset.CmpLte:
		return "<="
	case ruleset.CmpGt:
		return ">"
	case ruleset.CmpGte:
		return ">="
	}
	return "=="
}

func (c *rctx) expr(e ruleset.Expr) {
	if e == nil {
		return
	}
	switch x := e.(type) {
	case *ruleset.Payload:
		c.set(x.DReg, &regVal{raw: &payloadExpr{base: x.Base, off: int(x.Offset) * 8, bits: int(x.Len) * 8},
			bits: int(x.Len) * 8, order: boBig})
	case *ruleset.PayloadWrite:
		c.payloadWrite(x)
	case *ruleset.Exthdr:
		c.exthdr(x)
	case *ruleset.Rt:
		c.rt(x)
	case *ruleset.Socket:
		c.socket(x)
	case *ruleset.Fib:
		c.fib(x)
	case *ruleset.Hash:
		c.hash(x)
	case *ruleset.Numgen:
		c.numgen(x)
	case *ruleset.Objref:
		c.objref(x)
	case *ruleset.Dup:
		c.dup(x)
	case *ruleset.Fwd:
		c.fwd(x)
	case *ruleset.Generic:
		c.generic(x)
	case *ruleset.Meta:
		m := &metaExpr{key: x.Key}
		if x.Set {
			c.emit(&mangleStmt{key: m, val: c.typed(c.get(x.SReg), m.tmpl().dt, m.tmpl().order, m.tmpl().bits)})
			return
		}
		t := m.tmpl()
		c.set(x.DReg, &regVal{e: m, bits: t.bits, order: t.order})
	case *ruleset.Ct:
		fam := c.family
		if x.Key == ruleset.CtSrc || x.Key == ruleset.CtDst {
			// the address family comes from the protocol context
			// Ref: nftables src/ct.c — ct_expr_update_type
			switch c.proto[ruleset.BaseNetwork] {
			case protoIP:
				fam = ruleset.FamilyIPv4
			case protoIP6:
				fam = ruleset.FamilyIPv6
			}
		}
		ce := &ctExpr{key: x.Key, dir: x.Direction, family: fam}
		t := ce.tmpl()
		if x.Set {
			c.emit(&mangleStmt{key: ce, val: c.typed(c.get(x.SReg), t.dt, t.order, t.bits)})
			return
		}
		c.set(x.DReg, &regVal{e: ce, bits: t.bits, order: t.order})
	case *ruleset.Immediate:
		if x.DReg == 0 {
			c.emit(&verdictStmt{v: x.Verdict})
			return
		}
		c.set(x.DReg, &regVal{imm: append([]byte{}, x.Data...), bits: len(x.Data) * 8})
	case *ruleset.Bitwise:
		src := c.get(x.SReg)
		if x.Op != ruleset.BitwiseMaskXor {
			op := "<<"
			if x.Op == ruleset.BitwiseRshift {
				op = ">>"
			}
			in := c.resolve(src)
			c.set(x.DReg, &regVal{e: &binopExpr{op: op, left: in, right: &valueExpr{dt: dtInteger, data: []byte{byte(x.Shift)}, bits: 8}},
				bits: src.bits, order: src.order})
			return
		}
		c.set(x.DReg, bitwiseVal(src, x.Mask, x.Xor))
	case *ruleset.Byteorder:
		src := c.get(x.SReg)
		v := *src
		if x.Op == ruleset.HtoN {
			v.order = boBig
		} else {
			v.order = boHost
		}
		c.set(x.DReg, &v)
	case *ruleset.Cmp:
		c.cmp(cmpOpString(x.Op), c.get(x.SReg), x.Data)
	case *ruleset.Range:
		src := c.get(x.SReg)
		left := c.resolve(src)
		dt := left.dtype()
		op := "=="
		if x.Op == ruleset.CmpNeq {
			op = "!="
		}
		from, to, nb := trim(x.From, src.bits), trim(x.To, src.bits), src.bits
		if shift, fb := c.keyShift(src); fb > 0 {
			from, to, nb = shiftRight(from, shift, fb), shiftRight(to, shift, fb), fb
		}
		c.emit(&matchStmt{op: op, left: left, right: &rangeExpr{
			lo: &valueExpr{dt: dt, data: from, order: boBig, bits: nb},
			hi: &valueExpr{dt: dt, data: to, order: boBig, bits: nb}}})
	case *ruleset.Lookup:
		c.lookup(x)
	case *ruleset.Dynset:
		c.dynset(x)
	case *ruleset.Counter:
		c.emit(&counterStmt{packets: x.Packets, bytes: x.Bytes})
	case *ruleset.Connlimit:
		c.emit(&connlimitStmt{count: x.Count, inv: x.Flags&ruleset.ConnlimitInvert != 0})
	case *ruleset.Limit:
		c.emit(&limitStmt{l: *x})
	case *ruleset.Quota:
		c.emit(&quotaStmt{q: *x})
	case *ruleset.Log:
		c.emit(&logStmt{l: *x})
	case *ruleset.Reject:
		c.reject(x)
	case *ruleset.NAT:
		c.nat(x)
	case *ruleset.Masq:
		c.emit(&natStmt{kind: "masquerade", proto: c.protoRange(x.ProtoMin, x.ProtoMax), flags: x.Flags})
	case *ruleset.Redir:
		c.emit(&natStmt{kind: "redirect", proto: c.protoRange(x.ProtoMin, x.ProtoMax), flags: x.Flags})
	case *ruleset.Notrack:
		c.emit(&plainStmt{s: "notrack"})
	case *ruleset.Queue:
		c.emit(queueStmt(x))
	default:
		c.emit(&plainStmt{s: "# unknown " + e.Name(), j: jobj{{"unknown", e.Name()}}})
	}
}

func queueStmt(q *ruleset.Queue) stmt {
	var b strings.Builder
	b.WriteString("queue")
	var fl []string
	if q.Flags&1 != 0 {
		fl = append(fl, "bypass")
	}
	if q.Flags&2 != 0 {
		fl = append(fl, "fanout")
	}
	if len(fl) > 0 {
		b.WriteString(" flags " + strings.Join(fl, ","))
	}
	if q.Total > 1 {
		fmt.Fprintf(&b, " to %d-%d", q.Num, q.Num+q.Total-1)
	} else if q.Num != 0 || len(fl) > 0 {
		fmt.Fprintf(&b, " to %d", q.Num)
	}
	o := jobj{}
	if q.Total > 1 {
		o = append(o, jkv{"num", jobj{{"range", []any{q.Num, q.Num + q.Total - 1}}}})
	} else if q.Num != 0 {
		o = append(o, jkv{"num", q.Num})
	}
	if len(fl) == 1 {
		o = append(o, jkv{"flags", fl[0]})
	} else if len(fl) > 1 {
		o = append(o, jkv{"flags", []any{fl[0], fl[1]}})
	}
	var j any = jobj{{"queue", o}}
	if len(o) == 0 {
		j = jobj{{"queue", nil}}
	}
	return &plainStmt{s: b.String(), j: j}
}

// typed resolves a register value that is the source of a statement
// (nat address, meta set …), giving immediates and map data the target's
// type.
func (c *rctx) typed(v *regVal, dt *dtype, o byteorder, nbits int) expr {
	if v.imm != nil {
		return &valueExpr{dt: dt, data: trim(v.imm, nbits), order: o, bits: nbits}
	}
	if v.mapSet != nil {
		return c.mapExpr(v, &keyPart{dt: dt, order: o, bits: nbits})
	}
	if v.inner != nil {
		in := c.resolve(v.inner)
		e := in
		k := func(b []byte) *valueExpr { return &valueExpr{dt: dt, data: trim(b, nbits), order: o, bits: nbits} }
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
	return c.resolve(v)
}

// isOrForm: xor bits are all cleared in the mask, i.e. (x & m) | o.
func isOrForm(mask, xor []byte) bool {
	for i := range xor {
		if i < len(mask) && mask[i]&xor[i] != 0 {
			return false
		}
	}
	return true
}

func andNot(mask, xor []byte) []byte {
	out := append([]byte(nil), mask...)
	for i := range out {
		if i < len(xor) {
			out[i] |= xor[i]
		}
	}
	return out
}

func trim(b []byte, nbits int) []byte {
	n := (nbits + 7) / 8
	if n > 0 && n < len(b) {
		return b[:n]
	}
	return b
}

func (c *rctx) constant(like expr, data []byte, o byteorder, nbits int) *valueExpr {
	return &valueExpr{dt: like.dtype(), data: trim(data, nbits), order: o, bits: nbits}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func allOnes(b []byte, nbits int) bool {
	n := (nbits + 7) / 8
	if n > len(b) {
		return false
	}
	for _, x := range b[:n] {
		if x != 0xff {
			return false
		}
	}
	return true
}

// prefixLen returns the number of leading one bits of a big-endian mask
// and whether the mask is exactly that prefix.
func prefixLen(mask []byte) (int, bool) {
	n := 0
	i := 0
	for ; i < len(mask) && mask[i] == 0xff; i++ {
		n += 8
	}
	if i < len(mask) {
		l := bits.LeadingZeros8(^mask[i])
		if mask[i] != byte(0xff<<(8-l)) {
			return 0, false
		}
		n += l
		i++
	}
	for ; i < len(mask); i++ {
		if mask[i] != 0 {
			return 0, false
		}
	}
	return n, true
}

// keyExprs reads the (possibly concatenated) key starting at register r:
// each part sits in the next 32-bit slot boundary after the previous one.
func (c *rctx) keyExprs(r ruleset.Register, keyLen uint32) ([]expr, []*regVal) {
	slot := regSlot(r)
	var es []expr
	var rvs []*regVal
	total := 0
	for {
		v, ok := c.regs[slot]
		if !ok {
			break
		}
		es = append(es, c.resolve(v))
		rvs = append(rvs, v)
		w := (v.bits + 31) / 32
		if w == 0 {
			w = 1
		}
		total += w * 4
		slot += w
		if keyLen == 0 || uint32(total) >= keyLen {
			break
		}
	}
	if len(es) == 0 {
		v := c.get(r)
		es, rvs = []expr{c.resolve(v)}, []*regVal{v}
	}
	return es, rvs
}

func joinKey(es []expr) expr {
	if len(es) == 1 {
		return es[0]
	}
	return &concatExpr{parts: es}
}

// lookup decodes set membership, maps and verdict maps.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_lookup
func (c *rctx) lookup(x *ruleset.Lookup) {
	s := c.findSet(x.Set)
	var keyLen uint32
	if s != nil {
		keyLen = s.KeyLen
	}
	es, rvs := c.keyExprs(x.SReg, keyLen)
	left := joinKey(es)
	var right expr
	if s != nil && s.Flags&ruleset.SetAnonymous != 0 {
		right = &setExpr{elems: c.decodeKeyed(s, es, rvs, nil), anon: true, dt: left.dtype()}
		c.icmpCheck(left, right.(*setExpr))
	} else {
		right = &setRefExpr{name: x.Set, dt: left.dtype()}
	}
	if x.HasDReg {
		if x.DReg == 0 {
			c.emit(&vmapStmt{key: left, m: right})
			return
		}
		bitsN := 32
		if s != nil {
			bitsN = int(s.DataLen) * 8
		}
		rv := &regVal{e: &mapExpr{key: left, m: right}, bits: bitsN, order: boBig}
		if s != nil && s.Flags&ruleset.SetAnonymous != 0 {
			rv.mapSet, rv.mapKeys, rv.mapRvs = s, es, rvs
		}
		c.set(x.DReg, rv)
		return
	}
	op := "=="
	if x.Flags&ruleset.LookupInvert != 0 {
		op = "!="
	}
	c.emit(&matchStmt{op: op, left: left, right: right})
}

// dynset decodes `add|update|delete @set { key [timeout] stmts }`.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_dynset
func (c *rctx) dynset(x *ruleset.Dynset) {
	s := c.findSet(x.Set)
	var keyLen uint32
	if s != nil {
		keyLen = s.KeyLen
	}
	es, _ := c.keyExprs(x.SRegKey, keyLen)
	var key expr = joinKey(es)
	if x.Timeout != 0 {
		key = &elemTimeoutExpr{key: key, timeout: x.Timeout}
	}
	var stmts []stmt
	for _, e := range x.Exprs {
		stmts = append(stmts, stateless(exprStmt(c.family, e)))
	}
	if x.HasData {
		dv := c.get(x.SRegData)
		key = &mappingExpr{key: key, data: c.resolve(dv)}
	}
	op := [...]string{"add", "update", "delete"}
	name := "add"
	if int(x.Op) < len(op) {
		name = op[x.Op]
	}
	if s != nil && s.Flags&ruleset.SetAnonymous != 0 && len(stmts) == 1 {
		// a dynset on an anonymous set is a meter
		// Ref: nftables src/netlink_delinearize.c — netlink_parse_dynset
		size := s.Size
		if size == 0 {
			size = 65535 // nft_dynset_init sizes a set bound without one
		}
		c.emit(&meterStmt{name: s.Name, size: size, key: key, stmt: stmts[0]})
		return
	}
	c.emit(&dynsetStmt{op: name, set: x.Set, key: key, stmts: stmts})
}

// exprStmt decodes a stateful expression attached to a set element or a
// dynset template.
func exprStmt(f ruleset.Family, e ruleset.Expr) stmt {
	if e == nil {
		return &plainStmt{s: "# nil expression", j: jobj{{"unknown", nil}}}
	}
	switch x := e.(type) {
	case *ruleset.Counter:
		return &counterStmt{packets: x.Packets, bytes: x.Bytes}
	case *ruleset.Connlimit:
		return &connlimitStmt{count: x.Count, inv: x.Flags&ruleset.ConnlimitInvert != 0}
	case *ruleset.Limit:
		return &limitStmt{l: *x}
	case *ruleset.Quota:
		return &quotaStmt{q: *x}
	}
	return &plainStmt{s: e.Name()}
}

func stateless(s stmt) stmt {
	switch x := s.(type) {
	case *counterStmt:
		x.stateless = true
	case *quotaStmt:
		x.stateless = true
	}
	return s
}

func (c *rctx) protoRange(min, max ruleset.Register) expr {
	if min == 0 {
		return nil
	}
	lo := c.typed(c.get(min), dtInetService, boBig, 16)
	if max != 0 && max != min {
		hi := c.typed(c.get(max), dtInetService, boBig, 16)
		if exprText(hi) != exprText(lo) {
			return &rangeExpr{lo: lo, hi: hi}
		}
	}
	return lo
}

// nat decodes snat/dnat.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_nat
func (c *rctx) nat(x *ruleset.NAT) {
	kind := "snat"
	if x.Type == ruleset.NATDnat {
		kind = "dnat"
	}
	n := &natStmt{kind: kind, flags: x.Flags}
	if c.family == ruleset.FamilyINet {
		n.family = x.Family
	}
	adt, abits := dtIPv4, 32
	if x.Family == ruleset.FamilyIPv6 {
		adt, abits = dtIPv6, 128
	}
	if x.AddrMin != 0 {
		if v := c.get(x.AddrMin); v.mapSet != nil {
			if m := c.natMap(v, x, adt, abits); m != nil {
				n.family = x.Family
				n.addr = m
				c.emit(n)
				return
			}
		}
	}
	if x.AddrMin != 0 {
		// a named map whose data is the address (and port): nft prints
		// the family keyword, and the port register is part of the data
		// (is_nat_proto_map)
		if v := c.get(x.AddrMin); v != nil {
			if m, ok := v.e.(*mapExpr); ok {
				if ref, ok := m.m.(*setRefExpr); ok {
					n.addr = m
					if s := c.findSet(ref.name); x.ProtoMin != 0 && (s == nil || int(s.DataLen)*8 <= abits) {
						n.proto = c.protoRange(x.ProtoMin, x.ProtoMax)
					} else if x.ProtoMin != 0 {
						n.family = x.Family
					}
					c.emit(n)
					return
				}
			}
		}
		lo := c.typed(c.get(x.AddrMin), adt, boBig, abits)
		n.addr = lo
		if x.AddrMax != 0 && x.AddrMax != x.AddrMin {
			hi := c.typed(c.get(x.AddrMax), adt, boBig, abits)
			if exprText(hi) != exprText(lo) {
				n.addr = &rangeExpr{lo: lo, hi: hi}
				// an address range that is a prefix prints as one
				// Ref: nftables src/netlink_delinearize.c — netlink_parse_nat
				if lv, ok := lo.(*valueExpr); ok {
					if hv, ok := hi.(*valueExpr); ok {
						if plen, ok := prefixOf(lv.data, hv.data); ok && len(lv.data) > 0 {
							n.addr = &prefixExpr{v: lv, plen: plen}
						}
					}
				}
			}
		}
	}
	n.proto = c.protoRange(x.ProtoMin, x.ProtoMax)
	c.emit(n)
}

// mergeRanges folds `cmp gte a; cmp lte b` on one load into `a-b`.
//
// Ref: nftables src/netlink_delinearize.c — rule_postprocess (range)
func mergeRanges(in []stmt) []stmt {
	var out []stmt
	for i := 0; i < len(in); i++ {
		a, ok := in[i].(*matchStmt)
		if ok && a.op == ">=" && i+1 < len(in) {
			if b, ok := in[i+1].(*matchStmt); ok && b.op == "<=" && exprText(b.left) == exprText(a.left) {
				out = append(out, &matchStmt{op: "==", left: a.left, right: &rangeExpr{lo: a.right, hi: b.right}})
				i++
				continue
			}
		}
		out = append(out, in[i])
	}
	return out
}

// decodeKeyed decodes an anonymous set's elements against the expressions
// the rule looks up, including sub-field shifts (`ip dscp { cs1, af11 }`).
func (c *rctx) decodeKeyed(s *ruleset.Set, es []expr, rvs []*regVal, data *keyPart) []expr {
	shifts := make([]int, len(rvs))
	fbits := make([]int, len(rvs))
	for i, v := range rvs {
		shifts[i], fbits[i] = c.keyShift(v)
	}
	return decodeElements(s, es, rvs, shifts, fbits, data)
}

// mapExpr prints `key map { k : v }` with the data typed by its consumer.
func (c *rctx) mapExpr(v *regVal, data *keyPart) expr {
	m := v.e.(*mapExpr)
	return &mapExpr{key: m.key, m: &setExpr{elems: c.decodeKeyed(v.mapSet, v.mapKeys, v.mapRvs, data), anon: true}}
}

// payloadWrite decodes `FIELD set VALUE`.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_payload_stmt,
// stmt_payload_postprocess
func (c *rctx) payloadWrite(x *ruleset.PayloadWrite) {
	raw := &payloadExpr{base: x.Base, off: int(x.Offset) * 8, bits: int(x.Len) * 8}
	// A field narrower than the bytes written is set by loading those
	// bytes, keeping the other bits (mask) and or-ing in the new value.
	if v := c.get(x.SReg); v.inner != nil && v.inner.raw != nil && v.origMask != nil {
		in := v.inner.raw
		if in.base == raw.base && in.off == raw.off && in.bits == raw.bits {
			inv := invert(trim(v.origMask, raw.bits))
			if p, shift, ok := c.subField(raw, inv); ok {
				c.killDep(p)
				val := shiftRight(trim(append(append([]byte(nil), v.origXor...), make([]byte, 16)...), raw.bits), shift, p.bits)
				c.emit(&mangleStmt{key: p, val: &valueExpr{dt: p.f.dt, data: val, order: boBig, bits: p.bits}})
				return
			}
			if d := c.protoAt(raw.base, raw.off); d != nil {
				// whole fields inside a wider write (ip ttl in 2 bytes)
				if p, shift, ok := c.subFieldAligned(raw, inv, d); ok {
					c.killDep(p)
					val := shiftRight(trim(append(append([]byte(nil), v.origXor...), make([]byte, 16)...), raw.bits), shift, p.bits)
					c.emit(&mangleStmt{key: p, val: &valueExpr{dt: p.f.dt, data: val, order: boBig, bits: p.bits}})
					return
				}
			}
		}
	}
	key := c.fieldOf(raw)
	dt := key.dtype()
	c.emit(&mangleStmt{key: key, val: c.typed(c.get(x.SReg), dt, boBig, raw.bits)})
}

// metaKillNetworkDep hides `meta nfproto ipv6` before `meta l4proto
// ipv6-icmp` in inet, bridge and netdev: ICMP and ICMPv6 imply their
// network protocol; any other l4proto keeps the explicit nfproto match.
//
// Ref: nftables src/netlink_delinearize.c — meta_may_dependency_kill,
// ct_meta_common_postprocess
func (c *rctx) metaKillNetworkDep(l4 uint64) {
	i := c.deps[ruleset.BaseNetwork]
	if i < 0 {
		return
	}
	dep, _ := c.stmts[i].(*matchStmt)
	if dep == nil {
		return
	}
	var nfproto uint64
	rv, ok := dep.right.(*valueExpr)
	if !ok {
		c.killAt(ruleset.BaseNetwork)
		return
	}
	switch l := dep.left.(type) {
	case *metaExpr:
		switch l.key {
		case ruleset.MetaNfproto:
			nfproto = rv.uint()
		case ruleset.MetaProtocol:
			nfproto = etherToNfproto(rv.uint())
		default:
			c.killAt(ruleset.BaseNetwork)
			return
		}
	case *payloadExpr:
		if l.base != ruleset.BaseLink || l.f == nil || l.f.dt != dtEtherType {
			c.killAt(ruleset.BaseNetwork)
			return
		}
		nfproto = etherToNfproto(rv.uint())
	default:
		c.killAt(ruleset.BaseNetwork)
		return
	}
	switch c.family {
	case ruleset.FamilyINet, ruleset.FamilyNetdev, ruleset.FamilyBridge:
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6:
		if uint64(c.family) == nfproto {
			c.killAt(ruleset.BaseNetwork)
		}
		return
	default:
		c.killAt(ruleset.BaseNetwork)
		return
	}
	if l4 != 1 && l4 != 58 {
		return
	}
	if nfproto == 2 && l4 == 58 || nfproto == 10 && l4 == 1 {
		return
	}
	c.killAt(ruleset.BaseNetwork)
}

func etherToNfproto(v uint64) uint64 {
	switch v {
	case 0x0800:
		return 2
	case 0x86dd:
		return 10
	}
	return 0
}

func (c *rctx) killAt(b ruleset.PayloadBase) {
	if i := c.deps[b]; i >= 0 {
		c.dead[i] = true
		c.deps[b] = -1
	}
}

// exthdr decodes extension header and option loads, writes and resets.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_exthdr;
// src/payload.c — exthdr_dependency_kill
func (c *rctx) exthdr(x *ruleset.Exthdr) {
	present := x.Flags&ruleset.ExthdrFPresent != 0 || x.Reset
	e := newExthdr(x.Op, x.Type, int(x.Offset)*8, int(x.Len)*8, present)
	switch x.Op {
	case ruleset.ExthdrOpTCPOpt:
		c.killDepSlot(ruleset.BaseTransport)
	case ruleset.ExthdrOpIPv6, ruleset.ExthdrOpIPv4:
		c.killDepSlot(ruleset.BaseNetwork)
	}
	switch {
	case x.Reset:
		var b strings.Builder
		e.present = true
		e.text(&b)
		c.emit(&plainStmt{s: "reset " + b.String(), j: jobj{{"reset", e.json()}}})
	case x.Write:
		c.emit(&mangleStmt{key: e, val: c.typed(c.get(x.SReg), e.dtype(), boBig, e.bits)})
	default:
		nb := int(x.Len) * 8
		if present {
			nb = 8
		}
		c.set(x.DReg, &regVal{e: e, bits: nb, order: boBig})
	}
}

// killDepSlot releases the dependency of base b, if any.
func (c *rctx) killDepSlot(b ruleset.PayloadBase) {
	if i := c.depIndex(b); i >= 0 {
		c.dead[c.deps[i]] = true
		c.deps[i] = -1
	}
}

// reject picks the ICMP family the code belongs to and hides the
// dependency nft added for it.
//
// Ref: nftables src/netlink_delinearize.c — stmt_reject_postprocess
func (c *rctx) reject(x *ruleset.Reject) {
	r := &rejectStmt{r: *x, family: c.family}
	switch c.family {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6:
		if x.Type == ruleset.RejectTCPRst {
			c.killDepSlot(ruleset.BaseTransport)
		}
	case ruleset.FamilyINet, ruleset.FamilyBridge, ruleset.FamilyNetdev:
		if x.Type == ruleset.RejectICMPXUnreach {
			break
		}
		r.verbose = true
		r.family = ruleset.FamilyUnspec
		switch c.proto[ruleset.BaseNetwork] {
		case protoIP:
			r.family = ruleset.FamilyIPv4
		case protoIP6:
			r.family = ruleset.FamilyIPv6
		}
		c.killDepSlot(ruleset.BaseNetwork)
	}
	c.emit(r)
}

// icmpCheck takes the ICMP type context from the first element of an
// anonymous set of ICMP types, so later id/sequence fields resolve.
//
// Ref: nftables src/netlink_delinearize.c — payload_icmp_check
func (c *rctx) icmpCheck(left expr, set *setExpr) {
	p, ok := left.(*payloadExpr)
	if !ok || p.f == nil || !p.isProtoKey() || (p.proto != protoICMP && p.proto != protoICMP6) || len(set.elems) == 0 {
		return
	}
	el, ok := set.elems[0].(*elemExpr)
	if !ok {
		return
	}
	v, ok := el.key.(*valueExpr)
	if !ok {
		return
	}
	c.pctxUpdate(p, v.uint())
}

// natMap decodes `snat|dnat ip to KEY map { k : addr[-addr] [. port[-port]] }`:
// one lookup whose data fills the address (and port) registers, with
// intervals as [min, max] pairs. nft prints the family keyword for these.
//
// Ref: nftables src/netlink_delinearize.c — netlink_parse_nat,
// is_nat_addr_map, is_nat_proto_map
func (c *rctx) natMap(v *regVal, x *ruleset.NAT, adt *dtype, abits int) expr {
	ab := abits / 8
	aw := (ab + 3) / 4 * 4
	dlen := int(v.mapSet.DataLen)
	for _, el := range v.mapSet.Elements {
		if len(el.Data) > dlen {
			dlen = len(el.Data)
		}
	}
	addr := func(b []byte) *valueExpr { return &valueExpr{dt: adt, data: b, bits: abits} }
	port := func(b []byte) *valueExpr { return &valueExpr{dt: dtInetService, data: b, bits: 16} }
	span := func(lo, hi *valueExpr) expr {
		if bytesEqual(lo.data, hi.data) {
			return lo
		}
		if lo.dt.prefix {
			return rangeOrPrefix(lo, hi.data)
		}
		return &rangeExpr{lo: lo, hi: hi}
	}
	var dec func([]byte) expr
	switch {
	case x.AddrMax != 0 && x.ProtoMin != 0 && dlen >= 2*aw+8:
		// addr_min, proto_min, addr_max, proto_max
		dec = func(d []byte) expr {
			if len(d) < 2*aw+8 {
				return &rawExpr{s: "?"}
			}
			return &concatExpr{parts: []expr{span(addr(d[:ab]), addr(d[aw+4:aw+4+ab])),
				span(port(d[aw:aw+2]), port(d[2*aw+4:2*aw+6]))}}
		}
	case x.AddrMax != 0 && dlen >= 2*aw:
		dec = func(d []byte) expr {
			if len(d) < 2*aw {
				return &rawExpr{s: "?"}
			}
			return span(addr(d[:ab]), addr(d[aw:aw+ab]))
		}
	case x.ProtoMin != 0 && dlen >= aw+2:
		dec = func(d []byte) expr {
			if len(d) < aw+2 {
				return &rawExpr{s: "?"}
			}
			return &concatExpr{parts: []expr{addr(d[:ab]), port(d[aw : aw+2])}}
		}
	default:
		return nil
	}
	m := v.e.(*mapExpr)
	return &mapExpr{key: m.key, m: &setExpr{elems: c.decodeKeyed(v.mapSet, v.mapKeys, v.mapRvs, &keyPart{dec: dec}), anon: true}}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
