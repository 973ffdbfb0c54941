package compiler

// Non-match statements. Ref: src/parser_bison.y — *_stmt rules;
// src/evaluate.c — stmt_evaluate_*; src/netlink_linearize.c —
// netlink_gen_*_stmt.

import (
	"regexp"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

func (r *rulectx) connlimitStmt() {
	cl := &ruleset.Connlimit{}
	if r.isWord("over") {
		r.next()
		cl.Flags = ruleset.ConnlimitInvert
	}
	n := r.next()
	v, ok := parseUint(n.s)
	if !ok || v.BitLen() > 32 {
		r.fail(n, "syntax error, unexpected %s", n.s)
		return
	}
	cl.Count = uint32(v.Uint64())
	r.emit(cl)
}

var byteUnits = map[string]uint64{"bytes": 1, "kbytes": 1024, "mbytes": 1024 * 1024}
var timeUnits = map[string]uint64{"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}

func (r *rulectx) limitStmt() {
	r.next()
	if r.isWord("name") {
		r.next()
		r.objrefStmt("limit")
		return
	}
	if !r.accept("rate") {
		r.unexpected()
		return
	}
	l := &ruleset.Limit{}
	if r.isWord("over") {
		r.next()
		l.Flags = ruleset.LimitInvert
	} else if r.isWord("until") {
		r.next()
	}
	// N/unit or N bytes/unit
	t := r.next()
	num, rest, _ := strings.Cut(t.s, "/")
	rate, ok := parseUint(num)
	if !ok {
		r.fail(t, "syntax error, unexpected %s", t.s)
		return
	}
	unitTok := t
	if rest == "" {
		u := r.next()
		unitTok = u
		bu, per, found := strings.Cut(u.s, "/")
		if !found && r.peek().s == "/" {
			r.next()
			pt := r.next()
			per, found = pt.s, true
		}
		if !found {
			r.fail(u, "syntax error, unexpected %s", u.s)
			return
		}
		mul, ok := byteUnits[bu]
		if !ok {
			r.fail(u, "syntax error, unexpected %s", u.s)
			return
		}
		l.Type = ruleset.LimitBytes
		rest = per
		l.Rate = rate.Uint64() * mul
	} else {
		l.Rate = rate.Uint64()
	}
	unit, ok := timeUnits[rest]
	if !ok {
		r.fail(unitTok, "syntax error, unexpected %s", rest)
		return
	}
	l.Unit = unit
	if l.Type == ruleset.LimitPackets {
		l.Burst = 5
	}
	if r.isWord("burst") {
		r.next()
		b := r.next()
		n, ok := parseUint(b.s)
		if !ok {
			r.fail(b, "syntax error, unexpected %s", b.s)
			return
		}
		mul := uint64(1)
		if u := r.peek(); u.kind == 'w' {
			if m, ok := byteUnits[u.s]; ok {
				r.next()
				mul = m
				if l.Type != ruleset.LimitBytes {
					r.fail(u, "syntax error, unexpected %s", u.s)
					return
				}
			} else if u.s == "packets" {
				r.next()
				if l.Type != ruleset.LimitPackets {
					r.fail(u, "syntax error, unexpected %s", u.s)
					return
				}
			}
		}
		if n.Sign() == 0 && l.Type == ruleset.LimitPackets {
			r.fail(b, "limit burst must be > 0")
			return
		}
		l.Burst = uint32(n.Uint64() * mul)
	}
	if l.Rate == 0 {
		r.fail(t, "limit rate must be > 0")
		return
	}
	r.emit(l)
}

func (r *rulectx) quotaStmt() {
	r.next()
	if r.isWord("name") {
		r.next()
		r.objrefStmt("quota")
		return
	}
	q := &ruleset.Quota{}
	if r.isWord("over") {
		r.next()
		q.Flags = ruleset.QuotaInvert
	} else if r.isWord("until") {
		r.next()
	}
	var ok bool
	q.Bytes, ok = r.byteCount()
	if !ok {
		return
	}
	if r.isWord("used") {
		r.next()
		q.Consumed, ok = r.byteCount()
		if !ok {
			return
		}
	}
	r.emit(q)
}

func (r *rulectx) byteCount() (uint64, bool) {
	t := r.next()
	n, ok := parseUint(t.s)
	if !ok {
		r.fail(t, "syntax error, unexpected %s", t.s)
		return 0, false
	}
	u := r.next()
	mul, ok := byteUnits[u.s]
	if !ok {
		r.fail(u, "syntax error, unexpected %s", u.s)
		return 0, false
	}
	return n.Uint64() * mul, true
}

var logLevels = map[string]uint32{"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warn": 4, "notice": 5, "info": 6, "debug": 7, "audit": 8}

func (r *rulectx) logStmt() {
	r.logTok = r.next()
	l := &ruleset.Log{}
	for !r.eof() {
		t := r.peek()
		switch t.s {
		case "prefix":
			r.next()
			p := r.next()
			l.Prefix, l.HasPrefix = p.s, true
		case "level":
			r.next()
			lv := r.next()
			v, ok := logLevels[lv.s]
			if !ok {
				r.fail(lv, "invalid log level")
				return
			}
			l.Level, l.HasLevel = v, true
		case "group":
			v, ok := r.optUint()
			if !ok {
				return
			}
			l.Group, l.HasGroup = uint16(v), true
		case "snaplen":
			v, ok := r.optUint()
			if !ok {
				return
			}
			l.Snaplen, l.HasSnaplen = uint32(v), true
		case "queue-threshold":
			v, ok := r.optUint()
			if !ok {
				return
			}
			l.Qthreshold, l.HasQthresh = uint16(v), true
		case "flags":
			r.next()
			f := r.next()
			switch f.s {
			case "all":
				l.Flags |= 0x2f // NF_LOG_MASK
			case "tcp":
				o := r.next()
				for _, p := range strings.Split(o.s, ",") {
					switch p {
					case "sequence":
						l.Flags |= 1
					case "options":
						l.Flags |= 2
					}
				}
				for r.peek().s == "," {
					r.next()
					o := r.next()
					switch o.s {
					case "sequence":
						l.Flags |= 1
					case "options":
						l.Flags |= 2
					}
				}
			case "ip":
				r.next()
				l.Flags |= 4
			case "skuid":
				l.Flags |= 8
			case "ether":
				l.Flags |= 0x20 // NF_LOG_MACDECODE
			default:
				r.fail(f, "syntax error, unexpected %s", f.s)
				return
			}
		default:
			r.emitLog(l)
			return
		}
	}
	r.emitLog(l)
}

func (r *rulectx) emitLog(l *ruleset.Log) {
	if l.HasLevel && (l.HasGroup || l.HasSnaplen || l.HasQthresh) {
		r.fail(r.logTok, "level and group are mutually exclusive")
		return
	}
	if l.HasGroup && l.Flags != 0 {
		r.fail(r.logTok, "flags and group are mutually exclusive")
		return
	}
	if l.HasLevel && l.Level == 8 && (l.HasPrefix || l.Flags != 0) {
		r.fail(r.logTok, "log level audit doesn't support any further options")
		return
	}
	r.emit(l)
}

// prependDep puts a statement dependency at the start of the rule, where
// nft inserts it. Ref: src/evaluate.c — stmt_dependency_evaluate.
func (r *rulectx) prependDep(k ruleset.MetaKey, data []byte) {
	dep := []ruleset.Expr{&ruleset.Meta{Key: k, DReg: 1}, &ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: data}}
	r.exprs = append(dep, r.exprs...)
}

func (r *rulectx) rejectStmt() {
	kw := r.next()
	if (r.fam == ruleset.FamilyBridge || r.fam == ruleset.FamilyNetdev || r.fam == ruleset.FamilyINet) && r.l3 == "arp" {
		// Ref: src/evaluate.c — stmt_evaluate_reject_bridge_family: only
		// IPv4 and IPv6 packets can be answered.
		r.failCtx(kw, kw, r.l3At, "cannot reject this network family")
		return
	}
	rj := &ruleset.Reject{}
	famL3 := r.l3
	switch r.fam {
	case ruleset.FamilyIPv4:
		famL3 = "ip"
	case ruleset.FamilyIPv6:
		famL3 = "ip6"
	}
	if !r.isWord("with") {
		switch famL3 {
		case "ip":
			rj.Type, rj.Code = ruleset.RejectICMPUnreach, 3
		case "ip6":
			rj.Type, rj.Code = ruleset.RejectICMPUnreach, 4
		default:
			rj.Type, rj.Code = ruleset.RejectICMPXUnreach, 1
		}
		r.emit(rj)
		return
	}
	r.next()
	kind := r.next()
	if r.isWord("type") {
		r.next()
	}
	switch kind.s {
	case "tcp":
		if !r.accept("reset") {
			r.unexpected()
			return
		}
		rj.Type = ruleset.RejectTCPRst
		if r.l4 != "tcp" {
			if r.l4 != "" {
				r.fail(kind, "conflicting protocols specified: %s vs. tcp", r.l4)
				return
			}
			r.prependDep(ruleset.MetaL4proto, []byte{6})
		}
	case "icmp", "icmpv6", "icmpx":
		c := r.next()
		dt := map[string]*dtype{"icmp": tICMPCode, "icmpv6": tICMP6Code, "icmpx": tICMPXCode}[kind.s]
		b, err := parseValue(dt, 8, bigEndian, c.s, false)
		if err != nil {
			r.fail(c, "%s", err.Error())
			return
		}
		rj.Code = b[0]
		rj.Type = ruleset.RejectICMPUnreach
		if kind.s == "icmpx" {
			rj.Type = ruleset.RejectICMPXUnreach
			break
		}
		want := map[string]string{"icmp": "ip", "icmpv6": "ip6"}[kind.s]
		if famL3 != "" && famL3 != want {
			r.fail(kind, "conflicting protocols specified: %s vs. %s", famL3, want)
			return
		}
		if famL3 == "" {
			switch r.fam {
			case ruleset.FamilyINet:
				r.prependDep(ruleset.MetaNfproto, []byte{map[string]byte{"ip": 2, "ip6": 10}[want]})
			case ruleset.FamilyBridge, ruleset.FamilyNetdev:
				r.prependDep(ruleset.MetaProtocol, encodeU64(protos[want].num, 2, bigEndian))
			}
		}
	default:
		r.fail(kind, "syntax error, unexpected %s", kind.s)
		return
	}
	r.emit(rj)
}

func (r *rulectx) queueStmt() {
	r.next()
	q := &ruleset.Queue{Total: 1}
	for !r.eof() {
		t := r.peek()
		switch t.s {
		case "to":
			r.next()
			n := r.peek()
			if _, isNum := parseUint(strings.SplitN(n.s, "-", 2)[0]); !isNum || n.kind != 'w' {
				x := r.keyExpr()
				if x == nil {
					return
				}
				if r.isWord("map") {
					r.next()
					dt := &xexpr{kind: xMeta, dt: tInteger, bits: 16, order: hostEndian, t0: n}
					if !r.mapLookup(x, dt) {
						return
					}
				} else {
					r.genDeps(x)
					r.load(x)
				}
				switch {
				case x.kind != xGeneric && r.exprs[len(r.exprs)-1].Name() != "lookup":
					r.fail(r.peek(), "syntax error, unexpected newline, expecting . or map")
					return
				case q.Flags&2 != 0:
					r.fail(x.loc(), "fanout requires a range to be specified")
					return
				}
				if h, ok := r.exprs[len(r.exprs)-1].(*ruleset.Hash); ok && uint64(h.Modulus)+uint64(h.Offset) > 65536 {
					r.fail(x.loc(), "queue expression max value exceeds 65535")
					return
				}
				if g, ok := r.exprs[len(r.exprs)-1].(*ruleset.Numgen); ok && uint64(g.Modulus)+uint64(g.Offset) > 65536 {
					r.fail(x.loc(), "queue expression max value exceeds 65535")
					return
				}
				q.SRegNum = 1
				continue
			}
			fallthrough
		case "num":
			if t.s == "num" {
				r.next()
			}
			n := r.next()
			a, b, isRange := strings.Cut(n.s, "-")
			lo, ok := parseUint(a)
			if !ok {
				r.fail(n, "syntax error, unexpected %s", n.s)
				return
			}
			if lo.BitLen() > 16 {
				r.fail(n, "Value %s exceeds valid range 0-65535", a)
				return
			}
			q.Num = uint16(lo.Uint64())
			if isRange {
				hi, ok := parseUint(b)
				if !ok || hi.Uint64() < lo.Uint64() {
					r.fail(n, "syntax error, unexpected %s", n.s)
					return
				}
				q.Total = uint16(hi.Uint64()-lo.Uint64()) + 1
			}
		case "bypass":
			r.next()
			q.Flags |= 1
		case "fanout":
			r.next()
			q.Flags |= 2
		case "flags":
			r.next()
		case ",":
			r.next()
		default:
			r.emit(q)
			return
		}
	}
	r.emit(q)
}

// natStmt: snat/dnat [ip|ip6] to ADDR[-ADDR][:PORT[-PORT]] [flags].
func (r *rulectx) natStmt() {
	kw := r.next()
	n := &ruleset.NAT{Type: ruleset.NATSnat}
	if kw.s == "dnat" {
		n.Type = ruleset.NATDnat
	}
	fam := ""
	if r.isWord("ip") || r.isWord("ip6") {
		fam = r.next().s
	}
	if !r.accept("to") {
		r.unexpected()
		return
	}
	if fam == "" && r.fam == ruleset.FamilyINet && (r.l3 == "ip" || r.l3 == "ip6") {
		fam = r.l3
	}
	switch r.fam {
	case ruleset.FamilyIPv4:
		if fam == "ip6" {
			r.fail(kw, "conflicting protocols specified: ip vs. ip6")
			return
		}
		fam = "ip"
	case ruleset.FamilyIPv6:
		if fam == "ip" {
			r.fail(kw, "conflicting protocols specified: ip6 vs. ip")
			return
		}
		fam = "ip6"
	}
	addrType := tIPv4
	if fam == "ip6" {
		addrType = tIPv6
	}
	n.Family = map[string]ruleset.Family{"ip": ruleset.FamilyIPv4, "ip6": ruleset.FamilyIPv6}[fam]
	t := r.peek()
	addrExpr := &xexpr{kind: xMeta, dt: addrType, bits: addrType.bits, order: bigEndian, t0: t}
	portExpr := &xexpr{kind: xMeta, dt: tService, bits: 16, order: bigEndian, t0: t}
	if t.kind == 'w' && exprStart[t.s] {
		if fam == "" {
			r.fail(kw, "specify `%s ip' or '%s ip6' in inet table to disambiguate", kw.s, kw.s)
			return
		}
		r.natMap(kw, n, addrExpr, portExpr)
		return
	}
	// Collect the address/port tokens.
	var ts []tok
	for !r.eof() {
		p := r.peek()
		if p.kind == 'w' && (p.s == "random" || p.s == "persistent" || p.s == "fully-random") || p.kind == '{' {
			break
		}
		if len(ts) > 0 && p.kind == 'w' && ts[len(ts)-1].kind == 'w' {
			break
		}
		if p.kind == 'o' && p.s == "," {
			break
		}
		ts = append(ts, r.next())
	}
	if len(ts) == 0 {
		r.unexpected()
		return
	}
	if fam == "" {
		r.fail(kw, "specify `%s ip' or '%s ip6' in inet table to disambiguate", kw.s, kw.s)
		return
	}
	text := joinToks(ts)
	addrText, portText := text, ""
	if m := reBracketNAT.FindStringSubmatch(text); m != nil {
		addrText = m[1]
		if m[2] != "" {
			addrText += "-" + m[2]
		}
		addrText += m[3]
		portText = m[4]
	} else if strings.HasPrefix(text, ":") {
		addrText, portText = "", text[1:]
	} else if fam == "ip" {
		if i := strings.LastIndexByte(text, ':'); i >= 0 {
			addrText, portText = text[:i], text[i+1:]
		}
	}
	reg := 1
	if addrText != "" {
		lo, hi, ok := r.natRange(addrExpr, addrText, ts[0])
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: ruleset.Register(reg), Data: lo})
		n.AddrMin = ruleset.Register(reg)
		reg++
		if hi != nil {
			r.emit(&ruleset.Immediate{DReg: ruleset.Register(reg), Data: hi})
			n.AddrMax = ruleset.Register(reg)
			reg++
		}
	}
	if portText != "" && !r.hasL4() {
		// Ref: src/evaluate.c — stmt_evaluate_l4proto
		// the port is the end of the joined text: point at it
		from := ts[0]
		if last := ts[len(ts)-1]; last.pos.Line == from.pos.Line {
			from.pos.Column = last.end - len(portText) + 1
		}
		r.failCtx(from, ts[len(ts)-1], kw, "transport protocol mapping is only valid after transport protocol match")
		return
	}
	if portText != "" {
		lo, hi, ok := r.natRange(portExpr, portText, ts[0])
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: ruleset.Register(reg), Data: lo})
		n.ProtoMin = ruleset.Register(reg)
		reg++
		if hi != nil {
			r.emit(&ruleset.Immediate{DReg: ruleset.Register(reg), Data: hi})
			n.ProtoMax = ruleset.Register(reg)
		}
		n.Flags |= ruleset.NATRangeProtoSpecific
		n.HasFlags = true
	}
	r.natFlags(&n.Flags, &n.HasFlags)
	r.emit(n)
}

