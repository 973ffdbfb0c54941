package ct

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/nftgo/nftgo/packet"
)

// hz is CONFIG_HZ of the target kernel: conntrack keeps its deadlines in
// jiffies, so timeouts and `conntrack -L` seconds are quantised like Linux's.
const (
	hz        = 250
	jiffyNS   = 1_000_000_000 / hz
	evictions = 8 // NF_CT_EVICTION_RANGE
)

// jiffies converts the replay clock to the kernel's 32-bit jiffies counter.
func jiffies(now int64) uint32 {
	if now < 0 {
		return uint32((now - jiffyNS + 1) / jiffyNS)
	}
	return uint32(now / jiffyNS)
}

// Status bits the contract does not name.
const (
	statusFixedTimeout = 0x400
	statusNATMask      = StatusSrcNAT | StatusDstNAT
)

// Conn is one conntrack entry (struct nf_conn). Entries live in the table's
// slabs and are recycled; a *Conn is valid until the packet that got it
// from In is done.
type Conn struct {
	Status uint32
	Mark   uint32
	// timeout is a jiffies deadline once confirmed, a relative timeout
	// before (as ct->timeout in the kernel); for a free slab slot it links
	// the free list.
	timeout uint32
	orig    Tuple
	Zone    uint16
	tcp     tcpState
	// ext points at the entry's extensions (index+1 into Table.exts, 0
	// for none): helper, expectation master, timeout policy, labels.
	ext uint32
}

// natReplies holds the reply tuple of NATed entries, the only ones whose
// reply is not the inverse of the original tuple; keeping it out of Conn
// saves 38 bytes per entry. Keyed by entry, so Conn.Reply works without
// its table; each table drops its keys when an entry is freed, and all of
// them when the table itself is collected.
var natReplies sync.Map // *Conn -> *Tuple

// natSet lists a table's entries in natReplies.
type natSet struct{ m map[*Conn]struct{} }

// counters are one direction's nf_conn_counter (nf_conntrack_acct).
type counters struct{ packets, bytes uint64 }

// Stats are the /proc/net/stat/nf_conntrack counters nftgo keeps.
type Stats struct {
	Found, Invalid, Insert, InsertFailed, Drop, EarlyDrop, ICMPError uint64
}

const chunkShift = 12 // slab chunks hold 1<<chunkShift entries

// Table is a conntrack table of one network namespace.
type Table struct {
	max     int
	buckets uint64
	seed    uint64
	log     func(now int64, msg string)
	p       params

	chunks [][]Conn
	acct   [][][2]counters // per entry, only with nf_conntrack_acct=1
	nalloc uint32          // slab slots handed out so far
	free   uint32          // free list head: idx+1, 0 = empty
	count  int             // nf_conntrack_count

	// index is an open-addressing table of hash nodes (both directions of
	// every confirmed entry), linear probing, each slot holding the
	// tuple's 32-bit hash (high half) and node+1 (low half; node =
	// idx<<1|dir). A slot's home is hash*len>>32, so slots are ordered by
	// hash like the kernel's buckets are, which lets early drop walk "the
	// next 8 buckets" in the index.
	index []uint64
	used  int

	grave []uint32 // killed entries still attached to the packet in flight
	nat   *natSet
	ev    [][]ecache // per entry, only with Config.Event
	event func(now int64, line string)
	now   int64       // replay time of the current call
	bases []chunkBase // slab chunks by address, for idxOf
	zone  uint16      // zone of the packet In is working on

	nextGC uint32
	gcInit bool

	helperState // helpers, expectations, extensions (nf_conntrack_helper.go)

	// net_ratelimit state (5 s window, burst 10).
	rlBegin   uint32
	rlPrinted int
	rlMissed  int
	rlInit    bool

	Stats Stats
}

