package jsonin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// verbs are the command keys of a libnftables document.
//
// Ref: nftables src/parser_json.c — json_parse_cmd (parse_cb_table)
var verbs = map[string]bool{
	"add": true, "replace": true, "create": true, "insert": true, "delete": true,
	"list": true, "reset": true, "flush": true, "rename": true, "destroy": true,
}

// command translates one element of the nftables array. An object that is
// not a command (the form `nft -j list ruleset` prints) is an implicit add,
// as json_parse_cmd falls back to json_parse_cmd_add.
func (w *writer) command(it any, path string) error {
	obj, ok := it.(map[string]any)
	if !ok || len(obj) != 1 {
		return errAt(path, "Malformed object (expected one command or object key)")
	}
	k, v := single(obj)
	if k == "metainfo" {
		return nil
	}
	verb := "add"
	if verbs[k] {
		verb = k
		inner, ok := v.(map[string]any)
		if !ok || len(inner) != 1 {
			return errAt(path+"."+k, "Malformed object (expected one object key)")
		}
		path += "." + k
		k, v = single(inner)
	}
	path += "." + jsonKey(k)
	return w.object(verb, k, v, path)
}

// single returns the one key of a one-key object.
func single(o map[string]any) (string, any) {
	for k, v := range o {
		return k, v
	}
	return "", nil
}

// jsonKey writes a key as a path component.
func jsonKey(k string) string {
	if strings.ContainsAny(k, " .[]") {
		return fmt.Sprintf("%q", k)
	}
	return k
}

func (w *writer) object(verb, kind string, v any, path string) error {
	if kind == "ruleset" {
		if verb != "flush" && verb != "list" && verb != "reset" {
			return errAt(path, "Unknown object 'ruleset' for command %s", verb)
		}
		w.cur.WriteString(verb + " ruleset")
		w.emit(path)
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return errAt(path, "Malformed %s object (expected a JSON object)", kind)
	}
	fam := "ip"
	if f, ok := o["family"]; ok {
		s, ok := f.(string)
		if !ok || !families[s] {
			return errAt(path+".family", "Invalid family %v", f)
		}
		fam = s
	}
	switch kind {
	case "table":
		name, err := str(o, "name", path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&w.cur, "%s table %s %s", verb, fam, ident(name))
		if verb == "add" || verb == "create" {
			var items []string
			if fl, ok := o["flags"]; ok {
				for _, f := range strList(fl) {
					if f == "dormant" {
						items = append(items, "flags dormant")
					}
				}
			}
			if c, ok := o["comment"].(string); ok {
				items = append(items, "comment "+quote(c))
			}
			if len(items) > 0 {
				w.cur.WriteString(" { " + strings.Join(items, "; ") + "; }")
			}
		}
	case "chain":
		return w.chain(verb, fam, o, path)
	case "rule":
		return w.rule(verb, fam, o, path)
	case "set", "map":
		return w.set(verb, kind, fam, o, path)
	case "element":
		t, s, err := tableObj(o, path, "name")
		if err != nil {
			return err
		}
		el, ok := o["elem"]
		if !ok {
			return errAt(path, "Object has no 'elem' property")
		}
		body, err := elements(el, path+".elem")
		if err != nil {
			return err
		}
		fmt.Fprintf(&w.cur, "%s element %s %s %s { %s }", verb, fam, ident(t), ident(s), body)
	case "counter", "quota", "limit", "ct helper", "ct timeout", "ct expectation", "secmark", "synproxy", "flowtable":
		return w.namedObject(verb, kind, fam, o, path)
	default:
		return errAt(path, "Unknown object '%s'", kind)
	}
	w.emit(path)
	return nil
}

var families = map[string]bool{"ip": true, "ip6": true, "inet": true, "arp": true, "bridge": true, "netdev": true}

// tableObj reads the table and the object's own name.
func tableObj(o map[string]any, path, nameKey string) (string, string, error) {
	t, err := str(o, "table", path)
	if err != nil {
		return "", "", err
	}
	n, err := str(o, nameKey, path)
	if err != nil {
		return "", "", err
	}
	return t, n, nil
}

func str(o map[string]any, k, path string) (string, error) {
	v, ok := o[k]
	if !ok {
		return "", errAt(path, "Object has no '%s' property", k)
	}
	s, ok := v.(string)
	if !ok {
		return "", errAt(path+"."+k, "Expected a string, got %s", jsonType(v))
	}
	return s, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return "an object"
}

// num reads an integer property; ok is false when it is absent.
// reqNum is num for a property the object must have.
func reqNum(o map[string]any, k, path string) (string, error) {
	n, ok, err := num(o, k, path)
	if err == nil && !ok {
		err = errAt(path, "Object has no '%s' property", k)
	}
	return n, err
}

