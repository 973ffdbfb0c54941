package compiler

// Rule evaluation and linearisation. A rule's statements are read from its
// tokens one at a time and turned into kernel expressions directly, keeping
// nft's protocol context (which dependencies are already satisfied) across
// statements.
// Ref: nftables src/parser_bison.y — stmt, match_stmt, relational_expr;
// src/evaluate.c — expr_evaluate_relational, stmt_evaluate_*;
// src/netlink_linearize.c — netlink_gen_*; src/payload.c —
// payload_gen_dependency.

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/syntax"
)

type xkind int

const (
	xPayload xkind = iota
	xMeta
	xCt
	xConcat
	xGeneric // a load expression kept verbatim (exthdr, fib, numgen, …)
)

// xexpr is an evaluated key expression (the left side of a match).
type xexpr struct {
	kind  xkind
	dt    *dtype
	bits  int
	order byteOrder
	t0    tok // first token, for error locations
	tEnd  tok

	proto *protoDesc
	fname string
	off   int // payload offset in bits

	meta ruleset.MetaKey
	ct   ruleset.CtKey
	dir  int
	// ctNoFam marks `ct original|reply saddr|daddr` without ip/ip6: its
	// type comes only from the rule's network context.
	ctNoFam bool

	fields []*xexpr

	generic func(dreg ruleset.Register) ruleset.Expr
	// emit, when set, emits the load itself (expressions with inputs).
	emitFn func(r *rulectx, slot int)

	// mask/xor applied after the load (sub-byte fields, `& m`, …).
	mask, xor []byte
	// shift is an lshift/rshift applied after the load.
	shiftOp  ruleset.BitwiseOp
	shiftAmt uint32
	// dep is the network protocol the expression needs (exthdr: "ip6").
	dep       string
	exthdrLen int
	subByte   bool
}

// bytesLen is the register width of the value in bytes.
// maskBits gives a field that does not start and end on byte boundaries
// the mask that keeps its bits of the bytes loaded (nft's payload_expr
// with a bitwise mask of the field's bits).
func (x *xexpr) maskBits() {
	if x.off%8 == 0 && x.bits%8 == 0 {
		return
	}
	n := x.bytesLen()
	m := new(big.Int).Lsh(big.NewInt(1), uint(x.bits))
	m.Sub(m, big.NewInt(1))
	m.Lsh(m, uint(n*8-x.off%8-x.bits))
	x.mask = encodeInt(m, n, bigEndian)
	x.xor = make([]byte, n)
}

func (x *xexpr) bytesLen() int {
	if x.kind == xConcat {
		n := 0
		for _, f := range x.fields {
			n += (f.bytesLen() + 3) &^ 3
		}
		return n
	}
	if x.kind == xPayload {
		return (x.off%8 + x.bits + 7) / 8
	}
	if x.exthdrLen != 0 {
		return x.exthdrLen
	}
	return (x.bits + 7) / 8
}

type rulectx struct {
	c     *compiler
	ts    *tableState
	fam   ruleset.Family
	ch    *ruleset.Chain
	toks  []tok
	i     int
	exprs []ruleset.Expr
	anon  []*ruleset.Set
	l3    string
	l4    string
	// l3At is the expression whose dependency set l3, for error context.
	l3At tok
	// l4set holds the transport protocols an anonymous set match allowed
	// (`meta l4proto { tcp, udp }`), in element order: a transport
	// context, but no single protocol (proto_ctx_update with a set).
	l4set []string
	ll    bool
	bad   bool
	viaL4 bool
	// icmpType is set once the rule matched or depends on the icmp type;
	// icmpTypeVal is that type (the last element of a set), as the
	// protocol context keeps it.
	icmpType    bool
	icmpTypeVal byte
	logTok      tok
	// terminal is set after a statement that ends rule evaluation.
	terminal bool
	// vlanDepth counts VLAN headers a `vlan type 8021q` stacked.
	vlanDepth int
	// stmtAnon is len(anon) when the current statement began.
	stmtAnon int
	// loadStart is where the current key's loads begin in exprs.
	loadStart int
	// lastStart/lastEnd delimit the previous statement.
	lastStart, lastEnd tok
	// lastTok is the end of the rule, for "unexpected newline" errors.
	lastTok tok
	stmts   int
	// protoKey and noMerge mark payload matches (by their Cmp) for the
	// statement-level payload merge (merge.go): protoKey a match on a
	// protocol key field (EXPR_F_PROTOCOL), noMerge one whose right side
	// is no plain value in nft (a byte-aligned prefix).
	protoKey, noMerge map[ruleset.Expr]bool
}

// markCmp records a property of the payload match whose Cmp was just emitted.
func (r *rulectx) markCmp(m *map[ruleset.Expr]bool) {
	if *m == nil {
		*m = map[ruleset.Expr]bool{}
	}
	(*m)[r.exprs[len(r.exprs)-1]] = true
}

func (r *rulectx) peek() tok {
	if r.i < len(r.toks) {
		return r.toks[r.i]
	}
	t := r.lastTok
	t.pos.Column = t.end + 1
	t.end = t.pos.Column
	t.kind = 0
	t.s = ""
	return t
}

func (r *rulectx) peekN(n int) tok {
	if r.i+n < len(r.toks) {
		return r.toks[r.i+n]
	}
	return tok{}
}

func (r *rulectx) next() tok {
	t := r.peek()
	if r.i < len(r.toks) {
		r.i++
	}
	return t
}

func (r *rulectx) eof() bool { return r.i >= len(r.toks) }

func (r *rulectx) isWord(s string) bool {
	t := r.peek()
	return t.kind == 'w' && t.s == s
}

func (r *rulectx) accept(s string) bool {
	t := r.peek()
	if (t.kind == 'w' || t.kind == 'o') && t.s == s {
		r.i++
		return true
	}
	return false
}

// fail reports an error at t and abandons the rule.
func (r *rulectx) fail(t tok, format string, a ...any) {
	if !r.bad {
		r.c.errorTok(t, format, a...)
	}
	r.bad = true
}

// unexpected reports a syntax error at the current token.
func (r *rulectx) unexpected() {
	t := r.peek()
	name := ""
	switch {
	case t.kind == 0:
		name = "newline"
	case t.kind == '{':
		name = "'{'"
		t.end = t.pos.Column
	case t.kind == 's':
		name = "quoted string"
	case t.kind == 'o' && t.s == ",":
		name = "comma"
	case t.kind == 'o':
		name = "'" + t.s + "'"
	case syntaxNumber(t.s):
		name = "number"
	default:
		name = t.s
	}
	r.fail(t, "syntax error, unexpected %s", name)
}

func syntaxNumber(s string) bool {
	_, ok := parseUint(s)
	return ok
}

func (r *rulectx) emit(e ruleset.Expr) { r.exprs = append(r.exprs, e) }

// rule compiles one rule into ch.
func (c *compiler) rule(ts *tableState, ch *ruleset.Chain, terms []*syntax.Term, cmd *ruleCmd) {
	toks, ok := c.flatten(terms)
	if !ok {
		return
	}
	c.ruleToks(ts, ch, toks, cmd)
}

