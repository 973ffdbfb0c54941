// Package sets holds nf_tables sets and maps at run time: exact-match and
// interval lookups, elements with timeouts on the replay clock, per-element
// stateful expressions (counter, quota, limit, connlimit), dynamic updates
// from the packet path and the set garbage collector.
//
// The backend follows the kernel's choice only as far as it changes
// results: exact match (nft_set_hash.c) for sets without the interval flag,
// rbtree semantics (nft_set_rbtree.c: start and INTERVAL_END elements) for
// single-field intervals, and pipapo semantics (nft_set_pipapo.c: KEY and
// KEY_END per element, every field inside its range) for concatenated
// intervals.
package sets

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

func errorf(format string, a ...any) error { return fmt.Errorf("sets: "+format, a...) }

// maxKeyLen is NFT_DATA_VALUE_MAXLEN: keys and data are at most 64 bytes.
const maxKeyLen = 64

type backend uint8

const (
	backendHash   backend = iota // nft_set_hash.c
	backendRbtree                // nft_set_rbtree.c
	backendPipapo                // nft_set_pipapo.c
)

// Set is one set or map.
type Set struct {
	def     ruleset.Set // definition without elements
	klen    int
	dlen    int
	backend backend

	hash   hashTable
	rbtree rbtree
	pipapo pipapo
	// all holds the interval backends' elements in insertion order.
	all      []*Elem
	catchall *Elem
	// zombies are hash elements that expired or were deleted while a live
	// element took their key: they no longer match but, as in the kernel,
	// they count against the size until the GC frees them.
	zombies []*Elem
	nelems  int
	seq     uint64

	timeout    int64 // set default timeout, ns
	gcInterval int64 // ns
	nextGC     int64
	gcOn       bool // the GC worker runs (see New)
	// anchored is false until the first call that knows the replay clock:
	// New has no time, so elements loaded with the ruleset get their
	// expiration and the GC its schedule from the first packet's time.
	anchored bool
}

// New builds a set from its definition, with its elements. Elements with a
// timeout start counting down at the first replay time the set sees.
func New(def *ruleset.Set) (*Set, error) {
	if def == nil {
		return nil, errorf("nil set")
	}
	s := &Set{def: *def, klen: int(def.KeyLen), dlen: int(def.DataLen)}
	s.def.Elements = nil
	if s.klen == 0 || s.klen > maxKeyLen {
		return nil, errorf("set %s: key length %d: invalid argument", def.Name, def.KeyLen)
	}
	if def.IsMap() && def.DataType != ruleset.DataVerdict && (s.dlen == 0 || s.dlen > maxKeyLen) {
		return nil, errorf("set %s: data length %d: invalid argument", def.Name, def.DataLen)
	}
	if !def.IsMap() {
		s.dlen = 0
	}
	s.timeout = int64(def.Timeout) * 1e6
	s.gcInterval = int64(def.GCInterval) * 1e6
	if s.gcInterval == 0 {
		s.gcInterval = 1e9 // NFT_SET_GC_INTERVAL default, nft_set_gc_interval
	}
	for _, e := range def.Exprs {
		if _, err := newStateful(e, 0); err != nil {
			return nil, errorf("set %s: %v", def.Name, err)
		}
	}

	interval := def.Flags&ruleset.SetInterval != 0
	ranges := len(def.FieldLens) > 1
	for _, e := range def.Elements {
		if e != nil && len(e.KeyEnd) > 0 {
			ranges = true
		}
	}
	switch {
	case interval && ranges:
		s.backend = backendPipapo
		if err := s.pipapo.init(def.FieldLens, s.klen); err != nil {
			return nil, errorf("set %s: %v", def.Name, err)
		}
	case interval:
		s.backend = backendRbtree
	default:
		s.backend = backendHash
		s.hash.init(s.klen)
	}

	// The rhash GC worker runs in sets with timeouts or the dynamic flag,
	// and in any set once a connlimit (NFT_EXPR_GC) is attached through
	// gc_init. connlimit is refused on sets with timeouts and on backends
	// without gc_init (only rhash has it).
	s.gcOn = s.backend == backendHash && def.Flags&(ruleset.SetTimeout|ruleset.SetEval) != 0
	if hasConnlimit(def) {
		if def.Flags&ruleset.SetTimeout != 0 || s.backend != backendHash {
			return nil, errorf("set %s: connlimit element expression: operation not supported", def.Name)
		}
		s.gcOn = true
	}
	for i, de := range def.Elements {
		if de == nil {
			return nil, errorf("set %s: element %d is nil", def.Name, i)
		}
		e, err := s.newElem(de)
		if err != nil {
			return nil, errorf("set %s: element %d: %v", def.Name, i, err)
		}
		if e.flags&ruleset.ElemCatchall != 0 {
			if s.catchall != nil {
				return nil, errorf("set %s: second catch-all element: file exists", def.Name)
			}
			s.catchall = e
			continue
		}
		switch s.backend {
		case backendHash:
			if old, _ := s.hash.get(e.key); old != nil {
				return nil, errorf("set %s: element %x: file exists", def.Name, e.key)
			}
			s.hash.put(e)
		default:
			s.all = append(s.all, e)
		}
		if e.flags&ruleset.ElemIntervalEnd == 0 {
			// End elements do not count against the size: a range is one
			// element (checked with nft 1.0.6 on 6.18: `size 1` takes one
			// range, `size 2` refuses three).
			s.nelems++
		}
	}
	if def.SizeSet && def.Size != 0 && s.nelems > int(def.Size) {
		// nft_add_set_elem: -ENFILE past the declared size. Only a size
		// nft declared counts here: the 65535 a dynset binding gives
		// applies after the elements were added.
		return nil, errorf("set %s: %d elements in a set of size %d: too many open files in system", def.Name, s.nelems, def.Size)
	}
	switch s.backend {
	case backendRbtree:
		s.rbtree.build(s.all, s.klen)
	case backendPipapo:
		s.pipapo.build(s.all)
	}
	return s, nil
}

