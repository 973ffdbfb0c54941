// Package connlimit is nf_conncount: a list of connection tuples whose size
// is `ct count`. One List backs each `ct count` expression in a rule and
// each element of a dynamic set that carries `ct count`.
//
// The behaviour is that of the 6.18 target kernel: an add scans the saved
// tuples, drops those whose conntrack entry is gone or TCP TIME_WAIT/CLOSE,
// and does not add a tuple that is already there — except that a packet of
// an assured or established connection is never added (the list is only
// collected) and a new connection's add does not scan a list scanned in the
// current jiffy (see AddPacket, which the VM uses).
package connlimit

import "github.com/nftgo/nftgo/ct"

// gcMaxNodes is CONNCOUNT_GC_MAX_NODES: a scan stops once it has evicted
// more than this many entries, so one packet never pays for a long list.
const gcMaxNodes = 8

// List is struct nf_conncount_list: the saved (tuple, zone) pairs, oldest
// first. The zero value is an empty list, which is what nft_connlimit_clone
// gives each new set element.
//
// The kernel also saves the CPU and jiffy of each add so that a tuple whose
// conntrack is still unconfirmed on another CPU is not evicted. A replay runs
// on one CPU, so every saved tuple counts as "same CPU": one that is not in
// the table is evicted at the next scan, whatever its age.
type List struct {
	conns []saved
	// lastGC is the jiffy of the last full scan (list->last_gc) and
	// lastGCSet whether there was one; AddPacket skips the scan of a list
	// already scanned in the same jiffy. Add and GC (the jiffy-less forms
	// the unit tests drive) neither read nor need it.
	lastGC    int64
	lastGCSet bool
}

// Conn is what nf_conncount_add_skb knows of the packet's connection.
type Conn uint8

const (
	// ConnNew: no conntrack entry, or one not confirmed yet (the first
	// packet of a connection).
	ConnNew Conn = iota
	// ConnConfirmed: a confirmed entry that is neither ASSURED nor seen
	// with an original-direction established packet (a SYN-ACK, a
	// retransmitted SYN, a reply before the connection is assured).
	ConnConfirmed
	// ConnEstablished: a confirmed entry that is ASSURED, or a packet
	// whose ctinfo is IP_CT_ESTABLISHED.
	ConnEstablished
)

// jiffy is the jiffy counter at now (ns) with the target kernel's HZ=250
// (CONFIG_HZ of the 6.18 kernel the scenarios are recorded on). Only
// equality matters: two evaluations for the same packet are always in
// the same jiffy, packets 4 ms or more apart never are.
func jiffy(now int64) int64 {
	const ns = 4_000_000
	if now < 0 {
		return (now - ns + 1) / ns
	}
	return now / ns
}

// Init is nf_conncount_list_init for a list created while a packet is
// evaluated (a dynamic set element's ct count, nft_connlimit_clone): it
// counts as scanned in that jiffy.
//
// Ref: net/netfilter/nf_conncount.c — nf_conncount_list_init
func (l *List) Init(now int64) {
	l.conns = nil
	l.lastGC, l.lastGCSet = jiffy(now), true
}

// AddPacket is nft_connlimit_do_eval's add of the packet's connection, as
// the 6.18 target kernel does it (nf_conncount_add_skb):
//   - ConnEstablished is not added: the add returns -EEXIST and
//     nft_connlimit runs nf_conncount_gc_list instead, which evicts every
//     gone or TCP TIME_WAIT/CLOSE entry, unless the list was scanned in
//     this jiffy;
//   - ConnNew is appended WITHOUT looking at the saved tuples when the list
//     was scanned (or created) in this jiffy — so two `ct count` adds of
//     one list for the same new packet (two rules adding to the same
//     dynamic set element) count it twice;
//   - otherwise (ConnConfirmed always) the saved tuples are scanned as Add
//     does and the jiffy noted when the scan ran to its end.
//
// Ref: net/netfilter/nf_conncount.c — __nf_conncount_add, nf_conncount_gc_list; nft_connlimit.c — nft_connlimit_do_eval
func (l *List) AddPacket(t *ct.Table, tup ct.Tuple, zone uint16, c Conn, now int64) (count uint32, ok bool) {
	j := jiffy(now)
	same := l.lastGCSet && l.lastGC == j
	switch {
	case c == ConnEstablished:
		if !same {
			l.GC(t, now)
			l.lastGC, l.lastGCSet = j, true
		}
		return uint32(len(l.conns)), true
	case c == ConnNew && same:
		if len(l.conns) >= 1<<31-1 {
			return uint32(len(l.conns)), false
		}
		l.conns = append(l.conns, saved{tup: tup, zone: zone})
		return uint32(len(l.conns)), true
	}
	count, ok, dup := l.add(t, tup, zone, now)
	if !dup {
		// only a scan that ran to its end notes the jiffy
		l.lastGC, l.lastGCSet = j, true
	}
	return count, ok
}

