// Package connlimit is nf_conncount: a list of connection tuples whose size
// is `ct count`. One List backs each `ct count` expression in a rule and
// each element of a dynamic set that carries `ct count`.
package connlimit

// CONTRACT (filled in by the connlimit owner).

import "github.com/nftgo/nftgo/ct"

// List is struct nf_conncount_list.
type List struct{}

// Add is __nf_conncount_add as the 6.18 target behaves (V1 semantics in
// docs: dedup on every add, eviction of entries gone from t or TCP
// TIME_WAIT/CLOSE). It returns the count after the add; ok false means the
// add failed and the rule must drop the packet.
func (l *List) Add(t *ct.Table, tup ct.Tuple, zone uint16, now int64) (count uint32, ok bool) {
	panic("connlimit: not implemented")
}

// GC is nf_conncount_gc_list: it prunes dead entries and reports whether the
// list is now empty (the set GC then removes the element).
func (l *List) GC(t *ct.Table, now int64) (empty bool) { panic("connlimit: not implemented") }

// Count is the current list size.
func (l *List) Count() uint32 { panic("connlimit: not implemented") }