// ruleToks compiles one rule from its tokens ($variables expanded).
func (c *compiler) ruleToks(ts *tableState, ch *ruleset.Chain, toks []tok, cmd *ruleCmd) {
	r := &rulectx{c: c, ts: ts, fam: ts.t.Family, ch: ch, toks: toks}
	if len(toks) > 0 {
		r.lastTok = toks[len(toks)-1]
	}
	var comment string
	var spans []stmtSpan
	for !r.eof() && !r.bad {
		if r.isWord("comment") {
			r.next()
			t := r.next()
			if t.kind != 's' && t.kind != 'w' {
				r.unexpected()
				break
			}
			comment = t.s
			continue
		}
		if r.terminal {
			if !r.bad {
				t := r.peek()
				e := &syntax.Error{Pos: t.pos, EndCol: t.end, Msg: "Statement after terminal statement has no effect", Src: c.srcs[t.pos.Filename]}
				if r.lastStart.pos.Line == t.pos.Line {
					e.Context = &syntax.Span{Col: r.lastStart.pos.Column, EndCol: r.lastEnd.end}
				}
				if len(c.errs) < maxErrors {
					c.errs = append(c.errs, e)
				}
				r.bad = true
			}
			break
		}
		r.lastStart = r.peek()
		r.stmtAnon = len(r.anon)
		r.stmt()
		if r.i > 0 {
			r.lastEnd = r.toks[r.i-1]
			spans = append(spans, stmtSpan{word: r.lastStart.s, start: r.lastStart.pos, end: r.lastEnd.end, line: r.lastEnd.pos.Line})
		}
		r.stmts++
	}
	if r.bad {
		return
	}
	r.exprs = mergePayloads(r.exprs, r.protoKey, r.noMerge)
	r.nameAnon()
	rule := &ruleset.Rule{Exprs: r.exprs, Comment: comment}
	if c.stmts == nil {
		c.stmts = map[*ruleset.Rule][]stmtSpan{}
	}
	c.stmts[rule] = spans
	for _, s := range r.anon {
		s.Handle = ts.handle()
		ts.t.Sets = append(ts.t.Sets, s)
		c.batch = append(c.batch, msg{kind: msgSet, table: ts.t, set: s})
		if len(s.Elements) > 0 || !strings.HasPrefix(s.Name, "__") {
			c.batch = append(c.batch, msg{kind: msgElems, table: ts.t, set: s, elems: s.Elements})
		}
	}
	rule.Handle = ts.handle()
	if cmd != nil && cmd.PosKind != "" {
		if n, ok := parseUint(cmd.PosValue); ok {
			rule.Position = n.Uint64()
		}
	}
	if cmd != nil && cmd.Insert && rule.Position == 0 {
		// `insert` without a position puts the rule first.
		ch.Rules = append([]*ruleset.Rule{rule}, ch.Rules...)
	} else {
		ch.Rules = append(ch.Rules, rule)
	}
	c.batch = append(c.batch, msg{kind: msgRule, table: ts.t, chain: ch, rule: rule})
}

var verdictWords = map[string]ruleset.VerdictCode{
	"accept": ruleset.VerdictAccept, "drop": ruleset.VerdictDrop, "continue": ruleset.VerdictContinue,
	"return": ruleset.VerdictReturn, "jump": ruleset.VerdictJump, "goto": ruleset.VerdictGoto,
}

// stmt parses and linearises one statement.
func (r *rulectx) stmt() {
	t := r.peek()
	if t.kind == '{' || t.kind == 's' {
		r.unexpected()
		return
	}
	if t.kind == 'o' && t.s != "@" {
		r.unexpected()
		return
	}
	switch t.s {
	case "accept", "drop", "continue", "return", "jump", "goto":
		r.verdictStmt()
		r.terminal = true
		return
	case "counter":
		r.counterStmt()
		return
	case "limit":
		r.limitStmt()
		return
	case "quota":
		r.quotaStmt()
		return
	case "log":
		r.logStmt()
		return
	case "reject":
		r.rejectStmt()
		r.terminal = true
		return
	case "snat", "dnat":
		r.natStmt()
		r.terminal = true
		return
	case "masquerade", "redirect":
		r.masqStmt()
		r.terminal = true
		return
	case "notrack":
		r.next()
		r.emit(&ruleset.Notrack{})
		return
	case "queue":
		r.queueStmt()
		r.terminal = true
		return
	case "tproxy":
		r.tproxyStmt()
		return
	case "meter":
		r.meterStmt()
		return
	case "reset":
		if r.peekN(1).s == "tcp" && r.peekN(2).s == "option" {
			r.next()
			r.next()
			r.next()
			o := r.next()
			typ := -1
			if d, ok := tcpOptions[o.s]; ok {
				typ = int(d.typ)
			} else if n, ok := parseUint(o.s); ok && n.BitLen() <= 8 {
				typ = int(n.Int64())
			}
			if typ < 0 {
				r.fail(o, "syntax error, unexpected %s", o.s)
				return
			}
			r.emit(&ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: uint8(typ), Reset: true})
			return
		}
	case "synproxy":
		r.synproxyStmt()
		return
	case "dup":
		r.dupStmt()
		return
	case "flow":
		r.next()
		if !r.accept("add") && !r.accept("offload") {
			r.unexpected()
			return
		}
		at := r.next()
		n := r.next()
		if at.s != "@" {
			r.fail(at, "syntax error, unexpected %s", at.s)
			return
		}
		r.emit(&ruleset.Generic{Kind: "flow_offload", Body: "flowtable " + n.s + " "})
		return
	case "fwd":
		r.fwdStmt()
		r.terminal = true
		return
	case "add", "update", "delete":
		if r.peekN(1).s == "@" {
			r.dynsetStmt()
			return
		}
	}
	if t.s == "ct" && (r.peekN(1).s == "helper" || r.peekN(1).s == "timeout" || r.peekN(1).s == "expectation") && r.peekN(2).s == "set" {
		r.next()
		k := r.next()
		r.next()
		r.objrefStmt("ct " + k.s)
		return
	}
	if t.s == "synproxy" && r.peekN(1).s == "name" {
		r.next()
		r.next()
		r.objrefStmt("synproxy")
		return
	}
	if t.s == "ct" && r.peekN(1).s == "count" {
		r.next()
		r.next()
		r.connlimitStmt()
		return
	}
	lhs := r.keyExpr()
	if lhs == nil || r.bad {
		return
	}
	use := ctPlain
	switch {
	case r.isWord("vmap"):
		use = ctMapKey
	case r.peek().kind == '{' || r.peek().kind == 'o' && r.peek().s == "@":
		use = ctSetMatch
	}
	if !r.ctAddrOK(lhs, use) {
		return
	}
	switch {
	case r.isWord("set"):
		r.next()
		r.setStmt(lhs)
	case r.isWord("vmap"):
		r.next()
		r.vmapStmt(lhs)
	default:
		r.relational(lhs)
	}
}

func (r *rulectx) verdictStmt() {
	t := r.next()
	v := ruleset.Verdict{Code: verdictWords[t.s]}
	if v.Code == ruleset.VerdictJump || v.Code == ruleset.VerdictGoto {
		n := r.next()
		if n.kind != 'w' && n.kind != 's' {
			r.unexpected()
			return
		}
		if r.ts.chain(n.s) == nil {
			// nft 1.0.6 leaves this to the kernel: reported only when
			// nothing else failed, as the batch is never sent otherwise.
			r.c.kernelErrs = append(r.c.kernelErrs, &syntax.Error{Pos: n.pos, EndCol: n.end,
				Msg: "Could not process rule: No such file or directory", Src: r.c.srcs[n.pos.Filename]})
		}
		v.Chain = n.s
	}
	r.emit(&ruleset.Immediate{DReg: 0, Verdict: v})
}

func (r *rulectx) counterStmt() {
	r.next()
	cnt := &ruleset.Counter{}
	if r.isWord("name") {
		r.next()
		r.objrefStmt("counter")
		return
	}
	for r.isWord("packets") || r.isWord("bytes") {
		k := r.next()
		n := r.next()
		v, ok := parseUint(n.s)
		if !ok {
			r.unexpected()
			return
		}
		if k.s == "packets" {
			cnt.Packets = v.Uint64()
		} else {
			cnt.Bytes = v.Uint64()
		}
	}
	r.emit(cnt)
}

