package jsonin

import (
	"fmt"
	"strings"
)

// stmt translates one statement of a rule's "expr" array.
//
// Ref: nftables src/parser_json.c — json_parse_stmt
func stmt(v any, path string) (string, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", errAt(path, "Malformed statement (expected an object with one key)")
	}
	k, a := single(m)
	path += "." + jsonKey(k)
	switch k {
	case "accept", "drop", "continue", "return", "jump", "goto":
		return verdict(k, a, path)
	case "match":
		return match(a, path)
	case "counter":
		switch x := a.(type) {
		case nil:
			return "counter", nil
		case string:
			return "counter name " + quote(x), nil
		case map[string]any:
			if ref, ok := x["map"]; ok && len(x) == 1 {
				// a reference chosen by a map: counter name tcp dport map @m
				e, err := expr(map[string]any{"map": ref}, path)
				if err != nil {
					return "", err
				}
				return "counter name " + e, nil
			}
			p, _, err := num(x, "packets", path)
			if err != nil {
				return "", err
			}
			b, _, err := num(x, "bytes", path)
			if err != nil {
				return "", err
			}
			if p == "" && b == "" {
				return "counter", nil
			}
			return fmt.Sprintf("counter packets %s bytes %s", orZero(p), orZero(b)), nil
		}
		return "", errAt(path, "Malformed counter")
	case "quota":
		if n, ok := a.(string); ok {
			return "quota name " + quote(n), nil
		}
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		val, err := reqNum(o, "val", path)
		if err != nil {
			return "", err
		}
		out := "quota "
		if inv, _ := o["inv"].(bool); inv {
			out += "over "
		}
		out += val + " " + unit(o, "val_unit", "bytes")
		if u, ok, err := num(o, "used", path); err != nil {
			return "", err
		} else if ok {
			out += " used " + u + " " + unit(o, "used_unit", "bytes")
		}
		return out, nil
	case "limit":
		if n, ok := a.(string); ok {
			return "limit name " + quote(n), nil
		}
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		return limitText(o, path, false)
	case "log":
		if a == nil {
			return "log", nil
		}
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		return logText(o, path)
	case "reject":
		if a == nil {
			return "reject", nil
		}
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		typ, _ := o["type"].(string)
		if typ == "tcp reset" || typ == "tcp rst" {
			return "reject with tcp reset", nil
		}
		e, has := o["expr"]
		if typ == "" {
			if !has {
				return "reject", nil
			}
			typ = "icmpx"
		}
		code := "port-unreachable"
		if has {
			if code, err = expr(e, path+".expr"); err != nil {
				return "", err
			}
		}
		return "reject with " + word(typ) + " type " + code, nil
	case "snat", "dnat", "masquerade", "redirect":
		return nat(k, a, path)
	case "notrack":
		return "notrack", nil
	case "ct count":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		val, ok, err := num(o, "val", path)
		if err != nil || !ok {
			return "", errAt(path, "Object has no numeric 'val' property")
		}
		if inv, _ := o["inv"].(bool); inv {
			return "ct count over " + val, nil
		}
		return "ct count " + val, nil
	case "set":
		// nft 1.0.6 has no "map" statement in JSON ("Unknown statement
		// object 'map'"), so map updates cannot be expressed either.
		return dynset(k, a, path)
	case "vmap":
		return pair(a, path, k, "key", "vmap", "data")
	case "mangle":
		return pair(a, path, k, "key", "set", "value")
	case "ct helper", "ct timeout", "ct expectation":
		s, ok := a.(string)
		if !ok {
			return "", errAt(path, "Expected a string reference")
		}
		return k + " set " + quote(s), nil
	case "secmark":
		s, ok := a.(string)
		if !ok {
			return "", errAt(path, "Expected a string reference")
		}
		return "meta secmark set " + quote(s), nil
	case "queue":
		if a == nil {
			return "queue", nil
		}
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		out := "queue"
		if n, ok := o["num"]; ok {
			s, err := expr(n, path+".num")
			if err != nil {
				return "", err
			}
			out += " num " + s
		}
		if fl := strList(o["flags"]); len(fl) > 0 {
			out += " " + words(fl, ",")
		}
		return out, nil
	case "fwd":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		dev, err := expr(o["dev"], path+".dev")
		if err != nil {
			return "", err
		}
		if ad, ok := o["addr"]; ok {
			addr, err := expr(ad, path+".addr")
			if err != nil {
				return "", err
			}
			fam, _ := o["family"].(string)
			return "fwd " + word(fam) + " to " + addr + " device " + dev, nil
		}
		return "fwd to " + dev, nil
	case "dup":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		addr, err := expr(o["addr"], path+".addr")
		if err != nil {
			return "", err
		}
		out := "dup to " + addr
		if d, ok := o["dev"]; ok {
			dev, err := expr(d, path+".dev")
			if err != nil {
				return "", err
			}
			out += " device " + dev
		}
		return out, nil
	case "tproxy":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		out := "tproxy"
		if f, ok := o["family"].(string); ok {
			out += " " + word(f)
		}
		out += " to "
		if ad, ok := o["addr"]; ok {
			addr, err := expr(ad, path+".addr")
			if err != nil {
				return "", err
			}
			if strings.Contains(addr, ":") {
				addr = "[" + addr + "]"
			}
			out += addr
		}
		if p, ok := o["port"]; ok {
			port, err := expr(p, path+".port")
			if err != nil {
				return "", err
			}
			out += ":" + port
		}
		return out, nil
	case "synproxy":
		if n, ok := a.(string); ok {
			return "synproxy name " + quote(n), nil
		}
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		s, err := synproxyArgs(o, path)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace("synproxy " + s), nil
	case "meter":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		n, err := str(o, "name", path)
		if err != nil {
			return "", err
		}
		key, err := expr(o["key"], path+".key")
		if err != nil {
			return "", err
		}
		st, err := stmt(o["stmt"], path+".stmt")
		if err != nil {
			return "", err
		}
		out := "meter " + word(n)
		if sz, ok, _ := num(o, "size", path); ok {
			out += " size " + sz
		}
		return out + " { " + key + " " + st + " }", nil
	case "flow":
		o, err := obj(a, path, k)
		if err != nil {
			return "", err
		}
		ft, err := str(o, "flowtable", path)
		if err != nil {
			return "", err
		}
		return "flow add " + word(ft), nil
	case "xt":
		return "", errAt(path, "xt statements (iptables-nft) cannot be restored")
	}
	return "", errAt(path, "Unknown statement object '%s'", k)
}