// params are the sysctls in the units the fast path uses.
type params struct {
	tcp                          [tcpTimeoutMax]uint32 // jiffies
	udp, udpStream, icmp, icmpv6 uint32
	generic, gre, greStream      uint32
	sctp                         [sctpMax]uint32
	checksum, loose, beLiberal   bool
	ignoreInvalidRST, acct       bool
	maxRetrans                   uint8
}

// NewTable returns an empty table.
func NewTable(cfg Config) *Table {
	t := &Table{max: cfg.Max, buckets: uint64(cfg.Buckets), seed: cfg.HashSeed, log: cfg.Log, event: cfg.Event}
	if t.buckets == 0 {
		t.buckets = defaultBuckets
	}
	if t.max < 0 {
		t.max = 0
	}
	j := func(k string) uint32 { return uint32(cfg.sysctl(k)) * hz }
	p := &t.p
	p.tcp[tcpSynSent] = j("nf_conntrack_tcp_timeout_syn_sent")
	p.tcp[tcpNone] = p.tcp[tcpSynSent]
	p.tcp[tcpSynRecv] = j("nf_conntrack_tcp_timeout_syn_recv")
	p.tcp[tcpEstablished] = j("nf_conntrack_tcp_timeout_established")
	p.tcp[tcpFinWait] = j("nf_conntrack_tcp_timeout_fin_wait")
	p.tcp[tcpCloseWait] = j("nf_conntrack_tcp_timeout_close_wait")
	p.tcp[tcpLastAck] = j("nf_conntrack_tcp_timeout_last_ack")
	p.tcp[tcpTimeWait] = j("nf_conntrack_tcp_timeout_time_wait")
	p.tcp[tcpClose] = j("nf_conntrack_tcp_timeout_close")
	p.tcp[tcpSynSent2] = 120 * hz // no sysctl
	p.tcp[tcpRetrans] = j("nf_conntrack_tcp_timeout_max_retrans")
	p.tcp[tcpUnack] = j("nf_conntrack_tcp_timeout_unacknowledged")
	p.udp = j("nf_conntrack_udp_timeout")
	p.udpStream = j("nf_conntrack_udp_timeout_stream")
	p.icmp = j("nf_conntrack_icmp_timeout")
	p.icmpv6 = j("nf_conntrack_icmpv6_timeout")
	p.generic = j("nf_conntrack_generic_timeout")
	p.sctp[sctpClosed] = j("nf_conntrack_sctp_timeout_closed")
	p.sctp[sctpNone] = p.sctp[sctpClosed]
	p.sctp[sctpCookieWait] = j("nf_conntrack_sctp_timeout_cookie_wait")
	p.sctp[sctpCookieEchoed] = j("nf_conntrack_sctp_timeout_cookie_echoed")
	p.sctp[sctpEstablished] = j("nf_conntrack_sctp_timeout_established")
	p.sctp[sctpShutdownSent] = j("nf_conntrack_sctp_timeout_shutdown_sent")
	p.sctp[sctpShutdownRecd] = j("nf_conntrack_sctp_timeout_shutdown_recd")
	p.sctp[sctpShutdownAckSent] = j("nf_conntrack_sctp_timeout_shutdown_ack_sent")
	p.sctp[sctpHeartbeatSent] = j("nf_conntrack_sctp_timeout_heartbeat_sent")
	p.gre = j("nf_conntrack_gre_timeout")
	p.greStream = j("nf_conntrack_gre_timeout_stream")
	p.checksum = cfg.sysctl("nf_conntrack_checksum") != 0
	p.loose = cfg.sysctl("nf_conntrack_tcp_loose") != 0
	p.beLiberal = cfg.sysctl("nf_conntrack_tcp_be_liberal") != 0
	p.ignoreInvalidRST = cfg.sysctl("nf_conntrack_tcp_ignore_invalid_rst") != 0
	p.acct = cfg.sysctl("nf_conntrack_acct") != 0
	p.maxRetrans = uint8(min(cfg.sysctl("nf_conntrack_tcp_max_retrans"), 255))
	t.expectMax = int(cfg.sysctl("nf_conntrack_expect_max"))

	n := 1024
	if t.max > 0 {
		// Size the index for a full table up front (2 nodes per entry at
		// most 4/5 full) so that it never grows while flooded.
		n = t.max*5/2 + 16
	}
	t.index = make([]uint64, n)
	t.nat = &natSet{m: map[*Conn]struct{}{}}
	runtime.AddCleanup(t, func(s *natSet) {
		for c := range s.m {
			natReplies.Delete(c)
		}
	}, t.nat)
	return t
}

