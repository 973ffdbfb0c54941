package compiler

// Extension headers, TCP options and SCTP chunks.
// Ref: nftables src/exthdr.c — exthdr_ipv6 templates (hbh, rt, rt0, rt2,
// srh, frag, dst, mh); src/tcpopt.c — tcpopt_protocols; src/sctp_chunk.c;
// libnftnl src/expr/exthdr.c for the text.

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

type exthdrDesc struct {
	op     uint32
	typ    uint8
	fields map[string]field
}

var ipv6Exthdrs = map[string]*exthdrDesc{
	"hbh": {ruleset.ExthdrOpIPv6, 0, map[string]field{"nexthdr": f(0, 8, tInetProto), "hdrlength": f(8, 8, tInteger)}},
	"rt": {ruleset.ExthdrOpIPv6, 43, map[string]field{"nexthdr": f(0, 8, tInetProto), "hdrlength": f(8, 8, tInteger),
		"type": f(16, 8, tInteger), "seg-left": f(24, 8, tInteger)}},
	"rt0": {ruleset.ExthdrOpIPv6, 43, map[string]field{"reserved": f(32, 32, tInteger)}},
	"rt2": {ruleset.ExthdrOpIPv6, 43, map[string]field{"reserved": f(32, 32, tInteger), "addr": f(64, 128, tIPv6)}},
	"srh": {ruleset.ExthdrOpIPv6, 43, map[string]field{"last-entry": f(32, 8, tInteger), "flags": f(40, 8, tInteger),
		"tag": f(48, 16, tInteger)}},
	"frag": {ruleset.ExthdrOpIPv6, 44, map[string]field{"nexthdr": f(0, 8, tInetProto), "reserved": f(8, 8, tInteger),
		"frag-off": f(16, 13, tInteger), "reserved2": f(29, 2, tInteger), "more-fragments": f(31, 1, tInteger),
		"id": f(32, 32, tInteger)}},
	"dst": {ruleset.ExthdrOpIPv6, 60, map[string]field{"nexthdr": f(0, 8, tInetProto), "hdrlength": f(8, 8, tInteger)}},
	"mh": {ruleset.ExthdrOpIPv6, 135, map[string]field{"nexthdr": f(0, 8, tInetProto), "hdrlength": f(8, 8, tInteger),
		"type": f(16, 8, tMHType), "reserved": f(24, 8, tInteger), "checksum": f(32, 16, tInteger)}},
}

var tcpOptions = map[string]*exthdrDesc{
	"eol":       {ruleset.ExthdrOpTCPOpt, 0, map[string]field{"kind": f(0, 8, tInteger)}},
	"nop":       {ruleset.ExthdrOpTCPOpt, 1, map[string]field{"kind": f(0, 8, tInteger)}},
	"maxseg":    {ruleset.ExthdrOpTCPOpt, 2, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "size": f(16, 16, tInteger)}},
	"window":    {ruleset.ExthdrOpTCPOpt, 3, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "count": f(16, 8, tInteger)}},
	"sack-perm": {ruleset.ExthdrOpTCPOpt, 4, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger)}},
	"sack":      {ruleset.ExthdrOpTCPOpt, 5, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "left": f(16, 32, tInteger), "right": f(48, 32, tInteger)}},
	"sack0":     {ruleset.ExthdrOpTCPOpt, 5, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "left": f(16, 32, tInteger), "right": f(48, 32, tInteger)}},
	"sack1":     {ruleset.ExthdrOpTCPOpt, 5, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "left": f(80, 32, tInteger), "right": f(112, 32, tInteger)}},
	"sack2":     {ruleset.ExthdrOpTCPOpt, 5, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "left": f(144, 32, tInteger), "right": f(176, 32, tInteger)}},
	"sack3":     {ruleset.ExthdrOpTCPOpt, 5, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "left": f(208, 32, tInteger), "right": f(240, 32, tInteger)}},
	"timestamp": {ruleset.ExthdrOpTCPOpt, 8, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "tsval": f(16, 32, tInteger), "tsecr": f(48, 32, tInteger)}},
	"md5sig":    {ruleset.ExthdrOpTCPOpt, 19, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger)}},
	"mptcp":     {ruleset.ExthdrOpTCPOpt, 30, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger), "subtype": f(16, 4, tInteger)}},
	"fastopen":  {ruleset.ExthdrOpTCPOpt, 34, map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger)}},
}

