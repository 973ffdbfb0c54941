package vm

import (
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

// The NAT core's mapping and packet rewriting belong to ct (tuples, the
// bysource table, unique tuple selection). Until ct exports them these
// record the mapping as done so nat chains still see only the first packet
// of a connection; addresses are not rewritten yet.

// setupNAT is nf_nat_setup_info for the statement's range.
func (m *machine) setupNAT(c *ct.Conn, r *natRange, src bool) ruleset.VerdictCode {
	_ = r
	if src {
		c.Status |= ct.StatusSrcNATDone
	} else {
		c.Status |= ct.StatusDstNATDone
	}
	return ruleset.VerdictAccept
}

// nullBinding is nf_nat_alloc_null_binding.
func (m *machine) nullBinding(c *ct.Conn, src bool) {
	if src {
		c.Status |= ct.StatusSrcNATDone
	} else {
		c.Status |= ct.StatusDstNATDone
	}
}

// natPacket is nf_nat_packet: rewrite by the stored mapping.
func (m *machine) natPacket(c *ct.Conn, h ruleset.Hook) {}
