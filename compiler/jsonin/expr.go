package jsonin

import (
	"encoding/json"
	"fmt"
	"github.com/nftgo/nftgo/syntax"
	"strconv"
	"strings"
)

// isWord reports whether s scans as one bare word of nft text.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' && len(s) > 1 && s[1] == ':') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.:/-%", c) >= 0) {
			return false
		}
	}
	return true
}

// words writes each string with word and joins them.
func words(list []string, sep string) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = word(s)
	}
	return strings.Join(out, sep)
}

// quote writes a string as an nft quoted string (names, comments,
// interface names).
func quote(s string) string {
	return `"` + strings.Map(func(r rune) rune {
		if r == '"' || r == '\n' {
			return '\''
		}
		return r
	}, s) + `"`
}

// ident writes a table, chain, set or object name: bare, or quoted when nft's
// text grammar would not read it as a name (a keyword such as "fwd", or not
// one word); the JSON front end compiles with compiler.Options.QuotedNames.
func ident(s string) string {
	if isWord(s) && !syntax.Reserved(s) {
		return s
	}
	return quote(s)
}

// word writes a keyword-like string bare when it scans as one word.
func word(s string) string {
	if isWord(s) {
		return s
	}
	return quote(s)
}

// ifnameKeys are meta keys of string type: their values are quoted so an
// interface named like a keyword ("counter") stays a name.
var ifnameKeys = map[string]bool{
	"iifname": true, "oifname": true, "ibrname": true, "obrname": true,
	"ibridgename": true, "obridgename": true, "iifkind": true, "oifkind": true, "sdifname": true,
}