// hasConnlimit reports a connlimit among the set's or its elements'
// expressions.
//
// Ref: net/netfilter/nf_tables_api.c — nft_set_elem_expr_alloc
func hasConnlimit(def *ruleset.Set) bool {
	for _, x := range def.Exprs {
		if _, ok := x.(*ruleset.Connlimit); ok {
			return true
		}
	}
	for _, e := range def.Elements {
		if e == nil {
			continue
		}
		for _, x := range e.Exprs {
			if _, ok := x.(*ruleset.Connlimit); ok {
				return true
			}
		}
	}
	return false
}

// newElem converts a control-plane element. Its timeout is the element's
// own or, in a set with the timeout flag, the set default (end elements of
// intervals excepted); the expiration is fixed when the clock is anchored.
//
// Ref: net/netfilter/nf_tables_api.c — nft_add_set_elem
func (s *Set) newElem(de *ruleset.Element) (*Elem, error) {
	e := &Elem{flags: de.Flags, objRef: de.ObjRef, comment: de.Comment}
	s.seq++
	e.seq = s.seq
	if de.Flags&ruleset.ElemCatchall == 0 {
		k, err := s.fixKey(de.Key)
		if err != nil {
			return nil, err
		}
		e.key = k
		if len(de.KeyEnd) > 0 {
			if e.keyEnd, err = s.fixKey(de.KeyEnd); err != nil {
				return nil, err
			}
		} else if s.backend == backendPipapo {
			e.keyEnd = e.key
		}
	}
	if de.Flags&ruleset.ElemIntervalEnd == 0 {
		if err := s.setData(e, de.Data, de.Verdict); err != nil {
			return nil, err
		}
	}
	switch {
	case de.Timeout != 0:
		e.timeout = int64(de.Timeout) * 1e6
		e.explicitTimeout = e.timeout
	case s.def.Flags&ruleset.SetTimeout != 0 && de.Flags&ruleset.ElemIntervalEnd == 0:
		e.timeout = s.timeout
	}
	if de.Expires != 0 {
		// A relative expiration as dumped; resolved at anchoring.
		e.expires = -int64(de.Expires) * 1e6
	} else if e.timeout != 0 {
		e.expires = -e.timeout
	}
	tmpl := de.Exprs
	if len(tmpl) == 0 && de.Flags&ruleset.ElemIntervalEnd == 0 {
		tmpl = s.def.Exprs
	}
	if len(tmpl) > 0 {
		e.Exprs = make([]Stateful, len(tmpl))
		for i, x := range tmpl {
			st, err := newStateful(x, 0)
			if err != nil {
				return nil, err
			}
			e.Exprs[i] = st
		}
	}
	return e, nil
}