func (r *rulectx) natRange(x *xexpr, text string, at tok) (lo, hi []byte, ok bool) {
	v, err := r.c.evalValue(x, []tok{{s: text, kind: 'w', pos: at.pos, end: at.end}})
	if err != nil {
		r.fail(at, "%s", err.Error())
		return nil, nil, false
	}
	if v.isRange {
		return v.from, v.to, true
	}
	if v.prefix >= 0 {
		return v.from, prefixEnd(v.from, v.prefix), true
	}
	return v.from, nil, true
}

var reBracketNAT = regexp.MustCompile(`^\[([^\]]+)\](?:-\[([^\]]+)\])?(/\d+)?(?::(.+))?$`)

// natMap handles `snat|dnat to KEY map { k : addr[ . port] }`: the map data
// carries the address (and port, and ranges) in consecutive registers.
// Ref: src/evaluate.c — stmt_evaluate_nat_map; src/netlink_linearize.c —
// netlink_gen_nat_stmt.
// hasL4 reports whether a transport protocol match came before: one
// protocol, or a set of them.
func (r *rulectx) hasL4() bool { return r.l4 != "" || len(r.l4set) > 0 }

func (r *rulectx) natMap(kw tok, n *ruleset.NAT, addrExpr, portExpr *xexpr) {
	start := r.peek()
	key := r.keyExpr()
	if key == nil {
		return
	}
	if !r.accept("map") {
		// plain expression: the address comes from a register
		r.genDeps(key)
		r.load(key)
		n.AddrMin = 1
		r.emit(n)
		return
	}
	// Peek at the data shape: addr or addr . port.
	t := r.peek()
	data := addrExpr
	if t.kind == '{' {
		for _, el := range t.set {
			afterColon := false
			for _, tk := range el {
				if tk.kind == 'o' && tk.s == ":" {
					afterColon = true
				}
				if afterColon && tk.kind == 'o' && tk.s == "." {
					data = &xexpr{kind: xConcat, fields: []*xexpr{addrExpr, portExpr}, dt: &dtype{name: "concat"}, t0: t}
					data.bits = data.bytesLen() * 8
				}
			}
		}
	}
	if t.kind == 'o' && t.s == "@" {
		if ns := r.ts.set(r.peekN(1).s); ns != nil {
			if sk, ok := r.c.setKeys[ns]; ok && sk.data != nil && sk.data.kind == xConcat {
				data = &xexpr{kind: xConcat, fields: []*xexpr{addrExpr, portExpr}, dt: &dtype{name: "concat"}, t0: t}
				data.bits = data.bytesLen() * 8
			}
		}
	}
	if !r.mapLookup(key, data) {
		return
	}
	if data.kind == xConcat && !r.hasL4() {
		r.failCtx(start, r.toks[r.i-1], kw, "transport protocol mapping is only valid after transport protocol match")
		return
	}
	var s *ruleset.Set
	if l, ok := r.exprs[len(r.exprs)-1].(*ruleset.Lookup); ok {
		s = r.ts.set(l.Set)
		for _, a := range r.anon {
			if a.Name == l.Set {
				s = a
			}
		}
	}
	if s == nil {
		r.fail(t, "map lookup failed")
		return
	}
	ranged := s.DataLen > uint32(data.bytesLen())
	alen := (addrExpr.bytesLen() + 3) / 4
	n.AddrMin = 1
	switch {
	case data.kind == xConcat && ranged:
		n.ProtoMin = regFor(alen)
		n.AddrMax = regFor(alen + 1)
		n.ProtoMax = regFor(2*alen + 1)
	case data.kind == xConcat:
		n.ProtoMin = regFor(alen)
	case ranged:
		n.AddrMax = regFor(alen)
	}
	r.natFlags(&n.Flags, &n.HasFlags)
	r.emit(n)
}

