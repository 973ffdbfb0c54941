package compiler

// Payload merging as nft 1.0.6 does it after evaluating a rule: the payload
// matches against a plain value (==, !=) between two non-expression
// statements — dependencies included, other matches (meta, ct, masked or
// set lookups) in between do not stop it — are sorted by base and offset,
// and each pair of adjacent ones with the same operator becomes one load and
// one compare. The merged match takes the place of the lower one, unless the
// upper one is a protocol key (ether type, …): then it takes the upper's, so
// the dependency still comes before what depends on it.
//
// Ref: src/rule.c — stmt_reduce, payload_do_merge; src/payload.c —
// payload_can_merge, payload_is_adjacent.

import (
	"sort"

	"github.com/nftgo/nftgo/ruleset"
)

// mergeUnit is one payload match, exprs[at] (the load) and exprs[at+1].
type mergeUnit struct {
	at    int
	p     *ruleset.Payload
	c     *ruleset.Cmp
	proto bool
}

// mergePayloads merges the rule's payload matches; protoKey and noMerge mark
// matches by their Cmp (see rulectx).
func mergePayloads(exprs []ruleset.Expr, protoKey, noMerge map[ruleset.Expr]bool) []ruleset.Expr {
	var run []mergeUnit
	drop := map[int]bool{}
	for i := 0; i < len(exprs); i++ {
		if u, ok := payloadMatch(exprs, i, noMerge); ok {
			u.proto = protoKey[u.c]
			run = append(run, u)
			i++
			continue
		}
		if breaksMerge(exprs[i]) {
			mergeRun(exprs, run, drop)
			run = run[:0]
		}
	}
	mergeRun(exprs, run, drop)
	if len(drop) == 0 {
		return exprs
	}
	out := exprs[:0:0]
	for i, e := range exprs {
		if !drop[i] {
			out = append(out, e)
		}
	}
	return out
}

// payloadMatch reports whether exprs[i], exprs[i+1] is `payload op value`.
func payloadMatch(exprs []ruleset.Expr, i int, noMerge map[ruleset.Expr]bool) (mergeUnit, bool) {
	if i+1 >= len(exprs) {
		return mergeUnit{}, false
	}
	p, ok1 := exprs[i].(*ruleset.Payload)
	c, ok2 := exprs[i+1].(*ruleset.Cmp)
	if !ok1 || !ok2 || p.DReg != c.SReg || int(p.Len) != len(c.Data) || noMerge[c] {
		return mergeUnit{}, false
	}
	if c.Op != ruleset.CmpEq && c.Op != ruleset.CmpNeq {
		return mergeUnit{}, false
	}
	return mergeUnit{at: i, p: p, c: c}, true
}

// breaksMerge reports whether e belongs to a statement other than a match
// (STMT_EXPRESSION): counters, verdicts, writes, NAT, set updates, maps.
func breaksMerge(e ruleset.Expr) bool {
	switch x := e.(type) {
	case *ruleset.Payload, *ruleset.Cmp, *ruleset.Range, *ruleset.Bitwise, *ruleset.Byteorder,
		*ruleset.Numgen, *ruleset.Hash, *ruleset.Fib, *ruleset.Rt, *ruleset.Socket:
		return false
	case *ruleset.Meta:
		return x.SReg != 0
	case *ruleset.Ct:
		return x.SReg != 0
	case *ruleset.Lookup:
		return x.HasDReg
	case *ruleset.Exthdr:
		return x.Write || x.Reset
	case *ruleset.Generic:
		return x.Kind != "osf" && x.Kind != "xfrm"
	}
	return true
}

// mergeRun merges one run of payload matches in place: the merged load and
// compare replace one unit's, the other unit's indices go into drop.
func mergeRun(exprs []ruleset.Expr, run []mergeUnit, drop map[int]bool) {
	if len(run) < 2 {
		return
	}
	sa := append([]mergeUnit(nil), run...)
	sort.SliceStable(sa, func(i, j int) bool {
		if sa[i].p.Base != sa[j].p.Base {
			return sa[i].p.Base < sa[j].p.Base
		}
		return sa[i].p.Offset < sa[j].p.Offset
	})
	last := sa[0]
	for _, this := range sa[1:] {
		if !payloadCanMerge(last.p, this.p) || last.c.Op != this.c.Op {
			last = this
			continue
		}
		np := &ruleset.Payload{Base: last.p.Base, Offset: last.p.Offset, Len: last.p.Len + this.p.Len, DReg: last.p.DReg}
		nc := &ruleset.Cmp{Op: last.c.Op, SReg: last.c.SReg, Data: append(append([]byte(nil), last.c.Data...), this.c.Data...)}
		keep, gone := last, this
		if this.proto {
			keep, gone = this, last
		}
		exprs[keep.at], exprs[keep.at+1] = np, nc
		drop[gone.at], drop[gone.at+1] = true, true
		last = mergeUnit{at: keep.at, p: np, c: nc, proto: last.proto || this.proto}
	}
}

// payloadCanMerge: same base, adjacent, at most a register (16 bytes); a
// network or transport load of up to 4 bytes has the kernel's fast path,
// so two such are merged only while the result stays within 4 bytes.
func payloadCanMerge(a, b *ruleset.Payload) bool {
	if a.Base != b.Base || a.Offset+a.Len != b.Offset {
		return false
	}
	total := a.Len + b.Len
	if total > 16 {
		return false
	}
	return total <= 4 || a.Base == ruleset.BaseLink || a.Len > 4 || b.Len > 4
}