// relational linearises `lhs [op] rhs`.
func (r *rulectx) relational(lhs *xexpr) {
	op := ""
	t := r.peek()
	if t.kind == 'o' {
		switch t.s {
		case "==", "!=", "<", ">", "<=", ">=", "!":
			op = t.s
			r.next()
		}
	} else if t.kind == 'w' {
		switch t.s {
		case "eq":
			op = "=="
		case "ne":
			op = "!="
		case "lt":
			op = "<"
		case "gt":
			op = ">"
		case "le":
			op = "<="
		case "ge":
			op = ">="
		}
		if op != "" {
			r.next()
		}
	}
	if r.eof() {
		r.unexpected()
		return
	}
	rt := r.peek()
	// Set reference or literal.
	if rt.kind == 'o' && rt.s == "@" {
		r.next()
		name := r.next()
		s := r.ts.set(name.s)
		if s == nil {
			r.fail(tok{pos: rt.pos, end: name.end}, "No such file or directory")
			return
		}
		r.lookup(lhs, op, s, rt)
		return
	}
	var vals []rval
	if rt.kind == '{' {
		r.next()
		elems, ok := r.c.parseElems(lhs, nil, false, rt.set)
		if !ok {
			r.bad = true
			return
		}
		if len(elems) != 1 || elems[0].key.from == nil || lhs.kind == xConcat {
			s := r.anonFromElems(lhs, elems, rt)
			if s == nil {
				return
			}
			r.lookup(lhs, op, s, rt)
			return
		}
		// A one-element set is a plain comparison (src/evaluate.c —
		// expr_evaluate_set turns a singleton into its element).
		vals = []rval{elems[0].key}
	} else {
		// Constant values, possibly a comma-separated flag list.
		vals = r.rhsValues(lhs)
	}
	if r.bad || len(vals) == 0 {
		return
	}
	r.genDeps(lhs)
	if len(vals) > 1 {
		if lhs.dt.kind != kBitmask {
			s := r.anonSetFromVals(lhs, vals)
			if s != nil {
				r.lookup(lhs, op, s, rt)
			}
			return
		}
		acc := make([]byte, len(vals[0].from))
		for _, v := range vals {
			for i := range acc {
				acc[i] |= v.from[i]
			}
		}
		vals = []rval{{from: acc, t: vals[0].t, prefix: -1, wildcard: -1}}
	}
	v := vals[0]
	if lhs.mask != nil && allFF(lhs.mask) && !isZero(lhs.xor) && !v.isRange && v.prefix < 0 && v.mask == nil && len(v.from) == len(lhs.xor) {
		// `k xor c == v` is `k == v ^ c` (src/evaluate.c — binop_transfer).
		nl := *lhs
		nl.mask, nl.xor = nil, nil
		d := make([]byte, len(v.from))
		for i := range d {
			d[i] = v.from[i] ^ lhs.xor[i]
		}
		v.from = d
		lhs = &nl
	}
	r.updateCtx(lhs, op, v)
	if r.redundant(lhs, op, v) {
		return
	}
	reg := r.load(lhs)
	switch {
	case v.isRange:
		from, to := v.from, v.to
		if lhs.order == hostEndian && lhs.dt.kind != kString && len(from) > 1 && lhs.kind != xConcat {
			r.emit(&ruleset.Byteorder{Op: ruleset.HtoN, SReg: reg, DReg: reg, Len: uint32(len(from)), Size: uint32(len(from))})
			from, to = reverse(from), reverse(to)
		}
		switch op {
		case "", "==":
			r.emit(&ruleset.Cmp{Op: ruleset.CmpGte, SReg: reg, Data: from})
			r.emit(&ruleset.Cmp{Op: ruleset.CmpLte, SReg: reg, Data: to})
		case "!=":
			r.emit(&ruleset.Range{Op: ruleset.CmpNeq, SReg: reg, From: from, To: to})
		default:
			r.fail(v.t, "Binary operation (%s) is undefined for range expressions", op)
		}
	case v.mask != nil:
		// value / mask
		r.emit(&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: reg, DReg: reg, Len: uint32(len(v.mask)), Mask: v.mask, Xor: make([]byte, len(v.mask))})
		r.emit(&ruleset.Cmp{Op: cmpOp(op), SReg: reg, Data: v.from})
	case v.prefix >= 0:
		r.prefixCmp(lhs, reg, op, v)
	case op == "!" && lhs.mask != nil:
		r.fail(v.t, "Binary operation (!) is undefined for this expression")
	case lhs.dt.kind == kBitmask && (op == "" || op == "!") && lhs.mask == nil:
		r.emit(&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: reg, DReg: reg, Len: uint32(len(v.from)), Mask: v.from, Xor: make([]byte, len(v.from))})
		o := ruleset.CmpNeq
		if op == "!" {
			o = ruleset.CmpEq
		}
		r.emit(&ruleset.Cmp{Op: o, SReg: reg, Data: make([]byte, len(v.from))})
	default:
		data := v.from
		if v.wildcard >= 0 {
			data = data[:v.wildcard]
		}
		o := cmpOp(op)
		if o >= ruleset.CmpLt && lhs.order == hostEndian && len(data) > 1 && lhs.dt.kind != kString {
			r.emit(&ruleset.Byteorder{Op: ruleset.HtoN, SReg: reg, DReg: reg, Len: uint32(len(data)), Size: uint32(len(data))})
			data = reverse(data)
		}
		r.emit(&ruleset.Cmp{Op: o, SReg: reg, Data: data})
		if lhs.kind == xPayload && lhs.proto != nil && protoKeyField[lhs.proto.name] == lhs.fname {
			r.markCmp(&r.protoKey)
		}
	}
}

// protoKeyField is each header's protocol key, the field whose payload
// expressions carry EXPR_F_PROTOCOL. Ref: src/proto.c — .protocol_key.
var protoKeyField = map[string]string{"ether": "type", "vlan": "type", "ip": "protocol", "ip6": "nexthdr", "arp": "ptype"}

func cmpOp(op string) ruleset.CmpOp {
	switch op {
	case "!=":
		return ruleset.CmpNeq
	case "<":
		return ruleset.CmpLt
	case "<=":
		return ruleset.CmpLte
	case ">":
		return ruleset.CmpGt
	case ">=":
		return ruleset.CmpGte
	}
	return ruleset.CmpEq
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// prefixCmp matches a prefix: shortened load when byte-aligned, else a
// mask. Ref: src/netlink_linearize.c — netlink_gen_prefix; src/evaluate.c
// — the payload shortening of expr_evaluate_relational (1.0.6).
func (r *rulectx) prefixCmp(lhs *xexpr, reg ruleset.Register, op string, v rval) {
	plen := v.prefix
	n := len(v.from)
	if plen == n*8 {
		r.emit(&ruleset.Cmp{Op: cmpOp(op), SReg: reg, Data: v.from})
		return
	}
	if plen%8 == 0 && plen > 0 && lhs.mask == nil && lhs.order == bigEndian {
		// Shorten the load that was just emitted, or just the compare.
		if p, ok := r.exprs[len(r.exprs)-1].(*ruleset.Payload); ok && lhs.kind == xPayload {
			p.Len = uint32(plen / 8)
		}
		r.emit(&ruleset.Cmp{Op: cmpOp(op), SReg: reg, Data: v.from[:plen/8]})
		r.markCmp(&r.noMerge)
		return
	}
	mask := make([]byte, n)
	for i := 0; i < plen; i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	if lhs.order == hostEndian {
		mask = reverse(mask)
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = v.from[i] & mask[i]
	}
	r.emit(&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: reg, DReg: reg, Len: uint32(n), Mask: mask, Xor: make([]byte, n)})
	r.emit(&ruleset.Cmp{Op: cmpOp(op), SReg: reg, Data: data})
}