// Count is nf_conntrack_count: allocated entries, unconfirmed included.
func (t *Table) Count() int { return t.count }

// conn returns the entry in slab slot idx.
func (t *Table) conn(idx uint32) *Conn {
	k, off := chunkOf(idx)
	return &t.chunks[k][off]
}

// chunkOf splits a slab index into chunk and offset. Chunks never move,
// so a *Conn stays valid while its slot is in use.
func chunkOf(idx uint32) (int, uint32) {
	return int(idx >> chunkShift), idx & (1<<chunkShift - 1)
}

// chunkBase is the address of a slab chunk and its number.
type chunkBase struct {
	base uintptr
	k    int
}

// idxOf returns an entry's slab slot, found from its address (the slab
// is not moved by Go's collector), so that entries need not store it.
func (t *Table) idxOf(c *Conn) (uint32, bool) {
	if c == nil {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(c))
	lo, hi := 0, len(t.bases)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.bases[m].base <= p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	b := t.bases[lo-1]
	off := (p - b.base) / unsafe.Sizeof(Conn{})
	if off >= 1<<chunkShift || &t.chunks[b.k][off] != c {
		return 0, false
	}
	return uint32(b.k)<<chunkShift | uint32(off), true
}

// newSlot takes a slab slot from the free list or the slab's end.
func (t *Table) newSlot() uint32 {
	if t.free != 0 {
		idx := t.free - 1
		t.free = t.conn(idx).timeout
		return idx
	}
	idx := t.nalloc
	k, _ := chunkOf(idx)
	if k == len(t.chunks) {
		ch := make([]Conn, 1<<chunkShift)
		t.chunks = append(t.chunks, ch)
		cb := chunkBase{uintptr(unsafe.Pointer(&ch[0])), k}
		i := len(t.bases)
		t.bases = append(t.bases, cb)
		for ; i > 0 && t.bases[i-1].base > cb.base; i-- {
			t.bases[i] = t.bases[i-1]
		}
		t.bases[i] = cb
		if t.p.acct {
			t.acct = append(t.acct, make([][2]counters, 1<<chunkShift))
		}
		if t.event != nil {
			t.ev = append(t.ev, make([]ecache, 1<<chunkShift))
		}
	}
	t.nalloc++
	return idx
}

// freeSlot returns an entry to the free list (nf_conntrack_free).
func (t *Table) freeSlot(idx uint32) {
	c := t.conn(idx)
	if c.Status&statusNATMask != 0 {
		natReplies.Delete(c)
		delete(t.nat.m, c)
	}
	if c.ext != 0 {
		t.extRelease(c)
	}
	*c = Conn{Status: StatusDying, timeout: t.free}
	t.free = idx + 1
	t.count--
}

// tupleIs reports whether direction dir of the entry has tuple tup.
func (c *Conn) tupleIs(dir uint32, tup *Tuple) bool {
	if dir == dirOriginal {
		return c.orig == *tup
	}
	if c.Status&statusNATMask == 0 {
		r, _ := c.orig.invert()
		return r == *tup
	}
	return c.Reply() == *tup
}

// home is the index slot a hash starts probing at.
func (t *Table) home(h uint32) int {
	return int(uint64(h) * uint64(len(t.index)) >> 32)
}

