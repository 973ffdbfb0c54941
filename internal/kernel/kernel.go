// Package kernel runs a ruleset and a packet sequence through the real Linux
// kernel (nf_tables + nf_conntrack) inside a throwaway network namespace and
// reports what the kernel did: per-packet verdicts from `nft monitor trace`,
// the ruleset with counters and sets, the conntrack table and the kernel log.
// It is the yardstick nftgo is measured against; it needs root, nft,
// conntrack and iproute2.
//
// Per-packet verdicts come from tracing: a helper table `inet __nftgo_k`
// sets `meta nftrace set 1` at the first priority of every hook and counts at
// the last one. Before every packet a marker (UDP 192.0.2.254 ->
// 192.0.2.253:9, IPv4 id = sequence number) is written into the namespace and
// dropped by the helper chain before defrag and conntrack see it; the trace
// stream is cut at the markers, one segment per packet. Flow control: packet
// i is written only after the trace reader has seen marker i, so the trace
// netlink socket never holds more than one packet's events (it drops events
// when it overflows, and drops are reported as errors).
package kernel

import (
	"net/netip"
	"time"
)

// Mode is the host the namespace models.
type Mode string

const (
	// Forward: a router between wan (198.51.100.254/24, 2001:db8:1::fffe/64,
	// default routes) and lan (203.0.113.254/24, 2001:db8:2::fffe/64). Each
	// packet is written into the tun on its source side.
	Forward Mode = "forward"
	// Local: one tun (tun0) holding the local addresses; packets to them are
	// delivered (and consumed after conntrack confirmation, so the host
	// stack never answers), packets from them are sent through a raw socket
	// (output + postrouting).
	Local Mode = "local"
)

// Packet is one raw IP packet (no link layer) with its capture timestamp.
type Packet struct {
	Time time.Time
	Data []byte
}

// Config is one kernel run.
type Config struct {
	Mode    Mode
	Local   []netip.Addr
	LanNets []netip.Prefix // extra prefixes routed to lan in forward mode
	// Sysctl holds dotted sysctl names. net.netfilter.nf_conntrack_max and
	// nf_conntrack_buckets are GLOBAL: they are set in the initial namespace,
	// saved first and restored after the run (also after a crash, on the
	// next run). Everything else is set inside the namespace.
	Sysctl  map[string]string
	Ruleset string // path of the ruleset file given to `nft -f`
	Packets []Packet
	// Fast writes packets back to back instead of following the capture's
	// timestamps.
	Fast bool
}

// Decision is the rule or policy that decided a packet.
type Decision struct {
	Family string
	Table  string
	Chain  string
	Handle int  // rule handle; 0 for a policy
	Policy bool // the base chain's policy decided
}

// Verdict is what happened to one packet.
type Verdict struct {
	Index int
	// Verdict is "accept" or "drop" (a drop outside nf_tables has Kernel set).
	Verdict string
	// Decided is the last terminal verdict met in user tables (the rule or
	// policy that dropped the packet, or that accepted it in the last base
	// chain it traversed); nil when no user chain decided.
	Decided *Decision
	// Kernel is the stage that dropped the packet outside nf_tables:
	// "prerouting" (conntrack, e.g. table full), "routing", "output",
	// "postrouting".
	Kernel string
	// Hooks lists the helper chains the packet reached (pre_first, pre_last,
	// fwd_first, ...): how far it got.
	Hooks []string
}

// Result is the raw outcome of a run; package scenario normalises it.
type Result struct {
	LoadError      string // nft -f stderr when the ruleset did not load
	Verdicts       []Verdict
	RulesetJSON    []byte // `nft -j list ruleset` without the helper table
	RulesetText    string // `nft -a list ruleset`
	Conntrack      string // `conntrack -L` output
	ConntrackCount int    // nf_conntrack_count at dump time
	Kmsg           []string
	Trace          []string // the raw `nft -a monitor trace` lines, for debugging
	TableFull      bool     // "nf_conntrack: table full" for this namespace in the kernel log
	Egress         int      // packets read from the tun devices
	// Errors are harness problems that make the result unreliable (trace
	// drops, packets without a trace, sysctls not restored).
	Errors []string
	// Recovered reports state left by earlier runs that crashed (global
	// sysctls restored, namespaces deleted) before this run started.
	Recovered []string
	Wall      time.Duration
}
