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
	state := connlimit.ConnNew
	if c := m.conn; c != nil {
		tup, zone = c.Orig(), c.Zone
		switch {
		case c.Status&ct.StatusConfirmed == 0:
		case c.Status&ct.StatusAssured != 0 || m.info == ct.Established:
			state = connlimit.ConnEstablished
		default:
			state = connlimit.ConnConfirmed
		}
	} else {
		var ok bool
		tup, ok = ct.TupleOf(m.pkt)
		if !ok {
			m.verdict = ruleset.VerdictDrop
			return
		}
		// No conntrack attached (a chain before conntrack, notrack, an
		// invalid packet): the connection is looked up by the packet's
		// tuple (get_ct_or_tuple_from_skb). One found is confirmed; only
		// an ASSURED one is just collected, a not yet assured one is
		// scanned and added like an attached confirmed entry (kernel
		// 6.18: the host's SYN-ACK in output at raw priority is counted,
		// scenario connlimit-raw-output-reply, difffuzz seed 11060).
		if m.ct != nil {
			if c := m.ct.Find(tup, 0, m.now); c != nil {
				tup, zone, state = c.Orig(), c.Zone, connlimit.ConnConfirmed
				if c.Status&ct.StatusAssured != 0 {
					state = connlimit.ConnEstablished
				}
			}
		}
	}
	count, ok := l.AddPacket(m.ct, tup, zone, state, m.now)
	if !ok {
		m.verdict = ruleset.VerdictDrop
		return
	}
	if (count > limit) != (flags&ruleset.ConnlimitInvert != 0) {
		m.verdict = ruleset.VerdictBreak
	}
}