// lookup emits the set lookup for lhs.
func (r *rulectx) lookup(lhs *xexpr, op string, s *ruleset.Set, at tok) {
	if op != "" && op != "==" && op != "!=" {
		r.fail(at, "Binary operation (%s) is undefined for set expressions", op)
		return
	}
	if op != "!=" && s.Flags&ruleset.SetAnonymous != 0 && lhs.kind == xPayload && lhs.fname == "type" &&
		lhs.proto != nil && (lhs.proto.name == "icmp" || lhs.proto.name == "icmpv6") && len(s.Elements) > 0 {
		if k := s.Elements[len(s.Elements)-1].Key; len(k) == 1 {
			r.icmpType, r.icmpTypeVal = true, k[0]
		}
	}
	if op != "!=" && s.Flags&ruleset.SetAnonymous != 0 && r.l4 == "" && isL4Key(lhs) {
		r.l4set = r.l4set[:0]
		for _, el := range s.Elements {
			if len(el.Key) == 1 && el.Flags&ruleset.ElemIntervalEnd == 0 {
				r.l4set = append(r.l4set, l4Name(el.Key[0]))
			}
		}
	}
	if s.Flags&ruleset.SetAnonymous == 0 && s.KeyType != keyTypeID(lhs) && lhs.kind != xConcat && s.KeyLen != uint32(lhs.bytesLen()) {
		r.fail(lhs.loc(), "datatype mismatch, expected %s, expression has type %s", s.KeyTypeName, keyTypeName(lhs))
		return
	}
	r.genDeps(lhs)
	reg := r.load(lhs)
	r.intervalOrder(lhs, s, reg)
	l := &ruleset.Lookup{Set: s.Name, SetID: s.ID, SReg: reg}
	if op == "!=" {
		l.Flags = ruleset.LookupInvert
	}
	r.emit(l)
}

// intervalOrder converts a host-order key to big-endian before an interval
// lookup, as the interval backends compare with memcmp.
func (r *rulectx) intervalOrder(lhs *xexpr, s *ruleset.Set, reg ruleset.Register) {
	if s.Flags&ruleset.SetInterval == 0 {
		return
	}
	if lhs.kind == xConcat {
		// Each host-order field is converted right after its load.
		var out []ruleset.Expr
		slot := 0
		fi := 0
		for _, e := range r.exprs[r.loadStart:] {
			out = append(out, e)
			if fi < len(lhs.fields) && loadsInto(e, regFor(slot)) {
				f := lhs.fields[fi]
				if f.order == hostEndian && f.dt.kind != kString && f.bytesLen() > 1 {
					n := uint32(f.bytesLen())
					out = append(out, &ruleset.Byteorder{Op: ruleset.HtoN, SReg: regFor(slot), DReg: regFor(slot), Len: n, Size: n})
				}
				slot += (f.bytesLen() + 3) / 4
				fi++
			}
		}
		r.exprs = append(r.exprs[:r.loadStart], out...)
		return
	}
	if lhs.order == hostEndian && lhs.dt.kind != kString && lhs.bytesLen() > 1 {
		n := uint32(lhs.bytesLen())
		r.emit(&ruleset.Byteorder{Op: ruleset.HtoN, SReg: reg, DReg: reg, Len: n, Size: n})
	}
}

// regFor maps a 32-bit slot index (from REG_1) to its netlink number.
// Ref: src/netlink_linearize.c — netlink_put_register.
func regFor(slot int) ruleset.Register {
	if slot%4 == 0 {
		return ruleset.Register(1 + slot/4)
	}
	return ruleset.Register(8 + slot)
}

// load emits the loads of x into the first register and returns it.
func (r *rulectx) load(x *xexpr) ruleset.Register {
	return r.loadAt(x, 0)
}

// loadsInto reports whether e is a key load into reg.
func loadsInto(e ruleset.Expr, reg ruleset.Register) bool {
	switch x := e.(type) {
	case *ruleset.Payload:
		return x.DReg == reg
	case *ruleset.Meta:
		return !x.Set && x.DReg == reg
	case *ruleset.Ct:
		return !x.Set && x.DReg == reg
	case *ruleset.Exthdr:
		return x.DReg == reg
	case *ruleset.Fib:
		return x.DReg == reg
	case *ruleset.Rt:
		return x.DReg == reg
	case *ruleset.Socket:
		return x.DReg == reg
	case *ruleset.Generic:
		return strings.Contains(x.Body, fmt.Sprintf("reg %d ", reg))
	}
	return false
}

func (r *rulectx) loadAt(x *xexpr, slot int) ruleset.Register {
	if slot == 0 {
		r.loadStart = len(r.exprs)
	}
	reg := regFor(slot)
	switch x.kind {
	case xConcat:
		s := slot
		for _, f := range x.fields {
			r.loadAt(f, s)
			s += (f.bytesLen() + 3) / 4
		}
		return reg
	case xPayload:
		r.emit(&ruleset.Payload{Base: x.proto.base, Offset: uint32(x.off / 8), Len: uint32(x.bytesLen()), DReg: reg})
	case xMeta:
		r.emit(&ruleset.Meta{Key: x.meta, DReg: reg})
	case xCt:
		r.emit(&ruleset.Ct{Key: x.ct, Direction: x.dir, DReg: reg})
	case xGeneric:
		if x.emitFn != nil {
			x.emitFn(r, slot)
		} else {
			r.emit(x.generic(reg))
		}
	}
	if x.mask != nil {
		r.emit(&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: reg, DReg: reg, Len: uint32(len(x.mask)), Mask: x.mask, Xor: x.xor})
	}
	if x.shiftAmt != 0 {
		r.emit(&ruleset.Bitwise{Op: x.shiftOp, SReg: reg, DReg: reg, Len: uint32(x.bytesLen()), Shift: x.shiftAmt})
	}
	return reg
}

// genDeps emits the implicit protocol dependencies of x.
// Ref: src/payload.c — payload_gen_dependency; src/proto.c — hook templates.
func (r *rulectx) genDeps(x *xexpr) {
	if x.kind == xConcat {
		for _, f := range x.fields {
			r.genDeps(f)
		}
		return
	}
	if x.dep != "" {
		r.needL3(x.dep, x.loc())
		return
	}
	if x.kind != xPayload || x.proto == nil {
		return
	}
	p := x.proto
	switch p.layer {
	case 2:
		switch r.fam {
		case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet, ruleset.FamilyNetdev:
			if !r.ll {
				r.metaCmp(ruleset.MetaIiftype, []byte{1, 0})
				r.ll = true
			}
		}
	case 25: // vlan: ether type 8021q first
		switch r.fam {
		case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet, ruleset.FamilyNetdev:
			if !r.ll {
				r.metaCmp(ruleset.MetaIiftype, []byte{1, 0})
				r.ll = true
			}
		}
		if r.l3 != "" && r.l3 != "vlan" {
			r.fail(x.loc(), "conflicting protocols specified: ether vs. vlan")
			return
		}
		if r.l3 != "vlan" {
			r.emit(&ruleset.Payload{Base: ruleset.BaseLink, Offset: 12, Len: 2, DReg: 1})
			r.emit(&ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: []byte{0x81, 0}})
			r.markCmp(&r.protoKey)
			r.l3 = "vlan"
		}
	case 3:
		r.needL3(p.name, x.loc())
	case 4:
		if r.l4 == p.name {
			r.icmpTypeDep(x)
			return
		}
		famL3 := r.fam == ruleset.FamilyIPv4 || r.fam == ruleset.FamilyIPv6 || r.fam == ruleset.FamilyARP
		if r.l3 == "" && !famL3 {
			if p.name == "icmp" || p.name == "igmp" {
				r.viaL4 = true
				r.needL3("ip", x.loc())
				r.viaL4 = false
			} else if p.name == "icmpv6" {
				r.viaL4 = true
				r.needL3("ip6", x.loc())
				r.viaL4 = false
			}
		}
		if r.bad {
			return
		}
		if r.l4 == p.name {
			r.icmpTypeDep(x)
			return
		}
		if r.l4 != "" {
			r.fail(x.loc(), "conflicting protocols specified: %s vs. %s", r.l4, p.name)
			return
		}
		// A set of protocols is no dependency for one of them: nft
		// names the first other protocol the set allowed.
		for _, o := range r.l4set {
			if o != p.name {
				r.fail(x.loc(), "conflicting protocols specified: %s vs. %s", o, p.name)
				return
			}
		}
		r.metaCmp(ruleset.MetaL4proto, []byte{byte(p.num)})
		r.l4 = p.name
	}
	if p.layer == 4 {
		r.icmpTypeDep(x)
	}
}

