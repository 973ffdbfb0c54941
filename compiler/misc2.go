package compiler

// fib, rt, socket, osf, ipsec (xfrm) keys and the tproxy, synproxy and dup
// statements. Ref: src/fib.c, src/rt.c, src/socket.c, src/osf.c, src/xfrm.c,
// src/statement.c; libnftnl src/expr/{fib,rt,socket,osf,xfrm,tproxy,synproxy,dup}.c.

import (
	"fmt"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

var fibFlagBits = map[string]uint32{"saddr": 1, "daddr": 2, "mark": 4, "iif": 8, "oif": 16}
var fibResults = map[string]uint32{"oif": 1, "oifname": 2, "type": 3}

func (r *rulectx) genericKey(t0 tok, dt *dtype, bits int, order byteOrder, mk func(ruleset.Register) ruleset.Expr) *xexpr {
	return &xexpr{kind: xGeneric, dt: dt, bits: bits, order: order, t0: t0, generic: mk}
}

func (r *rulectx) keyPrimary2(t tok) (*xexpr, bool) {
	switch t.s {
	case "fib":
		r.next()
		var flags []string
		var fl uint32
		for {
			w := r.next()
			b, ok := fibFlagBits[w.s]
			if !ok {
				r.fail(w, "syntax error, unexpected %s", w.s)
				return nil, true
			}
			flags = append(flags, w.s)
			fl |= b
			if r.peek().kind == 'o' && r.peek().s == "." {
				r.next()
				continue
			}
			break
		}
		res := r.next()
		_, ok := fibResults[res.s]
		if !ok {
			r.fail(res, "syntax error, unexpected %s", res.s)
			return nil, true
		}
		present := r.isWord("exists") || r.isWord("missing")
		dt, bits := tIfindex, 32
		switch res.s {
		case "oifname":
			dt, bits = tIfname, 128
		case "type":
			dt = tFibAddr
		}
		if present {
			dt, bits = tBool, 8
		}
		body := strings.Join(flags, " . ") + " " + res.s
		if present {
			body += " present"
			fl |= 32
		}
		return r.genericKey(t, dt, bits, hostEndian, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Generic{Kind: "fib", Body: fmt.Sprintf("%s => reg %d ", body, d)}
		}), true
	case "rt":
		r.next()
		fam := ""
		if r.isWord("ip") || r.isWord("ip6") {
			fam = r.next().s
		}
		k := r.next()
		name, dt, bits, order := k.s, tRealm, 32, hostEndian
		switch k.s {
		case "classid":
		case "nexthop":
			if fam == "" {
				fam = map[ruleset.Family]string{ruleset.FamilyIPv4: "ip", ruleset.FamilyIPv6: "ip6"}[r.fam]
			}
			name, dt, bits, order = "nexthop4", tIPv4, 32, bigEndian
			if fam == "ip6" {
				name, dt, bits = "nexthop6", tIPv6, 128
			}
		case "mtu":
			name, dt, bits = "tcpmss", tInteger, 16
		case "ipsec":
			dt, bits = tBool, 8
		default:
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil, true
		}
		return r.genericKey(t, dt, bits, order, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Generic{Kind: "rt", Body: fmt.Sprintf("load %s => reg %d ", name, d)}
		}), true
	case "socket":
		r.next()
		k := r.next()
		dt, bits := tInteger, 8
		extra := ""
		switch k.s {
		case "transparent", "wildcard":
			bits = 1
		case "mark":
			dt, bits = tMark, 32
		case "cgroupv2":
			if r.accept("level") {
				n := r.next()
				extra = "level " + n.s + " "
			}
			bits = 64
		default:
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil, true
		}
		return r.genericKey(t, dt, bits, hostEndian, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Generic{Kind: "socket", Body: fmt.Sprintf("load %s => reg %d %s", k.s, d, extra)}
		}), true
	case "osf":
		r.next()
		if r.accept("ttl") {
			r.next()
		}
		k := r.next()
		if k.s != "name" && k.s != "version" {
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil, true
		}
		return r.genericKey(t, tString, 128, hostEndian, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Generic{Kind: "osf", Body: fmt.Sprintf("dreg %d ", d)}
		}), true
	case "ipsec":
		r.next()
		dir := r.next()
		if dir.s != "in" && dir.s != "out" {
			r.fail(dir, "syntax error, unexpected %s", dir.s)
			return nil, true
		}
		spnum := "0"
		if r.accept("spnum") {
			spnum = r.next().s
		}
		k := r.next()
		name, dt, bits, order := k.s, tInteger, 32, hostEndian
		switch k.s {
		case "reqid":
		case "spi":
			order = bigEndian
		case "ip", "ip6":
			a := r.next()
			if a.s != "saddr" && a.s != "daddr" {
				r.fail(a, "syntax error, unexpected %s", a.s)
				return nil, true
			}
			if k.s == "ip" {
				name, dt, bits, order = a.s+"4", tIPv4, 32, bigEndian
			} else {
				name, dt, bits, order = a.s+"6", tIPv6, 128, bigEndian
			}
		default:
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil, true
		}
		return r.genericKey(t, dt, bits, order, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Generic{Kind: "xfrm", Body: fmt.Sprintf("load %s %s %s => reg %d ", dir.s, spnum, name, d)}
		}), true
	}
	return nil, false
}

