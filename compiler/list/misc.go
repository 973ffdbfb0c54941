package list

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// keyExpr is a keyword expression with a datatype: `rt mtu`, `socket
// mark`, `fib daddr oif`, `ipsec in reqid`, `osf name`, `numgen inc mod 2`,
// `jhash ip saddr mod 2` — anything that loads a value and prints as text.
type keyExpr struct {
	s  string
	j  any
	dt *dtype
}

func (k *keyExpr) dtype() *dtype           { return k.dt }
func (k *keyExpr) text(b *strings.Builder) { b.WriteString(k.s) }
func (k *keyExpr) json() any               { return k.j }

var dtFibAddr = &dtype{num: 38, name: "fib_addrtype", bits: 32, order: boHost, kind: kSymbol, syms: []sym{
	{"unspec", 0}, {"unicast", 1}, {"local", 2}, {"broadcast", 3}, {"anycast", 4}, {"multicast", 5},
	{"blackhole", 6}, {"unreachable", 7}, {"prohibit", 8}}}

// rt loads routing information.
//
// Ref: nftables src/rt.c — rt_templates, rt_expr_print
func (c *rctx) rt(x *ruleset.Rt) {
	var name string
	var dt *dtype
	nb := 32
	o := boHost
	fam := ""
	switch x.Key {
	case 0:
		name, dt = "classid", dtRealm
	case 1:
		name, dt, o, fam = "nexthop", dtIPv4, boBig, "ip"
	case 2:
		name, dt, nb, o, fam = "nexthop", dtIPv6, 128, boBig, "ip6"
	case 3:
		name, dt, nb = "mtu", dtInteger, 16
	case 4:
		name, dt, nb = "ipsec", dtBoolean, 8
	default:
		name, dt = fmt.Sprintf("unknown-%d", x.Key), dtInteger
	}
	s := "rt " + name
	j := jobj{{"key", name}}
	if fam != "" {
		s = "rt " + fam + " " + name
		j = append(j, jkv{"family", fam})
	}
	c.set(x.DReg, &regVal{e: &keyExpr{s: s, j: jobj{{"rt", j}}, dt: dt}, bits: nb, order: o})
}

// socket loads socket information.
//
// Ref: nftables src/socket.c — socket_templates, socket_expr_print
func (c *rctx) socket(x *ruleset.Socket) {
	names := []string{"transparent", "mark", "wildcard", "cgroupv2"}
	name := fmt.Sprintf("unknown-%d", x.Key)
	if int(x.Key) < len(names) {
		name = names[x.Key]
	}
	dt, nb := dtInteger, 8
	switch x.Key {
	case 1:
		dt, nb = dtMark, 32
	case 3:
		nb = 64
	}
	s := "socket " + name
	if x.Key == 3 {
		s += fmt.Sprintf(" level %d", x.Level)
	}
	c.set(x.DReg, &regVal{e: &keyExpr{s: s, j: jobj{{"socket", jobj{{"key", name}}}}, dt: dt}, bits: nb, order: boHost})
}

// fib loads a FIB lookup result.
//
// Ref: nftables src/fib.c — fib_expr_print, fib_expr_json
func (c *rctx) fib(x *ruleset.Fib) {
	var fl []string
	var jf []any
	for _, f := range []struct {
		bit  uint32
		name string
	}{{1, "saddr"}, {2, "daddr"}, {4, "mark"}, {8, "iif"}, {16, "oif"}} {
		if x.Flags&f.bit != 0 {
			fl = append(fl, f.name)
			jf = append(jf, f.name)
		}
	}
	res := map[uint32]string{1: "oif", 2: "oifname", 3: "type"}[x.Result]
	if res == "" {
		res = "unknown"
	}
	dt, nb := dtIfindex, 32
	switch x.Result {
	case 2:
		dt, nb = dtIfname, 128
	case 3:
		dt = dtFibAddr
	}
	if x.Flags&32 != 0 {
		dt, nb = dtBoolean, 8
	}
	s := "fib " + strings.Join(fl, " . ") + " " + res
	j := jobj{{"result", res}}
	if len(jf) > 0 {
		j = append(j, jkv{"flags", jf})
	}
	c.set(x.DReg, &regVal{e: &keyExpr{s: s, j: jobj{{"fib", j}}, dt: dt}, bits: nb, order: boHost})
}