// saved is struct nf_conncount_tuple without the cpu/jiffies32 fields (see
// List).
type saved struct {
	tup  ct.Tuple
	zone uint16
}

// lookupFn answers for a saved tuple whether its conntrack entry is in the
// table and whether that entry is TCP TIME_WAIT/CLOSE. Only tests set
// testLookup, to run the list against a fake table; in production it is nil
// and the scan asks the ct.Table directly.
type lookupFn func(tup ct.Tuple, zone uint16, now int64) (found, closed bool)

var testLookup lookupFn

// find is find_or_evict's table lookup plus already_closed.
func find(t *ct.Table, tup ct.Tuple, zone uint16, now int64) (found, closed bool) {
	if testLookup != nil {
		return testLookup(tup, zone, now)
	}
	if t == nil {
		return false, false
	}
	c := t.Find(tup, zone, now)
	if c == nil {
		return false, false
	}
	return true, c.Closed()
}

// Add is __nf_conncount_add as the 6.18 target behaves. It returns the
// count after the add (nft_connlimit_do_eval reads list->count); ok is false
// when the add failed and the rule must drop the packet, which only happens
// past INT_MAX entries.
//
// The scan keeps the kernel's order: an entry whose conntrack is gone is
// evicted; one that is the packet's own tuple (same zone) ends the scan
// without adding, even when that connection is TIME_WAIT/CLOSE; only after
// that is a closed connection evicted. The scan stops after more than
// gcMaxNodes evictions and the tuple is then appended.
//
// Ref: net/netfilter/nf_conncount.c — __nf_conncount_add, find_or_evict, already_closed
func (l *List) Add(t *ct.Table, tup ct.Tuple, zone uint16, now int64) (count uint32, ok bool) {
	count, ok, _ = l.add(t, tup, zone, now)
	return count, ok
}

// add is Add; dup reports that the scan stopped at the packet's own tuple.
func (l *List) add(t *ct.Table, tup ct.Tuple, zone uint16, now int64) (count uint32, ok, dup bool) {
	collect := 0
	for i := 0; i < len(l.conns); {
		if collect > gcMaxNodes {
			break
		}
		c := &l.conns[i]
		found, closed := find(t, c.tup, c.zone, now)
		if !found {
			// Same CPU (see List): evicted whatever its age.
			l.remove(i)
			collect++
			continue
		}
		if c.tup == tup && c.zone == zone {
			return uint32(len(l.conns)), true, true
		}
		if closed {
			l.remove(i)
			collect++
			continue
		}
		i++
	}
	if len(l.conns) >= 1<<31-1 {
		return uint32(len(l.conns)), false, false
	}
	l.conns = append(l.conns, saved{tup: tup, zone: zone})
	return uint32(len(l.conns)), true, false
}

// GC is nf_conncount_gc_list: it walks the list evicting entries whose
// conntrack is gone or closed, stops at a live entry once more than
// gcMaxNodes were evicted, and reports whether the list is now empty (the
// set GC then removes the element that owns it).
//
// Ref: net/netfilter/nf_conncount.c — nf_conncount_gc_list
func (l *List) GC(t *ct.Table, now int64) (empty bool) {
	collected := 0
	for i := 0; i < len(l.conns); {
		c := &l.conns[i]
		found, closed := find(t, c.tup, c.zone, now)
		if !found || closed {
			l.remove(i)
			collected++
			continue
		}
		if collected > gcMaxNodes {
			break
		}
		i++
	}
	return len(l.conns) == 0
}

// Count is the current list size (list->count).
func (l *List) Count() uint32 { return uint32(len(l.conns)) }

// Reset empties the list, as nft_connlimit_clone gives a new element an
// empty list. It drops the storage too, so a List copied by value never
// shares entries with its template.
func (l *List) Reset() { l.conns = nil }

// remove deletes entry i keeping the order of the rest (list_del keeps the
// list order, and the order decides which entries a bounded scan reaches).
func (l *List) remove(i int) {
	copy(l.conns[i:], l.conns[i+1:])
	l.conns[len(l.conns)-1] = saved{}
	l.conns = l.conns[:len(l.conns)-1]
}