// lookup finds the node of a confirmed entry with tuple tup.
//
// Ref: net/netfilter/nf_conntrack_core.c — ____nf_conntrack_find
func (t *Table) lookup(tup *Tuple, zone uint16, h uint32) (idx, dir uint32, ok bool) {
	n := len(t.index)
	for i := t.home(h); ; {
		s := t.index[i]
		if s == 0 {
			return 0, 0, false
		}
		if uint32(s>>32) == h {
			node := uint32(s) - 1
			c := t.conn(node >> 1)
			if c.tupleIs(node&1, tup) && c.Zone == zone {
				return node >> 1, node & 1, true
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// insertNode adds a hash node for one direction of entry idx.
func (t *Table) insertNode(node, h uint32) {
	if (t.used+1)*5 > len(t.index)*4 {
		t.grow()
	}
	n := len(t.index)
	i := t.home(h)
	for t.index[i] != 0 {
		if i++; i == n {
			i = 0
		}
	}
	t.index[i] = uint64(h)<<32 | uint64(node+1)
	t.used++
}

// grow doubles the index; slots keep their hash, so nothing is rehashed.
func (t *Table) grow() {
	old := t.index
	t.index = make([]uint64, len(old)*2)
	n := len(t.index)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := t.home(uint32(s >> 32))
		for t.index[i] != 0 {
			if i++; i == n {
				i = 0
			}
		}
		t.index[i] = s
	}
}

// removeNode deletes a node, shifting later members of its cluster back
// so that probing never meets a hole (no tombstones).
func (t *Table) removeNode(node, h uint32) {
	n := len(t.index)
	want := uint64(h)<<32 | uint64(node+1)
	i := t.home(h)
	for t.index[i] != want {
		if t.index[i] == 0 {
			return
		}
		if i++; i == n {
			i = 0
		}
	}
	t.used--
	for {
		t.index[i] = 0
		j := i
		for {
			if j++; j == n {
				j = 0
			}
			s := t.index[j]
			if s == 0 {
				return
			}
			k := t.home(uint32(s >> 32))
			// Move s into the hole at i unless its home lies cyclically
			// in (i, j].
			if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
				t.index[i] = s
				i = j
				break
			}
		}
	}
}

// hashes returns the hash of both tuples of an entry.
func (t *Table) hashes(c *Conn) (uint32, uint32) {
	r := c.Reply()
	return c.orig.hash(c.Zone, t.seed), r.hash(c.Zone, t.seed)
}

// unlink removes a confirmed entry from the index and marks it dying
// (nf_ct_delete); the caller frees it or parks it in the graveyard.
func (t *Table) unlink(idx uint32) {
	c := t.conn(idx)
	if c.Status&StatusConfirmed != 0 && c.Status&StatusDying == 0 {
		t.destroyEvent(idx)
		ho, hr := t.hashes(c)
		t.removeNode(idx<<1, ho)
		t.removeNode(idx<<1|1, hr)
	}
	c.Status |= StatusDying
}

// kill deletes an entry that a packet in flight still holds: it leaves the
// table now and is freed when the replay moves on (Expire).
func (t *Table) kill(c *Conn) {
	if c.Status&StatusDying != 0 {
		return
	}
	if c.Status&StatusConfirmed == 0 {
		c.Status |= StatusDying // Confirm or Release frees it
		return
	}
	idx, ok := t.idxOf(c)
	if !ok {
		return
	}
	t.unlink(idx)
	t.grave = append(t.grave, idx)
}

// expired is nf_ct_is_expired for a confirmed entry.
func expired(c *Conn, j uint32) bool { return int32(c.timeout-j) <= 0 }

// find is nf_conntrack_find_get: a confirmed entry with tup in either
// direction; an expired one met on the way is reaped.
func (t *Table) find(tup *Tuple, zone uint16, h, j uint32) (idx, dir uint32, ok bool) {
	idx, dir, ok = t.lookup(tup, zone, h)
	if !ok {
		return 0, 0, false
	}
	if expired(t.conn(idx), j) {
		t.unlink(idx)
		t.freeSlot(idx)
		return 0, 0, false
	}
	return idx, dir, true
}

// Find returns the confirmed, unexpired entry with tup as either tuple.
func (t *Table) Find(tup Tuple, zone uint16, now int64) *Conn {
	t.now = now
	idx, _, ok := t.find(&tup, zone, tup.hash(zone, t.seed), jiffies(now))
	if !ok {
		return nil
	}
	return t.conn(idx)
}

// bucketRange returns the first and last hash value of kernel bucket b.
func (t *Table) bucketRange(b uint64) (lo, hi uint64) {
	lo = (b<<32 + t.buckets - 1) / t.buckets
	hi = ((b+1)<<32+t.buckets-1)/t.buckets - 1
	return lo, hi
}

// bucketOf is reciprocal_scale(hash, nf_conntrack_htable_size).
func (t *Table) bucketOf(h uint32) uint64 { return uint64(h) * t.buckets >> 32 }

// earlyDrop frees room for a new entry when the table is full: from the
// new tuple's bucket on, at most 8 buckets are searched; in the first
// bucket holding any confirmed, non-ASSURED entry all of them are deleted.
// Expired entries met are reaped but do not count.
//
// Ref: net/netfilter/nf_conntrack_core.c — early_drop, early_drop_list
func (t *Table) earlyDrop(h, j uint32) bool {
	b := t.bucketOf(h)
	var victims [16]uint32
	for i := 0; i < evictions; i++ {
		bk := (b + uint64(i)) % t.buckets
		lo, hi := t.bucketRange(bk)
		if lo > hi {
			continue
		}
		v := victims[:0]
		var reap []uint32
		n := len(t.index)
		start, end := t.home(uint32(lo)), t.home(uint32(hi))
		for k, pos := 0, start; k < n; k++ {
			s := t.index[pos]
			if s == 0 {
				if k > end-start {
					break
				}
			} else if t.bucketOf(uint32(s>>32)) == bk {
				idx := (uint32(s) - 1) >> 1
				c := t.conn(idx)
				switch {
				case expired(c, j):
					reap = appendOnce(reap, idx)
				case c.Status&(StatusAssured|StatusDying) == 0:
					v = appendOnce(v, idx)
				}
			}
			if pos++; pos == n {
				pos = 0
			}
		}
		for _, idx := range reap {
			t.unlink(idx)
			t.freeSlot(idx)
		}
		for _, idx := range v {
			t.unlink(idx)
			t.freeSlot(idx)
		}
		if len(v) > 0 {
			t.Stats.EarlyDrop += uint64(len(v))
			return true
		}
	}
	return false
}

func appendOnce(s []uint32, v uint32) []uint32 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// alloc is __nf_conntrack_alloc + init_conntrack: a new unconfirmed entry
// counted against nf_conntrack_max. drop reports a full table.
//
// Ref: net/netfilter/nf_conntrack_core.c — __nf_conntrack_alloc
func (t *Table) alloc(orig, reply *Tuple, h uint32, now int64, j uint32) (c *Conn, drop bool) {
	t.count++
	if t.max > 0 && t.count > t.max {
		if !t.earlyDrop(h, j) {
			t.count--
			t.Stats.Drop++
			t.tableFull(now, j)
			return nil, true
		}
	}
	idx := t.newSlot()
	c = t.conn(idx)
	*c = Conn{orig: *orig}
	k, off := chunkOf(idx)
	if t.p.acct {
		t.acct[k][off] = [2]counters{}
	}
	if t.ev != nil {
		t.ev[k][off] = ecache{}
	}
	return c, false
}

// tableFull logs the kernel's warning through net_ratelimit: at most 10
// messages per 5 s window, and a "callbacks suppressed" line when a new
// window starts after messages were suppressed.
//
// Ref: lib/ratelimit.c — ___ratelimit; net/core/utils.c — net_ratelimit
func (t *Table) tableFull(now int64, j uint32) {
	const interval, burst = 5 * hz, 10
	if !t.rlInit {
		t.rlInit, t.rlBegin = true, j
	}
	if int32(j-(t.rlBegin+interval)) > 0 {
		if t.rlMissed > 0 && t.log != nil {
			t.log(now, "net_ratelimit: "+itoa(t.rlMissed)+" callbacks suppressed")
		}
		t.rlBegin, t.rlPrinted, t.rlMissed = j, 0, 0
	}
	if t.rlPrinted < burst {
		t.rlPrinted++
		if t.log != nil {
			t.log(now, "nf_conntrack: table full, dropping packet")
		}
		return
	}
	t.rlMissed++
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			break
		}
	}
	return string(b[i:])
}

