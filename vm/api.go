// Package vm runs a compiled ruleset over packets with the kernel's
// semantics: the nf_tables register machine (nft_do_chain), base chains on
// their hooks in priority order, conntrack's hooks at -200 and at the last
// priority, and a host model that routes each packet to input, forward or
// output as a Linux router or host would.
package vm

// CONTRACT (filled in by the vm owner; cmd/nftgo and the replay compile
// against these).

import (
	"net/netip"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// Iface is one interface of the modelled host.
type Iface struct {
	Name   string
	Index  int // ifindex; assigned in order from 1 (lo) when 0
	Prefix []netip.Prefix
}

// Route sends Prefix out of Iface.
type Route struct {
	Prefix netip.Prefix
	Iface  string
}

// Host is the machine the ruleset is loaded on.
type Host struct {
	Ifaces []Iface
	Routes []Route
	// Local lists extra local addresses (--local); in local mode the host
	// has one interface holding them.
	Local []netip.Addr
}

// Config configures a Machine.
type Config struct {
	Host Host
	CT   ct.Config
}

// Decision names what decided a packet's fate: a rule (by table, chain,
// handle and position in its chain) or a base chain's policy.
type Decision struct {
	Family    ruleset.Family
	Table     string
	Chain     string
	Handle    uint64
	RuleIndex int
	Policy    bool
}

// Result is what happened to one packet.
type Result struct {
	// Verdict is ruleset.VerdictAccept, VerdictDrop, VerdictQueue or VerdictStolen.
	Verdict ruleset.VerdictCode
	// Decided is the last terminal verdict the packet met in a user base
	// chain (the rule or policy that dropped it, or that accepted it in the
	// last base chain it traversed); nil when no base chain saw it.
	Decided *Decision
	// KernelDrop names the stage that dropped the packet outside nf_tables
	// ("prerouting" for conntrack, e.g. a full table; "routing"; "input";
	// "postrouting"), empty otherwise.
	KernelDrop string
	// Hook path, for traces: Out is the egress interface ("" when delivered
	// locally or dropped).
	Out string
}

// Machine is a loaded ruleset plus its run-time state.
type Machine struct{}

// New loads rs into a fresh machine.
func New(rs *ruleset.Ruleset, cfg Config) (*Machine, error) { panic("vm: not implemented") }

// Receive runs a packet that arrives from the wire on iface through
// prerouting, the routing decision, then input or forward and postrouting.
func (m *Machine) Receive(p *packet.Packet, iface string, now int64) Result {
	panic("vm: not implemented")
}

// Send runs a locally generated packet through output and postrouting.
func (m *Machine) Send(p *packet.Packet, now int64) Result { panic("vm: not implemented") }

// Advance runs the timers due by now: conntrack expiry and set GC.
func (m *Machine) Advance(now int64) { panic("vm: not implemented") }

// Snapshot returns the ruleset as the kernel would dump it at now: counters
// with their values, sets with their current elements.
func (m *Machine) Snapshot(now int64) *ruleset.Ruleset { panic("vm: not implemented") }

// Conntrack returns the machine's conntrack table.
func (m *Machine) Conntrack() *ct.Table { panic("vm: not implemented") }
