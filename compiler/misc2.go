package compiler

// fib, rt, socket, osf, ipsec (xfrm) keys and the tproxy, synproxy and dup
// statements. Ref: src/fib.c, src/rt.c, src/socket.c, src/osf.c, src/xfrm.c,
// src/statement.c; libnftnl src/expr/{fib,rt,socket,osf,xfrm,tproxy,synproxy,dup}.c.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// Key numbers of enum nft_rt_keys and nft_socket_keys; the names are the
// ones libnftnl prints (rt_key2str, socket_key2str).
var rtKeys = map[string]uint32{"classid": 0, "nexthop4": 1, "nexthop6": 2, "tcpmss": 3, "ipsec": 4}
var rtKeyNames = [...]string{"classid", "nexthop4", "nexthop6", "tcpmss", "ipsec"}
var socketKeys = map[string]uint32{"transparent": 0, "mark": 1, "wildcard": 2, "cgroupv2": 3}
var socketKeyNames = [...]string{"transparent", "mark", "wildcard", "cgroupv2"}

// fibFPresent is NFTA_FIB_F_PRESENT: the result is "does a route exist".
const fibFPresent = 32

var fibFlagNames = [...]string{"saddr", "daddr", "mark", "iif", "oif"}
var fibResultNames = [...]string{"unknown", "oif", "oifname", "type"}

var fibFlagBits = map[string]uint32{"saddr": 1, "daddr": 2, "mark": 4, "iif": 8, "oif": 16}
var fibResults = map[string]uint32{"oif": 1, "oifname": 2, "type": 3}

func (r *rulectx) genericKey(t0 tok, dt *dtype, bits int, order byteOrder, mk func(ruleset.Register) ruleset.Expr) *xexpr {
	return &xexpr{kind: xGeneric, dt: dt, bits: bits, order: order, t0: t0, generic: mk}
}

