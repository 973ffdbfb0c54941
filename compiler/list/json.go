package list

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nftgo/nftgo/ruleset"
)

// jobj is a JSON object that keeps its keys in insertion order, as
// jansson does for libnftables.
type jobj []jkv

type jkv struct {
	k string
	v any
}

func (o jobj) get(k string) any {
	for _, kv := range o {
		if kv.k == k {
			return kv.v
		}
	}
	return nil
}

// writeJSON encodes v the way jansson's json_dumpf does without
// JSON_COMPACT: ", " between items and ": " after keys, on one line.
func writeJSON(w *bufio.Writer, v any) {
	switch x := v.(type) {
	case nil:
		w.WriteString("null")
	case jobj:
		w.WriteByte('{')
		for i, kv := range x {
			if i > 0 {
				w.WriteString(", ")
			}
			writeJSONString(w, kv.k)
			w.WriteString(": ")
			writeJSON(w, kv.v)
		}
		w.WriteByte('}')
	case []any:
		w.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.WriteString(", ")
			}
			writeJSON(w, e)
		}
		w.WriteByte(']')
	case string:
		writeJSONString(w, x)
	case bool:
		if x {
			w.WriteString("true")
		} else {
			w.WriteString("false")
		}
	case int:
		w.WriteString(strconv.Itoa(x))
	case int32:
		w.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		w.WriteString(strconv.FormatInt(x, 10))
	case uint8:
		w.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint16:
		w.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint32:
		w.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint64:
		w.WriteString(strconv.FormatUint(x, 10))
	default:
		writeJSONString(w, fmt.Sprint(x))
	}
}

// writeJSONString escapes like jansson: quotes, backslashes and control
// characters; UTF-8 passes through.
func writeJSONString(w *bufio.Writer, s string) {
	w.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			w.WriteString(`\"`)
		case r == '\\':
			w.WriteString(`\\`)
		case r == '\n':
			w.WriteString(`\n`)
		case r == '\t':
			w.WriteString(`\t`)
		case r == '\r':
			w.WriteString(`\r`)
		case r == '\b':
			w.WriteString(`\b`)
		case r == '\f':
			w.WriteString(`\f`)
		case r < 0x20 || r == utf8.RuneError && n == 1:
			fmt.Fprintf(w, `\u%04x`, s[i])
		default:
			w.WriteString(s[i : i+n])
		}
		i += n
	}
	w.WriteByte('"')
}

// rulesetJSON builds the libnftables document: metainfo, then per table
// the table, its objects, named sets, chains, and then all its rules.
//
// Ref: nftables src/json.c — do_list_ruleset_json, table_print_json_full
func rulesetJSON(rs *ruleset.Ruleset, errs *[]error) any {
	items := []any{jobj{{"metainfo", jobj{{"version", "1.0.6"}, {"release_name", "Lester Gooch #5"}, {"json_schema_version", 1}}}}}
	if rs != nil {
		for _, t := range rs.Tables {
			if t == nil {
				continue
			}
			items = append(items, tableJSON(t, errs)...)
		}
	}
	return jobj{{"nftables", items}}
}

func tableJSON(t *ruleset.Table, errs *[]error) []any {
	fam := t.Family.String()
	to := jobj{{"family", fam}, {"name", t.Name}, {"handle", t.Handle}}
	// nft 1.0.6 prints the table's name for each flag (observed:
	// `"flags": "sleepy"` for a dormant table named sleepy)
	// Ref: nftables src/json.c — table_flags_json
	var fl []any
	for f := t.Flags; f != 0; f &= f - 1 {
		fl = append(fl, t.Name)
	}
	if len(fl) == 1 {
		to = append(to, jkv{"flags", fl[0]})
	} else if len(fl) > 1 {
		to = append(to, jkv{"flags", fl})
	}
	out := []any{jobj{{"table", to}}}
	for _, o := range t.Objects {
		if o.Kind != "flowtable" {
			out = append(out, objectJSON(t, o))
		}
	}
	for _, s := range t.Sets {
		if s.Flags&ruleset.SetAnonymous != 0 {
			continue
		}
		out = append(out, setJSON(t, s))
	}
	for _, o := range t.Objects {
		if o.Kind == "flowtable" {
			out = append(out, flowtableJSON(t, o))
		}
	}
	var rules []any
	for _, c := range t.Chains {
		co := jobj{{"family", fam}, {"table", t.Name}, {"name", c.Name}, {"handle", c.Handle}}
		if h := c.Hook; h != nil {
			// no "dev": chain_print_json only prints it from the parsed
			// dev_expr, which a kernel listing does not have in 1.0.6
			co = append(co, jkv{"type", h.Type}, jkv{"hook", ruleset.HookName(t.Family, h.Hook)},
				jkv{"prio", h.Priority}, jkv{"policy", policyName(h.Policy)})
		}
		out = append(out, jobj{{"chain", co}})
		for _, r := range c.Rules {
			ro := jobj{{"family", fam}, {"table", t.Name}, {"chain", c.Name}, {"handle", r.Handle}}
			if r.Comment != "" {
				ro = append(ro, jkv{"comment", r.Comment})
			}
			_, ex, err := renderRule(t, r)
			if err != nil {
				*errs = append(*errs, err)
			}
			if len(ex) > 0 {
				ro = append(ro, jkv{"expr", ex})
			}
			rules = append(rules, jobj{{"rule", ro}})
		}
	}
	return append(out, rules...)
}

