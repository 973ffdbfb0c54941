package list

// Some expressions may reach the listing as ruleset.Generic, their
// netlink debug body kept verbatim (libnftnl's snprintf format); these are
// read back into their IR types here so they list like the typed ones.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

func reg(s string) ruleset.Register {
	n, _ := strconv.Atoi(strings.TrimSuffix(s, ","))
	return ruleset.Register(n)
}

// parseGenericBody reads the debug body of exthdr, rt, socket, fib, hash,
// numgen, objref, dup and fwd. Malformed bodies give an error, never a
// panic.
func parseGenericBody(name, body string) (e ruleset.Expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("cannot parse [ %s %s ]", name, body)
		}
	}()
	f := strings.Fields(body)
	switch name {
	case "exthdr":
		return parseExthdr(f)
	case "rt":
		// load classid => reg 1
		k := map[string]uint32{"classid": 0, "nexthop4": 1, "nexthop6": 2, "tcpmss": 3, "ipsec": 4}[f[1]]
		return &ruleset.Rt{Key: k, DReg: reg(f[4])}, nil
	case "socket":
		k := map[string]uint32{"transparent": 0, "mark": 1, "wildcard": 2, "cgroupv2": 3}[f[1]]
		so := &ruleset.Socket{Key: k}
		for i := range f {
			if f[i] == "reg" && i+1 < len(f) {
				so.DReg = reg(f[i+1])
			}
			if f[i] == "level" && i+1 < len(f) {
				n, _ := strconv.Atoi(f[i+1])
				so.Level = uint32(n)
			}
		}
		return so, nil
	case "fib":
		// saddr . iif oif [present] => reg 1
		fb := &ruleset.Fib{}
		for i := 0; i < len(f); i++ {
			switch f[i] {
			case "saddr":
				fb.Flags |= 1
			case "daddr":
				fb.Flags |= 2
			case "mark":
				fb.Flags |= 4
			case "iif":
				fb.Flags |= 8
			case "oif":
				if i+1 < len(f) && (f[i+1] == "=>" || f[i+1] == "present") && !(i > 0 && f[i-1] == ".") {
					fb.Result = 1
				} else {
					fb.Flags |= 16
				}
			case "oifname":
				fb.Result = 2
			case "type":
				fb.Result = 3
			case "present":
				fb.Flags |= 32
			case "reg":
				fb.DReg = reg(f[i+1])
			}
		}
		return fb, nil
	case "hash":
		// reg 1 = jhash(reg 2, 8, 0xdeadbeef) % mod 2 [offset N] | reg 1 = symhash() % mod 2
		h := &ruleset.Hash{DReg: reg(f[1])}
		b := strings.NewReplacer("(", " ", ")", " ", ",", " ").Replace(body)
		g := strings.Fields(b)
		if g[3] == "symhash" {
			h.Type = 1
		} else {
			h.SReg = reg(g[5])
			n, _ := strconv.Atoi(g[6])
			h.Len = uint32(n)
			sd, _ := strconv.ParseUint(strings.TrimPrefix(g[7], "0x"), 16, 32)
			h.Seed, h.HasSeed = uint32(sd), true
		}
		for i := range g {
			if g[i] == "mod" {
				n, _ := strconv.Atoi(g[i+1])
				h.Modulus = uint32(n)
			}
			if g[i] == "offset" {
				n, _ := strconv.Atoi(g[i+1])
				h.Offset = uint32(n)
			}
		}
		return h, nil
	case "numgen":
		ng := &ruleset.Numgen{DReg: reg(f[1])}
		if f[3] == "random" {
			ng.Type = 1
		}
		for i := range f {
			if f[i] == "mod" {
				n, _ := strconv.Atoi(f[i+1])
				ng.Modulus = uint32(n)
			}
			if f[i] == "offset" {
				n, _ := strconv.Atoi(f[i+1])
				ng.Offset = uint32(n)
			}
		}
		return ng, nil
	case "objref":
		if f[0] == "type" {
			n, _ := strconv.Atoi(f[1])
			return &ruleset.Objref{Type: uint32(n), ObjName: f[3]}, nil
		}
		return &ruleset.Objref{SReg: reg(f[1]), SetName: f[3]}, nil
	case "dup", "fwd":
		var a, d ruleset.Register
		var np uint32
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "sreg_addr":
				a = reg(f[i+1])
			case "sreg_dev":
				d = reg(f[i+1])
			case "nfproto":
				n, _ := strconv.Atoi(f[i+1])
				np = uint32(n)
			}
		}
		if name == "dup" {
			return &ruleset.Dup{SRegAddr: a, SRegDev: d}, nil
		}
		return &ruleset.Fwd{SRegDev: d, SRegAddr: a, NFProto: np}, nil
	}
	return nil, fmt.Errorf("no parser for %s", name)
}

var exthdrOps = map[string]uint32{"ipv6": ruleset.ExthdrOpIPv6, "tcpopt": ruleset.ExthdrOpTCPOpt, "ip": ruleset.ExthdrOpIPv4}

// parseExthdr reads `load [OP] Nb @ TYPE + OFF [present] => reg R`,
// `write OP reg R => Nb @ TYPE + OFF`, `reset OP TYPE`.
func parseExthdr(f []string) (ruleset.Expr, error) {
	e := &ruleset.Exthdr{Op: ruleset.ExthdrOpSCTP}
	i := 1
	if len(f) > 1 {
		if op, ok := exthdrOps[f[1]]; ok {
			e.Op = op
			i = 2
		}
	}
	num := func(s string) uint32 {
		n, _ := strconv.ParseUint(strings.TrimSuffix(s, "b"), 10, 32)
		return uint32(n)
	}
	switch f[0] {
	case "reset":
		e.Reset = true
		e.Type = uint8(num(f[i]))
		return e, nil
	case "write":
		// write tcpopt reg 1 => 2b @ 2 + 2
		e.Write = true
		e.SReg = reg(f[i+1])
		e.Len = num(f[i+3])
		e.Type = uint8(num(f[i+5]))
		e.Offset = num(f[i+7])
		return e, nil
	}
	e.Len = num(f[i])
	e.Type = uint8(num(f[i+2]))
	e.Offset = num(f[i+4])
	j := i + 5
	if f[j] == "present" {
		e.Flags |= ruleset.ExthdrFPresent
		j++
	}
	e.DReg = reg(f[j+2])
	return e, nil
}
