package compiler

// numgen, jhash/symhash and raw payload expressions.
// Ref: src/numgen.c, src/hash.c, src/payload.c (raw @base,off,len);
// src/netlink_linearize.c — netlink_gen_hash (the source goes into the
// next free register).

import (
	"fmt"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

func (r *rulectx) uintArg(name string) (uint32, bool) {
	t := r.next()
	n, ok := parseUint(t.s)
	if !ok || n.BitLen() > 32 {
		r.fail(t, "syntax error, unexpected %s, expecting number", t.s)
		return 0, false
	}
	_ = name
	return uint32(n.Uint64()), true
}

func (r *rulectx) miscPrimary(t tok) (*xexpr, bool) {
	switch t.s {
	case "numgen":
		r.next()
		typ := r.next()
		var ty uint32
		switch typ.s {
		case "inc":
		case "random":
			ty = 1
		default:
			r.fail(typ, "syntax error, unexpected %s", typ.s)
			return nil, true
		}
		if !r.accept("mod") {
			r.unexpected()
			return nil, true
		}
		mod, ok := r.uintArg("mod")
		if !ok {
			return nil, true
		}
		var off uint32
		if r.accept("offset") {
			if off, ok = r.uintArg("offset"); !ok {
				return nil, true
			}
		}
		x := &xexpr{kind: xGeneric, dt: tInteger, bits: 32, order: hostEndian, t0: t}
		x.generic = func(dreg ruleset.Register) ruleset.Expr {
			return &ruleset.Numgen{DReg: dreg, Modulus: mod, Type: ty, Offset: off}
		}
		return x, true
	case "jhash", "symhash":
		r.next()
		var src *xexpr
		if t.s == "jhash" {
			src = r.keyExpr()
			if src == nil {
				return nil, true
			}
		}
		if !r.accept("mod") {
			r.unexpected()
			return nil, true
		}
		mod, ok := r.uintArg("mod")
		if !ok {
			return nil, true
		}
		h := &ruleset.Hash{Modulus: mod}
		if t.s == "symhash" {
			h.Type = 1
		}
		for r.isWord("seed") || r.isWord("offset") {
			k := r.next().s
			v, ok := r.uintArg(k)
			if !ok {
				return nil, true
			}
			if k == "seed" {
				h.Seed, h.HasSeed = v, true
			} else {
				h.Offset = v
			}
		}
		x := &xexpr{kind: xGeneric, dt: tInteger, bits: 32, order: hostEndian, t0: t}
		x.emitFn = func(r *rulectx, slot int) {
			hh := *h
			hh.DReg = regFor(slot)
			if src != nil {
				srcSlot := (slot/4 + 1) * 4
				r.genDeps(src)
				hh.SReg = r.loadAt(src, srcSlot)
				hh.Len = uint32(src.bytesLen())
			}
			r.emit(&hh)
		}
		return x, true
	}
	return nil, false
}

var rawBases = map[string]ruleset.PayloadBase{"ll": ruleset.BaseLink, "nh": ruleset.BaseNetwork, "th": ruleset.BaseTransport, "ih": ruleset.BaseInner}

// rawPayload parses @base,offset,length.
func (r *rulectx) rawPayload(at tok) *xexpr {
	r.next()
	b := r.next()
	base, ok := rawBases[b.s]
	if !ok {
		r.fail(b, "syntax error, unexpected %s", b.s)
		return nil
	}
	var nums [2]int
	for i := range nums {
		if !r.accept(",") {
			r.unexpected()
			return nil
		}
		t := r.next()
		n, ok := parseUint(t.s)
		if !ok {
			r.fail(t, "syntax error, unexpected %s", t.s)
			return nil
		}
		nums[i] = int(n.Int64())
	}
	p := &protoDesc{name: "raw", base: base, layer: 0}
	x := &xexpr{kind: xPayload, proto: p, fname: "raw", off: nums[0], bits: nums[1], dt: tInteger, order: bigEndian, t0: at}
	x.maskBits()
	return x
}

func writeMisc(b *strings.Builder, e ruleset.Expr) bool {
	switch x := e.(type) {
	case *ruleset.Numgen:
		t := "inc"
		if x.Type == 1 {
			t = "random"
		}
		fmt.Fprintf(b, "reg %d = %s mod %d ", x.DReg, t, x.Modulus)
		if x.Offset != 0 {
			fmt.Fprintf(b, "offset %d ", x.Offset)
		}
	case *ruleset.Hash:
		if x.Type == 1 {
			fmt.Fprintf(b, "reg %d = symhash() %% mod %d ", x.DReg, x.Modulus)
		} else {
			fmt.Fprintf(b, "reg %d = jhash(reg %d, %d, 0x%x) %% mod %d ", x.DReg, x.SReg, x.Len, x.Seed, x.Modulus)
		}
		if x.Offset != 0 {
			fmt.Fprintf(b, "offset %d ", x.Offset)
		}
	default:
		return false
	}
	return true
}
