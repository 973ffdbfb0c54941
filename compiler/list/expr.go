package list

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// expr is a decompiled expression, the counterpart of nft's struct expr:
// it prints itself as nft list text and as libnftables JSON.
type expr interface {
	text(b *strings.Builder)
	json() any
	dtype() *dtype
}

func exprText(e expr) string {
	var b strings.Builder
	e.text(&b)
	return b.String()
}

// payloadExpr is a header field (`tcp dport`) or, without a template, a raw
// load (`@th,16,16`).
//
// Ref: nftables src/payload.c — payload_expr_print, payload_expr_json
type payloadExpr struct {
	proto *protoDesc
	f     *field
	base  ruleset.PayloadBase
	off   int // bits
	bits  int
}

func (p *payloadExpr) dtype() *dtype {
	if p.f != nil {
		return p.f.dt
	}
	return dtRawHex
}

var baseNames = []string{"ll", "nh", "th", "ih"}

func (p *payloadExpr) text(b *strings.Builder) {
	if p.f != nil {
		b.WriteString(p.proto.name + " " + p.f.name)
		return
	}
	fmt.Fprintf(b, "@%s,%d,%d", baseNames[p.base&3], p.off, p.bits)
}

func (p *payloadExpr) json() any {
	if p.f != nil {
		return jobj{{"payload", jobj{{"protocol", p.proto.name}, {"field", p.f.name}}}}
	}
	return jobj{{"payload", jobj{{"base", baseNames[p.base&3]}, {"offset", p.off}, {"len", p.bits}}}}
}

// metaExpr is `meta KEY` (or the unqualified iif/oif/… forms).
//
// Ref: nftables src/meta.c — meta_templates, meta_expr_print
type metaExpr struct{ key ruleset.MetaKey }

type metaTmpl struct {
	name  string
	dt    *dtype
	bits  int
	order byteorder
}

var metaTemplates = map[ruleset.MetaKey]metaTmpl{
	ruleset.MetaLen:          {"length", dtInteger, 32, boHost},
	ruleset.MetaProtocol:     {"protocol", dtEtherType, 16, boBig},
	ruleset.MetaNfproto:      {"nfproto", dtNfproto, 8, boHost},
	ruleset.MetaL4proto:      {"l4proto", dtInetProto, 8, boHost},
	ruleset.MetaPriority:     {"priority", dtClassid, 32, boHost},
	ruleset.MetaMark:         {"mark", dtMark, 32, boHost},
	ruleset.MetaIif:          {"iif", dtIfindex, 32, boHost},
	ruleset.MetaIifname:      {"iifname", dtIfname, 128, boHost},
	ruleset.MetaIiftype:      {"iiftype", dtArphrd, 16, boHost},
	ruleset.MetaOif:          {"oif", dtIfindex, 32, boHost},
	ruleset.MetaOifname:      {"oifname", dtIfname, 128, boHost},
	ruleset.MetaOiftype:      {"oiftype", dtArphrd, 16, boHost},
	ruleset.MetaSkuid:        {"skuid", dtUID, 32, boHost},
	ruleset.MetaSkgid:        {"skgid", dtGID, 32, boHost},
	ruleset.MetaNftrace:      {"nftrace", dtInteger, 1, boHost},
	ruleset.MetaRtclassid:    {"rtclassid", dtRealm, 32, boHost},
	ruleset.MetaBriIifname:   {"ibrname", dtIfname, 128, boHost},
	ruleset.MetaBriOifname:   {"obrname", dtIfname, 128, boHost},
	ruleset.MetaPkttype:      {"pkttype", dtPkttype, 8, boHost},
	ruleset.MetaCPU:          {"cpu", dtInteger, 32, boHost},
	ruleset.MetaIifgroup:     {"iifgroup", dtDevgroup, 32, boHost},
	ruleset.MetaOifgroup:     {"oifgroup", dtDevgroup, 32, boHost},
	ruleset.MetaCgroup:       {"cgroup", dtInteger, 32, boHost},
	ruleset.MetaPrandom:      {"random", dtInteger, 32, boBig},
	ruleset.MetaSecpath:      {"ipsec", dtBoolean, 1, boHost},
	ruleset.MetaIifkind:      {"iifkind", dtIfname, 128, boHost},
	ruleset.MetaOifkind:      {"oifkind", dtIfname, 128, boHost},
	ruleset.MetaBriIifpvid:   {"ibrpvid", dtInteger, 16, boHost},
	ruleset.MetaSecmark:      {"secmark", dtInteger, 32, boHost},
	ruleset.MetaSdif:         {"sdif", dtIfindex, 32, boHost},
	ruleset.MetaTimeNS:       {"time", dtDate, 64, boHost},
	ruleset.MetaTimeDay:      {"day", dtDay, 8, boHost},
	ruleset.MetaTimeHour:     {"hour", dtHour, 32, boHost},
	ruleset.MetaBriIifvproto: {"ibrvproto", dtEtherType, 16, boHost},
	ruleset.MetaBriBroute:    {"broute", dtInteger, 8, boHost},
	ruleset.MetaSdifname:     {"sdifname", dtIfname, 128, boHost},
}