// icmpTypeDeps are the ICMP types a field is only meaningful for.
// Ref: src/proto.c — the icmp/icmpv6 templates' type dependencies
// (payload_gen_special_dependency / icmp_dep).
var icmpTypeDeps = map[string]map[string][]byte{
	"icmp":   {"id": {8, 0}, "sequence": {8, 0}, "gateway": {5}, "mtu": {3}},
	"icmpv6": {"id": {128, 129}, "sequence": {128, 129}, "mtu": {2}, "packet-too-big": {2}, "max-delay": {130}, "parameter-problem": {4}},
}

func (r *rulectx) icmpTypeDep(x *xexpr) {
	types, ok := icmpTypeDeps[x.proto.name][x.fname]
	if !ok {
		return
	}
	if r.icmpType {
		// Ref: src/payload.c — payload_gen_icmp_dependency: a field of
		// another ICMP type than the rule's cannot match.
		for _, t := range types {
			if t == r.icmpTypeVal {
				return
			}
		}
		r.fail(tok{pos: x.t0.pos, end: x.tEnd.end}, "incompatible icmp match: rule has %d, need %d", r.icmpTypeVal, types[0])
		return
	}
	r.icmpType, r.icmpTypeVal = true, types[0]
	r.emit(&ruleset.Payload{Base: ruleset.BaseTransport, Offset: 0, Len: 1, DReg: 1})
	defer func() {
		// The dependency's set goes before the statement's own sets.
		if n := len(r.anon); n > r.stmtAnon+1 && r.anon[n-1].Flags&ruleset.SetAnonymous != 0 {
			dep := r.anon[n-1]
			copy(r.anon[r.stmtAnon+1:], r.anon[r.stmtAnon:n-1])
			r.anon[r.stmtAnon] = dep
		}
	}()
	if len(types) == 1 {
		r.emit(&ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: types})
		return
	}
	s := r.newAnon("__set")
	s.Flags = ruleset.SetAnonymous | ruleset.SetConstant
	dt := tICMPType
	if x.proto.name == "icmpv6" {
		dt = tICMP6Type
	}
	s.KeyType, s.KeyTypeName, s.KeyLen = dt.id, dt.name, 1
	for _, t := range types {
		s.Elements = append(s.Elements, &ruleset.Element{Key: []byte{t}})
	}
	s.Size, s.SizeSet = uint32(len(types)), true
	r.anon = append(r.anon, s)
	r.emit(&ruleset.Lookup{Set: s.Name, SetID: s.ID, SReg: 1})
}

func (r *rulectx) metaCmp(k ruleset.MetaKey, data []byte) {
	r.emit(&ruleset.Meta{Key: k, DReg: 1})
	r.emit(&ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: data})
}

func (r *rulectx) needL3(name string, at tok) {
	if r.l3 == name {
		return
	}
	famL3 := ""
	switch r.fam {
	case ruleset.FamilyIPv4:
		famL3 = "ip"
	case ruleset.FamilyIPv6:
		famL3 = "ip6"
	case ruleset.FamilyARP:
		famL3 = "arp"
	}
	if famL3 != "" {
		if famL3 != name {
			r.fail(at, "conflicting protocols specified: %s vs. %s", famL3, name)
		}
		return
	}
	if r.l3 != "" && r.l3 != "vlan" {
		r.fail(at, "conflicting protocols specified: %s vs. %s", r.l3, name)
		return
	}
	p := protos[name]
	if r.ll && r.l3 == "" && (r.fam == ruleset.FamilyINet || r.fam == ruleset.FamilyNetdev) {
		// `meta iiftype ether` made the link layer Ethernet: the network
		// header's dependency is then `ether type`, not nfproto/protocol
		// (meta_expr_pctx_update sets the LL base to proto_eth).
		r.emit(&ruleset.Payload{Base: ruleset.BaseLink, Offset: 12, Len: 2, DReg: 1})
		r.emit(&ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: encodeU64(p.num, 2, bigEndian)})
		r.markCmp(&r.protoKey)
		r.l3 = name
		return
	}
	switch r.fam {
	case ruleset.FamilyINet:
		switch name {
		case "ip":
			r.metaCmp(ruleset.MetaNfproto, []byte{2})
		case "ip6":
			r.metaCmp(ruleset.MetaNfproto, []byte{10})
		default:
			r.fail(at, "conflicting protocols specified: inet vs. %s", name)
			return
		}
	case ruleset.FamilyBridge, ruleset.FamilyNetdev:
		switch {
		case r.l3 == "vlan":
			r.emit(&ruleset.Payload{Base: ruleset.BaseLink, Offset: uint32(16 + 4*r.vlanDepth), Len: 2, DReg: 1})
			r.emit(&ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: encodeU64(p.num, 2, bigEndian)})
			r.markCmp(&r.protoKey)
		case r.viaL4 && r.fam == ruleset.FamilyBridge:
			r.emit(&ruleset.Payload{Base: ruleset.BaseLink, Offset: 12, Len: 2, DReg: 1})
			r.emit(&ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: encodeU64(p.num, 2, bigEndian)})
			r.markCmp(&r.protoKey)
		default:
			r.metaCmp(ruleset.MetaProtocol, encodeU64(p.num, 2, bigEndian))
		}
	}
	r.l3, r.l3At = name, at
}

// How a conntrack address is used, for ctAddrOK.
const (
	ctPlain    = iota // matched against a value
	ctSetMatch        // matched against a set
	ctMapKey          // a map or vmap key
)

// ctAddrOK checks a conntrack address without ip/ip6 (ctNoFam): its type
// comes from the rule's network context, which a map key or concatenation
// never takes ("specify either ip or ip6"); without a context nft cannot
// type it at all. Against a set, an ip table refuses it while an ip6
// table or an explicit network match types it (nft 1.0.6 as measured).
//
// Ref: src/evaluate.c — expr_evaluate_ct, ct_expr_update_type
func (r *rulectx) ctAddrOK(lhs *xexpr, use int) bool {
	either := func(x *xexpr) bool {
		r.fail(tok{pos: x.t0.pos, end: x.tEnd.end}, "specify either ip or ip6 for address matching")
		return false
	}
	if lhs.kind == xConcat {
		for _, f := range lhs.fields {
			if f.ctNoFam {
				return either(f)
			}
		}
		return true
	}
	if !lhs.ctNoFam {
		return true
	}
	if use == ctMapKey {
		return either(lhs)
	}
	ruleL3 := r.l3 == "ip" || r.l3 == "ip6"
	if !ruleL3 && r.fam != ruleset.FamilyIPv4 && r.fam != ruleset.FamilyIPv6 {
		r.fail(tok{pos: lhs.t0.pos, end: lhs.tEnd.end}, `cannot determine ip protocol version, use "ip %s" or "ip6 %s" instead`, lhs.tEnd.s, lhs.tEnd.s)
		return false
	}
	if use == ctSetMatch && !ruleL3 && r.fam == ruleset.FamilyIPv4 {
		return either(lhs)
	}
	return true
}