// hash is jhash over registers or symhash.
//
// Ref: nftables src/hash.c — hash_expr_print
func (c *rctx) hash(x *ruleset.Hash) {
	var b strings.Builder
	j := jobj{}
	if x.Type == 1 {
		b.WriteString("symhash")
		fmt.Fprintf(&b, " mod %d", x.Modulus)
		j = append(j, jkv{"mod", x.Modulus})
	} else {
		es, _ := c.keyExprs(x.SReg, x.Len)
		k := joinKey(es)
		b.WriteString("jhash ")
		k.text(&b)
		fmt.Fprintf(&b, " mod %d", x.Modulus)
		j = append(j, jkv{"mod", x.Modulus})
		if x.HasSeed {
			fmt.Fprintf(&b, " seed 0x%x", x.Seed)
		}
		if x.HasSeed {
			j = append(j, jkv{"seed", x.Seed})
		}
	}
	if x.Offset != 0 {
		fmt.Fprintf(&b, " offset %d", x.Offset)
		j = append(j, jkv{"offset", x.Offset})
	}
	if x.Type != 1 {
		es, _ := c.keyExprs(x.SReg, x.Len)
		j = append(j, jkv{"expr", joinKey(es).json()})
	}
	name := "jhash"
	if x.Type == 1 {
		name = "symhash"
	}
	c.set(x.DReg, &regVal{e: &keyExpr{s: b.String(), j: jobj{{name, j}}, dt: dtInteger}, bits: 32, order: boHost})
}

// numgen generates a number.
//
// Ref: nftables src/numgen.c — numgen_expr_print
func (c *rctx) numgen(x *ruleset.Numgen) {
	mode := "inc"
	if x.Type == 1 {
		mode = "random"
	}
	s := fmt.Sprintf("numgen %s mod %d", mode, x.Modulus)
	j := jobj{{"mode", mode}, {"mod", x.Modulus}, {"offset", x.Offset}}
	if x.Offset != 0 {
		s += fmt.Sprintf(" offset %d", x.Offset)
	}
	c.set(x.DReg, &regVal{e: &keyExpr{s: s, j: jobj{{"numgen", j}}, dt: dtInteger}, bits: 32, order: boHost})
}

// objref runs a named object, by name or through a map.
//
// Ref: nftables src/statement.c — objref_stmt_print
func (c *rctx) objref(x *ruleset.Objref) {
	prefix := map[uint32]string{1: "counter name", 2: "quota name", 3: "ct helper set", 4: "limit name",
		7: "ct timeout set", 8: "meta secmark set", 9: "ct expectation set", 10: "synproxy name"}[x.Type]
	jname := map[uint32]string{1: "counter", 2: "quota", 3: "ct helper", 4: "limit", 7: "ct timeout",
		8: "secmark", 9: "ct expectation", 10: "synproxy"}[x.Type]
	if prefix == "" {
		prefix, jname = "objref", "objref"
	}
	if x.SetName != "" {
		s := c.findSet(x.SetName)
		if s != nil && prefix == "objref" {
			prefix = map[uint32]string{1: "counter name", 2: "quota name", 3: "ct helper set", 4: "limit name",
				7: "ct timeout set", 8: "meta secmark set", 9: "ct expectation set", 10: "synproxy name"}[s.ObjType]
			jname = objTypeNames[s.ObjType]
			if prefix == "" {
				prefix, jname = "objref", "objref"
			}
		}
		es, rvs := c.keyExprs(x.SReg, 0)
		key := joinKey(es)
		var m expr = &setRefExpr{name: x.SetName}
		if s != nil && s.Flags&ruleset.SetAnonymous != 0 {
			m = &setExpr{elems: c.decodeKeyed(s, es, rvs, nil), anon: true}
		}
		me := &mapExpr{key: key, m: m}
		c.emit(&plainStmt{s: prefix + " " + exprText(me), j: jobj{{jname, me.json()}}})
		return
	}
	c.emit(&plainStmt{s: prefix + " " + strconv.Quote(x.ObjName), j: jobj{{jname, x.ObjName}}})
}