func (r *rulectx) natFlags(flags *uint32, has *bool) {
	for !r.eof() {
		t := r.peek()
		switch t.s {
		case "random":
			*flags |= ruleset.NATRangeProtoRandom
		case "persistent":
			*flags |= ruleset.NATRangePersistent
		case "fully-random":
			*flags |= ruleset.NATRangeProtoRandFull
		case ",":
		default:
			return
		}
		*has = true
		r.next()
	}
}

func (r *rulectx) masqStmt() {
	kw := r.next()
	var pmin, pmax ruleset.Register
	var flags uint32
	has := false
	if r.accept("to") {
		if p, q := r.peek(), r.peekN(1); p.kind == 'o' && p.s == ":" && q.kind == 'w' && (protoWords[q.s] || q.s == "meta" || q.s == "ct") {
			r.next()
			key := r.keyExpr()
			if key == nil || !r.accept("map") {
				r.unexpected()
				return
			}
			portExpr := &xexpr{kind: xMeta, dt: tService, bits: 16, order: bigEndian, t0: q}
			if !r.mapLookup(key, portExpr) {
				return
			}
			pmin, flags, has = 1, ruleset.NATRangeProtoSpecific, true
			r.natFlags(&flags, &has)
			if kw.s == "masquerade" {
				r.emit(&ruleset.Masq{ProtoMin: pmin, Flags: flags, HasFlags: has})
			} else {
				r.emit(&ruleset.Redir{ProtoMin: pmin, Flags: flags, HasFlags: has})
			}
			return
		}
		t := r.next()
		text := t.s
		start, last := t, t
		if t.kind == 'o' && t.s == ":" {
			p := r.next()
			text = p.s
			start, last = p, p
			for r.peek().kind == 'o' && r.peek().s == "-" {
				r.next()
				last = r.next()
				text += "-" + last.s
			}
		} else {
			text = strings.TrimPrefix(text, ":")
		}
		// Ref: src/evaluate.c — stmt_evaluate_l4proto: a port needs a
		// transport protocol; the statement keyword is shown as context.
		if !r.hasL4() {
			r.failCtx(start, last, kw, "transport protocol mapping is only valid after transport protocol match")
			return
		}
		portExpr := &xexpr{kind: xMeta, dt: tService, bits: 16, order: bigEndian, t0: t}
		lo, hi, ok := r.natRange(portExpr, text, t)
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: 1, Data: lo})
		pmin = 1
		if hi != nil {
			r.emit(&ruleset.Immediate{DReg: 2, Data: hi})
			pmax = 2
		}
		flags |= ruleset.NATRangeProtoSpecific
		has = true
	}
	r.natFlags(&flags, &has)
	if kw.s == "masquerade" {
		r.emit(&ruleset.Masq{ProtoMin: pmin, ProtoMax: pmax, Flags: flags, HasFlags: has})
	} else {
		r.emit(&ruleset.Redir{ProtoMin: pmin, ProtoMax: pmax, Flags: flags, HasFlags: has})
	}
}

