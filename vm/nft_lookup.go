package vm

import "github.com/nftgo/nftgo/ruleset"

// lookupEval looks the key up (a miss tries the catch-all element), loads
// map data or the verdict, then runs the element's expressions.
//
// Ref: net/netfilter/nft_lookup.c — nft_lookup_eval.
func (m *machine) lookupEval(in *insn) {
	sr := &m.sets[in.idx]
	e := sr.s.Lookup(m.regs[in.sreg:int(in.sreg)+int(in.len)], m.now)
	inv := in.aux&ruleset.LookupInvert != 0
	if (e != nil) == inv {
		m.verdict = ruleset.VerdictBreak
		return
	}
	if e == nil {
		return
	}
	if in.aux2 != 0 { // dreg given
		if sr.vmap {
			m.setVerdict(int(in.idx), e.Verdict)
		} else {
			n := sr.dlen
			if n > len(e.Data) {
				n = len(e.Data)
			}
			m.store(in.dreg, e.Data[:n])
		}
	}
	if len(e.Exprs) > 0 {
		m.elemExprsEval(e)
	}
}

// setVerdict makes a verdict-map element's verdict the rule's verdict,
// resolving jump and goto targets in the set's table.
func (m *machine) setVerdict(set int, v ruleset.Verdict) {
	m.verdict = v.Code
	if v.Code == ruleset.VerdictJump || v.Code == ruleset.VerdictGoto {
		ci, ok := m.chainByName[m.setTable[set]][v.Chain]
		if !ok {
			m.verdict = ruleset.VerdictDrop
			return
		}
		m.vchain = ci
	}
}
