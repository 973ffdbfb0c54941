package vm

import "github.com/nftgo/nftgo/ruleset"

// XFRM_POLICY_IN / XFRM_POLICY_OUT and XFRM_MAX_DEPTH.
const (
	xfrmIn       = 0
	xfrmOut      = 1
	xfrmMaxDepth = 6
)

// xfrmKeyLen maps the key names libnftnl prints (enum nft_xfrm_keys) to the
// length nft_xfrm_get_init registers for them.
var xfrmKeyLen = map[string]int{
	"daddr4": 4, "saddr4": 4, "daddr6": 16, "saddr6": 16, "reqid": 4, "spi": 4,
}

// loadXfrm is nft_xfrm_get_init. The compiler hands ipsec over as the
// netlink debug body "load in|out SPNUM KEY => reg N ".
//
// Ref: net/netfilter/nft_xfrm.c — nft_xfrm_get_init.
func (l *loader) loadXfrm(b netlinkBody) (in insn, st int32, err error) {
	st = -1
	f := b.fields
	if len(f) < 6 || f[0] != "load" || f[4] != "=>" || f[5] != "reg" {
		return in, st, errInval
	}
	switch l.t.Family {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
	default:
		return in, st, errNotSupp
	}
	n, ok := xfrmKeyLen[f[3]]
	if !ok {
		return in, st, errInval
	}
	switch f[1] {
	case "in":
	case "out":
		in.aux = xfrmOut
	default:
		return in, st, errInval
	}
	spnum, ok := parseUint(f[2])
	if !ok {
		return in, st, errInval
	}
	if spnum >= xfrmMaxDepth {
		return in, st, errRange
	}
	d, ok := b.reg("reg")
	if !ok {
		return in, st, errInval
	}
	in.op, in.len, in.key = opXfrm, uint8(n), uint32(spnum)
	in.dreg, err = l.store(d, n)
	return in, st, err
}

// xfrmHooks is nft_xfrm_validate: the inbound state exists from
// prerouting on, the outbound one once routing chose an xfrm dst.
//
// Ref: net/netfilter/nft_xfrm.c — nft_xfrm_validate.
func xfrmHooks(b netlinkBody, fam ruleset.Family, h *ruleset.ChainHook) error {
	switch fam {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
	default:
		return errNotSupp
	}
	if fam == ruleset.FamilyINet && h.Hook == ruleset.HookIngress {
		return errNotSupp
	}
	dir := ""
	if len(b.fields) > 1 {
		dir = b.fields[1]
	}
	switch {
	case dir == "in" && (h.Hook == ruleset.HookPrerouting || h.Hook == ruleset.HookInput || h.Hook == ruleset.HookForward):
		return nil
	case dir == "out" && (h.Hook == ruleset.HookOutput || h.Hook == ruleset.HookPostrouting || h.Hook == ruleset.HookForward):
		return nil
	}
	return errNotSupp
}

// xfrmEval: the modelled host has no IPsec security associations, so no
// packet carries a sec path (inbound) or leaves through an xfrm dst
// (outbound): both lookups find nothing and the rule BREAKs.
//
// Ref: net/netfilter/nft_xfrm.c — nft_xfrm_get_eval_in, nft_xfrm_get_eval_out.
func (m *machine) xfrmEval(in *insn) {
	m.verdict = ruleset.VerdictBreak
}