// setStmt: `KEY set VALUE` for meta and ct keys.
func (r *rulectx) setStmt(lhs *xexpr) {
	if lhs.kind == xPayload {
		r.payloadSet(lhs)
		return
	}
	if lhs.kind == xGeneric && lhs.exthdrLen != 0 {
		r.exthdrSet(lhs)
		return
	}
	if lhs.kind != xMeta && lhs.kind != xCt {
		r.fail(lhs.t0, "syntax error, unexpected set")
		return
	}
	t := r.peek()
	// value from another key expression, or a constant
	var reg ruleset.Register = 1
	if t.kind == 'w' && exprStart[t.s] && !r.isConstFor(lhs, t) ||
		t.kind == 'o' && (t.s == "(" || t.s == "@") {
		src := r.keyExpr()
		if src == nil {
			return
		}
		if r.isWord("map") {
			r.next()
			if !r.mapLookup(src, lhs) {
				return
			}
		} else {
			r.genDeps(src)
			r.load(src)
		}
	} else if lhs.dt.kind == kBitmask && t.kind == 'w' {
		vals := r.rhsBitmask(lhs)
		if len(vals) == 0 {
			return
		}
		r.emit(&ruleset.Immediate{DReg: reg, Data: vals[0].from})
	} else {
		v, ok := r.value(lhs)
		if !ok {
			return
		}
		if t.kind == '{' {
			r.fail(t, "syntax error, unexpected '{'")
			return
		}
		data, ok := r.constBinops(lhs, v.from)
		if !ok {
			return
		}
		r.emit(&ruleset.Immediate{DReg: reg, Data: data})
	}
	if lhs.kind == xMeta {
		r.emit(&ruleset.Meta{Key: lhs.meta, Set: true, SReg: reg})
	} else {
		r.emit(&ruleset.Ct{Key: lhs.ct, Direction: lhs.dir, Set: true, SReg: reg})
	}
}

