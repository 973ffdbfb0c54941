package list

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// stmt is a decompiled statement (nft's struct stmt).
type stmt interface {
	text(b *strings.Builder)
	json() any
}

// pctx carries printing options down to statements.
type pctx struct {
	stateless bool
}

// matchStmt is a relational expression used as a statement. op is the
// JSON operator: "==" (printed implicitly unless required), "!=", "<",
// ">", "<=", ">=", or "in" for a flag match (`ct state new`).
//
// Ref: nftables src/expression.c — relational_expr_print, must_print_eq_op;
// src/json.c — relational_expr_json
type matchStmt struct {
	op          string
	left, right expr
}

func (m *matchStmt) text(b *strings.Builder) {
	m.left.text(b)
	switch m.op {
	case "in":
		b.WriteByte(' ')
	case "==":
		if m.mustPrintEq() {
			b.WriteString(" == ")
		} else {
			b.WriteByte(' ')
		}
	default:
		b.WriteString(" " + m.op + " ")
	}
	m.right.text(b)
}

func (m *matchStmt) mustPrintEq() bool {
	if v, ok := m.right.(*valueExpr); ok && v.dt.kind == kBitmask {
		return true
	}
	_, ok := m.left.(*binopExpr)
	return ok
}

func (m *matchStmt) json() any {
	return jobj{{"match", jobj{{"op", m.op}, {"left", m.left.json()}, {"right", m.right.json()}}}}
}

// counterStmt: `counter packets N bytes M`.
//
// Ref: nftables src/statement.c — counter_stmt_print
type counterStmt struct {
	packets, bytes uint64
	stateless      bool
}

func (c *counterStmt) text(b *strings.Builder) {
	b.WriteString("counter")
	if !c.stateless {
		fmt.Fprintf(b, " packets %d bytes %d", c.packets, c.bytes)
	}
}

func (c *counterStmt) json() any {
	if c.stateless {
		return jobj{{"counter", nil}}
	}
	return jobj{{"counter", jobj{{"packets", c.packets}, {"bytes", c.bytes}}}}
}

type verdictStmt struct{ v ruleset.Verdict }

func (v *verdictStmt) text(b *strings.Builder) { b.WriteString(verdictText(v.v)) }
func (v *verdictStmt) json() any               { return verdictJSON(v.v) }

// connlimitStmt: `ct count [over] N`.
//
// Ref: nftables src/statement.c — connlimit_stmt_print
type connlimitStmt struct {
	count uint32
	inv   bool
}

func (c *connlimitStmt) text(b *strings.Builder) {
	b.WriteString("ct count ")
	if c.inv {
		b.WriteString("over ")
	}
	b.WriteString(strconv.FormatUint(uint64(c.count), 10))
}

func (c *connlimitStmt) json() any {
	o := jobj{{"val", c.count}}
	if c.inv {
		o = append(o, jkv{"inv", true})
	}
	return jobj{{"ct count", o}}
}

// dynsetStmt: `add @s { key stmts }`.
//
// Ref: nftables src/statement.c — set_stmt_print; src/json.c — set_stmt_json
type dynsetStmt struct {
	op    string
	set   string
	key   expr
	stmts []stmt
}

func (d *dynsetStmt) text(b *strings.Builder) {
	b.WriteString(d.op + " @" + d.set + " { ")
	d.key.text(b)
	for _, s := range d.stmts {
		b.WriteByte(' ')
		s.text(b)
	}
	b.WriteString(" }")
}

func (d *dynsetStmt) json() any {
	o := jobj{{"op", d.op}, {"elem", d.key.json()}, {"set", "@" + d.set}}
	if len(d.stmts) > 0 {
		l := make([]any, len(d.stmts))
		for i, s := range d.stmts {
			l[i] = s.json()
		}
		o = append(o, jkv{"stmt", l})
	}
	return jobj{{"set", o}}
}

// elemTimeoutExpr wraps a dynset key with `timeout T`.
type elemTimeoutExpr struct {
	key     expr
	timeout uint64
}

func (e *elemTimeoutExpr) dtype() *dtype { return e.key.dtype() }
func (e *elemTimeoutExpr) text(b *strings.Builder) {
	e.key.text(b)
	b.WriteString(" timeout " + timeText(e.timeout))
}
func (e *elemTimeoutExpr) json() any {
	return jobj{{"elem", jobj{{"val", e.key.json()}, {"timeout", e.timeout / 1000}}}}
}

// natStmt: `snat|dnat [ip|ip6] to ADDR[:PORT]`.
//
// Ref: nftables src/statement.c — nat_stmt_print, print_nf_nat_flags
type natStmt struct {
	kind        string // snat, dnat, masquerade, redirect
	family      ruleset.Family
	addr, proto expr
	flags       uint32
}