func num(o map[string]any, k, path string) (string, bool, error) {
	v, ok := o[k]
	if !ok {
		return "", false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return "", false, errAt(path+"."+k, "Expected a number, got %s", jsonType(v))
	}
	if _, err := n.Int64(); err != nil {
		if _, err := fmt.Sscan(n.String(), new(uint64)); err != nil {
			return "", false, errAt(path+"."+k, "Expected an integer, got %s", n)
		}
	}
	return n.String(), true, nil
}

// strList accepts a string or an array of strings (FLAGS := FLAG | [ … ]).
func strList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// chain is json_parse_cmd_add_chain: a base chain when "hook" is given.
func (w *writer) chain(verb, fam string, o map[string]any, path string) error {
	t, n, err := tableObj(o, path, "name")
	if err != nil {
		return err
	}
	if verb == "rename" {
		nn, err := str(o, "newname", path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&w.cur, "rename chain %s %s %s %s", fam, ident(t), ident(n), ident(nn))
		w.emit(path)
		return nil
	}
	fmt.Fprintf(&w.cur, "%s chain %s %s %s", verb, fam, ident(t), ident(n))
	var items []string
	if _, ok := o["hook"]; ok && (verb == "add" || verb == "create") {
		typ, err := str(o, "type", path)
		if err != nil {
			return err
		}
		hook, err := str(o, "hook", path)
		if err != nil {
			return err
		}
		prio, err := reqNum(o, "prio", path)
		if err != nil {
			return err
		}
		h := fmt.Sprintf("type %s hook %s", word(typ), word(hook))
		if d, ok := o["dev"]; ok {
			devs := strList(d)
			if len(devs) == 0 {
				return errAt(path+".dev", "Expected a string or an array of strings")
			}
			// nft 1.0.6's json_parse_chain reads "dev" as a string only;
			// an array leaves the chain without a device.
			if _, one := d.(string); one {
				h += " device " + quote(devs[0])
			}
		}
		h += " priority " + prio
		items = append([]string{h}, items...)
		if p, ok := o["policy"]; ok {
			ps, ok := p.(string)
			if !ok {
				return errAt(path+".policy", "Expected a string, got %s", jsonType(p))
			}
			items = append(items, "policy "+word(ps))
		}
	}
	if c, ok := o["comment"].(string); ok && verb != "delete" {
		items = append(items, "comment "+quote(c))
	}
	if h, ok, _ := num(o, "handle", path); ok && verb == "delete" {
		w.cur.Reset()
		fmt.Fprintf(&w.cur, "delete chain %s %s handle %s", fam, ident(t), h)
	} else if len(items) > 0 {
		w.cur.WriteString(" { " + strings.Join(items, "; ") + "; }")
	}
	w.emit(path)
	return nil
}

// rule is json_parse_cmd_add_rule. A "handle" on add (as in list output)
// is not a position: nft -j -f appends such rules in order.
func (w *writer) rule(verb, fam string, o map[string]any, path string) error {
	t, ch, err := tableObj(o, path, "chain")
	if err != nil {
		return err
	}
	fmt.Fprintf(&w.cur, "%s rule %s %s %s", verb, fam, ident(t), ident(ch))
	h, hasHandle, err := num(o, "handle", path)
	if err != nil {
		return err
	}
	idx, hasIndex, err := num(o, "index", path)
	if err != nil {
		return err
	}
	switch {
	case verb == "delete" || verb == "replace" || verb == "insert" && hasHandle:
		if !hasHandle {
			return errAt(path, "Handle required to %s rule", verb)
		}
		w.cur.WriteString(" handle " + h)
		if verb == "delete" {
			w.emit(path)
			return nil
		}
	case hasIndex:
		w.cur.WriteString(" index " + idx)
	}
	ex, ok := o["expr"].([]any)
	if !ok {
		return errAt(path, "Object has no 'expr' array")
	}
	for i, s := range ex {
		sp := fmt.Sprintf("%s.expr[%d]", path, i)
		text, err := stmt(s, sp)
		if err != nil {
			return err
		}
		w.cur.WriteByte(' ')
		w.spans = append(w.spans, Span{Col: w.cur.Len() + 1, Path: sp})
		w.cur.WriteString(text)
	}
	if c, ok := o["comment"].(string); ok {
		w.cur.WriteString(" comment " + quote(c))
	}
	w.emit(path)
	return nil
}