// fixKey copies a key to exactly klen bytes: shorter keys are zero-padded
// as the kernel's nft_data_init pads registers, longer ones are refused.
func (s *Set) fixKey(k []byte) ([]byte, error) {
	if len(k) > s.klen {
		return nil, errorf("key of %d bytes in a set with %d-byte keys: invalid argument", len(k), s.klen)
	}
	out := make([]byte, s.klen)
	copy(out, k)
	return out, nil
}

func (s *Set) setData(e *Elem, data []byte, v *ruleset.Verdict) error {
	if !s.def.IsMap() {
		return nil
	}
	if s.def.DataType == ruleset.DataVerdict {
		if v != nil {
			e.Verdict = *v
			e.hasVerdict = true
		}
		return nil
	}
	if len(data) > s.dlen {
		return errorf("data of %d bytes in a map with %d-byte data: invalid argument", len(data), s.dlen)
	}
	e.Data = make([]byte, s.dlen)
	copy(e.Data, data)
	return nil
}

// anchor fixes the expirations of elements loaded by New (stored as
// negative relative times) and the GC schedule at the first known time.
func (s *Set) anchor(now int64) {
	s.anchored = true
	s.nextGC = now + s.gcInterval
	fix := func(e *Elem) {
		if e != nil && e.expires < 0 {
			e.expires = now - e.expires
		}
	}
	fix(s.catchall)
	s.hash.each(func(e *Elem) { fix(e); s.hash.touch(e) })
	for _, e := range s.all {
		fix(e)
	}
	if s.backend == backendPipapo {
		s.pipapo.refresh()
	}
}

// Lookup finds the element matching key (klen bytes; a longer slice such as
// a register file is cut to klen), trying the catch-all element on a miss;
// nil when nothing matches or the element expired. It allocates nothing.
//
// Ref: net/netfilter/nft_lookup.c — nft_lookup_eval; nf_tables_api.c — nft_set_catchall_lookup
func (s *Set) Lookup(key []byte, now int64) *Elem {
	if !s.anchored {
		s.anchor(now)
	}
	if len(key) < s.klen {
		return nil
	}
	key = key[:s.klen]
	var e *Elem
	switch s.backend {
	case backendHash:
		var exp int64
		if e, exp = s.hash.get(key); exp != 0 && now >= exp {
			e = nil
		}
	case backendRbtree:
		e = s.rbtree.lookup(key, now)
	case backendPipapo:
		e = s.pipapo.lookup(key, now)
	}
	if e == nil && s.catchall != nil && !s.catchall.expired(now) {
		e = s.catchall
	}
	return e
}

