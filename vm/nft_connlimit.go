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
// (count > limit) XOR invert; a failed add drops the packet. Whether the
// connection is confirmed decides between adding and only collecting
// (connlimit.List.AddPacket).
//
// Ref: net/netfilter/nft_connlimit.c — nft_connlimit_do_eval; nf_conncount.c — get_ct_or_tuple_from_skb
func (m *machine) connlimitDo(l *connlimit.List, limit, flags uint32) {
	var tup ct.Tuple
	var zone uint16
	confirmed := false
	if c := m.conn; c != nil {
		tup, zone = c.Orig(), c.Zone
		confirmed = c.Status&ct.StatusConfirmed != 0
	} else {
		var ok bool
		tup, ok = ct.TupleOf(m.pkt)
		if !ok {
			m.verdict = ruleset.VerdictDrop
			return
		}
		// No conntrack attached (a chain before conntrack, notrack): the
		// connection is looked up by the packet's tuple, and one found is
		// confirmed (get_ct_or_tuple_from_skb).
		if m.ct != nil {
			if c := m.ct.Find(tup, 0, m.now); c != nil {
				tup, zone, confirmed = c.Orig(), c.Zone, true
			}
		}
	}
	count, ok := l.AddPacket(m.ct, tup, zone, confirmed, m.now)
	if !ok {
		m.verdict = ruleset.VerdictDrop
		return
	}
	if (count > limit) != (flags&ruleset.ConnlimitInvert != 0) {
		m.verdict = ruleset.VerdictBreak
	}
}
