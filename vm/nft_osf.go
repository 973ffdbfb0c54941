package vm

import (
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// osfGenreLen is NFT_OSF_MAXGENRELEN: the destination takes 16 bytes.
const osfGenreLen = 16

// osfUnknown is the register image of "unknown", NUL-padded to 16 bytes.
var osfUnknown = [osfGenreLen]byte{'u', 'n', 'k', 'n', 'o', 'w', 'n'}

// loadOsf is nft_osf_init with nft_osf_validate's family check. The
// compiler hands osf over as a netlink debug body ("dreg 1 "): libnftnl
// prints neither the ttl nor the version flag, and neither changes what the
// expression stores while no fingerprint is loaded.
//
// Ref: net/netfilter/nft_osf.c — nft_osf_init, nft_osf_validate.
func (l *loader) loadOsf(b netlinkBody) (in insn, st int32, err error) {
	st = -1
	d, ok := b.reg("dreg")
	if !ok {
		return in, st, errInval
	}
	if ttl, ok := b.num("ttl"); ok && ttl > 2 {
		return in, st, errInval
	}
	if f, ok := b.num("flags"); ok && f != 1 { // NFT_OSF_F_VERSION
		return in, st, errInval
	}
	in.op = opOsf
	in.dreg, err = l.store(d, osfGenreLen)
	return in, st, err
}

// osfHooks is nft_osf_validate: ip and inet chains at prerouting, input or
// forward; any other family is refused whatever the hook.
func osfHooks(fam ruleset.Family, h *ruleset.ChainHook) error {
	switch fam {
	case ruleset.FamilyIPv4, ruleset.FamilyINet:
	default:
		return errNotSupp
	}
	if fam == ruleset.FamilyINet && h.Hook == ruleset.HookIngress {
		return errNotSupp
	}
	switch h.Hook {
	case ruleset.HookPrerouting, ruleset.HookInput, ruleset.HookForward:
		return nil
	}
	return errNotSupp
}

// osfEval: only IPv4 TCP SYNs are fingerprinted; anything else BREAKs,
// IPv6 packets in an inet chain included ("nft_osf: restrict it to ipv4",
// in 6.18 stable; measured: an IPv6 SYN does not match "unknown"). With no
// fingerprint list loaded (pf.os is not loaded by default) nf_osf_find
// finds nothing and the register reads "unknown", name or version alike.
//
// Ref: net/netfilter/nft_osf.c — nft_osf_eval; net/netfilter/nfnetlink_osf.c — nf_osf_find.
func (m *machine) osfEval(in *insn) {
	p := m.pkt
	if p.NFProto != packet.NFProtoIPv4 || !p.HasL4 || p.L4Proto != packet.ProtoTCP {
		m.verdict = ruleset.VerdictBreak
		return
	}
	// The TCP header at ip_hdrlen(skb).
	off := p.NetOff + int(p.Data[p.NetOff]&0x0f)*4
	if off+20 > len(p.Data) || p.Data[off+13]&0x02 == 0 {
		m.verdict = ruleset.VerdictBreak
		return
	}
	m.store(in.dreg, osfUnknown[:])
}