func (r *rulectx) keyPrimary2(t tok) (*xexpr, bool) {
	switch t.s {
	case "fib":
		r.next()
		var fl uint32
		var first, last tok
		for {
			w := r.next()
			if first.kind == 0 {
				first = w
			}
			last = w
			b, ok := fibFlagBits[w.s]
			if !ok {
				r.fail(w, "syntax error, unexpected %s", w.s)
				return nil, true
			}
			fl |= b
			if r.peek().kind == 'o' && r.peek().s == "." {
				r.next()
				continue
			}
			break
		}
		// Ref: parser_bison.y — fib_expr rejects these tuples, underlining
		// the whole tuple.
		span := first
		span.end = last.end
		switch {
		case fl&3 == 0:
			r.fail(span, "fib: need either saddr or daddr")
			return nil, true
		case fl&3 == 3:
			r.fail(span, "fib: saddr and daddr are mutually exclusive")
			return nil, true
		case fl&24 == 24:
			r.fail(span, "fib: iif and oif are mutually exclusive")
			return nil, true
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
		if present {
			fl |= fibFPresent
		}
		res32 := fibResults[res.s]
		return r.genericKey(t, dt, bits, hostEndian, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Fib{DReg: d, Result: res32, Flags: fl}
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
			// Ref: src/evaluate.c — expr_evaluate_rt: the address family
			// must be known, and a nexthop of the other family never matches.
			span := t
			span.end = k.end
			if fam == "" {
				fam = map[ruleset.Family]string{ruleset.FamilyIPv4: "ip", ruleset.FamilyIPv6: "ip6"}[r.fam]
			}
			switch {
			case fam == "":
				r.fail(span, `cannot determine ip protocol version, use "ip nexthop" or "ip6 nexthop" instead`)
				return nil, true
			case fam == "ip" && r.fam == ruleset.FamilyIPv6, fam == "ip6" && r.fam == ruleset.FamilyIPv4:
				r.fail(span, "%s nexthop will not match", fam)
				return nil, true
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
		key := rtKeys[name]
		return r.genericKey(t, dt, bits, order, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Rt{Key: key, DReg: d}
		}), true
	case "socket":
		r.next()
		k := r.next()
		dt, bits := tInteger, 8
		var level uint32
		switch k.s {
		case "transparent", "wildcard":
			bits = 1
		case "mark":
			dt, bits = tMark, 32
		case "cgroupv2":
			if r.accept("level") {
				n := r.next()
				v, err := strconv.ParseUint(n.s, 0, 32)
				if err != nil {
					r.fail(n, "syntax error, unexpected %s", n.s)
					return nil, true
				}
				level = uint32(v)
			}
			bits = 64
		default:
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil, true
		}
		key := socketKeys[k.s]
		return r.genericKey(t, dt, bits, hostEndian, func(d ruleset.Register) ruleset.Expr {
			return &ruleset.Socket{Key: key, DReg: d, Level: level}
		}), true
	case "osf":
		r.next()
		// NFTA_OSF_TTL (NF_OSF_TTL_TRUE 0, LESS 1, NOCHECK 2) and
		// NFTA_OSF_FLAGS (NFT_OSF_F_VERSION) reach the kernel but not
		// libnftnl's debug print; netlink.go strips them.
		ttl := 0
		if r.accept("ttl") {
			switch tt := r.next(); tt.s {
			case "loose":
				ttl = 1
			case "skip":
				ttl = 2
			default:
				r.fail(tt, "invalid ttl option")
				return nil, true
			}
		}
		k := r.next()
		if k.s != "name" && k.s != "version" {
			r.fail(k, "syntax error, unexpected %s", k.s)
			return nil, true
		}
		flags := 0
		if k.s == "version" {
			flags = 1
		}
		return r.genericKey(t, tString, 128, hostEndian, func(d ruleset.Register) ruleset.Expr {
			body := fmt.Sprintf("dreg %d ", d)
			if ttl != 0 {
				body += fmt.Sprintf("ttl %d ", ttl)
			}
			if flags != 0 {
				body += "flags 1 "
			}
			return &ruleset.Generic{Kind: "osf", Body: body}
		}), true
	case "ipsec":
		r.next()
		dir := r.next()
		if dir.s != "in" && dir.s != "out" {
			r.fail(dir, "syntax error, unexpected %s", dir.s)
			return nil, true
		}
		spnum := "0"
		if sp := r.peek(); r.accept("spnum") {
			n := r.next()
			spnum = n.s
			// Ref: src/parser_bison.y — ipsec spnum: an 8-bit index
			if v, ok := parseUint(n.s); ok && v.Uint64() > 255 {
				sp.end = n.end
				r.fail(sp, "value too large")
				return nil, true
			}
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
	// flags are NF_SYNPROXY_OPT_*: the kernel keeps them (NFTA_SYNPROXY_FLAGS)
	// though libnftnl's debug print leaves them out; netlink.go strips them.
	var flags uint32
	for !r.eof() {
		switch t := r.peek(); t.s {
		case "mss":
			r.next()
			mss = r.next().s
			flags |= 0x1
		case "wscale":
			r.next()
			ws = r.next().s
			flags |= 0x2
		case "timestamp":
			r.next()
			flags |= 0x8
		case "sack-perm":
			r.next()
			flags |= 0x4
		default:
			r.emit(&ruleset.Generic{Kind: "synproxy", Body: fmt.Sprintf("mss %s wscale %s flags %d ", mss, ws, flags)})
			return
		}
	}
	r.emit(&ruleset.Generic{Kind: "synproxy", Body: fmt.Sprintf("mss %s wscale %s flags %d ", mss, ws, flags)})
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
	// Ref: src/evaluate.c — stmt_evaluate_tproxy: without a transport
	// protocol match there is no port to redirect to.
	if r.l4 == "" {
		span := kw
		if len(ts) > 0 {
			span.end = ts[len(ts)-1].end
		}
		r.fail(span, "Transparent proxy support requires transport protocol match")
		return
	}
	if r.fam == ruleset.FamilyINet && fam != "" && (r.l3 == "ip" || r.l3 == "ip6") && r.l3 != fam && len(ts) > 0 {
		r.failCtx(kw, ts[len(ts)-1], r.l3At, "conflicting protocols specified: %s vs. %s. You must specify ip or ip6 family in tproxy statement", r.l3, fam)
		return
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
	if r.fam == ruleset.FamilyNetdev && (t.kind == 's' || t.kind == 'w' && !protoWords[t.s] && t.s != "meta") {
		r.next()
		idx, err := r.c.scalar(&xexpr{kind: xMeta, dt: tIfindex, bits: 32, order: hostEndian}, t.s, true)
		if err != nil {
			r.fail(t, "%s", err.Error())
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: idx})
		r.emit(&ruleset.Dup{SRegDev: 1})
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
	dup := &ruleset.Dup{SRegAddr: 1}
	if r.accept("device") {
		d := r.next()
		idx, err := r.c.scalar(&xexpr{kind: xMeta, dt: tIfindex, bits: 32, order: hostEndian}, d.s, true)
		if err != nil {
			r.fail(d, "%s", err.Error())
			return
		}
		r.emit(&ruleset.Immediate{DReg: 2, Data: idx})
		dup.SRegDev = 2
	}
	r.emit(dup)
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
		r.emit(&ruleset.Fwd{SRegDev: 1, SRegAddr: 2, NFProto: uint32(np)})
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
	r.emit(&ruleset.Fwd{SRegDev: 1})
}

// writeExt prints fib, rt, socket, dup and fwd as libnftnl's snprintf
// functions do; flags of fib in bit order, whatever order the rule gave.
// Ref: libnftnl src/expr/{fib,rt,socket,dup,fwd}.c — *_snprintf.
func writeExt(b *strings.Builder, e ruleset.Expr) bool {
	switch x := e.(type) {
	case *ruleset.Fib:
		fl := x.Flags &^ fibFPresent
		for i, n := range fibFlagNames {
			if fl&(1<<i) == 0 {
				continue
			}
			b.WriteString(n)
			fl &^= 1 << i
			if fl != 0 {
				b.WriteString(" . ")
			}
		}
		if fl != 0 {
			fmt.Fprintf(b, "unknown 0x%x", fl)
		}
		res := "unknown"
		if int(x.Result) < len(fibResultNames) {
			res = fibResultNames[x.Result]
		}
		b.WriteString(" " + res)
		if x.Flags&fibFPresent != 0 {
			b.WriteString(" present")
		}
		fmt.Fprintf(b, " => reg %d ", x.DReg)
	case *ruleset.Rt:
		name := "unknown"
		if int(x.Key) < len(rtKeyNames) {
			name = rtKeyNames[x.Key]
		}
		fmt.Fprintf(b, "load %s => reg %d ", name, x.DReg)
	case *ruleset.Socket:
		name := "unknown"
		if int(x.Key) < len(socketKeyNames) {
			name = socketKeyNames[x.Key]
		}
		fmt.Fprintf(b, "load %s => reg %d ", name, x.DReg)
		if x.Key == socketKeys["cgroupv2"] {
			fmt.Fprintf(b, "level %d ", x.Level)
		}
	case *ruleset.Dup:
		if x.SRegAddr != 0 {
			fmt.Fprintf(b, "sreg_addr %d ", x.SRegAddr)
		}
		if x.SRegDev != 0 {
			fmt.Fprintf(b, "sreg_dev %d ", x.SRegDev)
		}
	case *ruleset.Fwd:
		if x.SRegDev != 0 {
			fmt.Fprintf(b, "sreg_dev %d ", x.SRegDev)
		}
		if x.SRegAddr != 0 {
			fmt.Fprintf(b, "sreg_addr %d ", x.SRegAddr)
		}
		if x.NFProto != 0 {
			fmt.Fprintf(b, "nfproto %d ", x.NFProto)
		}
	default:
		return false
	}
	return true
}