func (m *metaExpr) tmpl() metaTmpl {
	if t, ok := metaTemplates[m.key]; ok {
		return t
	}
	return metaTmpl{fmt.Sprintf("unknown-%d", m.key), dtInteger, 32, boHost}
}

func (m *metaExpr) dtype() *dtype { return m.tmpl().dt }

func (m *metaExpr) text(b *strings.Builder) {
	switch m.key {
	case ruleset.MetaIif, ruleset.MetaOif, ruleset.MetaIifname, ruleset.MetaOifname,
		ruleset.MetaIifgroup, ruleset.MetaOifgroup:
		b.WriteString(m.tmpl().name)
	default:
		b.WriteString("meta " + m.tmpl().name)
	}
}

func (m *metaExpr) json() any { return jobj{{"meta", jobj{{"key", m.tmpl().name}}}} }

// ctExpr is `ct [original|reply] KEY`.
//
// Ref: nftables src/ct.c — ct_templates, ct_print
type ctExpr struct {
	key    ruleset.CtKey
	dir    int
	family ruleset.Family
}

type ctTmpl struct {
	name  string
	dt    *dtype
	bits  int
	order byteorder
}

var ctTemplates = map[ruleset.CtKey]ctTmpl{
	ruleset.CtState:      {"state", dtCtState, 32, boHost},
	ruleset.CtDirection:  {"direction", dtCtDir, 8, boHost},
	ruleset.CtStatus:     {"status", dtCtStatus, 32, boHost},
	ruleset.CtMark:       {"mark", dtMark, 32, boHost},
	ruleset.CtExpiration: {"expiration", dtTime, 32, boHost},
	ruleset.CtHelper:     {"helper", dtString, 128, boHost},
	ruleset.CtL3Protocol: {"l3proto", dtNfproto, 8, boHost},
	ruleset.CtSrc:        {"saddr", dtInvalid, 0, boBig},
	ruleset.CtDst:        {"daddr", dtInvalid, 0, boBig},
	ruleset.CtProtocol:   {"protocol", dtInetProto, 8, boBig},
	ruleset.CtProtoSrc:   {"proto-src", dtInetService, 16, boBig},
	ruleset.CtProtoDst:   {"proto-dst", dtInetService, 16, boBig},
	ruleset.CtLabels:     {"label", dtCtLabel, 128, boHost},
	ruleset.CtBytes:      {"bytes", dtInteger, 64, boHost},
	ruleset.CtPkts:       {"packets", dtInteger, 64, boHost},
	ruleset.CtAvgpkt:     {"avgpkt", dtInteger, 64, boHost},
	ruleset.CtZone:       {"zone", dtInteger, 16, boHost},
	ruleset.CtSrcIP:      {"ip saddr", dtIPv4, 32, boBig},
	ruleset.CtDstIP:      {"ip daddr", dtIPv4, 32, boBig},
	ruleset.CtSrcIP6:     {"ip6 saddr", dtIPv6, 128, boBig},
	ruleset.CtDstIP6:     {"ip6 daddr", dtIPv6, 128, boBig},
	ruleset.CtSecmark:    {"secmark", dtInteger, 32, boHost},
	ruleset.CtEventmask:  {"event", dtCtEvent, 32, boHost},
	ruleset.CtID:         {"id", dtInteger, 32, boBig},
}