// matchOps are the relational operators of a match statement; "in" is
// OP_IMPLICIT (the form nft prints for a bitmask test).
var matchOps = map[string]string{
	"==": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "in": "",
}

// match is json_parse_match_stmt.
func match(a any, path string) (string, error) {
	o, err := obj(a, path, "match")
	if err != nil {
		return "", err
	}
	op, err := str(o, "op", path)
	if err != nil {
		return "", err
	}
	sym, ok := matchOps[op]
	if !ok {
		return "", errAt(path+".op", "Unknown relational op '%s'", op)
	}
	left, err := expr(o["left"], path+".left")
	if err != nil {
		return "", err
	}
	rv := o["right"]
	if m, ok := o["left"].(map[string]any); ok {
		if meta, ok := m["meta"].(map[string]any); ok && len(m) == 1 {
			if k, _ := meta["key"].(string); ifnameKeys[k] {
				rv = quoteStrings(rv)
			}
		}
	}
	right, err := expr(rv, path+".right")
	if err != nil {
		return "", err
	}
	if _, isBool := o["right"].(bool); isBool && sym == "==" {
		// exists/missing: the text grammar takes a boolean without an
		// operator (nft prints `fib … oif missing`)
		sym = ""
	}
	if sym == "" {
		return left + " " + right, nil
	}
	return left + " " + sym + " " + right, nil
}

func unit(o map[string]any, k, def string) string {
	if u, ok := o[k].(string); ok && u != "" {
		return word(u)
	}
	return def
}

// limitText is a limit statement or a limit object body.
func limitText(o map[string]any, path string, object bool) (string, error) {
	rate, err := reqNum(o, "rate", path)
	if err != nil {
		return "", err
	}
	per := "second"
	if p, ok := o["per"].(string); ok {
		per = p
	}
	ru := "packets"
	if !object {
		ru = unit(o, "rate_unit", "packets")
	}
	out := "limit rate "
	if inv, _ := o["inv"].(bool); inv {
		out += "over "
	}
	if ru == "packets" {
		out += rate + "/" + word(per)
	} else {
		out += rate + " " + word(ru) + "/" + word(per)
	}
	if b, ok, err := num(o, "burst", path); err != nil {
		return "", err
	} else if ok && b != "0" {
		bu := "packets"
		if ru != "packets" {
			bu = unit(o, "burst_unit", "bytes")
			if object {
				bu = "bytes"
			}
		}
		out += " burst " + b + " " + bu
	}
	return out, nil
}

