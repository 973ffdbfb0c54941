package vm

import "github.com/nftgo/nftgo/ruleset"

// snapshot copies the ruleset with the run-time state filled in, as the
// kernel answers a dump: rule counters and quotas with their values, sets
// with their current elements.
func (m *machine) snapshot(now int64) *ruleset.Ruleset {
	out := &ruleset.Ruleset{Tables: make([]*ruleset.Table, 0, len(m.rs.Tables))}
	ci := 0
	si := 0
	for ti, t := range m.rs.Tables {
		nt := *t
		nt.Chains = make([]*ruleset.Chain, len(t.Chains))
		for i, c := range t.Chains {
			nc := *c
			lc := &m.chains[ci]
			ci++
			nc.Rules = make([]*ruleset.Rule, len(c.Rules))
			for ri, r := range c.Rules {
				nr := *r
				nr.Exprs = make([]ruleset.Expr, len(r.Exprs))
				lst := lc.state[ri]
				for ei, e := range r.Exprs {
					nr.Exprs[ei] = e
					st := lst[ei]
					if st < 0 {
						continue
					}
					switch x := e.(type) {
					case *ruleset.Counter:
						cs := m.counters[st]
						nr.Exprs[ei] = &ruleset.Counter{Packets: cs.packets, Bytes: cs.bytes}
					case *ruleset.Quota:
						q := *x
						q.Consumed = m.quotas[st].consumed
						// Ref: net/netfilter/nft_quota.c — nft_quota_do_dump
						// caps consumed at the quota and flags it depleted.
						if q.Consumed >= q.Bytes {
							q.Consumed = q.Bytes
							q.Flags |= ruleset.QuotaDepleted
						}
						nr.Exprs[ei] = &q
					}
				}
				nc.Rules[ri] = &nr
			}
			nt.Chains[i] = &nc
		}
		nt.Objects = m.snapshotObjects(t, m.objStates[ti])
		nt.Sets = make([]*ruleset.Set, len(t.Sets))
		for i := range t.Sets {
			nt.Sets[i] = m.sets[si].s.Dump(now)
			si++
		}
		out.Tables = append(out.Tables, &nt)
	}
	return out
}

// snapshotObjects copies the table's objects with the values of named
// counters and quotas, as nf_tables_fill_obj_info dumps them.
func (m *machine) snapshotObjects(t *ruleset.Table, states []objTarget) []*ruleset.Object {
	if len(t.Objects) == 0 {
		return t.Objects
	}
	out := make([]*ruleset.Object, len(t.Objects))
	for i, o := range t.Objects {
		out[i] = o
		if i >= len(states) || states[i].idx < 0 {
			continue
		}
		no := *o
		switch x := o.Expr.(type) {
		case *ruleset.Counter:
			cs := m.counters[states[i].idx]
			no.Expr = &ruleset.Counter{Packets: cs.packets, Bytes: cs.bytes}
		case *ruleset.Quota:
			q := *x
			q.Consumed = m.quotas[states[i].idx].consumed
			// Ref: net/netfilter/nft_quota.c — nft_quota_do_dump.
			if q.Consumed >= q.Bytes {
				q.Consumed = q.Bytes
				q.Flags |= ruleset.QuotaDepleted
			}
			no.Expr = &q
		default:
			continue
		}
		out[i] = &no
	}
	return out
}