func (r *rulectx) isConstFor(lhs *xexpr, t tok) bool {
	_, err := r.c.scalar(lhs, t.s, false)
	return err == nil
}

// mapLookup emits `src map { … }` / `src map @m` loading data into reg 1.
func (r *rulectx) mapLookup(src *xexpr, data *xexpr) bool {
	if !r.ctAddrOK(src, ctMapKey) {
		return false
	}
	t := r.next()
	var s *ruleset.Set
	switch {
	case t.kind == '{':
		elems, ok := r.c.parseElems(src, data, false, t.set)
		if !ok {
			r.bad = true
			return false
		}
		s = r.newAnon("__map")
		s.Flags = ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetMap
		interval := anyInterval(elems)
		if interval {
			s.Flags |= ruleset.SetInterval
		}
		r.fillKey(s, src)
		s.DataType, s.DataTypeName, s.DataLen = keyTypeID(data), keyTypeName(data), uint32(data.bytesLen())
		for i := range elems {
			if d := elems[i].data; d != nil && (d.isRange || d.prefix >= 0) {
				to := d.to
				if !d.isRange {
					to = prefixEnd(d.from, d.prefix)
				}
				nd := *d
				nd.from = append(append([]byte(nil), d.from...), to...)
				elems[i].data = &nd
				s.DataLen = uint32(len(nd.from))
			}
		}
		s.Elements = r.c.encodeElems(src, interval, elems)
		s.Size, s.SizeSet = uint32(len(s.Elements)+r.c.skippedEnds), true
		r.anon = append(r.anon, s)
	case t.kind == 'o' && t.s == "@":
		n := r.next()
		s = r.ts.set(n.s)
		if s == nil {
			r.fail(tok{pos: t.pos, end: n.end}, "No such file or directory")
			return false
		}
	default:
		r.fail(t, "syntax error, unexpected %s", t.s)
		return false
	}
	r.genDeps(src)
	reg := r.load(src)
	r.intervalOrder(src, s, reg)
	r.emit(&ruleset.Lookup{Set: s.Name, SetID: s.ID, SReg: reg, DReg: 1, HasDReg: true})
	return true
}