// logText is a log statement with its options.
func logText(o map[string]any, path string) (string, error) {
	out := "log"
	if p, ok := o["prefix"]; ok {
		s, ok := p.(string)
		if !ok {
			return "", errAt(path+".prefix", "Expected a string")
		}
		out += " prefix " + quote(s)
	}
	for _, k := range []string{"group", "snaplen", "queue-threshold"} {
		if v, ok, err := num(o, k, path); err != nil {
			return "", err
		} else if ok {
			out += " " + k + " " + v
		}
	}
	if l, ok := o["level"].(string); ok {
		out += " level " + word(l)
	}
	var tcp []string
	for _, f := range strList(o["flags"]) {
		switch f {
		case "tcp sequence", "tcp options":
			tcp = append(tcp, strings.TrimPrefix(f, "tcp "))
		case "ip options", "skuid", "ether", "all":
			out += " flags " + f
		default:
			return "", errAt(path+".flags", "Unknown log flag '%s'", f)
		}
	}
	if len(tcp) > 0 {
		out += " flags tcp " + strings.Join(tcp, ",")
	}
	return out, nil
}

// nat is snat, dnat, masquerade and redirect.
//
// Ref: nftables src/parser_json.c — json_parse_nat_stmt
func nat(k string, a any, path string) (string, error) {
	if a == nil {
		return k, nil
	}
	o, err := obj(a, path, k)
	if err != nil {
		return "", err
	}
	out := k
	if f, ok := o["family"].(string); ok {
		out += " " + word(f)
	}
	var addr, port string
	if ad, ok := o["addr"]; ok {
		if addr, err = expr(ad, path+".addr"); err != nil {
			return "", err
		}
	}
	if p, ok := o["port"]; ok {
		if port, err = expr(p, path+".port"); err != nil {
			return "", err
		}
	}
	if addr != "" || port != "" {
		out += " to "
		if addr != "" && port != "" && strings.Contains(addr, ":") && !strings.Contains(addr, " ") {
			addr = "[" + addr + "]"
		}
		out += addr
		if port != "" {
			out += ":" + port
		}
	}
	if fl := strList(o["flags"]); len(fl) > 0 {
		out += " " + words(fl, ",")
	}
	return out, nil
}

// dynset is the set/map statement: add, update or delete @set { elem }.
func dynset(k string, a any, path string) (string, error) {
	o, err := obj(a, path, k)
	if err != nil {
		return "", err
	}
	op, err := str(o, "op", path)
	if err != nil {
		return "", err
	}
	switch op {
	case "add", "update", "delete":
	default:
		return "", errAt(path+".op", "Unknown set statement op '%s'", op)
	}
	name, err := str(o, k, path)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(name, "@") || !isWord(name[1:]) {
		return "", errAt(path+"."+k, "Expected a set reference '@name'")
	}
	elem, err := setElem(o["elem"], path+".elem")
	if err != nil {
		return "", err
	}
	if k == "map" {
		data, err := expr(o["data"], path+".data")
		if err != nil {
			return "", err
		}
		elem += " : " + data
	}
	if st, ok := o["stmt"].([]any); ok {
		for i, s := range st {
			t, err := stmt(s, fmt.Sprintf("%s.stmt[%d]", path, i))
			if err != nil {
				return "", err
			}
			elem += " " + t
		}
	}
	return op + " " + name + " { " + elem + " }", nil
}

// synproxyArgs is the body of a synproxy statement or object.
func synproxyArgs(o map[string]any, path string) (string, error) {
	var parts []string
	for _, k := range []string{"mss", "wscale"} {
		if v, ok, err := num(o, k, path); err != nil {
			return "", err
		} else if ok {
			parts = append(parts, k+" "+v)
		}
	}
	if fl := strList(o["flags"]); len(fl) > 0 {
		parts = append(parts, words(fl, " "))
	}
	return strings.Join(parts, " "), nil
}
