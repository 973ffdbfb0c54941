package compiler

// Named stateful objects and object references.
// Ref: src/parser_bison.y — counter_block, quota_block, limit_block,
// ct_helper_block, ct_timeout_block, ct_expect_block, synproxy_block;
// libnftnl src/obj/*.c for the debug text; src/netlink_linearize.c —
// netlink_gen_objref_stmt.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// Object types (NFT_OBJECT_*).
var objTypes = map[string]uint32{"counter": 1, "quota": 2, "ct helper": 3, "limit": 4, "ct timeout": 7,
	"secmark": 8, "ct expectation": 9, "synproxy": 10}

// tcp/udp conntrack timeout state names in kernel attribute order.
var ctTimeoutStates = map[string][]string{
	"tcp": {"syn_sent", "syn_recv", "established", "fin_wait", "close_wait", "last_ack", "time_wait", "close", "syn_sent2", "retrans", "unacknowledged"},
	"udp": {"unreplied", "replied"},
}

// ctTimeoutDefaults are the per-state defaults (seconds) libnftnl keeps a
// timeout policy at; a state given its default value is neither printed by
// libnftnl nor listed by nft.
// Ref: libnftnl src/obj/ct_timeout.c — timeout_protocol[].dflt_timeout.
var ctTimeoutDefaults = map[string]map[string]string{
	"tcp": {"syn_sent": "120", "syn_recv": "60", "established": "432000", "fin_wait": "120", "close_wait": "60",
		"last_ack": "30", "time_wait": "120", "close": "10", "syn_sent2": "120", "retrans": "300", "unacknowledged": "300"},
	"udp": {"unreplied": "30", "replied": "180"},
}

// ctTimeoutPolicy is the policy's non-default states in kernel order.
func ctTimeoutPolicy(proto string, toks []tok) (states, values []string) {
	vals := ctTimeoutValues(toks)
	for _, st := range ctTimeoutStates[proto] {
		if v, ok := vals[st]; ok && v != ctTimeoutDefaults[proto][st] {
			states, values = append(states, st), append(values, v)
		}
	}
	return states, values
}

// objectAttrs records a non-expression object's attributes as the kernel
// keeps them, in the order nft lists them: l3proto defaults to the table's
// family (nft_ct_helper_obj_init, nft_ct_timeout_obj_init and
// nft_ct_expect_obj_init take ctx->family without NFTA_*_L3PROTO), an
// expectation's timeout is in milliseconds, a timeout policy lists its
// states in kernel attribute order, and a synproxy object keeps its
// timestamp/sack-perm flags.
//
// Ref: nftables src/rule.c — obj_print_data
func objectAttrs(fam ruleset.Family, obj *ruleset.Object, kind string, toks []tok, get func(string) string) {
	add := func(k, v string) {
		if v != "" {
			obj.Attrs = append(obj.Attrs, ruleset.ObjectAttr{Key: k, Value: v})
		}
	}
	l3 := get("l3proto")
	if l3 == "" {
		l3 = fam.String()
	}
	switch kind {
	case "ct helper":
		add("type", get("type"))
		add("protocol", get("protocol"))
		add("l3proto", l3)
	case "ct timeout":
		add("protocol", get("protocol"))
		add("l3proto", l3)
		states, values := ctTimeoutPolicy(get("protocol"), toks)
		var pol []string
		for i, st := range states {
			pol = append(pol, st+" : "+values[i])
		}
		add("policy", strings.Join(pol, ", "))
	case "ct expectation":
		add("protocol", get("protocol"))
		add("dport", get("dport"))
		if ms, err := parseTime(get("timeout")); err == nil && get("timeout") != "" {
			add("timeout", fmt.Sprint(ms))
		}
		add("size", get("size"))
		add("l3proto", l3)
	case "synproxy":
		add("mss", get("mss"))
		add("wscale", get("wscale"))
		var fl []string
		for _, t := range toks {
			if t.s == "timestamp" || t.s == "sack-perm" {
				fl = append(fl, t.s)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(fl)))
		add("flags", strings.Join(fl, " "))
	default:
		for _, k := range []string{"type", "protocol", "l3proto", "dport", "timeout", "size", "mss", "wscale"} {
			add(k, get(k))
		}
	}
}

// ctTimeoutValues reads a ct timeout policy block, `policy = { state : N, … }`.
func ctTimeoutValues(toks []tok) map[string]string {
	vals := map[string]string{}
	for i, t := range toks {
		if t.kind == '{' && i > 0 && toks[i-1].s == "=" {
			for _, el := range t.set {
				for _, w := range el {
					if k, v, ok := strings.Cut(w.s, ":"); ok {
						vals[k] = v
					}
				}
				switch {
				case len(el) == 3 && el[1].s == ":":
					vals[el[0].s] = el[2].s
				case len(el) == 2 && strings.HasSuffix(el[0].s, ":"):
					vals[strings.TrimSuffix(el[0].s, ":")] = el[1].s
				}
			}
		}
	}
	return vals
}