func (n *natStmt) text(b *strings.Builder) {
	b.WriteString(n.kind)
	if n.addr != nil || n.proto != nil {
		switch n.family {
		case ruleset.FamilyIPv4:
			b.WriteString(" ip")
		case ruleset.FamilyIPv6:
			b.WriteString(" ip6")
		}
		b.WriteString(" to")
	}
	if n.addr != nil {
		b.WriteByte(' ')
		v6 := n.addr.dtype() == dtIPv6
		if n.proto != nil && v6 {
			if r, ok := n.addr.(*rangeExpr); ok {
				b.WriteString("[" + exprText(r.lo) + "]-[" + exprText(r.hi) + "]")
			} else {
				b.WriteString("[" + exprText(n.addr) + "]")
			}
		} else {
			n.addr.text(b)
		}
	}
	if n.proto != nil {
		if n.addr == nil {
			b.WriteByte(' ')
		}
		b.WriteByte(':')
		n.proto.text(b)
	}
	b.WriteString(natFlagsText(n.flags))
}

func natFlagList(f uint32) []string {
	var out []string
	if f&ruleset.NATRangeProtoRandom != 0 {
		out = append(out, "random")
	}
	if f&ruleset.NATRangeProtoRandFull != 0 {
		out = append(out, "fully-random")
	}
	if f&ruleset.NATRangePersistent != 0 {
		out = append(out, "persistent")
	}
	return out
}

func natFlagsText(f uint32) string {
	l := natFlagList(f)
	if len(l) == 0 {
		return ""
	}
	return " " + strings.Join(l, ",")
}

func (n *natStmt) json() any {
	o := jobj{}
	if n.addr != nil || n.proto != nil {
		switch n.family {
		case ruleset.FamilyIPv4:
			o = append(o, jkv{"family", "ip"})
		case ruleset.FamilyIPv6:
			o = append(o, jkv{"family", "ip6"})
		}
	}
	if n.addr != nil {
		o = append(o, jkv{"addr", n.addr.json()})
	}
	if n.proto != nil {
		o = append(o, jkv{"port", n.proto.json()})
	}
	if l := natFlagList(n.flags); len(l) > 0 {
		if len(l) == 1 {
			o = append(o, jkv{"flags", l[0]})
		} else {
			a := make([]any, len(l))
			for i, s := range l {
				a[i] = s
			}
			o = append(o, jkv{"flags", a})
		}
	}
	if len(o) == 0 {
		return jobj{{n.kind, nil}}
	}
	return jobj{{n.kind, o}}
}

var dataUnits = []string{"bytes", "kbytes", "mbytes"}

// getRate scales a byte count to the largest unit that divides it.
//
// Ref: nftables src/statement.c — get_rate
func getRate(v uint64) (uint64, string) {
	if v == 0 {
		return 0, "bytes"
	}
	i := 0
	for ; i+1 < len(dataUnits); i++ {
		if v%1024 != 0 {
			break
		}
		v /= 1024
	}
	return v, dataUnits[i]
}

// limitStmt: `limit rate [over] N/unit [burst B packets]`.
//
// Ref: nftables src/statement.c — limit_stmt_print
type limitStmt struct{ l ruleset.Limit }

func (s *limitStmt) text(b *strings.Builder) {
	l := s.l
	over := ""
	if l.Flags&ruleset.LimitInvert != 0 {
		over = "over "
	}
	if l.Type == ruleset.LimitBytes {
		r, u := getRate(l.Rate)
		fmt.Fprintf(b, "limit rate %s%d %s/%s", over, r, u, l.UnitName())
		if l.Burst != 0 {
			br, bu := getRate(uint64(l.Burst))
			fmt.Fprintf(b, " burst %d %s", br, bu)
		}
		return
	}
	fmt.Fprintf(b, "limit rate %s%d/%s", over, l.Rate, l.UnitName())
	if l.Burst != 0 && l.Burst != 5 {
		fmt.Fprintf(b, " burst %d packets", l.Burst)
	}
}

func (s *limitStmt) json() any {
	l := s.l
	rate, burst := l.Rate, uint64(l.Burst)
	var ru, bu string
	if l.Type == ruleset.LimitBytes {
		rate, ru = getRate(l.Rate)
		burst, bu = getRate(uint64(l.Burst))
	}
	o := jobj{{"rate", rate}, {"burst", burst}, {"per", l.UnitName()}}
	if l.Flags&ruleset.LimitInvert != 0 {
		o = append(o, jkv{"inv", true})
	}
	if ru != "" {
		o = append(o, jkv{"rate_unit", ru}, jkv{"burst_unit", bu})
	}
	return jobj{{"limit", o}}
}

// quotaStmt: `quota [over] N unit [used M unit]`.
type quotaStmt struct {
	q         ruleset.Quota
	stateless bool
}

