// Package ct is Linux's connection tracker in userspace: tuples, a bucketed
// table limited by nf_conntrack_max, entries created unconfirmed by In (the
// nf_conntrack_in hook at priority -200) and inserted by Confirm (nf_confirm
// at the last hook), the TCP, UDP, ICMP/ICMPv6 and generic trackers, early
// drop, timeouts on the replay clock, and `conntrack -L` output.
//
// Time is always the replay clock, in nanoseconds, passed in by the caller:
// the table never reads the wall clock, so a replay is deterministic.
package ct

// CONTRACT (filled in by the ct owner; the signatures below are what vm and
// connlimit compile against — change them only together with their callers).

import (
	"io"

	"github.com/nftgo/nftgo/packet"
)

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

// Hook numbers In is called at.
const (
	HookPrerouting = 0
	HookOutput     = 3
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
	// Sysctls holds every other net.netfilter.nf_conntrack_* value by its
	// full key; SetSysctl validates and stores them.
	Sysctls map[string]int64
}

// DefaultConfig returns the defaults of a 24 GiB, 64-bit machine (the
// kernel sizes the table from RAM: 262144 buckets, max = buckets).
func DefaultConfig() Config { panic("ct: not implemented") }

// SetSysctl sets one net.netfilter.* (or net.nf_conntrack_max) key.
func (c *Config) SetSysctl(key, value string) error { panic("ct: not implemented") }

// Conn is one conntrack entry (struct nf_conn).
type Conn struct {
	Status uint32
	Mark   uint32
	Zone   uint16
	// unexported: tuples, protocol state, timeout, counters …
}

// Table is a conntrack table of one network namespace.
type Table struct{}

// NewTable returns an empty table.
func NewTable(cfg Config) *Table { panic("ct: not implemented") }

// In is nf_conntrack_in for p at hook (HookPrerouting or HookOutput): it
// finds or creates (unconfirmed) the entry, runs the protocol tracker and
// returns the entry to attach (nil when none) with its ctinfo. drop reports
// that the packet must be dropped outside nf_tables (table full).
func (t *Table) In(p *packet.Packet, hook uint8, now int64) (c *Conn, info Info, drop bool) {
	panic("ct: not implemented")
}

// Confirm is nf_confirm at the last hook (input or postrouting) for a packet
// that survived every hook: an unconfirmed entry is inserted. drop reports
// an insert failure.
func (t *Table) Confirm(c *Conn, info Info, now int64) (drop bool) { panic("ct: not implemented") }

// Release frees an unconfirmed entry whose packet was dropped before
// Confirm: it never enters the table and produces no event.
func (t *Table) Release(c *Conn) { panic("ct: not implemented") }

// Find returns the confirmed, unexpired entry with tup as either tuple.
func (t *Table) Find(tup Tuple, zone uint16, now int64) *Conn { panic("ct: not implemented") }

// TupleOf builds the original-direction tuple of a packet with no entry
// attached (nf_ct_get_tuplepr).
func TupleOf(p *packet.Packet) (Tuple, bool) { panic("ct: not implemented") }

// Expire reaps entries whose timeout passed by now (the gc worker).
func (t *Table) Expire(now int64) { panic("ct: not implemented") }

// WriteList writes the table as `conntrack -L` prints it (confirmed,
// unexpired entries; remaining timeouts in seconds at now).
func (t *Table) WriteList(w io.Writer, now int64) error { panic("ct: not implemented") }

// Count is nf_conntrack_count: allocated entries, unconfirmed included.
func (t *Table) Count() int { panic("ct: not implemented") }

// Orig and Reply return the entry's tuples.
func (c *Conn) Orig() Tuple  { panic("ct: not implemented") }
func (c *Conn) Reply() Tuple { panic("ct: not implemented") }

// Closed reports a TCP entry in TIME_WAIT or CLOSE, which nf_conncount no
// longer counts (already_closed).
func (c *Conn) Closed() bool { panic("ct: not implemented") }

// Expiration is the remaining lifetime in ms at now (ct expiration).
func (c *Conn) Expiration(now int64) uint32 { panic("ct: not implemented") }