// Verdicts of the protocol handlers.
const (
	vAccept  = iota
	vInvalid // -NF_ACCEPT: detach the entry, ct state invalid
	vRepeat  // -NF_REPEAT: the entry was killed, look up again
	vDrop    // NF_DROP
)

// In is nf_conntrack_in for p at hook (HookPrerouting or HookOutput): it
// finds or creates (unconfirmed) the entry, runs the protocol tracker and
// returns the entry to attach (nil when none) with its ctinfo. drop reports
// that the packet must be dropped outside nf_tables (table full).
//
// Ref: net/netfilter/nf_conntrack_core.c — nf_conntrack_in, resolve_normal_ct
func (t *Table) In(p *packet.Packet, hook uint8, now int64) (c *Conn, info Info, drop bool) {
	return t.InZone(p, hook, 0, now)
}

// InZone is In for a packet whose conntrack template (`ct zone set` in a
// chain before priority -200) puts it in zone: lookups, new entries and
// ICMP error lookups use that zone.
func (t *Table) InZone(p *packet.Packet, hook uint8, zone uint16, now int64) (c *Conn, info Info, drop bool) {
	j := jiffies(now)
	t.zone, t.now = zone, now
	if p == nil || !p.HasL4 || p.FragOff != 0 || p.ThOff > len(p.Data) ||
		(p.NFProto != packet.NFProtoIPv4 && p.NFProto != packet.NFProtoIPv6) {
		t.Stats.Invalid++
		return nil, NoInfo, false
	}
	l4 := p.Data[p.ThOff:]
	switch {
	case p.L4Proto == packet.ProtoICMP && p.NFProto == packet.NFProtoIPv4:
		if c, info, done := t.icmpError(p, l4, hook, j); done {
			return c, info, false
		}
	case p.L4Proto == packet.ProtoICMPv6 && p.NFProto == packet.NFProtoIPv6:
		if c, info, done := t.icmpv6Error(p, l4, hook, j); done {
			return c, info, false
		}
	}
	var tup Tuple
	if !tupleFrom(&tup, p.Data[p.NetOff:], p.NFProto, p.L4Proto, l4) {
		t.Stats.Invalid++
		return nil, NoInfo, false
	}
	h := tup.hash(zone, t.seed)
	for range 3 {
		idx, dir, found := t.find(&tup, zone, h, j)
		if found {
			t.Stats.Found++
			c = t.conn(idx)
			switch {
			case dir == dirReply:
				info = EstablishedReply
			case c.Status&StatusSeenReply != 0:
				info = Established
			case c.Status&StatusExpected != 0:
				info = Related
			default:
				info = New
			}
		} else {
			reply, ok := tup.invert()
			if !ok {
				t.Stats.Invalid++
				return nil, NoInfo, false
			}
			c, drop = t.alloc(&tup, &reply, h, now, j)
			if drop {
				return nil, NoInfo, true
			}
			c.Zone = zone
			info = New
			if len(t.expects) > 0 && t.expectLookup(c, j) {
				info = Related
			}
		}
		v := t.packet(c, p, l4, info, hook, j)
		switch v {
		case vAccept:
			if info == EstablishedReply && c.Status&StatusSeenReply == 0 {
				c.Status |= StatusSeenReply
				t.cacheEvent(c, evReply)
			}
			t.cur, t.curConn = p, c
			return c, info, false
		case vInvalid:
			t.Stats.Invalid++
			if c.Status&StatusConfirmed == 0 {
				t.Release(c)
			}
			return nil, NoInfo, false
		case vDrop:
			if c.Status&StatusConfirmed == 0 {
				t.Release(c)
			}
			return nil, NoInfo, true
		}
		// vRepeat: the old entry is gone; resolve again.
	}
	return nil, NoInfo, true
}