// isL4Key reports whether lhs selects the transport protocol.
func isL4Key(lhs *xexpr) bool {
	return lhs.kind == xMeta && lhs.meta == ruleset.MetaL4proto ||
		lhs.kind == xPayload && lhs.proto != nil && (lhs.fname == "protocol" && lhs.proto.name == "ip" || lhs.fname == "nexthdr" && lhs.proto.name == "ip6")
}

// l4Name is the transport header name nft reports for an IP protocol
// number in its conflict errors.
func l4Name(n byte) string {
	for name, p := range protos {
		if p.layer == 4 && p.num == uint64(n) {
			return name
		}
	}
	return "unknown"
}

// updateCtx records protocol knowledge an explicit match gives.
func (r *rulectx) updateCtx(lhs *xexpr, op string, v rval) {
	if op != "" && op != "==" || v.isRange || v.prefix >= 0 || len(v.from) == 0 {
		return
	}
	switch {
	case lhs.kind == xMeta && lhs.meta == ruleset.MetaL4proto,
		lhs.kind == xPayload && (lhs.fname == "protocol" && lhs.proto.name == "ip" || lhs.fname == "nexthdr" && lhs.proto.name == "ip6"):
		for name, p := range protos {
			if p.layer == 4 && p.num == uint64(v.from[0]) {
				r.l4 = name
			}
		}
	case lhs.kind == xPayload && lhs.fname == "type" && (lhs.proto.name == "icmp" || lhs.proto.name == "icmpv6"):
		r.icmpType, r.icmpTypeVal = true, v.from[0]
	case lhs.kind == xMeta && lhs.meta == ruleset.MetaIiftype:
		if len(v.from) == 2 && v.from[0] == 1 && v.from[1] == 0 {
			r.ll = true
		}
	case lhs.kind == xMeta && lhs.meta == ruleset.MetaNfproto:
		switch v.from[0] {
		case 2:
			r.l3 = "ip"
		case 10:
			r.l3 = "ip6"
		}
		r.l3At = lhs.t0
		if v.t.pos.Line == lhs.t0.pos.Line && v.t.end > r.l3At.end {
			r.l3At.end = v.t.end
		}
	case lhs.kind == xMeta && lhs.meta == ruleset.MetaProtocol,
		lhs.kind == xPayload && lhs.fname == "type" && (lhs.proto.name == "ether" || lhs.proto.name == "vlan"):
		r.l3At = lhs.t0
		if v.t.pos.Line == lhs.t0.pos.Line && v.t.end > r.l3At.end {
			r.l3At.end = v.t.end
		}
		if len(v.from) == 2 {
			wasVlan := lhs.kind == xPayload && lhs.proto.name == "vlan"
			switch uint16(v.from[0])<<8 | uint16(v.from[1]) {
			case 0x0800:
				r.l3 = "ip"
			case 0x86dd:
				r.l3 = "ip6"
			case 0x0806:
				r.l3 = "arp"
			case 0x8100, 0x88a8:
				if wasVlan {
					r.vlanDepth++
				}
				r.l3 = "vlan"
			}
		}
	}
}

// redundant drops `meta protocol ip` in an ip table and the like.
// Ref: src/evaluate.c — meta dependency removal in expr_evaluate_meta.
func (r *rulectx) redundant(lhs *xexpr, op string, v rval) bool {
	if op != "" && op != "==" || lhs.kind != xMeta || lhs.meta != ruleset.MetaProtocol || len(v.from) != 2 {
		return false
	}
	p := uint16(v.from[0])<<8 | uint16(v.from[1])
	return r.fam == ruleset.FamilyIPv4 && p == 0x0800 || r.fam == ruleset.FamilyIPv6 && p == 0x86dd
}

// rval is one evaluated right-hand value.
type rval struct {
	t        tok
	from, to []byte
	isRange  bool
	prefix   int // -1 when not a prefix
	wildcard int // -1, or the prefix length of an `eth*` name
	mask     []byte
	verdict  *ruleset.Verdict
}

// rhsValues reads `v[, v…]` for lhs.
func (r *rulectx) rhsValues(lhs *xexpr) []rval {
	if lhs.dt.kind == kBitmask && r.peek().kind == 'w' {
		return r.rhsBitmask(lhs)
	}
	var out []rval
	for {
		v, ok := r.value(lhs)
		if !ok {
			return nil
		}
		out = append(out, v)
		if r.peek().kind == 'o' && r.peek().s == "," {
			r.next()
			continue
		}
		return out
	}
}

// valueToks collects the tokens of one value: a word or string, optionally
// joined by '-', '/', '.' (concatenations) operators.
func (r *rulectx) valueToks() []tok {
	var ts []tok
	t := r.peek()
	if t.kind != 'w' && t.kind != 's' && !(t.kind == 'o' && (t.s == "-" || t.s == "[")) {
		return nil
	}
	for !r.eof() {
		t := r.peek()
		if len(ts) > 0 {
			last := ts[len(ts)-1]
			if t.kind == 'o' && (t.s == "-" || t.s == "/" || t.s == "." || t.s == ":" || t.s == "]") {
				ts = append(ts, r.next())
				continue
			}
			if last.kind == 'o' && last.s != "]" && (t.kind == 'w' || t.kind == 's') {
				ts = append(ts, r.next())
				continue
			}
			break
		}
		ts = append(ts, r.next())
	}
	return ts
}

func joinToks(ts []tok) string {
	if len(ts) == 1 && ts[0].kind != 's' {
		return ts[0].s
	}
	var b strings.Builder
	for _, t := range ts {
		if t.kind == 's' {
			b.WriteString(`"` + t.s + `"`)
		} else {
			b.WriteString(t.s)
		}
	}
	return b.String()
}

// value reads one value for lhs from the token stream.
func (r *rulectx) value(lhs *xexpr) (rval, bool) {
	if r.eof() {
		r.unexpected()
		return rval{}, false
	}
	start := r.i
	if p := r.peek(); p.kind == 'o' && p.s == "(" {
		return r.parenValue(lhs)
	}
	ts := r.valueToks()
	if len(ts) == 0 {
		r.unexpected()
		return rval{}, false
	}
	// Trailing ':' or '.' belong to a map/concat outside; give them back.
	for len(ts) > 1 && ts[len(ts)-1].kind == 'o' && ts[len(ts)-1].s != "]" {
		ts = ts[:len(ts)-1]
		r.i--
	}
	_ = start
	v, err := r.c.evalValue(lhs, ts)
	if err != nil {
		at := tok{pos: ts[0].pos, end: ts[len(ts)-1].end}
		r.fail(at, "%s", err.Error())
		return rval{}, false
	}
	return v, true
}

