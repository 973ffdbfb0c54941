package vm

import (
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

// setupNAT is nf_nat_setup_info for the statement's range: ACCEPT, also
// on a confirmed entry (nothing to do); DROP when the manip was already
// set up (the kernel WARNs).
//
// Ref: net/netfilter/nf_nat_core.c — nf_nat_setup_info.
func (m *machine) setupNAT(c *ct.Conn, r *natRange, src bool) ruleset.VerdictCode {
	if c.Status&ct.StatusConfirmed != 0 {
		return ruleset.VerdictAccept
	}
	if ct.NATInitialized(c, !src) {
		return ruleset.VerdictDrop
	}
	if !m.ct.SetupNAT(c, !src, r.minAddr, r.maxAddr, r.minProto, r.maxProto, r.flags) {
		return ruleset.VerdictDrop
	}
	return ruleset.VerdictAccept
}

// nullBinding is nf_nat_alloc_null_binding.
func (m *machine) nullBinding(c *ct.Conn, src bool) {
	m.ct.NullBinding(c, !src)
}

// natPacket is nf_nat_packet: rewrite by the stored mapping.
func (m *machine) natPacket(c *ct.Conn, h ruleset.Hook) {
	m.ct.Mangle(m.pkt, c, m.info, uint8(h))
}