func (r *rulectx) synproxyStmt() {
	r.next()
	mss, ws := "0", "0"
	for !r.eof() {
		switch t := r.peek(); t.s {
		case "mss":
			r.next()
			mss = r.next().s
		case "wscale":
			r.next()
			ws = r.next().s
		case "timestamp", "sack-perm":
			r.next()
		default:
			r.emit(&ruleset.Generic{Kind: "synproxy", Body: "mss " + mss + " wscale " + ws + " "})
			return
		}
	}
	r.emit(&ruleset.Generic{Kind: "synproxy", Body: "mss " + mss + " wscale " + ws + " "})
}

func (r *rulectx) tproxyStmt() {
	kw := r.next()
	fam := ""
	if r.isWord("ip") || r.isWord("ip6") {
		fam = r.next().s
	}
	if !r.accept("to") {
		r.unexpected()
		return
	}
	ff := fam
	switch r.fam {
	case ruleset.FamilyIPv4:
		ff = "ip"
	case ruleset.FamilyIPv6:
		ff = "ip6"
	}
	var ts []tok
	for !r.eof() {
		p := r.peek()
		if len(ts) > 0 && p.kind == 'w' && ts[len(ts)-1].kind == 'w' {
			break
		}
		ts = append(ts, r.next())
	}
	text := joinToks(ts)
	addrText, portText := text, ""
	if m := reBracketNAT.FindStringSubmatch(text); m != nil {
		addrText, portText = m[1], m[4]
	} else if strings.HasPrefix(text, ":") {
		addrText, portText = "", text[1:]
	} else if ff != "ip6" {
		if i := strings.LastIndexByte(text, ':'); i >= 0 {
			addrText, portText = text[:i], text[i+1:]
		}
	}
	body := ""
	if ff != "" {
		body = ff + " "
	}
	reg := 1
	if addrText != "" {
		at := tIPv4
		if ff == "ip6" {
			at = tIPv6
		}
		if ff == "" {
			r.fail(kw, "conflicting protocols specified")
			return
		}
		lo, _, ok := r.natRange(&xexpr{kind: xMeta, dt: at, bits: at.bits, order: bigEndian, t0: ts[0]}, addrText, ts[0])
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: lo})
		body += "addr reg 1 "
		reg = 2
	}
	if portText != "" {
		lo, _, ok := r.natRange(&xexpr{kind: xMeta, dt: tService, bits: 16, order: bigEndian, t0: ts[0]}, portText, ts[0])
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: ruleset.Register(reg), Data: lo})
		body += fmt.Sprintf("port reg %d ", reg)
	}
	r.emit(&ruleset.Generic{Kind: "tproxy", Body: body})
}