// setJSON is set_print_json: type names split at " . ", "flags" only for
// constant/interval/timeout, "elem" and set-level "stmt".
//
// Ref: nftables src/json.c — set_print_json, set_dtype_json
func setJSON(t *ruleset.Table, s *ruleset.Set) any {
	var typ any
	var names []any
	for _, n := range strings.FieldsFunc(keyTypeNameForJSON(s), func(r rune) bool { return r == ' ' || r == '.' }) {
		names = append(names, n)
	}
	if len(names) == 1 {
		typ = names[0]
	} else {
		typ = names
	}
	o := jobj{{"family", t.Family.String()}, {"name", s.Name}, {"table", t.Name}, {"type", typ}, {"handle", s.Handle}}
	if s.Comment != "" {
		o = append(o, jkv{"comment", s.Comment})
	}
	if s.IsMap() {
		o = append(o, jkv{"map", dataTypeNameForJSON(s)})
	} else if s.Flags&ruleset.SetObject != 0 {
		o = append(o, jkv{"map", objTypeNames[s.ObjType]})
	}
	if s.Flags&ruleset.SetConstant == 0 {
		if s.Policy == 1 {
			o = append(o, jkv{"policy", "memory"})
		}
		if sz := setSize(t, s); sz > 0 {
			o = append(o, jkv{"size", sz})
		}
	}
	var fl []any
	if s.Flags&ruleset.SetConstant != 0 {
		fl = append(fl, "constant")
	}
	if s.Flags&ruleset.SetInterval != 0 {
		fl = append(fl, "interval")
	}
	if s.Flags&ruleset.SetTimeout != 0 {
		fl = append(fl, "timeout")
	}
	if len(fl) > 0 {
		o = append(o, jkv{"flags", fl})
	}
	if s.Timeout != 0 {
		o = append(o, jkv{"timeout", s.Timeout / 1000})
	}
	if s.GCInterval != 0 {
		o = append(o, jkv{"gc-interval", s.GCInterval / 1000})
	}
	if els := decodeElements(s, nil, nil, nil, nil, nil); len(els) > 0 {
		var a []any
		for _, e := range els {
			a = append(a, e.json())
		}
		o = append(o, jkv{"elem", a})
	}
	if len(s.Exprs) > 0 {
		var a []any
		for _, e := range s.Exprs {
			a = append(a, stateless(exprStmt(t.Family, e)).json())
		}
		o = append(o, jkv{"stmt", a})
	}
	kind := setKindName(s)
	return jobj{{kind, o}}
}

// keyTypeNameForJSON is the datatype name, also for typeof sets (json.c
// prints the key's datatype, not the typeof expression).
func keyTypeNameForJSON(s *ruleset.Set) string {
	if s.KeyTypeName != "" {
		return s.KeyTypeName
	}
	c := *s
	c.KeyTypeof = ""
	return keyTypeText(&c)
}

func dataTypeNameForJSON(s *ruleset.Set) string {
	if s.DataTypeName != "" {
		return s.DataTypeName
	}
	c := *s
	c.DataTypeof = ""
	return dataTypeText(&c)
}

// objectJSON prints counters, quotas and limits.
//
// Ref: nftables src/json.c — obj_print_json
// flowtableJSON is a flowtable as nft 1.0.6 lists it in JSON: one device
// as a string, several as an array; no flags.
//
// Ref: nftables src/json.c — flowtable_print_json
func flowtableJSON(t *ruleset.Table, o *ruleset.Object) any {
	prio, _, devs := flowtableAttrs(o)
	ob := jobj{{"family", t.Family.String()}, {"name", o.Name}, {"table", t.Name}, {"handle", o.Handle},
		{"hook", "ingress"}, {"prio", prio}}
	switch len(devs) {
	case 0:
	case 1:
		ob = append(ob, jkv{"dev", devs[0]})
	default:
		arr := make([]any, len(devs))
		for i, d := range devs {
			arr[i] = d
		}
		ob = append(ob, jkv{"dev", arr})
	}
	return jobj{{"flowtable", ob}}
}

func objectJSON(t *ruleset.Table, o *ruleset.Object) any {
	ob := jobj{{"family", t.Family.String()}, {"name", o.Name}, {"table", t.Name}, {"handle", o.Handle}}
	if o.Comment != "" {
		ob = append(ob, jkv{"comment", o.Comment})
	}
	switch x := o.Expr.(type) {
	case *ruleset.Counter:
		ob = append(ob, jkv{"packets", x.Packets}, jkv{"bytes", x.Bytes})
	case *ruleset.Quota:
		v, u := getRate(x.Bytes)
		_ = u
		ob = append(ob, jkv{"bytes", x.Bytes}, jkv{"used", x.Consumed}, jkv{"inv", x.Flags&ruleset.QuotaInvert != 0})
		_ = v
	case *ruleset.Limit:
		lj := (&limitStmt{l: *x}).json().(jobj)
		if inner, ok := lj.get("limit").(jobj); ok {
			ob = append(ob, inner...)
		}
	default:
		for _, a := range o.Attrs {
			if a.Key == "body" {
				// ct helper: obj_print_json's type/protocol/l3proto
				f := strings.Fields(strings.Trim(a.Value, "[] "))
				if len(f) >= 7 && f[0] == "ct_helper" {
					ob = append(ob, jkv{"type", f[2]}, jkv{"protocol", map[string]string{"6": "tcp", "17": "udp"}[f[6]]},
						jkv{"l3proto", map[string]string{"2": "ip", "10": "ip6", "1": "inet", "0": "ip"}[f[4]]})
				}
				continue
			}
			if a.Key == "kind" {
				continue
			}
			ob = append(ob, jkv{a.Key, a.Value})
		}
	}
	return jobj{{o.Kind, ob}}
}