// dup and fwd send a copy / the packet elsewhere.
//
// Ref: nftables src/statement.c — dup_stmt_print, fwd_stmt_print
func (c *rctx) dup(x *ruleset.Dup) {
	var b strings.Builder
	b.WriteString("dup to ")
	j := jobj{}
	if x.SRegAddr != 0 {
		adt, nb := dtIPv4, 32
		if c.family == ruleset.FamilyIPv6 {
			adt, nb = dtIPv6, 128
		}
		a := c.typed(c.get(x.SRegAddr), adt, boBig, nb)
		a.text(&b)
		j = append(j, jkv{"addr", a.json()})
		if x.SRegDev != 0 {
			d := c.typed(c.get(x.SRegDev), dtIfindex, boHost, 32)
			b.WriteString(" device ")
			d.text(&b)
			j = append(j, jkv{"dev", d.json()})
		}
		c.emit(&plainStmt{s: b.String(), j: jobj{{"dup", j}}})
		return
	}
	d := c.typed(c.get(x.SRegDev), dtIfindex, boHost, 32)
	d.text(&b)
	// dup_stmt_json: the device is the "to" of a device-only dup
	c.emit(&plainStmt{s: b.String(), j: jobj{{"dup", jobj{{"addr", d.json()}}}}})
}

func (c *rctx) fwd(x *ruleset.Fwd) {
	d := c.typed(c.get(x.SRegDev), dtIfindex, boHost, 32)
	j := jobj{{"dev", d.json()}}
	if x.SRegAddr != 0 {
		adt, nb, fam := dtIPv4, 32, "ip"
		if x.NFProto == uint32(ruleset.FamilyIPv6) {
			adt, nb, fam = dtIPv6, 128, "ip6"
		}
		a := c.typed(c.get(x.SRegAddr), adt, boBig, nb)
		j = append(j, jkv{"family", fam}, jkv{"addr", a.json()})
		c.emit(&plainStmt{s: "fwd " + fam + " to " + exprText(a) + " device " + exprText(d), j: jobj{{"fwd", j}}})
		return
	}
	c.emit(&plainStmt{s: "fwd to " + exprText(d), j: jobj{{"fwd", j}}})
}