// set is json_parse_cmd_add_set for sets and maps.
func (w *writer) set(verb, kind, fam string, o map[string]any, path string) error {
	t, n, err := tableObj(o, path, "name")
	if err != nil {
		return err
	}
	fmt.Fprintf(&w.cur, "%s %s %s %s %s", verb, kind, fam, ident(t), ident(n))
	if verb != "add" && verb != "create" {
		w.emit(path)
		return nil
	}
	var items []string
	tv, ok := o["type"]
	if !ok {
		return errAt(path, "Object has no 'type' property")
	}
	key, err := typeName(tv, path+".type")
	if err != nil {
		return err
	}
	typ := "type " + key
	if kind == "map" {
		mv, ok := o["map"]
		if !ok {
			return errAt(path, "Object has no 'map' property")
		}
		data, err := typeName(mv, path+".map")
		if err != nil {
			return err
		}
		typ += " : " + data
	}
	items = append(items, typ)
	if fl, ok := o["flags"].([]any); ok {
		// only an array: nft 1.0.6 ignores a lone string here (observed:
		// "flags": "interval" then fails on prefix elements)
		fs := strList(fl)
		for _, f := range fs {
			if !setFlags[f] {
				return errAt(path+".flags", "Invalid set flag '%s'", f)
			}
		}
		if len(fs) > 0 {
			items = append(items, "flags "+strings.Join(fs, ","))
		}
	}
	for _, k := range []string{"timeout", "gc-interval"} {
		v, ok, err := num(o, k, path)
		if err != nil {
			return err
		}
		if ok {
			items = append(items, k+" "+v+"s")
		}
	}
	if v, ok, err := num(o, "size", path); err != nil {
		return err
	} else if ok {
		items = append(items, "size "+v)
	}
	if p, ok := o["policy"].(string); ok {
		items = append(items, "policy "+word(p))
	}
	if am, ok := o["auto-merge"].(bool); ok && am {
		items = append(items, "auto-merge")
	}
	if st, ok := o["stmt"].([]any); ok {
		for i, s := range st {
			text, err := stmt(s, fmt.Sprintf("%s.stmt[%d]", path, i))
			if err != nil {
				return err
			}
			items = append(items, text)
		}
	}
	if c, ok := o["comment"].(string); ok {
		items = append(items, "comment "+quote(c))
	}
	if el, ok := o["elem"]; ok {
		if _, ok := o["stmt"]; !ok && elemStmts(el) {
			// Elements with their own statements in a set that declares
			// none: nft's JSON parser makes the set dynamic for ct count
			// elements and sends no other element statement (observed with
			// nft 1.0.6 --debug=netlink -c -j -f); text would reject both.
			var dyn bool
			el, dyn = stripElemStmts(el)
			if dyn && !strings.Contains(strings.Join(items, ";"), "flags ") {
				items = append(items, "flags dynamic")
			} else if dyn {
				for i, it := range items {
					if strings.HasPrefix(it, "flags ") && !strings.Contains(it, "dynamic") {
						items[i] = it + ",dynamic"
					}
				}
			}
		}
		body, err := elements(el, path+".elem")
		if err != nil {
			return err
		}
		items = append(items, "elements = { "+body+" }")
	}
	w.cur.WriteString(" { " + strings.Join(items, "; ") + "; }")
	w.emit(path)
	return nil
}

// stripElemStmts copies elements keeping only ct count statements; dyn
// reports whether one was kept.
func stripElemStmts(v any) (any, bool) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	dyn := false
	out := make([]any, len(list))
	for i, e := range list {
		out[i] = e
		pair, isPair := e.([]any)
		if isPair && len(pair) > 0 {
			e = pair[0]
		}
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		in, ok := m["elem"].(map[string]any)
		if !ok {
			continue
		}
		cp := map[string]any{}
		for k, x := range in {
			switch k {
			case "counter", "limit", "quota", "last":
				continue
			case "ct count":
				dyn = true
			}
			cp[k] = x
		}
		ne := map[string]any{"elem": cp}
		if isPair {
			out[i] = []any{ne, pair[1]}
		} else {
			out[i] = ne
		}
	}
	return out, dyn
}

var elemStmtKeys = []string{"counter", "limit", "quota", "ct count", "last"}

// setFlags are the flags nft 1.0.6's JSON parser accepts ("dynamic" is
// rejected with "Invalid set flag", observed).
var setFlags = map[string]bool{"constant": true, "interval": true, "timeout": true}

// typeName is SET_TYPE := STRING | [ STRING, … ] (a concatenation).
func typeName(v any, path string) (string, error) {
	switch x := v.(type) {
	case string:
		return word(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", errAt(fmt.Sprintf("%s[%d]", path, i), "Expected a type name, got %s", jsonType(e))
			}
			parts = append(parts, word(s))
		}
		if len(parts) == 0 {
			return "", errAt(path, "Empty type")
		}
		return strings.Join(parts, " . "), nil
	}
	return "", errAt(path, "Expected a type name, got %s", jsonType(v))
}

