package vm

import (
	"github.com/nftgo/nftgo/connlimit"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

// connlimitEval is a rule-level `ct count`.
func (m *machine) connlimitEval(in *insn) {
	m.connlimitDo(&m.conns[in.idx], in.key, uint32(in.aux))
}

// connlimitDo adds the packet's connection to the list and BREAKs when
// (count > limit) XOR invert; a failed add drops the packet.
//
// Ref: net/netfilter/nft_connlimit.c — nft_connlimit_do_eval.
func (m *machine) connlimitDo(l *connlimit.List, limit, flags uint32) {
	var tup ct.Tuple
	var zone uint16
	if c := m.conn; c != nil {
		tup, zone = c.Orig(), c.Zone
	} else {
		var ok bool
		tup, ok = ct.TupleOf(m.pkt)
		if !ok {
			m.verdict = ruleset.VerdictDrop
			return
		}
	}
	count, ok := l.Add(m.ct, tup, zone, m.now)
	if !ok {
		m.verdict = ruleset.VerdictDrop
		return
	}
	if (count > limit) != (flags&ruleset.ConnlimitInvert != 0) {
		m.verdict = ruleset.VerdictBreak
	}
}