func (c *ctExpr) tmpl() ctTmpl {
	t, ok := ctTemplates[c.key]
	if !ok {
		return ctTmpl{fmt.Sprintf("unknown-%d", c.key), dtInteger, 32, boHost}
	}
	if c.key == ruleset.CtSrc || c.key == ruleset.CtDst {
		switch c.family {
		case ruleset.FamilyIPv4:
			t.dt, t.bits = dtIPv4, 32
		case ruleset.FamilyIPv6:
			t.dt, t.bits = dtIPv6, 128
		}
	}
	return t
}

func (c *ctExpr) dtype() *dtype { return c.tmpl().dt }

func (c *ctExpr) dirName() string {
	if c.key == ruleset.CtProtocol || c.key == ruleset.CtL3Protocol {
		// nft lists these without the direction it sent
		return ""
	}
	switch c.dir {
	case ruleset.CtDirOriginal:
		return "original"
	case ruleset.CtDirReply:
		return "reply"
	}
	return ""
}

func (c *ctExpr) text(b *strings.Builder) {
	b.WriteString("ct ")
	if d := c.dirName(); d != "" {
		b.WriteString(d + " ")
		if c.key == ruleset.CtSrc || c.key == ruleset.CtDst {
			switch c.family {
			case ruleset.FamilyIPv4:
				b.WriteString("ip ")
			case ruleset.FamilyIPv6:
				b.WriteString("ip6 ")
			}
		}
	}
	b.WriteString(c.tmpl().name)
}

func (c *ctExpr) json() any {
	o := jobj{{"key", c.tmpl().name}}
	if d := c.dirName(); d != "" {
		o = append(o, jkv{"dir", d})
	}
	// no "family": nft 1.0.6 lists `ct original ip saddr` as
	// {"key": "saddr", "dir": "original"} (observed)
	return jobj{{"ct", o}}
}

// valueExpr is a constant with a datatype, holding register bytes.
type valueExpr struct {
	dt    *dtype
	data  []byte
	order byteorder
	bits  int
	mode  pmode
	// wildcard: an interface name compared on its first bytes only
	wildcard bool
}

func (v *valueExpr) dtype() *dtype { return v.dt }
func (v *valueExpr) text(b *strings.Builder) {
	if v.wildcard {
		s := stringText(v.data)
		b.WriteString(s[:len(s)-1] + "*\"")
		return
	}
	b.WriteString(valueText(v.dt, v.data, v.order, v.bits, v.mode))
}
func (v *valueExpr) json() any {
	if v.wildcard {
		if s, ok := valueJSON(v.dt, v.data, v.order, v.bits, v.mode).(string); ok {
			return s + "*"
		}
	}
	return valueJSON(v.dt, v.data, v.order, v.bits, v.mode)
}
func (v *valueExpr) uint() uint64 { return toUint(v.data, v.order) }

// flagListExpr is a comma list of bitmask flags (`established,related`),
// the right side nft makes from `bitwise & mask; cmp neq 0`.
type flagListExpr struct {
	dt    *dtype
	names []string
}

func (f *flagListExpr) dtype() *dtype { return f.dt }
func (f *flagListExpr) text(b *strings.Builder) {
	b.WriteString(strings.Join(f.names, ","))
}
func (f *flagListExpr) json() any {
	if len(f.names) == 1 {
		return f.names[0]
	}
	out := make([]any, len(f.names))
	for i, n := range f.names {
		out[i] = n
	}
	return out
}

// prefixExpr is ADDR/LEN.
type prefixExpr struct {
	v    *valueExpr
	plen int
}

func (p *prefixExpr) dtype() *dtype { return p.v.dt }
func (p *prefixExpr) text(b *strings.Builder) {
	p.v.text(b)
	b.WriteString("/" + strconv.Itoa(p.plen))
}
func (p *prefixExpr) json() any {
	return jobj{{"prefix", jobj{{"addr", p.v.json()}, {"len", p.plen}}}}
}

// rangeExpr is LOW-HIGH.
type rangeExpr struct{ lo, hi expr }

func (r *rangeExpr) dtype() *dtype { return r.lo.dtype() }

