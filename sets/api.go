// Package sets holds nf_tables sets and maps at run time: exact-match and
// interval lookups, elements with timeouts on the replay clock, per-element
// stateful expressions (counter, quota, limit, connlimit), dynamic updates
// from the packet path and the set garbage collector.
package sets

// CONTRACT (filled in by the sets owner; vm compiles against these).

import (
	"github.com/nftgo/nftgo/connlimit"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

// Set is one set or map.
type Set struct{}

// Elem is one element at run time.
type Elem struct {
	Data    []byte          // map data, zero-padded to the map's data length
	Verdict ruleset.Verdict // verdict maps
	// Exprs are the element's stateful expressions, in declaration order.
	Exprs []Stateful
}

// Stateful is the run-time state of one element expression, a tagged
// union so evaluation needs no interface call.
type Stateful struct {
	Tmpl ruleset.Expr // *ruleset.Counter, *ruleset.Limit, *ruleset.Quota or *ruleset.Connlimit

	Packets, Bytes uint64 // counter
	Consumed       uint64 // quota
	Tokens, Last   int64  // limit token bucket, ns
	Conns          connlimit.List
}

// New builds a set from its definition, with its elements.
func New(def *ruleset.Set) (*Set, error) { panic("sets: not implemented") }

// Lookup finds the element matching key (klen bytes), trying the catch-all
// element on a miss; nil when nothing matches or the element expired.
// It allocates nothing.
func (s *Set) Lookup(key []byte, now int64) *Elem { panic("sets: not implemented") }

// Update is the backend update nft_dynset uses for add and update: it finds
// the live element for key or creates one with data, timeout (ns, 0 for the
// set default) and fresh clones of tmpl. It returns nil when the set is
// full. refresh (update with a timeout) restarts the element's timeout.
func (s *Set) Update(key, data []byte, tmpl []ruleset.Expr, timeout int64, refresh bool, now int64) (e *Elem, created bool) {
	panic("sets: not implemented")
}

// Delete removes key's element if present.
func (s *Set) Delete(key []byte, now int64) { panic("sets: not implemented") }

// GC runs the set's garbage collector if its gc-interval has passed since
// the last run: expired elements go, and in dynamic sets so do elements
// whose connlimit count fell to zero.
func (s *Set) GC(t *ct.Table, now int64) { panic("sets: not implemented") }

// Dump returns the set definition with its current elements and their
// expression state, as the kernel would dump it at now.
func (s *Set) Dump(now int64) *ruleset.Set { panic("sets: not implemented") }