// evalValue evaluates the tokens of one value against lhs's type.
func (c *compiler) evalValue(lhs *xexpr, ts []tok) (rval, error) {
	if len(ts) == 0 {
		// Only a concatenation's empty field gets here; its caller
		// reports the dangling '.'.
		return rval{}, errf("syntax error, unexpected .")
	}
	v := rval{t: tok{pos: ts[0].pos, end: ts[len(ts)-1].end, s: joinToks(ts)}, prefix: -1, wildcard: -1}
	if lhs.kind == xConcat {
		// Split on '.' tokens and the '.' inside words is ambiguous with
		// addresses, so fields are matched token-wise.
		parts := splitConcat(ts, len(lhs.fields))
		if len(parts) != len(lhs.fields) {
			return v, errf("datatype mismatch, expected %s, expression has type %s", concatName(lhs), "concatenation")
		}
		var from, to []byte
		anyRange := false
		for i, p := range parts {
			if len(p) == 0 {
				// `a . ` or a lone `.`: nft's parser stops at the dot.
				return v, errf("syntax error, unexpected .")
			}
			fv, err := c.evalValue(lhs.fields[i], p)
			if err != nil {
				return v, err
			}
			fl := (lhs.fields[i].bytesLen() + 3) &^ 3
			a := pad(fv.from, fl)
			b := a
			if fv.isRange {
				b = pad(fv.to, fl)
				anyRange = true
			} else if fv.prefix >= 0 {
				b = pad(prefixEnd(fv.from, fv.prefix), fl)
				anyRange = true
			}
			from = append(from, a...)
			to = append(to, b...)
		}
		v.from, v.to, v.isRange = from, to, anyRange
		return v, nil
	}
	text := joinToks(ts)
	// Single quoted strings: wildcard interface names.
	if len(ts) == 1 && ts[0].kind == 's' {
		s := ts[0].s
		if lhs.dt.kind == kString {
			if s == "" {
				return v, errf("Empty string is not allowed")
			}
			if strings.HasSuffix(s, "*") && !strings.HasSuffix(s, `\*`) {
				b, err := parseValue(lhs.dt, lhs.bits, lhs.order, s[:len(s)-1], true)
				if err != nil {
					return v, err
				}
				v.from, v.wildcard = b, len(s)-1
				return v, nil
			}
			s = strings.ReplaceAll(s, `\*`, "*")
		}
		b, err := c.scalar(lhs, s, true)
		if err != nil {
			return v, err
		}
		v.from = b
		return v, nil
	}
	// a-b range written with separate tokens
	for i, t := range ts {
		if t.kind == 'o' && t.s == "-" && i > 0 && i < len(ts)-1 {
			a, err := c.evalValue(lhs, ts[:i])
			if err != nil {
				return v, err
			}
			b, err := c.evalValue(lhs, ts[i+1:])
			if err != nil {
				return v, err
			}
			v.from, v.to, v.isRange = a.from, b.from, true
			if bytes.Compare(beBytes(lhs, v.from), beBytes(lhs, v.to)) > 0 {
				return v, errf("Range has zero or negative size")
			}
			return v, nil
		}
	}
	// value / mask (bitmask types) or prefix
	if i := strings.LastIndexByte(text, '/'); i > 0 {
		left, right := text[:i], text[i+1:]
		if n, ok := parseUint(right); ok && (lhs.dt.kind == kIPv4 || lhs.dt.kind == kIPv6 || lhs.dt.kind == kInt || lhs.dt == tMark) && lhs.dt.kind != kBitmask {
			b, err := c.scalar(lhs, left, false)
			if err != nil {
				return v, err
			}
			plen := int(n.Int64())
			if plen > len(b)*8 {
				return v, errf("Prefix length %d is invalid", plen)
			}
			if lhs.order == hostEndian {
				b = reverse(b)
			}
			masked := make([]byte, len(b))
			for k := 0; k < plen; k++ {
				masked[k/8] |= b[k/8] & (0x80 >> (k % 8))
			}
			if lhs.order == hostEndian {
				masked = reverse(masked)
			}
			v.from, v.prefix = masked, plen
			return v, nil
		}
		if lhs.dt.kind == kBitmask {
			val, err := c.flagList(lhs, left)
			if err != nil {
				return v, err
			}
			m, err := c.flagList(lhs, right)
			if err != nil {
				return v, err
			}
			v.from, v.mask = val, m
			return v, nil
		}
	}
	// try the whole word, then a range inside one word
	b, err := c.scalar(lhs, text, false)
	if err == nil {
		v.from = b
		return v, nil
	}
	if i := strings.IndexByte(text, '-'); i > 0 && lhs.dt.kind != kString {
		for j := i; j >= 0 && j < len(text); {
			a, e1 := c.scalar(lhs, text[:j], false)
			bb, e2 := c.scalar(lhs, text[j+1:], false)
			if e1 == nil && e2 == nil {
				v.from, v.to, v.isRange = a, bb, true
				if bytes.Compare(beBytes(lhs, a), beBytes(lhs, bb)) > 0 {
					return v, errf("Range has zero or negative size")
				}
				return v, nil
			}
			k := strings.IndexByte(text[j+1:], '-')
			if k < 0 {
				break
			}
			j = j + 1 + k
		}
	}
	return v, err
}

func beBytes(lhs *xexpr, b []byte) []byte {
	if lhs.order == hostEndian {
		return reverse(b)
	}
	return b
}

func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b[:n]
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

func prefixEnd(b []byte, plen int) []byte {
	out := append([]byte(nil), b...)
	for k := plen; k < len(out)*8; k++ {
		out[k/8] |= 0x80 >> (k % 8)
	}
	return out
}

