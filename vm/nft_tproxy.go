package vm

import "github.com/nftgo/nftgo/ruleset"

// loadTproxy is nft_tproxy_init. The compiler hands tproxy over as the
// netlink debug body "[ip|ip6 ][addr reg N ][port reg M ]"; no family word
// is NFPROTO_UNSPEC (inet tables, port only).
//
// Ref: net/netfilter/nft_tproxy.c — nft_tproxy_init.
func (l *loader) loadTproxy(b netlinkBody) (in insn, st int32, err error) {
	st = -1
	fam := ruleset.Family(0)
	alen := 0
	if len(b.fields) > 0 {
		switch b.fields[0] {
		case "ip":
			fam, alen = ruleset.FamilyIPv4, 4
		case "ip6":
			fam, alen = ruleset.FamilyIPv6, 16
		}
	}
	areg, hasAddr := b.reg("addr")
	preg, hasPort := b.reg("port")
	if !hasAddr && !hasPort {
		return in, st, errInval
	}
	switch l.t.Family {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6:
		if fam != l.t.Family {
			return in, st, errInval
		}
	case ruleset.FamilyINet:
	default:
		return in, st, errNotSupp
	}
	if fam == 0 && hasAddr {
		return in, st, errInval
	}
	if hasAddr {
		if in.sreg, err = l.load(areg, alen); err != nil {
			return in, st, err
		}
	}
	if hasPort {
		if in.aux2, err = l.load(preg, 2); err != nil {
			return in, st, err
		}
	}
	// nf_defrag_ipv4_enable / nf_defrag_ipv6_enable: the family's
	// fragments are reassembled at prerouting -400 from now on, conntrack
	// or not.
	switch fam {
	case ruleset.FamilyIPv4:
		l.m.tproxyDefrag[af4] = true
	case ruleset.FamilyIPv6:
		l.m.tproxyDefrag[af6] = true
	default:
		l.m.tproxyDefrag = [2]bool{true, true}
	}
	in.op, in.aux = opTproxy, uint8(fam)
	return in, st, nil
}

// tproxyHooks is nft_tproxy_validate: prerouting only, any chain type.
//
// Ref: net/netfilter/nft_tproxy.c — nft_tproxy_validate.
func tproxyHooks(fam ruleset.Family, h *ruleset.ChainHook) error {
	if fam == ruleset.FamilyINet && h.Hook == ruleset.HookIngress {
		return errNotSupp
	}
	if h.Hook != ruleset.HookPrerouting {
		return errNotSupp
	}
	return nil
}

// tproxyEval: the packet is assigned a socket only when an established one
// matches its addresses or a transparent listener sits on the target
// address and port. The modelled host has no sockets, so every lookup
// fails and the rule BREAKs (also for a packet of the other family than the
// expression's).
//
// Ref: net/netfilter/nft_tproxy.c — nft_tproxy_eval, nft_tproxy_eval_v4, nft_tproxy_eval_v6.
func (m *machine) tproxyEval(in *insn) {
	m.verdict = ruleset.VerdictBreak
}
