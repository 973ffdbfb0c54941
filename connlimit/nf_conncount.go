// Package connlimit is nf_conncount: a list of connection tuples whose size
// is `ct count`. One List backs each `ct count` expression in a rule and
// each element of a dynamic set that carries `ct count`.
//
// The behaviour is that of the 6.18 target kernel, which the scenarios show
// to act like the older ("V1") nf_conncount: every add scans the saved
// tuples, drops those whose conntrack entry is gone or TCP TIME_WAIT/CLOSE,
// and does not add a tuple that is already there.
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
			return uint32(len(l.conns)), true
		}
		if closed {
			l.remove(i)
			collect++
			continue
		}
		i++
	}
	if len(l.conns) >= 1<<31-1 {
		return uint32(len(l.conns)), false
	}
	l.conns = append(l.conns, saved{tup: tup, zone: zone})
	return uint32(len(l.conns)), true
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