func (r *rulectx) dupStmt() {
	r.next()
	if !r.accept("to") {
		r.unexpected()
		return
	}
	t := r.peek()
	body := ""
	if r.fam == ruleset.FamilyNetdev && (t.kind == 's' || t.kind == 'w' && !protoWords[t.s] && t.s != "meta") {
		r.next()
		idx, err := r.c.scalar(&xexpr{kind: xMeta, dt: tIfindex, bits: 32, order: hostEndian}, t.s, true)
		if err != nil {
			r.fail(t, "%s", err.Error())
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: idx})
		r.emit(&ruleset.Generic{Kind: "dup", Body: "sreg_dev 1 "})
		return
	}
	at := tIPv4
	if r.fam == ruleset.FamilyIPv6 {
		at = tIPv6
	}
	addr := &xexpr{kind: xMeta, dt: at, bits: at.bits, order: bigEndian, t0: t}
	if t.kind == 'w' && (protoWords[t.s] || t.s == "meta" || t.s == "ct") {
		key := r.keyExpr()
		if key == nil || !r.accept("map") || !r.mapLookup(key, addr) {
			if !r.bad {
				r.unexpected()
			}
			return
		}
	} else {
		v, ok := r.value(addr)
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: v.from})
	}
	body = "sreg_addr 1 "
	if r.accept("device") {
		d := r.next()
		idx, err := r.c.scalar(&xexpr{kind: xMeta, dt: tIfindex, bits: 32, order: hostEndian}, d.s, true)
		if err != nil {
			r.fail(d, "%s", err.Error())
			return
		}
		r.emit(&ruleset.Immediate{DReg: 2, Data: idx})
		body += "sreg_dev 2 "
	}
	r.emit(&ruleset.Generic{Kind: "dup", Body: body})
}

// fwdStmt: netdev `fwd to DEV`, `fwd to KEY map { … }`, `fwd ip|ip6 to ADDR device DEV`.
func (r *rulectx) fwdStmt() {
	r.next()
	fam := ""
	if r.isWord("ip") || r.isWord("ip6") {
		fam = r.next().s
	}
	if !r.accept("to") {
		r.unexpected()
		return
	}
	ifx := &xexpr{kind: xMeta, dt: tIfindex, bits: 32, order: hostEndian}
	t := r.peek()
	if fam != "" {
		at := tIPv4
		if fam == "ip6" {
			at = tIPv6
		}
		v, ok := r.value(&xexpr{kind: xMeta, dt: at, bits: at.bits, order: bigEndian, t0: t})
		if !ok {
			return
		}
		if !r.accept("device") {
			r.unexpected()
			return
		}
		d := r.next()
		idx, err := r.c.scalar(ifx, d.s, true)
		if err != nil {
			r.fail(d, "%s", err.Error())
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: idx})
		r.emit(&ruleset.Immediate{DReg: 2, Data: v.from})
		np := 2
		if fam == "ip6" {
			np = 10
		}
		r.emit(&ruleset.Generic{Kind: "fwd", Body: fmt.Sprintf("sreg_dev 1 sreg_addr 2 nfproto %d ", np)})
		return
	}
	if t.kind == 'w' && exprStart[t.s] {
		key := r.keyExpr()
		if key == nil || !r.accept("map") || !r.mapLookup(key, &xexpr{kind: xMeta, dt: tIfindex, bits: 32, order: hostEndian, t0: t}) {
			if !r.bad {
				r.unexpected()
			}
			return
		}
	} else {
		r.next()
		idx, err := r.c.scalar(ifx, t.s, true)
		if err != nil {
			r.fail(t, "%s", err.Error())
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: idx})
	}
	r.emit(&ruleset.Generic{Kind: "fwd", Body: "sreg_dev 1 "})
}