// Update is the backend update nft_dynset uses for add and update: it finds
// the live element for key or creates one with data, timeout (ns; 0 for the
// set default) and fresh clones of tmpl (the set's own expressions when tmpl
// is empty, as nft_dynset_init copies them). It returns nil when the set is
// full — the count includes expired and deleted elements the GC has not
// freed yet — or when the backend has no update (interval sets). refresh
// must be true for the UPDATE op (with or without a dynset timeout): an
// element that has a timeout then gets its expiration restarted from
// timeout when given, else from the set default, as the 6.18 kernel does.
//
// Ref: net/netfilter/nft_dynset.c — nft_dynset_eval, nft_dynset_new; nft_set_hash.c — nft_rhash_update
func (s *Set) Update(key, data []byte, tmpl []ruleset.Expr, timeout int64, refresh bool, now int64) (e *Elem, created bool) {
	if !s.anchored {
		s.anchor(now)
	}
	if s.backend != backendHash || len(key) < s.klen {
		return nil, false
	}
	key = key[:s.klen]
	e, _ = s.hash.get(key)
	if e != nil && e.expired(now) {
		// The expired element stays (counted) until the GC; a new one
		// takes its key, as rhashtable holds both side by side.
		s.zombies = append(s.zombies, e)
		s.hash.del(key)
		e = nil
	}
	if e == nil {
		if s.def.Size != 0 && s.nelems >= int(s.def.Size) {
			return nil, false
		}
		var err error
		if e, err = s.newDynElem(key, data, tmpl, timeout, now); err != nil {
			return nil, false
		}
		s.hash.put(e)
		s.nelems++
		created = true
	}
	if refresh && e.timeout != 0 {
		to := timeout
		if to == 0 {
			to = s.timeout
		}
		e.expires = now + to
		s.hash.touch(e)
	}
	return e, created
}

// newDynElem is nft_dynset_new's element: a timeout only in sets with the
// timeout flag (the dynset's, else the set default).
func (s *Set) newDynElem(key, data []byte, tmpl []ruleset.Expr, timeout int64, now int64) (*Elem, error) {
	e := &Elem{key: bytes.Clone(key)}
	s.seq++
	e.seq = s.seq
	if s.def.IsMap() && s.def.DataType != ruleset.DataVerdict {
		e.Data = make([]byte, s.dlen)
		copy(e.Data, data)
	}
	if s.def.Flags&ruleset.SetTimeout != 0 {
		e.timeout = timeout
		if e.timeout != 0 {
			e.explicitTimeout = e.timeout
		} else {
			e.timeout = s.timeout
		}
		if e.timeout != 0 {
			e.expires = now + e.timeout
		}
	}
	if len(tmpl) == 0 {
		tmpl = s.def.Exprs
	}
	if len(tmpl) > 0 {
		e.Exprs = make([]Stateful, len(tmpl))
		for i, x := range tmpl {
			st, err := newStateful(x, now)
			if err != nil {
				return nil, err
			}
			e.Exprs[i] = st
		}
	}
	return e, nil
}

// Delete removes key's live element if present. Like nft_rhash_delete it
// only marks the element dead: it stops matching at once but counts against
// the size until the GC frees it.
//
// Ref: net/netfilter/nft_dynset.c — nft_dynset_eval (NFT_DYNSET_OP_DELETE); nft_set_hash.c — nft_rhash_delete
func (s *Set) Delete(key []byte, now int64) {
	if !s.anchored {
		s.anchor(now)
	}
	if s.backend != backendHash || len(key) < s.klen {
		return
	}
	key = key[:s.klen]
	e, _ := s.hash.get(key)
	if e == nil || e.expired(now) {
		return
	}
	e.dead = true
	s.zombies = append(s.zombies, e)
	s.hash.del(key)
}

// GC runs the set's garbage collector if its gc-interval has passed since
// the last run: expired and deleted elements go, every connlimit element
// expression prunes its list, and in dynamic (EVAL) sets an element whose
// list is then empty goes too. Like the rhash gc worker it runs only in sets
// with the timeout or dynamic flag or a connlimit, at the set's creation
// time plus whole gc-intervals; when several intervals passed it runs once,
// at the last.
//
// Ref: net/netfilter/nft_set_hash.c — nft_rhash_gc, nft_rhash_expr_needs_gc_run; nft_connlimit.c — nft_connlimit_gc
func (s *Set) GC(t *ct.Table, now int64) {
	if !s.anchored {
		s.anchor(now)
	}
	if now < s.nextGC {
		return
	}
	tick := s.nextGC + (now-s.nextGC)/s.gcInterval*s.gcInterval
	s.nextGC = tick + s.gcInterval
	if !s.gcOn {
		return
	}
	s.nelems -= len(s.zombies)
	clear(s.zombies)
	s.zombies = s.zombies[:0]
	eval := s.def.Flags&ruleset.SetEval != 0
	s.hash.each(func(e *Elem) {
		if e.dead || e.expired(tick) || (len(e.Exprs) > 0 && needsGC(e, t, tick, eval)) {
			s.hash.del(e.key)
			s.nelems--
		}
	})
}

