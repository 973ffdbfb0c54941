// Package ct is Linux's connection tracker in userspace: tuples, a bucketed
// table limited by nf_conntrack_max, entries created unconfirmed by In (the
// nf_conntrack_in hook at priority -200) and inserted by Confirm (nf_confirm
// at the last hook), the TCP, UDP, ICMP/ICMPv6 and generic trackers, early
// drop, timeouts on the replay clock, and `conntrack -L` output.
//
// Time is always the replay clock, in nanoseconds, passed in by the caller:
// the table never reads the wall clock, so a replay is deterministic.
// Deadlines are kept in jiffies (HZ=250) like Linux's, so timeouts,
// `conntrack -L` seconds and `ct expiration` round as the kernel's do.
//
// How a caller drives it, per packet (the vm does this):
//
//	t.Expire(now)                               // before each packet: gc
//	c, info, drop := t.In(p, HookPrerouting, now) // or InZone; HookOutput for local output
//	// drop: table full, the packet is gone (outside nf_tables)
//	// c == nil: invalid (info NoInfo) or untracked (info Untracked)
//	// nat chains run only while !NATInitialized(c, dst) and info is New,
//	// Related or RelatedReply; a matching rule calls
//	//     t.SetupNAT(c, dst, addrMin, addrMax, portMin, portMax, flags)
//	// (ports host order, flags NATMapIPs|NATProtoSpecified|…); after the
//	// chain, if still !NATInitialized(c, dst): t.NullBinding(c, dst).
//	// dst is true at prerouting/output (DNAT), false at input/postrouting.
//	t.Mangle(p, c, info, hook)                  // at each nat hook: nf_nat_packet
//	t.Confirm(c, info, now) // at the last hook of input/postrouting; true = drop
//	t.Release(c)            // instead, when the packet was dropped
//
// For `ct` expressions: StateBits(c, info), Direction(info), c.Status,
// c.Mark (write it, or c.SetMark), c.Expiration(now) in ms, c.L3Proto(),
// c.Protocol(), c.TupleDir(dir) (no allocation) for saddr/daddr/proto-src/
// proto-dst, t.Counters(c, dir) for packets/bytes (nf_conntrack_acct=1),
// c.Zone; c.Closed() for nf_conncount; t.Find for connlimit lookups.
// Output: t.WriteList (`conntrack -L`), Config.Event (`conntrack -E`),
// Config.Log (kernel log), t.Stats, t.Count.
package ct

// Info is the kernel's ctinfo (enum ip_conntrack_info).
type Info uint8

const (
	Established      Info = 0
	Related          Info = 1
	New              Info = 2
	EstablishedReply Info = 3
	RelatedReply     Info = 4
	Untracked        Info = 7
	// NoInfo is "no ct attached and not untracked": nft reads ct state invalid.
	NoInfo Info = 255
)

// Status bits (enum ip_conntrack_status).
const (
	StatusExpected   = 0x1
	StatusSeenReply  = 0x2
	StatusAssured    = 0x4
	StatusConfirmed  = 0x8
	StatusSrcNAT     = 0x10
	StatusDstNAT     = 0x20
	StatusSrcNATDone = 0x80
	StatusDstNATDone = 0x100
	StatusDying      = 0x200
)

// Hook numbers (enum nf_inet_hooks). In is called at HookPrerouting or
// HookOutput; Mangle at any of them.
const (
	HookPrerouting  = 0
	HookInput       = 1
	HookForward     = 2
	HookOutput      = 3
	HookPostrouting = 4
)

// Tuple is one direction of a connection (struct nf_conntrack_tuple). It is
// comparable and pointer-free so it can key maps. IPv4 addresses use the
// first four bytes of Src and Dst.
type Tuple struct {
	Src, Dst [16]byte
	// SrcPort/DstPort are ports for TCP/UDP/SCTP/UDP-Lite/DCCP; for ICMP and
	// ICMPv6 SrcPort is the echo id and DstPort is type<<8|code.
	SrcPort, DstPort uint16
	L3               uint8 // packet.NFProtoIPv4 or packet.NFProtoIPv6
	Proto            uint8
}

// Config holds the net.netfilter sysctls the tracker obeys.
type Config struct {
	Max     int // nf_conntrack_max; 0 means unlimited
	Buckets int // nf_conntrack_buckets
	// HashSeed makes bucket placement (and so early drop) reproducible.
	HashSeed uint64
	// Log receives kernel log lines such as
	// "nf_conntrack: table full, dropping packet"; nil discards them.
	Log func(now int64, msg string)
	// Event receives `conntrack -E` lines ("    [NEW] tcp      6 120
	// SYN_SENT src=…", " [UPDATE] …", "[DESTROY] …") as if a ctnetlink
	// listener had been running from the start; nil disables events.
	Event func(now int64, line string)
	// Sysctls holds every other net.netfilter.nf_conntrack_* value by its
	// full key; SetSysctl validates and stores them.
	Sysctls map[string]int64
}