// packet dispatches to the protocol tracker (nf_conntrack_handle_packet).
func (t *Table) packet(c *Conn, p *packet.Packet, l4 []byte, info Info, hook uint8, j uint32) int {
	switch c.orig.Proto {
	case packet.ProtoTCP:
		return t.tcpPacket(c, p, l4, info, hook, j)
	case packet.ProtoUDP, packet.ProtoUDPLite:
		return t.udpPacket(c, p, l4, info, hook, j)
	case packet.ProtoICMP:
		if c.orig.L3 == packet.NFProtoIPv4 {
			return t.icmpPacket(c, p, info, j, t.p.icmp)
		}
	case packet.ProtoICMPv6:
		if c.orig.L3 == packet.NFProtoIPv6 {
			return t.icmpPacket(c, p, info, j, t.p.icmpv6)
		}
	case packet.ProtoGRE:
		return t.grePacket(c, p, info, j)
	case packet.ProtoSCTP:
		return t.sctpPacket(c, p, l4, info, hook, j)
	}
	return t.genericPacket(c, p, info, j)
}

// refresh is nf_ct_refresh_acct: a new relative timeout (made absolute for
// confirmed entries) and the per-direction counters.
//
// Ref: net/netfilter/nf_conntrack_core.c — __nf_ct_refresh_acct
func (t *Table) refresh(c *Conn, p *packet.Packet, info Info, extra, j uint32) {
	if c.Status&statusFixedTimeout == 0 {
		if c.Status&StatusConfirmed != 0 {
			extra += j
			t.gcBefore(extra)
		}
		c.timeout = extra
	}
	t.account(c, p, info)
}