// elements is SET_ELEMENTS := EXPRESSION | [ EXPRESSION_LIST ]; map
// elements are [ KEY, DATA ] pairs.
func elements(v any, path string) (string, error) {
	list, ok := v.([]any)
	if !ok {
		return setElem(v, path)
	}
	parts := make([]string, 0, len(list))
	for i, e := range list {
		s, err := setElem(e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "", errAt(path, "Empty element list")
	}
	return strings.Join(parts, ", "), nil
}

// namedObject is a stateful object: written as a one-item table block,
// the form the text grammar has for it.
func (w *writer) namedObject(verb, kind, fam string, o map[string]any, path string) error {
	t, n, err := tableObj(o, path, "name")
	if err != nil {
		return err
	}
	if verb != "add" && verb != "create" {
		fmt.Fprintf(&w.cur, "%s %s %s %s %s", verb, kind, fam, ident(t), ident(n))
		w.emit(path)
		return nil
	}
	var body []string
	switch kind {
	case "counter":
		p, _, err := num(o, "packets", path)
		if err != nil {
			return err
		}
		b, _, err := num(o, "bytes", path)
		if err != nil {
			return err
		}
		if p != "" || b != "" {
			body = append(body, fmt.Sprintf("packets %s bytes %s", orZero(p), orZero(b)))
		}
	case "quota":
		b, err := reqNum(o, "bytes", path)
		if err != nil {
			return err
		}
		q := ""
		if inv, _ := o["inv"].(bool); inv {
			q = "over "
		}
		q += b + " bytes"
		if u, ok, err := num(o, "used", path); err != nil {
			return err
		} else if ok {
			q += " used " + u + " bytes"
		}
		body = append(body, q)
	case "limit":
		// nft 1.0.6 creates the object in packets whatever "unit" says
		// (observed: "unit": "bytes" is sent as type 0), so the unit is
		// not read.
		l, err := limitText(o, path, true)
		if err != nil {
			return err
		}
		body = append(body, strings.TrimPrefix(l, "limit "))
	case "ct helper":
		typ, err := str(o, "type", path)
		if err != nil {
			return err
		}
		proto, err := str(o, "protocol", path)
		if err != nil {
			return err
		}
		body = append(body, "type "+quote(typ)+" protocol "+word(proto))
		if l3, ok := o["l3proto"].(string); ok {
			body = append(body, "l3proto "+word(l3))
		}
	case "ct timeout":
		proto, err := str(o, "protocol", path)
		if err != nil {
			return err
		}
		body = append(body, "protocol "+word(proto))
		if l3, ok := o["l3proto"].(string); ok {
			body = append(body, "l3proto "+word(l3))
		}
		if pol, ok := o["policy"].(map[string]any); ok {
			keys := make([]string, 0, len(pol))
			for k := range pol {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var ps []string
			for _, k := range keys {
				v, ok := pol[k].(json.Number)
				if !ok {
					return errAt(path+".policy."+k, "Expected a number")
				}
				ps = append(ps, word(k)+" : "+v.String()+"s")
			}
			body = append(body, "policy = { "+strings.Join(ps, ", ")+" }")
		}
	case "ct expectation":
		for _, k := range []string{"protocol", "dport", "timeout", "size", "l3proto"} {
			v, ok := o[k]
			if !ok {
				continue
			}
			s := word(fmt.Sprint(v))
			if k == "timeout" {
				s += "ms"
			}
			body = append(body, k+" "+word(s))
		}
	case "secmark":
		c, err := str(o, "context", path)
		if err != nil {
			return err
		}
		body = append(body, quote(c))
	case "synproxy":
		s, err := synproxyArgs(o, path)
		if err != nil {
			return err
		}
		body = append(body, s)
	case "flowtable":
		hook, err := str(o, "hook", path)
		if err != nil {
			return err
		}
		prio, err := reqNum(o, "prio", path)
		if err != nil {
			return err
		}
		body = append(body, "hook "+word(hook)+" priority "+prio)
		if d, ok := o["dev"]; ok {
			devs := strList(d)
			for i := range devs {
				devs[i] = quote(devs[i])
			}
			body = append(body, "devices = { "+strings.Join(devs, ", ")+" }")
		}
	}
	if c, ok := o["comment"].(string); ok && kind != "flowtable" {
		body = append(body, "comment "+quote(c))
	}
	head := verb
	if verb == "add" {
		head = "add"
	}
	fmt.Fprintf(&w.cur, "%s table %s %s { %s %s { %s; }; }", head, fam, ident(t), kind, ident(n), strings.Join(body, "; "))
	w.emit(path)
	return nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// elemStmts reports whether any element carries statements.
func elemStmts(v any) bool {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, e := range list {
		if pair, ok := e.([]any); ok && len(pair) > 0 {
			e = pair[0]
		}
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		in, ok := m["elem"].(map[string]any)
		if !ok {
			continue
		}
		for _, k := range elemStmtKeys {
			if _, ok := in[k]; ok {
				return true
			}
		}
	}
	return false
}