// vmapStmt: `KEY vmap { k : verdict, … }` or `vmap @m`.
func (r *rulectx) vmapStmt(lhs *xexpr) {
	t := r.next()
	var s *ruleset.Set
	switch {
	case t.kind == '{':
		elems, ok := r.c.parseElems(lhs, nil, true, t.set)
		if !ok {
			r.bad = true
			return
		}
		for _, e := range elems {
			if e.verdict != nil && e.verdict.Chain != "" && r.ts.chain(e.verdict.Chain) == nil {
				r.fail(e.t, "No such file or directory")
				return
			}
		}
		s = r.newAnon("__map")
		s.Flags = ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetMap
		interval := anyInterval(elems)
		if interval {
			s.Flags |= ruleset.SetInterval
			if lhs.kind == xConcat {
				s.Flags |= ruleset.SetConcat
			}
		}
		r.fillKey(s, lhs)
		s.DataType, s.DataTypeName = ruleset.DataVerdict, "verdict"
		s.Elements = r.c.encodeElems(lhs, interval, elems)
		if len(s.Elements) == 0 {
			r.fail(t, "conflicting intervals specified")
			return
		}
		s.Size, s.SizeSet = uint32(len(s.Elements)+r.c.skippedEnds), true
		r.anon = append(r.anon, s)
	case t.kind == 'o' && t.s == "@":
		n := r.next()
		s = r.ts.set(n.s)
		if s == nil {
			r.fail(tok{pos: t.pos, end: n.end}, "No such file or directory")
			return
		}
	default:
		r.fail(t, "syntax error, unexpected %s", t.s)
		return
	}
	r.genDeps(lhs)
	reg := r.load(lhs)
	r.intervalOrder(lhs, s, reg)
	r.emit(&ruleset.Lookup{Set: s.Name, SetID: s.ID, SReg: reg, DReg: 0, HasDReg: true})
}