var sctpChunkTypes = map[string]uint8{"data": 0, "init": 1, "init-ack": 2, "sack": 3, "heartbeat": 4,
	"heartbeat-ack": 5, "abort": 6, "shutdown": 7, "shutdown-ack": 8, "error": 9, "cookie-echo": 10,
	"cookie-ack": 11, "ecne": 12, "cwr": 13, "shutdown-complete": 14, "asconf-ack": 128, "forward-tsn": 192, "asconf": 193}

var sctpChunkFields = map[string]map[string]field{
	"data":        {"tsn": f(32, 32, tInteger), "stream": f(64, 16, tInteger), "ssn": f(80, 16, tInteger), "ppid": f(96, 32, tInteger)},
	"init":        {"init-tag": f(32, 32, tInteger), "a-rwnd": f(64, 32, tInteger), "num-outbound-streams": f(96, 16, tInteger), "num-inbound-streams": f(112, 16, tInteger), "initial-tsn": f(128, 32, tInteger)},
	"init-ack":    {"init-tag": f(32, 32, tInteger), "a-rwnd": f(64, 32, tInteger), "num-outbound-streams": f(96, 16, tInteger), "num-inbound-streams": f(112, 16, tInteger), "initial-tsn": f(128, 32, tInteger)},
	"sack":        {"cum-tsn-ack": f(32, 32, tInteger), "a-rwnd": f(64, 32, tInteger), "num-gap-ack-blocks": f(96, 16, tInteger), "num-dup-tsns": f(112, 16, tInteger)},
	"shutdown":    {"cum-tsn-ack": f(32, 32, tInteger)},
	"ecne":        {"lowest-tsn": f(32, 32, tInteger)},
	"cwr":         {"lowest-tsn": f(32, 32, tInteger)},
	"asconf-ack":  {"seqno": f(32, 32, tInteger)},
	"asconf":      {"seqno": f(32, 32, tInteger)},
	"forward-tsn": {"new-cum-tsn": f(32, 32, tInteger)},
}

// exthdrExpr builds a load of an extension header field; field "" with
// exists/missing gives the presence check.
func (r *rulectx) exthdrExpr(t0, ft tok, d *exthdrDesc, fd field, present bool) *xexpr {
	x := &xexpr{kind: xGeneric, t0: t0, tEnd: ft, dt: fd.dt, bits: fd.bits, order: bigEndian, off: fd.off}
	op, typ := d.op, d.typ
	if present {
		x.dt, x.bits, x.off = tBool, 8, 0
	}
	byteOff := uint32(fd.off / 8)
	n := uint32((fd.off%8 + fd.bits + 7) / 8)
	if present {
		byteOff, n = 0, 1
	}
	x.generic = func(dreg ruleset.Register) ruleset.Expr {
		e := &ruleset.Exthdr{Op: op, Type: typ, Offset: byteOff, Len: n, DReg: dreg}
		if present {
			e.Flags = ruleset.ExthdrFPresent
		}
		return e
	}
	x.exthdrLen = int(n)
	if op == ruleset.ExthdrOpIPv6 {
		x.dep = "ip6"
	}
	if !present && (fd.off%8 != 0 || fd.bits%8 != 0) {
		m := new(big.Int).Lsh(big.NewInt(1), uint(fd.bits))
		m.Sub(m, big.NewInt(1))
		m.Lsh(m, uint(int(n)*8-fd.off%8-fd.bits))
		x.mask = encodeInt(m, int(n), bigEndian)
		x.xor = make([]byte, n)
		x.subByte = true
	}
	return x
}

