package compiler

// Payload merging as nft 1.0.6 does it: adjacent payload matches with the
// same base and operator become one load and one cmp.
// Ref: src/rule.c / src/optimize.c — payload_do_merge, payload_can_merge
// (1.0.6 also merges NEQ matches).

import "github.com/nftgo/nftgo/ruleset"

func mergePayloads(exprs []ruleset.Expr) []ruleset.Expr {
	for {
		merged := false
		for i := 0; i+3 < len(exprs); i++ {
			p1, ok1 := exprs[i].(*ruleset.Payload)
			c1, ok2 := exprs[i+1].(*ruleset.Cmp)
			p2, ok3 := exprs[i+2].(*ruleset.Payload)
			c2, ok4 := exprs[i+3].(*ruleset.Cmp)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				continue
			}
			if p1.DReg != 1 || p2.DReg != 1 || c1.SReg != 1 || c2.SReg != 1 || p1.Base != p2.Base || c1.Op != c2.Op {
				continue
			}
			if c1.Op != ruleset.CmpEq && c1.Op != ruleset.CmpNeq {
				continue
			}
			if int(p1.Len) != len(c1.Data) || int(p2.Len) != len(c2.Data) {
				continue
			}
			a, b, ca, cb := p1, p2, c1, c2
			if p2.Offset+p2.Len == p1.Offset {
				a, b, ca, cb = p2, p1, c2, c1
			} else if p1.Offset+p1.Len != p2.Offset {
				continue
			}
			total := a.Len + b.Len
			if total > 16 || !(total <= 4 || a.Base == ruleset.BaseLink || a.Len > 4 || b.Len > 4) {
				continue
			}
			np := &ruleset.Payload{Base: a.Base, Offset: a.Offset, Len: total, DReg: 1}
			nc := &ruleset.Cmp{Op: c1.Op, SReg: 1, Data: append(append([]byte(nil), ca.Data...), cb.Data...)}
			out := append([]ruleset.Expr(nil), exprs[:i]...)
			out = append(out, np, nc)
			out = append(out, exprs[i+4:]...)
			exprs = out
			merged = true
			break
		}
		if !merged {
			return exprs
		}
	}
}