// dynsetStmt: `add|update|delete @set { KEY [timeout T] [stateful…] }`.
// Ref: src/evaluate.c — stmt_evaluate_set; nft_dynset.c for the size the
// kernel gives an unsized set bound to a dynset.
func (r *rulectx) dynsetStmt() {
	opTok := r.next()
	op := map[string]ruleset.DynsetOp{"add": ruleset.DynsetAdd, "update": ruleset.DynsetUpdate, "delete": ruleset.DynsetDelete}[opTok.s]
	at := r.next()
	name := r.next()
	s := r.ts.set(name.s)
	if s == nil {
		r.fail(tok{pos: at.pos, end: name.end}, "No such file or directory")
		return
	}
	body := r.next()
	if body.kind != '{' || len(body.set) != 1 {
		r.fail(body, "syntax error, unexpected %s", body.s)
		return
	}
	toks := body.set[0]
	sub := &rulectx{c: r.c, ts: r.ts, fam: r.fam, ch: r.ch, toks: toks, lastTok: toks[len(toks)-1], l3: r.l3, l4: r.l4, ll: r.ll}
	key := sub.keyExpr()
	if key == nil || sub.bad {
		r.bad = true
		return
	}
	d := &ruleset.Dynset{Op: op, Set: s.Name, SetID: s.ID, SRegKey: 1}
	var data *xexpr
	if sub.peek().kind == 'o' && sub.peek().s == ":" {
		sub.next()
		data = sub.keyExpr()
		if data == nil {
			r.bad = true
			return
		}
	}
	if !r.dynsetTail(sub, d) {
		return
	}
	r.genDeps(key)
	r.load(key)
	if data != nil {
		r.genDeps(data)
		slot := (key.bytesLen() + 3) / 4
		if slot < 4 {
			slot = 4
		} else {
			slot = (slot + 3) &^ 3
		}
		d.SRegData = r.loadAt(data, slot)
		d.HasData = true
	}
	if s.Size == 0 {
		s.Size = 65535
	}
	// stmt_evaluate_set marks the set as updated from the packet path.
	s.Flags |= ruleset.SetEval
	r.emit(d)
}