// objectBody renders the libnftnl text of a non-expression object from its
// declaration tokens and records its attributes.
func (c *compiler) objectBody(fam ruleset.Family, obj *ruleset.Object, kind string, toks []tok) string {
	get := func(k string) string {
		for i, t := range toks {
			if t.s == k && i+1 < len(toks) {
				return toks[i+1].s
			}
		}
		return ""
	}
	l3 := 0
	switch get("l3proto") {
	case "ip":
		l3 = 2
	case "ip6":
		l3 = 10
	case "inet":
		l3 = 1
	}
	famText := ""
	if l3 != 0 {
		famText = fmt.Sprintf("family %d ", l3)
	}
	proto := get("protocol")
	pnum := protocols()[proto]
	objectAttrs(fam, obj, kind, toks, get)
	switch kind {
	case "ct helper":
		return fmt.Sprintf("[ ct_helper name %s family %d protocol %d ]", get("type"), l3, pnum)
	case "ct expectation":
		ms, _ := parseTime(get("timeout"))
		return fmt.Sprintf("[ ct_expect %sprotocol %d dport %s timeout %d size %s ]", famText, pnum, get("dport"), ms, get("size"))
	case "ct timeout":
		states, values := ctTimeoutPolicy(proto, toks)
		var b strings.Builder
		for i, st := range states {
			fmt.Fprintf(&b, "%s = %s,", strings.ToUpper(st), values[i])
		}
		return fmt.Sprintf("[ ct_timeout %sprotocol %d policy = {%s}]", famText, pnum, b.String())
	case "synproxy":
		mss, ws := get("mss"), get("wscale")
		if mss == "" {
			mss = "0"
		}
		if ws == "" {
			ws = "0"
		}
		return fmt.Sprintf("[ synproxy mss %s wscale %s ]", mss, ws)
	case "secmark":
		return fmt.Sprintf("[ secmark ctx %s ]", get("ctx"))
	}
	return "[ ]"
}

func writeObjectExpr(b *strings.Builder, e ruleset.Expr) {
	switch x := e.(type) {
	case *ruleset.Quota:
		fmt.Fprintf(b, "[ quota bytes %d flags %d ]", x.Bytes, x.Flags)
	case *ruleset.Limit:
		fmt.Fprintf(b, "[ limit rate %d unit %d burst %d type %d flags %d ]", x.Rate, x.Unit, x.Burst, x.Type, x.Flags)
	default:
		b.WriteString("[ ")
		b.WriteString(e.Name())
		b.WriteByte(' ')
		writeExprBody(b, e)
		b.WriteString("]")
	}
}

func writeObjref(b *strings.Builder, x *ruleset.Objref) {
	if x.SetName != "" {
		fmt.Fprintf(b, "sreg %d set %s ", x.SReg, lookupSetName(x.SetName))
		return
	}
	fmt.Fprintf(b, "type %d name %s ", x.Type, x.ObjName)
}

// objrefStmt: `counter|quota|limit|synproxy name NAME` or `… name KEY map { k : "obj" }`,
// and `ct helper|timeout|expectation set …`.
func (r *rulectx) objrefStmt(kind string) {
	typ := objTypes[kind]
	t := r.peek()
	if t.kind == 's' || t.kind == 'w' && !(protoWords[t.s] || t.s == "meta" || t.s == "ct" || shortMeta[t.s]) {
		r.next()
		r.emit(&ruleset.Objref{Type: typ, ObjName: t.s})
		return
	}
	key := r.keyExpr()
	if key == nil {
		return
	}
	if !r.accept("map") {
		r.unexpected()
		return
	}
	lit := r.next()
	if lit.kind != '{' {
		r.fail(lit, "syntax error, unexpected %s", lit.s)
		return
	}
	elems, ok := r.c.parseElems(key, &xexpr{kind: xMeta, dt: tString, bits: 128, order: hostEndian}, false, lit.set)
	if !ok {
		r.bad = true
		return
	}
	s := r.newAnon("__objmap")
	s.Flags = ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetObject
	interval := anyInterval(elems)
	if interval {
		s.Flags |= ruleset.SetInterval
	}
	r.fillKey(s, key)
	s.ObjType = typ
	els := r.c.encodeElems(key, interval, elems)
	for i, el := range els {
		if el.Data != nil {
			el.ObjRef = strings.TrimRight(string(el.Data), "\x00")
			el.Data = nil
		}
		_ = i
	}
	s.Elements = els
	s.Size, s.SizeSet = uint32(len(els)), true
	r.anon = append(r.anon, s)
	r.genDeps(key)
	reg := r.load(key)
	r.emit(&ruleset.Objref{SReg: reg, SetName: s.Name, SetID: s.ID})
}

var _ = sort.Strings