// generic decodes expressions the IR keeps as netlink debug text: xfrm
// (ipsec), osf, tproxy, synproxy; anything else prints as a comment.
//
// Ref: nftables src/xfrm.c — xfrm_expr_print; src/osf.c — osf_expr_print;
// src/statement.c — tproxy_stmt_print
func (c *rctx) generic(g *ruleset.Generic) {
	f := strings.Fields(g.Body)
	switch g.Kind {
	case "exthdr", "rt", "socket", "fib", "hash", "numgen", "objref", "dup", "fwd":
		if e, err := parseGenericBody(g.Kind, g.Body); err == nil {
			c.expr(e)
			return
		}
	case "xfrm":
		// load in 0 reqid => reg 1
		if len(f) >= 6 && f[0] == "load" {
			spnum, _ := strconv.Atoi(f[2])
			key := f[3]
			var b strings.Builder
			b.WriteString("ipsec " + f[1])
			if spnum != 0 {
				fmt.Fprintf(&b, " spnum %d", spnum)
			}
			dt, nb, o := dtInteger, 32, boHost
			jk := key
			switch key {
			case "saddr4", "daddr4":
				b.WriteString(" ip " + key[:5])
				dt, o = dtIPv4, boBig
				jk = key[:5]
			case "saddr6", "daddr6":
				b.WriteString(" ip6 " + key[:5])
				dt, nb, o = dtIPv6, 128, boBig
				jk = key[:5]
			case "spi":
				b.WriteString(" spi")
				o = boBig
			default:
				b.WriteString(" " + key)
			}
			j := jobj{{"key", jk}}
			switch key {
			case "saddr4", "daddr4":
				j = append(j, jkv{"family", "ip"})
			case "saddr6", "daddr6":
				j = append(j, jkv{"family", "ip6"})
			}
			j = append(j, jkv{"dir", f[1]}, jkv{"spnum", spnum})
			r, _ := strconv.Atoi(f[len(f)-1])
			c.set(ruleset.Register(r), &regVal{e: &keyExpr{s: b.String(), j: jobj{{"ipsec", j}}, dt: dt}, bits: nb, order: o})
			return
		}
	case "osf":
		// dreg 1 [ttl N] [flags 0x1]
		if len(f) >= 2 && f[0] == "dreg" {
			r, _ := strconv.Atoi(f[1])
			ttl, flags := 0, uint64(0)
			for i := 2; i+1 < len(f); i++ {
				switch f[i] {
				case "ttl":
					ttl, _ = strconv.Atoi(f[i+1])
				case "flags":
					flags, _ = strconv.ParseUint(strings.TrimPrefix(f[i+1], "0x"), 16, 32)
				}
			}
			var b strings.Builder
			b.WriteString("osf ")
			j := jobj{}
			switch ttl {
			case 1:
				b.WriteString("ttl loose ")
			case 2:
				b.WriteString("ttl skip ")
			}
			key := "name"
			if flags&1 != 0 {
				key = "version"
			}
			b.WriteString(key)
			j = append(j, jkv{"key", key})
			switch ttl {
			case 1:
				j = append(j, jkv{"ttl", "loose"})
			case 2:
				j = append(j, jkv{"ttl", "skip"})
			}
			c.set(ruleset.Register(r), &regVal{e: &keyExpr{s: b.String(), j: jobj{{"osf", j}}, dt: dtString}, bits: 128, order: boHost})
			return
		}
	case "tproxy":
		// [ip|ip6] [addr reg N] [port reg M]
		fam := ""
		var addr, port ruleset.Register
		for i := 0; i < len(f); i++ {
			switch f[i] {
			case "ip", "ip6":
				fam = f[i]
			case "addr":
				if i+2 < len(f) {
					n, _ := strconv.Atoi(f[i+2])
					addr = ruleset.Register(n)
				}
			case "port":
				if i+2 < len(f) {
					n, _ := strconv.Atoi(f[i+2])
					port = ruleset.Register(n)
				}
			}
		}
		var b strings.Builder
		b.WriteString("tproxy")
		j := jobj{}
		if c.family == ruleset.FamilyINet && fam != "" {
			b.WriteString(" " + fam)
			j = append(j, jkv{"family", fam})
		}
		b.WriteString(" to")
		if addr != 0 {
			adt, nb := dtIPv4, 32
			if fam == "ip6" || c.family == ruleset.FamilyIPv6 {
				adt, nb = dtIPv6, 128
			}
			a := c.typed(c.get(addr), adt, boBig, nb)
			if adt == dtIPv6 {
				b.WriteString(" [" + exprText(a) + "]")
			} else {
				b.WriteString(" " + exprText(a))
			}
			j = append(j, jkv{"addr", a.json()})
		}
		if port != 0 {
			p := c.typed(c.get(port), dtInetService, boBig, 16)
			if addr == 0 {
				b.WriteString(" ")
			}
			b.WriteString(":" + exprText(p))
			j = append(j, jkv{"port", p.json()})
		}
		c.emit(&plainStmt{s: b.String(), j: jobj{{"tproxy", j}}})
		return
	case "synproxy":
		// mss N wscale N flags F (NF_SYNPROXY_OPT_*). nft 1.0.6 prints mss and
		// wscale together when either option is set, and JSON only those set.
		var mss, ws, flags uint64
		for i := 0; i+1 < len(f); i++ {
			v, _ := strconv.ParseUint(f[i+1], 0, 32)
			switch f[i] {
			case "mss":
				mss = v
			case "wscale":
				ws = v
			case "flags":
				flags = v
			}
		}
		var b strings.Builder
		b.WriteString("synproxy")
		j := jobj{}
		if flags&0x3 != 0 {
			fmt.Fprintf(&b, " mss %d wscale %d", mss, ws)
		}
		if flags&0x1 != 0 {
			j = append(j, jkv{"mss", mss})
		}
		if flags&0x2 != 0 {
			j = append(j, jkv{"wscale", ws})
		}
		var fl []any
		if flags&0x8 != 0 {
			b.WriteString(" timestamp")
			fl = append(fl, "timestamp")
		}
		if flags&0x4 != 0 {
			b.WriteString(" sack-perm")
			fl = append(fl, "sack-perm")
		}
		if len(fl) > 0 {
			j = append(j, jkv{"flags", fl})
		}
		var jv any = j
		if len(j) == 0 {
			jv = nil
		}
		c.emit(&plainStmt{s: b.String(), j: jobj{{"synproxy", jv}}})
		return
	}
	if g.Kind == "flow_offload" && len(f) == 2 && f[0] == "flowtable" {
		// Ref: nftables src/statement.c — flow_offload_stmt_print;
		// src/json.c — flow_offload_stmt_json
		c.emit(&plainStmt{s: "flow add @" + f[1], j: jobj{{"flow", jobj{{"op", "add"}, {"flowtable", "@" + f[1]}}}}})
		return
	}
	c.emit(&plainStmt{s: "# unknown " + g.Kind, j: jobj{{"unknown", g.Kind}}})
}
