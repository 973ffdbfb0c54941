package vm

import (
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/sets"
)

// newLimit sets up a token bucket in nanoseconds.
//
// Ref: net/netfilter/nft_limit.c — nft_limit_init.
func newLimit(l *ruleset.Limit) (limitState, error) {
	if l.Rate == 0 || l.Unit == 0 {
		return limitState{}, errInval
	}
	s := limitState{nsecs: int64(l.Unit) * 1e9, rate: int64(l.Rate), bytes: l.Type == ruleset.LimitBytes, inv: l.Flags&ruleset.LimitInvert != 0}
	burst := int64(l.Burst)
	if !s.bytes && burst == 0 {
		burst = 5 // NFT_LIMIT_PKT_BURST_DEFAULT
	}
	if s.bytes {
		s.max = s.nsecs * (s.rate + burst) / s.rate
	} else {
		s.cost = s.nsecs / s.rate
		s.max = s.cost * burst
	}
	return s, nil
}

// limitEval reports whether the rule must BREAK: over the limit, or under
// it for `limit … over`.
//
// Ref: net/netfilter/nft_limit.c — nft_limit_eval, nft_limit_pkts_eval, nft_limit_bytes_eval.
func (m *machine) limitEval(s *limitState) bool {
	now := m.now
	if s.last == 0 {
		s.tokens, s.last = s.max, now
	}
	cost := s.cost
	if s.bytes {
		cost = s.nsecs * int64(m.pkt.Len()) / s.rate
	}
	tokens := s.tokens + now - s.last
	if tokens > s.max {
		tokens = s.max
	}
	s.last = now
	if tokens-cost >= 0 {
		s.tokens = tokens - cost
		return s.inv
	}
	s.tokens = tokens
	return !s.inv
}

// quotaEval adds the packet's length every time and reports whether the
// rule must BREAK.
//
// Ref: net/netfilter/nft_quota.c — nft_overquota, nft_quota_do_eval.
func (m *machine) quotaEval(q *quotaState) bool {
	q.consumed += uint64(m.pkt.Len())
	return (q.consumed > q.quota) != q.inv
}

// logEval records the log statement on the result; the verdict is unchanged.
//
// Ref: net/netfilter/nft_log.c — nft_log_eval.
func (m *machine) logEval(in *insn) {
	m.res.Logged++
	m.res.LogPrefix = m.logPrefixes[in.idx]
}

// rejectEval drops the packet and records the reply the kernel would send.
//
// Ref: net/netfilter/nft_reject_inet.c — nft_reject_inet_eval.
func (m *machine) rejectEval(in *insn) {
	m.res.Reject = &m.rejects[in.idx]
	m.verdict = ruleset.VerdictDrop
}

// NF_QUEUE verdict layout (include/uapi/linux/netfilter.h).
const (
	queueFlagBypass = 1
)

// queueEval hands the packet to a userspace queue: the queue number travels
// in the verdict's upper 16 bits.
//
// Ref: net/netfilter/nft_queue.c — nft_queue_eval, nft_queue_sreg_eval.
func (m *machine) queueEval(in *insn) {
	// With several queues the kernel picks by CPU (fanout: nftgo is CPU
	// 0, so the first queue) or by a flow hash seeded at boot, which no
	// replay can reproduce; both give the first queue here.
	num := uint32(in.key)
	if in.aux2 != 0 {
		num = m.load32(in.sreg)
	}
	m.res.QueueNum = uint16(num)
	m.res.QueueBypass = in.aux&queueFlagBypass != 0
	m.verdict = ruleset.VerdictQueue
}

// elemExprsEval runs an element's stateful expressions on this packet; one
// that BREAKs stops the rest.
//
// Ref: include/net/netfilter/nf_tables.h — nft_set_elem_update_expr.
func (m *machine) elemExprsEval(e *sets.Elem) {
	for i := range e.Exprs {
		st := &e.Exprs[i]
		switch t := st.Tmpl.(type) {
		case *ruleset.Counter:
			st.Packets++
			st.Bytes += uint64(m.pkt.Len())
		case *ruleset.Quota:
			st.Consumed += uint64(m.pkt.Len())
			if (st.Consumed > t.Bytes) != (t.Flags&ruleset.QuotaInvert != 0) {
				m.verdict = ruleset.VerdictBreak
			}
		case *ruleset.Limit:
			ls, err := newLimit(t)
			if err != nil {
				break
			}
			ls.tokens, ls.last = st.Tokens, st.Last
			if m.limitEval(&ls) {
				m.verdict = ruleset.VerdictBreak
			}
			st.Tokens, st.Last = ls.tokens, ls.last
		case *ruleset.Connlimit:
			m.connlimitDo(&st.Conns, t.Count, t.Flags)
		}
		if m.verdict == ruleset.VerdictBreak {
			return
		}
	}
}
