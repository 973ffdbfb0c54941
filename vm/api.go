// Package vm runs a compiled ruleset over packets with the kernel's
// semantics: the nf_tables register machine (nft_do_chain), base chains on
// their hooks in priority order, conntrack's hooks at -200 and at the last
// priority, and a host model that routes each packet to input, forward or
// output as a Linux router or host would.
//
// Loading (nf_tables_api.go) turns each rule's expressions into a flat
// slice of small instructions with the checks the kernel makes when it
// accepts a rule (register bounds and initialisation, jump targets, jump
// depth, per-hook validation, dynset and connlimit constraints); a load
// and the word compare that follows it are fused into one instruction.
// Running a packet (nf_hook.go, nf_tables_core.go) is a switch per
// instruction over one 80-byte register file with the kernel's zero-fill,
// and allocates nothing. Conntrack (ct), sets (sets) and ct count lists
// (connlimit) are called through their packages; defrag, the NAT core and
// reject replies sit where the kernel has them.
package vm

// CONTRACT: cmd/nftgo and the replay compile against the exported names
// below; changes are listed in the vm owner's reports.

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
	// Bridges are Linux bridges: Ethernet frames received on a port are
	// bridged (bridge-family hooks, the forwarding database) instead of
	// routed.
	Bridges []Bridge
}

// Bridge is one bridge device. Name is the bridge's own interface (declare
// it in Ifaces too to give it addresses); Ports are interfaces of Ifaces
// enslaved to it; frames to MAC are the host's. NoIPHooks models a kernel
// without br_netfilter (or bridge-nf-call-iptables/ip6tables 0): bridged IP
// traffic then skips the ip/ip6/inet hooks, which the reference kernel
// (br_netfilter built in, the sysctls 1) runs with the bridge as in and
// out device.
type Bridge struct {
	Name      string
	Ports     []string
	MAC       [6]byte
	NoIPHooks bool
}

// Config configures a Machine.
type Config struct {
	Host Host
	CT   ct.Config
	// Trace, when set, is called for every rule a packet runs to a verdict
	// other than BREAK (including CONTINUE: all its expressions matched)
	// and for every base-chain policy applied, in the spirit of
	// `nft monitor trace`. The Decision is shared: copy it to keep it.
	Trace func(TraceEvent)
	// TraceBreaks also reports the rules that did not match (their
	// verdict is VerdictBreak), so a trace shows every rule the packet
	// was evaluated against. It costs nothing when Trace is nil.
	TraceBreaks bool
}

// TraceEvent is one traced step: the rule (or policy) and its verdict at
// a hook.
type TraceEvent struct {
	Hook    ruleset.Hook
	Rule    *Decision
	Verdict ruleset.VerdictCode
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
	// ("prerouting" or "output" for conntrack, e.g. a full table;
	// "routing"; "input"/"postrouting" for a failed confirm; "defrag" for
	// a fragment held for reassembly, with Verdict VerdictStolen), empty
	// otherwise.
	KernelDrop string
	// Hook path, for traces: Out is the egress interface ("" when delivered
	// locally or dropped).
	Out string
	// Logged counts the log statements the packet met; LogPrefix is the
	// last one's prefix.
	Logged    int
	LogPrefix string
	// Reject is the reject statement that dropped the packet: the kernel
	// sends this reply (TCP RST or ICMP error). Nil otherwise.
	Reject *ruleset.Reject
	// Reply is the raw IP packet the kernel sent in answer: a reject's
	// TCP RST or ICMP error, or ICMP time exceeded for a packet whose TTL
	// ran out (nil when none, e.g. no RST for a RST). It went through
	// output and postrouting as a locally generated packet, with
	// ReplyVerdict.
	Reply        []byte
	ReplyVerdict ruleset.VerdictCode
	// QueueNum is the queue of a VerdictQueue; QueueBypass means no
	// listener lets the packet go on (it is then accepted).
	QueueNum    uint16
	QueueBypass bool
	// Shared reports that the packet ran an expression whose state all
	// flows share (limit, quota, dynset, ct count, a NAT mapping, numgen,
	// objref map, meta random): up to the first such packet, a replay
	// sharded by flow (replay --workers) gives one machine's answers.
	Shared bool
	// CtState is what `ct state` reads for the packet at the end of its
	// path, as a bitmask: 1 invalid, 2 established, 4 related, 8 new, 64
	// untracked (nft_ct_get_eval over the skb's ctinfo). A packet that
	// saw no conntrack hook reads invalid.
	CtState uint32
	// CtDirection is `ct direction` of the attached entry (0 original,
	// 1 reply), or -1 when none is attached (the expression then BREAKs).
	CtDirection int8
}

// Ct state bits of Result.CtState (NF_CT_STATE_BIT, NF_CT_STATE_UNTRACKED_BIT).
const (
	CtStateInvalid     = 1
	CtStateEstablished = 2
	CtStateRelated     = 4
	CtStateNew         = 8
	CtStateUntracked   = 64
)

// Machine is a loaded ruleset plus its run-time state. It is not safe for
// concurrent use: one machine replays one stream of packets.
type Machine struct {
	machine
}

// New loads rs into a fresh machine.
func New(rs *ruleset.Ruleset, cfg Config) (*Machine, error) {
	m := &Machine{}
	if err := m.load(rs, cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// Receive runs a packet that arrives from the wire on iface through
// prerouting, the routing decision, then input or forward and postrouting.
// An empty iface means the interface that routes back to the packet's
// source (the side it came from).
func (m *Machine) Receive(p *packet.Packet, iface string, now int64) Result {
	return m.receive(p, iface, now)
}

// Send runs a locally generated packet through output and postrouting.
func (m *Machine) Send(p *packet.Packet, now int64) Result { return m.send(p, now) }

// ReceiveRef and SendRef are Receive and Send without the copy of the
// Result: it belongs to the machine and holds until its next packet.
func (m *Machine) ReceiveRef(p *packet.Packet, iface string, now int64) *Result {
	return m.receiveRef(p, iface, now)
}

// SendRef: see ReceiveRef.
func (m *Machine) SendRef(p *packet.Packet, now int64) *Result { return m.sendRef(p, now) }

// Notes lists where this ruleset makes nftgo approximate the kernel (a
// conntrack helper Linux has and nftgo does not parse, …): the results
// stand, but the named effect is missing. Empty for most rulesets.
func (m *Machine) Notes() []string { return m.notes }

// ConntrackInUse reports whether the ruleset made the kernel register
// conntrack's hooks (a ct expression, nat or connlimit; not notrack): without
// them nothing is tracked and Result.CtState reads invalid for every packet.
func (m *Machine) ConntrackInUse() bool { return m.ctActive }

// Advance runs the timers due by now: conntrack expiry and set GC. The
// replay calls it before each packet with the packet's timestamp.
func (m *Machine) Advance(now int64) { m.advance(now) }

// Snapshot returns the ruleset as the kernel would dump it at now: counters
// with their values, sets with their current elements.
func (m *Machine) Snapshot(now int64) *ruleset.Ruleset { return m.snapshot(now) }

// Conntrack returns the machine's conntrack table. It stays empty when the
// ruleset never uses conntrack: the kernel then never registers its hooks.
func (m *Machine) Conntrack() *ct.Table {
	if m.ct == nil {
		m.ct = ct.NewTable(m.cfg.CT)
	}
	return m.ct
}