// NextGC is the replay time of the next GC run. GC called later runs once,
// at the last due run time; a caller that wants conntrack expiry and set GC
// interleaved exactly as the kernel's timers fire can run ct.Table.Expire
// and GC at each NextGC in turn.
func (s *Set) NextGC(now int64) int64 {
	if !s.anchored {
		s.anchor(now)
	}
	return s.nextGC
}

// needsGC is nft_rhash_expr_needs_gc_run: each expression with a gc op
// (only connlimit) prunes its list; an empty list condemns the element in a
// dynamic set.
func needsGC(e *Elem, t *ct.Table, now int64, eval bool) bool {
	for i := range e.Exprs {
		st := &e.Exprs[i]
		if st.Kind == KindConnlimit && listGC(st, t, now) && eval {
			return true
		}
	}
	return false
}

// listGC is nft_connlimit_gc. It is a variable only so that tests can run
// the set GC against a fake conntrack table.
var listGC = func(st *Stateful, t *ct.Table, now int64) bool { return st.Conns.GC(t, now) }

// Len is the element count the size limit is checked against (set->nelems):
// expired and deleted elements count until the GC frees them.
func (s *Set) Len() int { return s.nelems }

// Dump returns the set definition with its current elements and their
// expression state, as the kernel would dump it at now: expired and deleted
// elements are left out, a timeout is given only when it is the element's
// own (not the set default), Expires is the remaining time in ms.
// Elements come in key order (memcmp), the catch-all element last; nft
// sorts what it lists anyway (checked with nft 1.0.6: a hash set and a
// dynamic set both list in value order), so only the content matters.
//
// Ref: net/netfilter/nf_tables_api.c — nf_tables_dump_setelem, nf_tables_fill_setelem
func (s *Set) Dump(now int64) *ruleset.Set {
	if !s.anchored {
		s.anchor(now)
	}
	out := s.def
	out.FieldLens = slices.Clone(s.def.FieldLens)
	out.Exprs = slices.Clone(s.def.Exprs)
	var live []*Elem
	switch s.backend {
	case backendHash:
		s.hash.each(func(e *Elem) {
			if !e.dead && !e.expired(now) {
				live = append(live, e)
			}
		})
	default:
		for _, e := range s.all {
			if !e.expired(now) {
				live = append(live, e)
			}
		}
	}
	slices.SortFunc(live, func(a, b *Elem) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		// An end element before a start element at the same key, as
		// the interval lookup orders them.
		if c := int(b.flags&ruleset.ElemIntervalEnd) - int(a.flags&ruleset.ElemIntervalEnd); c != 0 {
			return c
		}
		return int(a.seq - b.seq)
	})
	if s.catchall != nil && !s.catchall.expired(now) {
		live = append(live, s.catchall)
	}
	out.Elements = make([]*ruleset.Element, 0, len(live))
	for _, e := range live {
		out.Elements = append(out.Elements, s.dumpElem(e, now))
	}
	return &out
}

func (s *Set) dumpElem(e *Elem, now int64) *ruleset.Element {
	d := &ruleset.Element{
		Key:     bytes.Clone(e.key),
		Flags:   e.flags,
		ObjRef:  e.objRef,
		Comment: e.comment,
		Data:    bytes.Clone(e.Data),
	}
	if s.backend == backendPipapo && e.keyEnd != nil {
		d.KeyEnd = bytes.Clone(e.keyEnd)
	}
	if e.hasVerdict {
		v := e.Verdict
		d.Verdict = &v
	}
	if e.explicitTimeout != 0 && e.explicitTimeout != s.timeout {
		d.Timeout = uint64(e.explicitTimeout / 1e6)
	}
	if e.expires > now {
		d.Expires = uint64((e.expires - now) / 1e6)
	}
	for i := range e.Exprs {
		d.Exprs = append(d.Exprs, e.Exprs[i].dump())
	}
	return d
}