// text prints both ends numerically (range_expr_print sets
// NFT_CTX_OUTPUT_NUMERIC_ALL).
func (r *rangeExpr) text(b *strings.Builder) {
	for i, e := range []expr{r.lo, r.hi} {
		if i > 0 {
			b.WriteByte('-')
		}
		if v, ok := e.(*valueExpr); ok {
			c := *v
			c.mode.numeric = true
			c.text(b)
		} else {
			e.text(b)
		}
	}
}

func (r *rangeExpr) json() any {
	var out []any
	for _, e := range []expr{r.lo, r.hi} {
		if v, ok := e.(*valueExpr); ok {
			c := *v
			c.mode.numeric = true
			out = append(out, c.json())
		} else {
			out = append(out, e.json())
		}
	}
	return jobj{{"range", out}}
}

// concatExpr is `a . b`.
type concatExpr struct{ parts []expr }

func (c *concatExpr) dtype() *dtype { return dtInvalid }
func (c *concatExpr) text(b *strings.Builder) {
	for i, p := range c.parts {
		if i > 0 {
			b.WriteString(" . ")
		}
		p.text(b)
	}
}
func (c *concatExpr) json() any {
	out := make([]any, len(c.parts))
	for i, p := range c.parts {
		out[i] = p.json()
	}
	return jobj{{"concat", out}}
}

// elemExpr is a set element with its own statements (`1.2.3.4 counter
// packets 1 bytes 2`, `198.51.100.2 ct count over 2`) or a timeout.
//
// Ref: nftables src/expression.c — set_elem_expr_print; src/json.c —
// set_elem_expr_json
type elemExpr struct {
	key     expr
	stmts   []stmt
	timeout uint64
	expires uint64
	comment string
}

func (e *elemExpr) dtype() *dtype { return e.key.dtype() }
func (e *elemExpr) text(b *strings.Builder) {
	e.key.text(b)
	if e.timeout != 0 {
		b.WriteString(" timeout " + timeText(e.timeout))
	}
	if e.expires != 0 {
		b.WriteString(" expires " + timeText(e.expires))
	}
	if e.comment != "" {
		b.WriteString(" comment " + strconv.Quote(e.comment))
	}
	for _, s := range e.stmts {
		b.WriteByte(' ')
		s.text(b)
	}
}
func (e *elemExpr) json() any {
	if len(e.stmts) == 0 && e.timeout == 0 && e.expires == 0 && e.comment == "" {
		return e.key.json()
	}
	o := jobj{{"val", e.key.json()}}
	if e.timeout != 0 {
		o = append(o, jkv{"timeout", e.timeout / 1000})
	}
	if e.expires != 0 {
		o = append(o, jkv{"expires", e.expires / 1000})
	}
	if e.comment != "" {
		o = append(o, jkv{"comment", e.comment})
	}
	for _, s := range e.stmts {
		if so, ok := s.json().(jobj); ok {
			o = append(o, so...)
		}
	}
	return jobj{{"elem", o}}
}

// mappingExpr is `key : data` inside a map.
type mappingExpr struct{ key, data expr }

func (m *mappingExpr) dtype() *dtype { return m.key.dtype() }
func (m *mappingExpr) text(b *strings.Builder) {
	m.key.text(b)
	b.WriteString(" : ")
	m.data.text(b)
}
func (m *mappingExpr) json() any { return []any{m.key.json(), m.data.json()} }

// setExpr is an anonymous set `{ a, b }` printed in place.
type setExpr struct {
	elems []expr
	anon  bool
	dt    *dtype
}

func (s *setExpr) dtype() *dtype { return s.dt }
func (s *setExpr) text(b *strings.Builder) {
	b.WriteString("{ ")
	count := 0
	for i, e := range s.elems {
		if i > 0 {
			b.WriteString(s.delim(&count))
		}
		e.text(b)
		count++
	}
	b.WriteString(" }")
}

// delim mirrors calculate_delim: named sets break lines, a few per line
// for short types.
//
// Ref: nftables src/expression.c — calculate_delim
func (s *setExpr) delim(count *int) string {
	const nl = ",\n\t\t\t     "
	if s.anon {
		return ", "
	}
	if s.dt == nil {
		return nl
	}
	switch s.dt.num {
	case 2, 4, 11, 12, 13, 15, 16, 19, 20, 23, 24, 25, 27:
		if *count < 5 {
			return ", "
		}
		*count = 0
	case 7, 26, 28, 31:
		if *count < 2 {
			return ", "
		}
		*count = 0
	}
	return nl
}

