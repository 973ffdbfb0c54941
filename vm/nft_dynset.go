package vm

import "github.com/nftgo/nftgo/ruleset"

// Dynset flags (uapi nf_tables.h — NFT_DYNSET_F_INV, NFT_DYNSET_F_EXPR).
const (
	dynsetInv  = 1
	dynsetExpr = 2
)

// dynsetEval adds, updates or deletes the key's element from the packet
// path; on a hit or a new element the element's expressions run, then
// invert BREAKs.
//
// Ref: net/netfilter/nft_dynset.c — nft_dynset_eval.
func (m *machine) dynsetEval(in *insn) {
	d := &m.dynsets[in.idx]
	sr := &m.sets[d.set]
	key := m.regs[in.sreg : int(in.sreg)+d.klen]
	if d.op == ruleset.DynsetDelete {
		sr.s.Delete(key, m.now)
		return
	}
	var data []byte
	if d.hasData {
		data = m.regs[d.sdata : int(d.sdata)+d.dlen]
	}
	// An update refreshes the expiration of an element that has a timeout,
	// with the dynset's timeout or else the set's default.
	e, _ := sr.s.Update(key, data, d.tmpl, d.timeout, d.op == ruleset.DynsetUpdate, m.now)
	if e == nil {
		if !d.inv {
			m.verdict = ruleset.VerdictBreak
		}
		return
	}
	if len(e.Exprs) > 0 {
		m.elemExprsEval(e)
		if m.verdict == ruleset.VerdictBreak {
			return
		}
	}
	if d.inv {
		m.verdict = ruleset.VerdictBreak
	}
}