func (s *quotaStmt) text(b *strings.Builder) {
	over := ""
	if s.q.Flags&ruleset.QuotaInvert != 0 {
		over = "over "
	}
	v, u := getRate(s.q.Bytes)
	fmt.Fprintf(b, "quota %s%d %s", over, v, u)
	if !s.stateless && s.q.Consumed != 0 {
		v, u = getRate(s.q.Consumed)
		fmt.Fprintf(b, " used %d %s", v, u)
	}
}

func (s *quotaStmt) json() any {
	v, u := getRate(s.q.Bytes)
	o := jobj{{"val", v}, {"val_unit", u}}
	if s.q.Flags&ruleset.QuotaInvert != 0 {
		o = append(o, jkv{"inv", true})
	}
	if !s.stateless && s.q.Consumed != 0 {
		v, u = getRate(s.q.Consumed)
		o = append(o, jkv{"used", v}, jkv{"used_unit", u})
	}
	return jobj{{"quota", o}}
}

var logLevels = []string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit"}

// logStmt: `log [prefix "…"] [group N] … [level L] [flags …]`.
//
// Ref: nftables src/statement.c — log_stmt_print
type logStmt struct{ l ruleset.Log }

func (s *logStmt) text(b *strings.Builder) {
	l := s.l
	b.WriteString("log")
	if l.HasPrefix {
		b.WriteString(" prefix \"" + l.Prefix + "\"")
	}
	if l.HasGroup {
		fmt.Fprintf(b, " group %d", l.Group)
	}
	if l.HasSnaplen {
		fmt.Fprintf(b, " snaplen %d", l.Snaplen)
	}
	if l.HasQthresh {
		fmt.Fprintf(b, " queue-threshold %d", l.Qthreshold)
	}
	if l.HasLevel && l.Level != 4 && int(l.Level) < len(logLevels) {
		b.WriteString(" level " + logLevels[l.Level])
	}
	const mask = 0x2f
	if l.Flags&mask == mask {
		b.WriteString(" flags all")
		return
	}
	if l.Flags&0x3 != 0 {
		b.WriteString(" flags tcp")
		d := " "
		if l.Flags&0x1 != 0 {
			b.WriteString(" sequence")
			d = ","
		}
		if l.Flags&0x2 != 0 {
			b.WriteString(d + "options")
		}
	}
	if l.Flags&0x4 != 0 {
		b.WriteString(" flags ip options")
	}
	if l.Flags&0x8 != 0 {
		b.WriteString(" flags skuid")
	}
	if l.Flags&0x20 != 0 {
		b.WriteString(" flags ether")
	}
}

func (s *logStmt) json() any {
	l := s.l
	o := jobj{}
	if l.HasPrefix {
		o = append(o, jkv{"prefix", l.Prefix})
	}
	if l.HasGroup {
		o = append(o, jkv{"group", l.Group})
	}
	if l.HasSnaplen {
		o = append(o, jkv{"snaplen", l.Snaplen})
	}
	if l.HasQthresh {
		o = append(o, jkv{"queue-threshold", l.Qthreshold})
	}
	if l.HasLevel && l.Level != 4 && int(l.Level) < len(logLevels) {
		o = append(o, jkv{"level", logLevels[l.Level]})
	}
	var fl []any
	if l.Flags&0x2f == 0x2f {
		fl = append(fl, "all")
	} else {
		for _, f := range []struct {
			bit  uint32
			name string
		}{{1, "tcp sequence"}, {2, "tcp options"}, {4, "ip options"}, {8, "skuid"}, {0x20, "ether"}} {
			if l.Flags&f.bit != 0 {
				fl = append(fl, f.name)
			}
		}
	}
	if len(fl) == 1 {
		o = append(o, jkv{"flags", fl[0]})
	} else if len(fl) > 1 {
		o = append(o, jkv{"flags", fl})
	}
	if len(o) == 0 {
		return jobj{{"log", nil}}
	}
	return jobj{{"log", o}}
}

// rejectStmt: `reject [with …]`.
//
// Ref: nftables src/statement.c — reject_stmt_print
type rejectStmt struct {
	r       ruleset.Reject
	family  ruleset.Family // family the icmp code belongs to
	verbose bool           // print the default code too (inet, bridge, netdev)
}

func (s *rejectStmt) parts() (string, expr) {
	code := []byte{s.r.Code}
	switch s.r.Type {
	case ruleset.RejectTCPRst:
		return "tcp reset", nil
	case ruleset.RejectICMPXUnreach:
		if s.r.Code == 1 {
			return "", nil
		}
		return "icmpx", &valueExpr{dt: dtICMPXCode, data: code, bits: 8}
	case ruleset.RejectICMPUnreach:
		switch s.family {
		case ruleset.FamilyIPv4:
			if s.r.Code == 3 && !s.verbose {
				return "", nil
			}
			return "icmp", &valueExpr{dt: dtICMPCode, data: code, bits: 8}
		case ruleset.FamilyIPv6:
			if s.r.Code == 4 && !s.verbose {
				return "", nil
			}
			return "icmpv6", &valueExpr{dt: dtICMP6Code, data: code, bits: 8}
		}
	}
	return "", nil
}