// exprStart are words that begin a key expression rather than a constant.
var exprStart = map[string]bool{}

func init() {
	for _, w := range []string{"meta", "ct", "numgen", "jhash", "symhash", "fib", "rt", "socket", "osf", "ipsec",
		"exthdr", "hbh", "frag", "dst", "mh", "srh", "rt0", "rt2"} {
		exprStart[w] = true
	}
	for w := range protoWords {
		exprStart[w] = true
	}
	for w := range shortMeta {
		exprStart[w] = true
	}
}

// meterStmt: `meter NAME [size N] { KEY [timeout T] stateful… }` creates
// an anonymous-flagged dynamic set NAME updated from the packet path.
// Ref: src/evaluate.c — stmt_evaluate_meter.
func (r *rulectx) meterStmt() {
	r.next()
	name := r.next()
	var size uint32
	if r.accept("size") {
		n := r.next()
		v, ok := parseUint(n.s)
		if !ok {
			r.fail(n, "syntax error, unexpected %s", n.s)
			return
		}
		size = uint32(v.Uint64())
	}
	body := r.next()
	if body.kind != '{' || len(body.set) != 1 {
		r.fail(body, "syntax error, unexpected %s", body.s)
		return
	}
	toks := body.set[0]
	sub := &rulectx{c: r.c, ts: r.ts, fam: r.fam, ch: r.ch, toks: toks, lastTok: toks[len(toks)-1], l3: r.l3, l4: r.l4, ll: r.ll}
	key := sub.keyExpr()
	if key == nil || sub.bad {
		r.bad = true
		return
	}
	d := &ruleset.Dynset{Op: ruleset.DynsetUpdate, SRegKey: 1}
	if !r.dynsetTail(sub, d) {
		return
	}
	s := r.ts.set(name.s)
	if s == nil {
		s = &ruleset.Set{Name: name.s, Flags: ruleset.SetAnonymous | ruleset.SetEval}
		if d.Timeout != 0 {
			s.Flags |= ruleset.SetTimeout
		}
		r.fillKey(s, key)
		if size != 0 {
			s.Size, s.SizeSet = size, true
		}
		r.c.setID++
		s.ID = r.c.setID
		r.anon = append(r.anon, s)
	}
	d.Set, d.SetID = s.Name, s.ID
	if s.Flags&ruleset.SetTimeout == 0 {
		// netlink_gen_meter_stmt: elements of a meter without timeouts
		// are added, those with timeouts updated (refreshed).
		d.Op = ruleset.DynsetAdd
	}
	r.genDeps(key)
	r.load(key)
	r.emit(d)
}

// dynsetTail reads what follows a dynset's key (and data): an optional
// `timeout T` and the element's stateful statements (counter, limit, quota,
// ct count), which become the template expressions every new element gets.
// It reports false, with r marked bad, when they do not parse.
func (r *rulectx) dynsetTail(sub *rulectx, d *ruleset.Dynset) bool {
	if sub.isWord("timeout") {
		sub.next()
		tt := sub.next()
		ms, err := parseTime(tt.s)
		if err != nil {
			r.fail(tt, "%s", err.Error())
			return false
		}
		d.Timeout = ms
	}
	for !sub.eof() && !sub.bad {
		before := len(sub.exprs)
		sub.stmt()
		if len(sub.exprs) == before {
			break
		}
	}
	if sub.bad {
		r.bad = true
		return false
	}
	d.Exprs = sub.exprs
	return true
}

// optUint reads an option word and its unsigned value (`group 2`,
// `snaplen 64`); on a bad value it reports nft's syntax error at it.
func (r *rulectx) optUint() (uint64, bool) {
	r.next()
	n := r.next()
	v, ok := parseUint(n.s)
	if !ok {
		r.unexpected()
		return 0, false
	}
	return v.Uint64(), true
}