// exthdrPrimary parses the exthdr forms; ok false when t0 is none of them.
func (r *rulectx) exthdrPrimary(t0 tok) (*xexpr, bool) {
	switch {
	case t0.s == "exthdr":
		r.next()
		ht := r.next()
		d, ok := ipv6Exthdrs[ht.s]
		if !ok {
			r.fail(ht, "syntax error, unexpected %s", ht.s)
			return nil, true
		}
		return r.exthdrExpr(t0, ht, d, field{}, true), true
	case ipv6Exthdrs[t0.s] != nil && !(t0.s == "rt" && r.isRtKey()):
		r.next()
		d := ipv6Exthdrs[t0.s]
		ft := r.next()
		name := ft.s
		if (name == "sid" || name == "addr") && r.peek().s == "[" {
			r.next()
			name += "[" + r.next().s
			if r.peek().s == "]" {
				r.next()
				name += "]"
			}
		}
		if (t0.s == "srh" && strings.HasPrefix(name, "sid[")) || (t0.s == "rt0" && strings.HasPrefix(name, "addr[")) {
			i := strings.IndexByte(name, '[')
			n, err := strconv.Atoi(strings.TrimSuffix(name[i+1:], "]"))
			if err != nil || n < 1 {
				r.fail(ft, "syntax error, unexpected %s", name)
				return nil, true
			}
			base := 64
			if t0.s == "rt0" {
				base = 64
			}
			return r.exthdrExpr(t0, ft, d, f(base+(n-1)*128, 128, tIPv6), false), true
		}
		fd, ok := d.fields[name]
		if !ok {
			r.fail(ft, "syntax error, unexpected %s", name)
			return nil, true
		}
		return r.exthdrExpr(t0, ft, d, fd, false), true
	case t0.s == "tcp" && r.peekN(1).s == "option":
		r.next()
		r.next()
		ot := r.next()
		d, ok := tcpOptions[ot.s]
		if !ok {
			n, isNum := parseUint(ot.s)
			if ot.kind == 'o' && ot.s == "@" {
				// @kind,offset,len
				k := r.next()
				r.accept(",")
				o := r.next()
				r.accept(",")
				l := r.next()
				kn, ok1 := parseUint(k.s)
				on, ok2 := parseUint(o.s)
				ln, ok3 := parseUint(l.s)
				if !ok1 || !ok2 || !ok3 {
					r.unexpected()
					return nil, true
				}
				dd := &exthdrDesc{ruleset.ExthdrOpTCPOpt, uint8(kn.Uint64()), nil}
				return r.exthdrExpr(t0, l, dd, f(int(on.Uint64()), int(ln.Uint64()), tInteger), false), true
			}
			if !isNum || n.BitLen() > 8 {
				r.fail(ot, "syntax error, unexpected %s", ot.s)
				return nil, true
			}
			d = &exthdrDesc{ruleset.ExthdrOpTCPOpt, uint8(n.Uint64()), map[string]field{"kind": f(0, 8, tInteger), "length": f(8, 8, tInteger)}}
		}
		if r.isWord("exists") || r.isWord("missing") {
			return r.exthdrExpr(t0, ot, d, field{}, true), true
		}
		ft := r.next()
		fd, ok := d.fields[ft.s]
		if !ok {
			r.fail(ft, "syntax error, unexpected %s", ft.s)
			return nil, true
		}
		return r.exthdrExpr(t0, ft, d, fd, false), true
	case t0.s == "sctp" && r.peekN(1).s == "chunk":
		r.next()
		r.next()
		ct := r.next()
		typ, ok := sctpChunkTypes[ct.s]
		if !ok {
			r.fail(ct, "syntax error, unexpected %s", ct.s)
			return nil, true
		}
		d := &exthdrDesc{ruleset.ExthdrOpSCTP, typ, nil}
		if r.isWord("exists") || r.isWord("missing") {
			return r.exthdrExpr(t0, ct, d, field{}, true), true
		}
		ft := r.next()
		var fd field
		switch ft.s {
		case "type":
			fd = f(0, 8, tInteger)
		case "flags":
			fd = f(8, 8, tInteger)
		case "length":
			fd = f(16, 16, tInteger)
		default:
			fd, ok = sctpChunkFields[ct.s][ft.s]
			if !ok {
				r.fail(ft, "syntax error, unexpected %s", ft.s)
				return nil, true
			}
		}
		return r.exthdrExpr(t0, ft, d, fd, false), true
	}
	return nil, false
}

func (r *rulectx) isRtKey() bool {
	n := r.peekN(1).s
	return n == "classid" || n == "nexthop" || n == "mtu" || n == "ipsec" || n == "ip" || n == "ip6"
}

func exthdrOpName(op uint32) string {
	switch op {
	case ruleset.ExthdrOpTCPOpt:
		return " tcpopt"
	case ruleset.ExthdrOpIPv6:
		return " ipv6"
	case ruleset.ExthdrOpIPv4:
		return " ipv4"
	}
	return ""
}

func writeExthdr(b *strings.Builder, x *ruleset.Exthdr) {
	switch {
	case x.Reset:
		fmt.Fprintf(b, "reset%s %d ", exthdrOpName(x.Op), x.Type)
	case x.Write:
		fmt.Fprintf(b, "write%s reg %d => %db @ %d + %d ", exthdrOpName(x.Op), x.SReg, x.Len, x.Type, x.Offset)
	default:
		pres := ""
		if x.Flags&ruleset.ExthdrFPresent != 0 {
			pres = " present"
		}
		fmt.Fprintf(b, "load%s %db @ %d + %d%s => reg %d ", exthdrOpName(x.Op), x.Len, x.Type, x.Offset, pres, x.DReg)
	}
}