func (s *rejectStmt) text(b *strings.Builder) {
	b.WriteString("reject")
	t, e := s.parts()
	if t == "tcp reset" {
		b.WriteString(" with tcp reset")
	} else if t != "" {
		b.WriteString(" with " + t + " ")
		e.text(b)
	}
}

func (s *rejectStmt) json() any {
	// reject_stmt_json names type and code even where the text leaves
	// out the default
	v := *s
	v.verbose = true
	t, e := v.parts()
	if t == "" && s.r.Type == ruleset.RejectICMPXUnreach {
		t, e = "icmpx", &valueExpr{dt: dtICMPXCode, data: []byte{s.r.Code}, bits: 8}
	}
	if t == "" {
		return jobj{{"reject", nil}}
	}
	o := jobj{{"type", t}}
	if e != nil {
		o = append(o, jkv{"expr", e.json()})
	}
	return jobj{{"reject", o}}
}

// mangleStmt: `meta mark set …`, `ct mark set …`, payload writes.
type mangleStmt struct {
	key, val expr
}

func (m *mangleStmt) text(b *strings.Builder) {
	m.key.text(b)
	b.WriteString(" set ")
	if v, ok := m.val.(*valueExpr); ok && v.dt.kind == kBitmask {
		c := *v
		c.mode.commaList = true
		c.text(b)
		return
	}
	m.val.text(b)
}

func (m *mangleStmt) json() any {
	val := m.val.json()
	if v, ok := m.val.(*valueExpr); ok && v.dt.kind == kBitmask {
		c := *v
		c.mode.commaList = true
		val = c.json()
	}
	return jobj{{"mangle", jobj{{"key", m.key.json()}, {"value", val}}}}
}

// plainStmt is a keyword statement (`notrack`) or an undecoded one.
type plainStmt struct {
	s string
	j any
}

func (p *plainStmt) text(b *strings.Builder) { b.WriteString(p.s) }
func (p *plainStmt) json() any {
	if p.j != nil {
		return p.j
	}
	return jobj{{p.s, nil}}
}

// vmapStmt: `key vmap { … }` / `key vmap @m`.
type vmapStmt struct {
	key, m expr
}

func (v *vmapStmt) text(b *strings.Builder) {
	v.key.text(b)
	b.WriteString(" vmap ")
	v.m.text(b)
}

func (v *vmapStmt) json() any {
	return jobj{{"vmap", jobj{{"key", v.key.json()}, {"data", v.m.json()}}}}
}

// flagcmpStmt: `tcp flags syn / syn,ack` (value / mask).
//
// Ref: nftables src/expression.c — flagcmp_expr_print; src/json.c —
// flagcmp_expr_json
type flagcmpStmt struct {
	op          string
	left        expr
	mask, value expr
}

func (f *flagcmpStmt) text(b *strings.Builder) {
	f.left.text(b)
	if f.op == "!=" {
		b.WriteString(" != ")
	} else {
		b.WriteByte(' ')
	}
	if v, ok := f.value.(*valueExpr); ok && v.dt.kind == kBitmask {
		if names, ok := bitNames(v.dt, v.uint()); ok && len(names) > 0 {
			b.WriteString(strings.Join(names, ","))
		} else {
			v.text(b)
		}
	} else {
		f.value.text(b)
	}
	b.WriteString(" / ")
	f.mask.text(b)
}

func (f *flagcmpStmt) json() any {
	return jobj{{"match", jobj{{"op", f.op}, {"left", jobj{{"&", []any{f.left.json(), f.mask.json()}}}}, {"right", f.value.json()}}}}
}

// meterStmt: `meter NAME size N { key stmt }`.
//
// Ref: nftables src/statement.c — meter_stmt_print; src/json.c —
// meter_stmt_json
type meterStmt struct {
	name string
	size uint32
	key  expr
	stmt stmt
}

func (m *meterStmt) text(b *strings.Builder) {
	fmt.Fprintf(b, "meter %s size %d { ", m.name, m.size)
	m.key.text(b)
	b.WriteByte(' ')
	m.stmt.text(b)
	b.WriteString(" }")
}

func (m *meterStmt) json() any {
	return jobj{{"meter", jobj{{"key", m.key.json()}, {"stmt", m.stmt.json()}, {"size", m.size}, {"name", m.name}}}}
}