// gcBefore makes the next sweep run no later than deadline d.
func (t *Table) gcBefore(d uint32) {
	if !t.gcInit || int32(d-t.nextGC) < 0 {
		t.gcInit, t.nextGC = true, d
	}
}

// account adds the packet to its direction's counters (nf_ct_acct_update).
func (t *Table) account(c *Conn, p *packet.Packet, info Info) {
	if !t.p.acct {
		return
	}
	idx, ok := t.idxOf(c)
	if !ok {
		return
	}
	k, off := chunkOf(idx)
	d := 0
	if info >= EstablishedReply && info != Untracked && info != NoInfo {
		d = 1
	}
	t.acct[k][off][d].packets++
	t.acct[k][off][d].bytes += uint64(p.Len())
}

// Confirm is nf_confirm at the last hook (input or postrouting) for a packet
// that survived every hook: an unconfirmed entry is inserted. drop reports
// an insert failure.
//
// Ref: net/netfilter/nf_conntrack_core.c — __nf_conntrack_confirm
func (t *Table) Confirm(c *Conn, info Info, now int64) (drop bool) {
	if c == nil {
		return false
	}
	t.now = now
	if c.ext != 0 && t.curConn == c && t.help(c, info, jiffies(now)) {
		return true // the helper dropped the packet
	}
	if info == RelatedReply || info == EstablishedReply || c.Status&StatusConfirmed != 0 {
		t.deliverEvents(c, now)
		return false
	}
	j := jiffies(now)
	idx, ok := t.idxOf(c)
	if !ok {
		return false
	}
	if c.Status&StatusDying != 0 {
		t.Stats.InsertFailed++
		t.Release(c)
		return true
	}
	ho, hr := t.hashes(c)
	// A clash: another packet of the same flow confirmed an entry first.
	// Only UDP may resolve it; the packet then uses the existing entry.
	r := c.Reply()
	if _, _, found := t.find(&c.orig, c.Zone, ho, j); found || t.taken(&r, c.Zone, hr, j) {
		if found && (c.orig.Proto == packet.ProtoUDP || c.orig.Proto == packet.ProtoUDPLite) && c.Status&statusNATMask == 0 {
			t.Release(c)
			return false
		}
		t.Stats.InsertFailed++
		t.Stats.Drop++
		t.Release(c)
		return true
	}
	c.timeout += j
	t.gcBefore(c.timeout)
	c.Status |= StatusConfirmed
	t.insertNode(idx<<1, ho)
	t.insertNode(idx<<1|1, hr)
	t.Stats.Insert++
	if c.Status&StatusExpected != 0 {
		t.cacheEvent(c, evRelated)
	} else {
		t.cacheEvent(c, evNew)
	}
	t.deliverEvents(c, now)
	return false
}