// quoteStrings quotes the string immediates of v (a value, list or set).
func quoteStrings(v any) any {
	switch x := v.(type) {
	case string:
		if !strings.HasPrefix(x, "@") && x != "*" {
			return stringLit(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = quoteStrings(e)
		}
		return out
	case map[string]any:
		if s, ok := x["set"]; ok && len(x) == 1 {
			return map[string]any{"set": quoteStrings(s)}
		}
	}
	return v
}

// stringLit is a string already written as nft text.
type stringLit string

// expr translates an expression. JSON immediates become symbols resolved
// by the evaluator against the datatype they meet, as in json_parse_immediate.
//
// Ref: nftables src/parser_json.c — json_parse_expr, json_parse_immediate
func expr(v any, path string) (string, error) {
	switch x := v.(type) {
	case json.Number:
		if _, err := x.Int64(); err != nil {
			if _, uerr := strconv.ParseUint(x.String(), 10, 64); uerr != nil {
				return "", errAt(path, "Invalid immediate %s (not an integer)", x)
			}
		}
		return x.String(), nil
	case stringLit:
		return quote(string(x)), nil
	case string:
		switch {
		case x == "*":
			return "*", nil
		case strings.HasPrefix(x, "@"):
			if !isWord(x[1:]) {
				return "", errAt(path, "Invalid set reference %q", x)
			}
			return x, nil
		case strings.HasPrefix(x, "$"):
			return "", errAt(path, "Variables are not supported in JSON input")
		}
		return word(x), nil
	case bool:
		if x {
			return "exists", nil
		}
		return "missing", nil
	case []any:
		// a list: the bits of a bitmask (ct state established,related)
		parts := make([]string, 0, len(x))
		for i, e := range x {
			s, err := expr(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "", errAt(path, "Empty list")
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		if len(x) != 1 {
			return "", errAt(path, "Malformed expression (expected one key)")
		}
		k, a := single(x)
		return exprObj(k, a, path+"."+jsonKey(k))
	case nil:
		return "", errAt(path, "Unexpected null expression")
	}
	return "", errAt(path, "Invalid expression")
}

func obj(v any, path, what string) (map[string]any, error) {
	o, ok := v.(map[string]any)
	if !ok {
		return nil, errAt(path, "Malformed %s expression (expected an object)", what)
	}
	return o, nil
}

func exprObj(k string, a any, path string) (string, error) {
	switch k {
	case "concat":
		list, ok := a.([]any)
		if !ok || len(list) == 0 {
			return "", errAt(path, "Expected a non-empty array")
		}
		parts := make([]string, 0, len(list))
		for i, e := range list {
			s, err := expr(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " . "), nil
	case "set":
		body, err := elements(a, path)
		if err != nil {
			return "", err
		}
		return "{ " + body + " }", nil
	case "map":
		return pair(a, path, k, "key", "map", "data")
	case "prefix":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		addr, err := expr(o["addr"], path+".addr")
		if err != nil {
			return "", err
		}
		l, err := reqNum(o, "len", path)
		if err != nil {
			return "", err
		}
		return addr + "/" + l, nil
	case "range":
		list, ok := a.([]any)
		if !ok || len(list) != 2 {
			return "", errAt(path, "Expected an array of two expressions")
		}
		lo, err := expr(list[0], path+"[0]")
		if err != nil {
			return "", err
		}
		hi, err := expr(list[1], path+"[1]")
		if err != nil {
			return "", err
		}
		return lo + "-" + hi, nil
	case "&", "|", "^", "<<", ">>":
		list, ok := a.([]any)
		if !ok || len(list) < 2 {
			return "", errAt(path, "Expected an array of two expressions")
		}
		parts := make([]string, 0, len(list))
		for i, e := range list {
			s, err := expr(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return "", err
			}
			if l, ok := e.([]any); ok && len(l) > 1 {
				// a flag list as an operand: (syn | ack)
				s = "(" + strings.ReplaceAll(s, ",", " | ") + ")"
			} else if m, ok := e.(map[string]any); ok && i > 0 && isBinop(m) {
				s = "(" + s + ")"
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " "+k+" "), nil
	case "elem":
		return setElem(map[string]any{k: a}, strings.TrimSuffix(path, ".elem"))
	case "accept", "drop", "continue", "return", "jump", "goto", "queue":
		return verdict(k, a, path)
	}
	return primary(k, a, path)
}

func isBinop(m map[string]any) bool {
	for k := range m {
		switch k {
		case "&", "|", "^", "<<", ">>":
			return true
		}
	}
	return false
}

// verdict is a verdict statement or map data.
func verdict(k string, a any, path string) (string, error) {
	switch k {
	case "jump", "goto":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		t, err := str(o, "target", path)
		if err != nil {
			return "", err
		}
		return k + " " + ident(t), nil
	case "queue":
		return "queue", nil
	}
	if a != nil {
		return "", errAt(path, "Verdict %s takes no value", k)
	}
	return k, nil
}

// primary translates the packet-data expressions: payload, exthdr, tcp
// option, meta, ct, rt, fib, socket, osf, numgen, hash, ipsec.
func primary(k string, a any, path string) (string, error) {
	o, err := obj(a, path, k)
	if err != nil {
		return "", err
	}
	s := func(key string) string {
		v, _ := o[key].(string)
		return v
	}
	switch k {
	case "payload":
		if b := s("base"); b != "" {
			off, ok1, err := num(o, "offset", path)
			if err != nil {
				return "", err
			}
			l, ok2, err := num(o, "len", path)
			if err != nil {
				return "", err
			}
			if !ok1 || !ok2 {
				return "", errAt(path, "Raw payload needs 'offset' and 'len'")
			}
			return fmt.Sprintf("@%s,%s,%s", word(b), off, l), nil
		}
		p, err := str(o, "protocol", path)
		if err != nil {
			return "", err
		}
		f, err := str(o, "field", path)
		if err != nil {
			return "", err
		}
		return word(p) + " " + word(f), nil
	case "exthdr":
		n, err := str(o, "name", path)
		if err != nil {
			return "", err
		}
		out := "exthdr " + word(n)
		if n == "rt0" {
			if off, ok, _ := num(o, "offset", path); ok {
				return fmt.Sprintf("rt0 addr[%s]", off), nil
			}
		}
		if f := s("field"); f != "" {
			out += " " + word(f)
		}
		return out, nil
	case "tcp option", "ip option", "sctp chunk":
		n, err := str(o, "name", path)
		if err != nil {
			return "", err
		}
		out := k + " " + word(n)
		if f := s("field"); f != "" {
			out += " " + word(f)
		}
		return out, nil
	case "dccp option":
		t, err := reqNum(o, "type", path)
		if err != nil {
			return "", err
		}
		return "dccp option " + t, nil
	case "meta":
		key, err := str(o, "key", path)
		if err != nil {
			return "", err
		}
		return "meta " + word(key), nil
	case "ct":
		key, err := str(o, "key", path)
		if err != nil {
			return "", err
		}
		// nft 1.0.6 names the family inside the key ("ip saddr") and
		// ignores a "family" property (observed: `nft -j list ruleset`
		// prints {"key": "ip saddr", "dir": "original"}).
		out := "ct"
		if d := s("dir"); d != "" {
			out += " " + word(d)
		}
		for _, f := range strings.Fields(key) {
			out += " " + word(f)
		}
		return out, nil
	case "rt":
		key, err := str(o, "key", path)
		if err != nil {
			return "", err
		}
		out := "rt"
		if f := s("family"); f != "" {
			out += " " + word(f)
		}
		return out + " " + word(key), nil
	case "fib":
		res, err := str(o, "result", path)
		if err != nil {
			return "", err
		}
		fl := strList(o["flags"])
		if len(fl) == 0 {
			return "", errAt(path, "Object has no 'flags' property")
		}
		for i := range fl {
			fl[i] = word(fl[i])
		}
		return "fib " + strings.Join(fl, " . ") + " " + word(res), nil
	case "socket":
		key, err := str(o, "key", path)
		if err != nil {
			return "", err
		}
		out := "socket " + word(key)
		if l, ok, _ := num(o, "level", path); ok {
			out += " level " + l
		}
		return out, nil
	case "osf":
		key, err := str(o, "key", path)
		if err != nil {
			return "", err
		}
		out := "osf"
		if t := s("ttl"); t != "" {
			out += " ttl " + word(t)
		}
		return out + " " + word(key), nil
	case "numgen":
		mode, err := str(o, "mode", path)
		if err != nil {
			return "", err
		}
		mod, ok, err := num(o, "mod", path)
		if err != nil || !ok {
			return "", errAt(path, "Object has no numeric 'mod' property")
		}
		out := "numgen " + word(mode) + " mod " + mod
		if off, ok, _ := num(o, "offset", path); ok && off != "0" {
			out += " offset " + off
		}
		return out, nil
	case "jhash", "symhash":
		mod, ok, err := num(o, "mod", path)
		if err != nil || !ok {
			return "", errAt(path, "Object has no numeric 'mod' property")
		}
		out := k
		if k == "jhash" {
			e, err := expr(o["expr"], path+".expr")
			if err != nil {
				return "", err
			}
			out += " " + e
		}
		out += " mod " + mod
		if seed, ok, _ := num(o, "seed", path); ok {
			out += " seed " + seed
		}
		if off, ok, _ := num(o, "offset", path); ok && off != "0" {
			out += " offset " + off
		}
		return out, nil
	case "ipsec":
		key, err := str(o, "key", path)
		if err != nil {
			return "", err
		}
		out := "ipsec " + word(s("dir"))
		if sp, ok, _ := num(o, "spnum", path); ok && sp != "0" {
			out += " spnum " + sp
		}
		if f := s("family"); f != "" {
			out += " " + word(f)
		}
		return out + " " + word(key), nil
	}
	return "", errAt(path, "Unknown expression type '%s'", k)
}

// setElem is one set element: a value, an "elem" object carrying timeout,
// expires, comment and per-element statements, or a [ KEY, DATA ] pair.
//
// Ref: nftables src/parser_json.c — json_parse_set_elem_expr
func setElem(v any, path string) (string, error) {
	if pair, ok := v.([]any); ok {
		if len(pair) != 2 {
			return "", errAt(path, "Map element must be an array of key and data")
		}
		k, err := setElem(pair[0], path+"[0]")
		if err != nil {
			return "", err
		}
		d, err := expr(pair[1], path+"[1]")
		if err != nil {
			return "", err
		}
		return k + " : " + d, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return expr(v, path)
	}
	inner, ok := m["elem"].(map[string]any)
	if !ok {
		return expr(v, path)
	}
	path += ".elem"
	val, err := expr(inner["val"], path+".val")
	if err != nil {
		return "", err
	}
	out := val
	for _, k := range []string{"timeout", "expires"} {
		if t, ok, err := num(inner, k, path); err != nil {
			return "", err
		} else if ok {
			out += " " + k + " " + t + "s"
		}
	}
	if c, ok := inner["comment"].(string); ok {
		out += " comment " + quote(c)
	}
	for _, k := range elemStmtKeys {
		if sv, ok := inner[k]; ok {
			s, err := stmt(map[string]any{k: sv}, path+"."+jsonKey(k))
			if err != nil {
				return "", err
			}
			out += " " + s
		}
	}
	return out, nil
}

// pair translates an object of two expressions, {"F1": X, "F2": Y}, into
// `X WORD Y` (maps, verdict maps, mangle statements).
func pair(a any, path, k, f1, word, f2 string) (string, error) {
	o, err := obj(a, path, k)
	if err != nil {
		return "", err
	}
	x, err := expr(o[f1], path+"."+f1)
	if err != nil {
		return "", err
	}
	y, err := expr(o[f2], path+"."+f2)
	if err != nil {
		return "", err
	}
	return x + " " + word + " " + y, nil
}
