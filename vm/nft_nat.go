package vm

import (
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// NAT manip types by hook: prerouting and output rewrite the destination,
// postrouting and input the source.
//
// Ref: net/netfilter/nf_nat_core.c — HOOK2MANIP.
func manipIsSrc(h ruleset.Hook) bool {
	return h == ruleset.HookPostrouting || h == ruleset.HookInput
}

// natRange is a mapping a nat statement asks for (struct nf_nat_range2).
type natRange struct {
	flags              uint32
	minAddr, maxAddr   [16]byte
	minProto, maxProto uint16
}

// natHook is the NAT core's hook entry: only NEW and RELATED packets whose
// mapping for this manip type is not set up run the nat chains, in their
// own priority order; the first chain that sets up a mapping, or returns
// anything but ACCEPT, ends the walk; none → a null binding. Established
// packets never see nat chains.
//
// Ref: net/netfilter/nf_nat_core.c — nf_nat_inet_fn.
func (m *machine) natHook(h ruleset.Hook) bool {
	c := m.conn
	if c == nil {
		return true
	}
	// An ICMP error RELATED to a connection is translated (inner packet
	// included) without consulting nat chains.
	// Ref: net/netfilter/nf_nat_proto.c — nf_nat_ipv4_fn, nf_nat_ipv6_fn.
	if (m.info == ct.Related || m.info == ct.RelatedReply) && m.pkt.HasL4 &&
		(m.pkt.L4Proto == packet.ProtoICMP || m.pkt.L4Proto == packet.ProtoICMPv6) {
		m.natPacket(c, h)
		return true
	}
	done := uint32(ct.StatusDstNATDone)
	if manipIsSrc(h) {
		done = ct.StatusSrcNATDone
	}
	switch m.info {
	case ct.New, ct.Related, ct.RelatedReply:
		if c.Status&done == 0 {
			for _, ci := range m.natChains[m.af][h] {
				v, dec := m.doChain(ci)
				if v != ruleset.VerdictAccept {
					return m.verdictOK(v, dec)
				}
				m.res.Decided = dec
				if c.Status&done != 0 {
					break
				}
			}
			if c.Status&done == 0 {
				m.nullBinding(c, manipIsSrc(h))
			}
		}
	}
	m.natPacket(c, h)
	return true
}

// natEval is snat/dnat/masquerade/redirect: it builds the range from the
// registers and sets up the mapping; the statement is terminal (ACCEPT).
//
// Ref: net/netfilter/nft_nat.c — nft_nat_eval; nft_masq.c; nft_redir.c.
func (m *machine) natEval(in *insn) {
	c := m.conn
	if c == nil || c.Status&ct.StatusConfirmed != 0 {
		m.verdict = ruleset.VerdictDrop
		return
	}
	var r natRange
	r.flags = in.mask
	alen := int(in.off)
	if in.aux&1 != 0 { // addresses given
		copy(r.minAddr[:alen], m.regs[in.sreg:int(in.sreg)+alen])
		copy(r.maxAddr[:alen], m.regs[in.dreg:int(in.dreg)+alen])
		r.flags |= ruleset.NATRangeMapIPs
	}
	if in.aux&2 != 0 { // ports given
		p1 := m.regs[in.aux2:]
		p2 := m.regs[uint8(in.key):]
		r.minProto = uint16(p1[0])<<8 | uint16(p1[1])
		r.maxProto = uint16(p2[0])<<8 | uint16(p2[1])
		r.flags |= ruleset.NATRangeProtoSpecific
	}
	src := false
	switch in.op {
	case opNAT:
		src = in.len == ruleset.NATSnat
	case opMasq:
		// Ref: net/netfilter/nf_nat_masquerade.c — nf_nat_masquerade_ipv4:
		// the out interface's address; none → DROP.
		src = true
		found := false
		if m.out != nil {
			for _, a := range m.out.addrs {
				if (a.Is4() && m.nfproto == 2) || (a.Is6() && !a.Is4() && m.nfproto == 10) {
					b := a.As16()
					if a.Is4() {
						b4 := a.As4()
						copy(b[:], b4[:])
					}
					r.minAddr, r.maxAddr = b, b
					r.flags |= ruleset.NATRangeMapIPs
					found = true
					break
				}
			}
		}
		if !found {
			m.verdict = ruleset.VerdictDrop
			return
		}
	case opRedir:
		// Ref: net/netfilter/nf_nat_redirect.c — the in device's first
		// address in prerouting, loopback in output.
		if m.hook == ruleset.HookOutput {
			r.minAddr = [16]byte{127, 0, 0, 1}
			if m.nfproto == 10 {
				r.minAddr = [16]byte{15: 1}
			}
			r.maxAddr = r.minAddr
			r.flags |= ruleset.NATRangeMapIPs
		} else if m.in != nil {
			for _, a := range m.in.addrs {
				if (a.Is4() && m.nfproto == 2) || (!a.Is4() && m.nfproto == 10) {
					b := a.As16()
					if a.Is4() {
						b4 := a.As4()
						copy(b[:], b4[:])
					}
					r.minAddr, r.maxAddr = b, b
					r.flags |= ruleset.NATRangeMapIPs
					break
				}
			}
		}
	}
	m.verdict = m.setupNAT(c, &r, src)
}