func (s *setExpr) json() any {
	out := make([]any, len(s.elems))
	for i, e := range s.elems {
		out[i] = e.json()
	}
	return jobj{{"set", out}}
}

// setRefExpr is `@name`.
type setRefExpr struct {
	name string
	dt   *dtype
}

func (s *setRefExpr) dtype() *dtype           { return s.dt }
func (s *setRefExpr) text(b *strings.Builder) { b.WriteString("@" + s.name) }
func (s *setRefExpr) json() any               { return "@" + s.name }

// binopExpr is `left OP right` (&, |, ^, <<, >>).
//
// Ref: nftables src/expression.c — binop_expr_print
type binopExpr struct {
	op          string
	left, right expr
}

var binopPrec = map[string]int{"<<": 1, ">>": 1, "&": 2, "^": 3, "|": 4}

func (e *binopExpr) dtype() *dtype { return e.left.dtype() }
func (e *binopExpr) text(b *strings.Builder) {
	e.arg(b, e.left)
	b.WriteString(" " + e.op + " ")
	e.arg(b, e.right)
}
func (e *binopExpr) arg(b *strings.Builder, a expr) {
	if v, ok := a.(*valueExpr); ok && v.dt.kind == kBitmask && e.op != "|" {
		if names, ok := bitNames(v.dt, v.uint()); ok && len(names) > 1 {
			b.WriteString("(" + strings.Join(names, " | ") + ")")
			return
		}
	}
	if ab, ok := a.(*binopExpr); ok && binopPrec[e.op] < binopPrec[ab.op] {
		b.WriteByte('(')
		a.text(b)
		b.WriteByte(')')
		return
	}
	a.text(b)
}
func (e *binopExpr) json() any {
	return jobj{{e.op, []any{e.left.json(), e.right.json()}}}
}

// verdictExpr is a verdict used as data (vmap elements).
type verdictExpr struct{ v ruleset.Verdict }

func (v *verdictExpr) dtype() *dtype           { return dtVerdict }
func (v *verdictExpr) text(b *strings.Builder) { b.WriteString(verdictText(v.v)) }
func (v *verdictExpr) json() any               { return verdictJSON(v.v) }

func verdictText(v ruleset.Verdict) string {
	switch v.Code {
	case ruleset.VerdictJump:
		return "jump " + v.Chain
	case ruleset.VerdictGoto:
		return "goto " + v.Chain
	}
	return v.Code.String()
}

func verdictJSON(v ruleset.Verdict) any {
	switch v.Code {
	case ruleset.VerdictJump, ruleset.VerdictGoto:
		return jobj{{v.Code.String(), jobj{{"target", v.Chain}}}}
	}
	return jobj{{v.Code.String(), nil}}
}

// mapExpr is `key map { … }` / `key map @m`.
type mapExpr struct {
	key expr
	m   expr
}

func (m *mapExpr) dtype() *dtype { return dtInvalid }
func (m *mapExpr) text(b *strings.Builder) {
	m.key.text(b)
	b.WriteString(" map ")
	m.m.text(b)
}
func (m *mapExpr) json() any {
	return jobj{{"map", jobj{{"key", m.key.json()}, {"data", m.m.json()}}}}
}

// rawExpr prints a fixed text (used for constructs decoded only partly).
type rawExpr struct {
	s string
	j any
}

func (r *rawExpr) dtype() *dtype           { return dtInteger }
func (r *rawExpr) text(b *strings.Builder) { b.WriteString(r.s) }
func (r *rawExpr) json() any {
	if r.j != nil {
		return r.j
	}
	return r.s
}

// timeText prints milliseconds as nft does: 1d2h3m4s5ms.
//
// Ref: nftables src/datatype.c — time_print
func timeText(ms uint64) string {
	var b strings.Builder
	d := ms / 86400000
	ms %= 86400000
	h := ms / 3600000
	ms %= 3600000
	m := ms / 60000
	ms %= 60000
	s := ms / 1000
	ms %= 1000
	if d > 0 {
		fmt.Fprintf(&b, "%dd", d)
	}
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	if ms > 0 {
		fmt.Fprintf(&b, "%dms", ms)
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}