// taken reports a live entry with tup in either direction.
func (t *Table) taken(tup *Tuple, zone uint16, h, j uint32) bool {
	_, _, ok := t.find(tup, zone, h, j)
	return ok
}

// Release frees an unconfirmed entry whose packet was dropped before
// Confirm: it never enters the table and produces no event.
func (t *Table) Release(c *Conn) {
	if c == nil || c.Status&StatusConfirmed != 0 {
		return
	}
	if idx, ok := t.idxOf(c); ok && !(c.Status == StatusDying && c.orig == Tuple{}) {
		t.freeSlot(idx)
	}
}

// Expire reaps entries whose timeout passed by now (the gc worker), and
// frees entries killed while their packet was in flight. A sweep runs when
// the earliest deadline the table knows of has passed, at most once per
// second of replay time; lookups treat expired entries as absent in
// between, as the kernel's do. Expired entries count against
// nf_conntrack_max until swept, as they do in Linux until its gc worker
// (which runs every 1 to 60 s) reaches them.
//
// Ref: net/netfilter/nf_conntrack_core.c — gc_worker
func (t *Table) Expire(now int64) {
	j := jiffies(now)
	t.now = now
	for _, idx := range t.grave {
		t.freeSlot(idx)
	}
	t.grave = t.grave[:0]
	if len(t.expects) > 0 {
		t.expectGC(j)
	}
	if !t.gcInit || int32(j-t.nextGC) < 0 {
		return
	}
	earliest, any := uint32(0), false
	for i := 0; i < len(t.index); {
		s := t.index[i]
		if s == 0 || (uint32(s)-1)&1 != 0 {
			i++
			continue
		}
		idx := (uint32(s) - 1) >> 1
		c := t.conn(idx)
		if expired(c, j) {
			t.unlink(idx)
			t.freeSlot(idx)
			continue // the slot now holds a shifted node: look again
		}
		if !any || int32(c.timeout-earliest) < 0 {
			earliest, any = c.timeout, true
		}
		i++
	}
	t.gcInit = any
	t.nextGC = earliest
	if int32(t.nextGC-(j+hz)) < 0 {
		t.nextGC = j + hz
	}
}

// Orig and Reply return the entry's tuples.
func (c *Conn) Orig() Tuple { return c.orig }
func (c *Conn) Reply() Tuple {
	if c.Status&statusNATMask != 0 {
		if v, ok := natReplies.Load(c); ok {
			return *v.(*Tuple)
		}
	}
	r, _ := c.orig.invert()
	return r
}