// splitConcat splits value tokens at '.' operators; a word containing dots
// is split too when that gives the right number of parts.
func splitConcat(ts []tok, n int) [][]tok {
	var parts [][]tok
	var cur []tok
	for _, t := range ts {
		if t.kind == 'o' && t.s == "." {
			parts = append(parts, cur)
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	parts = append(parts, cur)
	return parts
}

func concatName(x *xexpr) string {
	var names []string
	for _, f := range x.fields {
		names = append(names, f.dt.name)
	}
	return strings.Join(names, " . ")
}

// scalar parses one symbol for lhs.
func (c *compiler) scalar(lhs *xexpr, s string, quoted bool) ([]byte, error) {
	dt := lhs.dt
	if lhs.mask != nil && (dt.kind == kIPv4 || dt.kind == kIPv6 || dt.kind == kEther) {
		if n, ok := parseUint(s); ok && n.BitLen() <= lhs.bytesLen()*8 {
			return encodeInt(n, lhs.bytesLen(), lhs.order), nil
		}
	}
	if dt.kind == kBitmask && dt != tCtLabel {
		return c.flagList(lhs, s)
	}
	switch dt {
	case tIfindex:
		if s == "lo" {
			return encodeU64(1, 4, hostEndian), nil
		}
		if _, ok := parseUint(s); !ok {
			return nil, errf("Interface does not exist")
		}
	case tUID, tGID:
		if _, ok := parseUint(s); !ok {
			id, ok := userOrGroup(dt == tUID, s)
			if !ok {
				return nil, errf("Could not parse %s", map[bool]string{true: "user ID", false: "group ID"}[dt == tUID])
			}
			return encodeU64(id, 4, hostEndian), nil
		}
	case tClassid:
		if v, ok := parseClassid(s); ok {
			return encodeU64(v, 4, hostEndian), nil
		}
	case tRealm:
		if v, ok := realm(s); ok {
			return encodeU64(v, 4, hostEndian), nil
		}
	case tDevgroup:
		if s == "default" {
			return encodeU64(0, 4, hostEndian), nil
		}
	case tCtLabel:
		n, ok := parseUint(s)
		if !ok {
			return nil, errf("%s: could not parse conntrack label", s)
		}
		if n.Cmp(big.NewInt(128)) >= 0 {
			return nil, errf("%s: bit %s out of range (128 max)", s, s)
		}
		b := make([]byte, 16)
		bit := n.Int64()
		b[bit/8] |= 1 << (bit % 8)
		return b, nil
	case tDay:
		v, err := parseDay(s)
		if err != nil {
			return nil, err
		}
		return encodeU64(v, 1, hostEndian), nil
	case tHour:
		v, err := parseHour(s)
		if err != nil {
			return nil, err
		}
		return encodeU64(v, 4, hostEndian), nil
	case tDate:
		v, err := parseDate(s)
		if err != nil {
			return nil, err
		}
		return encodeU64(v, 8, hostEndian), nil
	case tTime:
		ms, err := parseTime(s)
		if err != nil {
			return nil, err
		}
		return encodeU64(ms, (lhs.bits+7)/8, lhs.order), nil
	}
	if (lhs.bits%8 != 0 || lhs.off%8 != 0) && (lhs.kind == xPayload || lhs.subByte) {
		b, err := parseValue(dt, lhs.bits, bigEndian, s, quoted)
		if err != nil {
			return nil, err
		}
		return c.shiftSub(lhs, b), nil
	}
	return parseValue(dt, lhs.bits, lhs.order, s, quoted)
}

// shiftSub moves a sub-byte field value to its position in the loaded bytes.
func (c *compiler) shiftSub(lhs *xexpr, b []byte) []byte {
	n := lhs.bytesLen()
	total := n * 8
	sh := total - lhs.off%8 - lhs.bits
	v := new(big.Int).SetBytes(b)
	v.Lsh(v, uint(sh))
	return encodeInt(v, n, bigEndian)
}

func (c *compiler) flagList(lhs *xexpr, s string) ([]byte, error) {
	n := (lhs.bits + 7) / 8
	acc := make([]byte, n)
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' }) {
		p = strings.TrimSpace(p)
		var b []byte
		if v, ok := lhs.dt.syms[p]; ok {
			b = encodeU64(v, n, lhs.order)
		} else if nv, ok := parseUint(p); ok {
			if nv.BitLen() > lhs.bits {
				return nil, errf("Value %s exceeds valid range 0-%d", p, uint64(1)<<lhs.bits-1)
			}
			b = encodeInt(nv, n, lhs.order)
		} else {
			return nil, errf("Could not parse %s", orDesc(lhs.dt))
		}
		for i := range acc {
			acc[i] |= b[i]
		}
	}
	return acc, nil
}

// parenValue reads `( a | b … )`, an or-ed constant.
func (r *rulectx) parenValue(lhs *xexpr) (rval, bool) {
	open := r.next()
	var parts []string
	for !r.eof() {
		t := r.next()
		if t.kind == 'o' && t.s == ")" {
			v, err := r.c.flagOr(lhs, parts)
			if err != nil {
				r.fail(tok{pos: open.pos, end: t.end}, "%s", err.Error())
				return rval{}, false
			}
			return rval{t: open, from: v, prefix: -1, wildcard: -1}, true
		}
		if t.kind == 'o' && (t.s == "|" || t.s == ",") || t.kind == 'w' && t.s == "or" {
			continue
		}
		parts = append(parts, t.s)
	}
	r.unexpected()
	return rval{}, false
}

func (c *compiler) flagOr(lhs *xexpr, parts []string) ([]byte, error) {
	var acc []byte
	for _, p := range parts {
		b, err := c.scalar(lhs, p, false)
		if err != nil {
			return nil, err
		}
		if acc == nil {
			acc = make([]byte, len(b))
		}
		for i := range acc {
			acc[i] |= b[i]
		}
	}
	return acc, nil
}

func allFF(b []byte) bool {
	for _, x := range b {
		if x != 0xff {
			return false
		}
	}
	return true
}

// constBinops folds `v op c …` following a constant.
func (r *rulectx) constBinops(lhs *xexpr, v []byte) ([]byte, bool) {
	for {
		t := r.peek()
		op := ""
		switch t.s {
		case "&", "and":
			op = "&"
		case "|", "or":
			op = "|"
		case "^", "xor":
			op = "^"
		}
		if op == "" || t.kind == 's' || t.kind == '{' {
			return v, true
		}
		r.next()
		c, ok := r.value(lhs)
		if !ok {
			return nil, false
		}
		out := make([]byte, len(v))
		for i := range v {
			switch op {
			case "&":
				out[i] = v[i] & c.from[i]
			case "|":
				out[i] = v[i] | c.from[i]
			case "^":
				out[i] = v[i] ^ c.from[i]
			}
		}
		v = out
	}
}

// loc spans the expression's tokens, for error locations.
func (x *xexpr) loc() tok {
	t := x.t0
	if x.tEnd.end > t.end && x.tEnd.pos.Line == t.pos.Line {
		t.end = x.tEnd.end
	}
	return t
}

// rhsBitmask reads `f[,|f…] [/ m[,|m…]]` for a bitmask key.
func (r *rulectx) rhsBitmask(lhs *xexpr) []rval {
	first := r.peek()
	list := func() ([]byte, []byte, bool) {
		var acc, mask []byte
		var last tok
		for {
			t := r.peek()
			if t.kind != 'w' {
				if t.kind == 'o' && t.s == "(" {
					v, ok := r.parenValue(lhs)
					if !ok {
						return nil, nil, false
					}
					acc = orBytes(acc, v.from)
				} else {
					r.unexpected()
					return nil, nil, false
				}
			} else {
				r.next()
				last = t
				text := t.s
				if i := strings.IndexByte(text, '/'); i >= 0 {
					m, err := r.c.flagList(lhs, text[i+1:])
					if err != nil {
						r.fail(t, "%s", err.Error())
						return nil, nil, false
					}
					mask = m
					text = text[:i]
				}
				b, err := r.c.scalar(lhs, text, false)
				if err != nil {
					r.fail(t, "%s", err.Error())
					return nil, nil, false
				}
				acc = orBytes(acc, b)
			}
			_ = last
			n := r.peek()
			if n.kind == 'o' && (n.s == "," || n.s == "|") && mask == nil {
				r.next()
				continue
			}
			return acc, mask, true
		}
	}
	v, mask, ok := list()
	if !ok {
		return nil
	}
	if n := r.peek(); mask == nil && n.kind == 'o' && n.s == "/" {
		r.next()
		m, _, ok := list()
		if !ok {
			return nil
		}
		mask = m
	}
	return []rval{{t: first, from: v, mask: mask, prefix: -1, wildcard: -1}}
}

func orBytes(a, b []byte) []byte {
	if a == nil {
		return append([]byte(nil), b...)
	}
	for i := range a {
		if i < len(b) {
			a[i] |= b[i]
		}
	}
	return a
}

// ruleCmd carries what an `add|insert rule` command adds to a rule.
type ruleCmd struct {
	PosKind, PosValue string
	Insert            bool
}

// failCtx reports an error underlining [from, to] with ctx shown as
// context (nft's stmt_binary_error: `~~~` under the statement, `^^^` under
// the offending expression).
func (r *rulectx) failCtx(from, to, ctx tok, format string, a ...any) {
	if !r.bad && len(r.c.errs) < maxErrors {
		e := &syntax.Error{Pos: from.pos, EndCol: to.end, Msg: fmt.Sprintf(format, a...), Src: r.c.srcs[from.pos.Filename]}
		if ctx.pos.Line == from.pos.Line {
			e.Context = &syntax.Span{Col: ctx.pos.Column, EndCol: ctx.end}
		}
		r.c.errs = append(r.c.errs, e)
	}
	r.bad = true
}
