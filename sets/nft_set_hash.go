package sets

import (
	"encoding/binary"
	"math/bits"
)

// hashTable is the exact-match backend (nft_set_hash.c: hash, hash_fast
// and rhash give the same answers). Keys up to 8 bytes, the common case
// (addresses, ports, marks, ipv4_addr . inet_service), live in an
// open-addressing table of (key, expiration, element) slots, so a lookup is
// one multiply and usually one cache line, and the expiry check needs no
// trip to the element. Longer keys use Go maps keyed by fixed-size arrays.
// Nothing allocates on lookup.
//
// Ref: net/netfilter/nft_set_hash.c — nft_rhash_lookup, nft_rhash_cmp
type hashTable struct {
	klen int
	t8   oaTable                 // klen <= 8
	m16  map[[2]uint64]hashEntry // klen <= 16
	m64  map[[maxKeyLen]byte]hashEntry
}

// hashEntry keeps the element's expiration beside the pointer (see
// hashTable); touch keeps the two in step.
type hashEntry struct {
	e   *Elem
	exp int64
}

func (h *hashTable) init(klen int) {
	h.klen = klen
	switch {
	case klen <= 8:
		h.t8.init(8)
	case klen <= 16:
		h.m16 = map[[2]uint64]hashEntry{}
	default:
		h.m64 = map[[maxKeyLen]byte]hashEntry{}
	}
}

// key8 packs up to 8 bytes little-endian, zero-filled; within one set all
// keys have the same length, so the packing is injective.
func key8(k []byte) uint64 {
	switch len(k) {
	case 4:
		return uint64(binary.LittleEndian.Uint32(k))
	case 8:
		return binary.LittleEndian.Uint64(k)
	case 2:
		return uint64(binary.LittleEndian.Uint16(k))
	}
	var v uint64
	for i := len(k) - 1; i >= 0; i-- {
		v = v<<8 | uint64(k[i])
	}
	return v
}

func key16(k []byte) [2]uint64 {
	if len(k) == 16 {
		return [2]uint64{binary.LittleEndian.Uint64(k), binary.LittleEndian.Uint64(k[8:])}
	}
	return [2]uint64{binary.LittleEndian.Uint64(k), key8(k[8:])}
}

// get returns the element stored for key (len(key) == klen) and its
// expiration, nil if none.
func (h *hashTable) get(key []byte) (*Elem, int64) {
	var he hashEntry
	switch {
	case h.m16 != nil:
		he = h.m16[key16(key)]
	case h.m64 != nil:
		var k [maxKeyLen]byte
		copy(k[:], key)
		he = h.m64[k]
	default:
		return h.t8.get(key8(key))
	}
	return he.e, he.exp
}

// put stores e under its key (len(e.key) == klen), replacing any element
// there.
func (h *hashTable) put(e *Elem) {
	switch {
	case h.m16 != nil:
		h.m16[key16(e.key)] = hashEntry{e, e.expires}
	case h.m64 != nil:
		var k [maxKeyLen]byte
		copy(k[:], e.key)
		h.m64[k] = hashEntry{e, e.expires}
	default:
		h.t8.put(key8(e.key), e)
	}
}

// touch copies e.expires into e's slot after it changed.
func (h *hashTable) touch(e *Elem) { h.put(e) }

func (h *hashTable) del(key []byte) {
	switch {
	case h.m16 != nil:
		delete(h.m16, key16(key))
	case h.m64 != nil:
		var k [maxKeyLen]byte
		copy(k[:], key)
		delete(h.m64, k)
	default:
		h.t8.del(key8(key))
	}
}

// each calls f for every stored element. f may delete the element it is
// given but nothing else.
func (h *hashTable) each(f func(*Elem)) {
	switch {
	case h.m16 != nil:
		for _, he := range h.m16 {
			f(he.e)
		}
	case h.m64 != nil:
		for _, he := range h.m64 {
			f(he.e)
		}
	default:
		h.t8.each(f)
	}
}

// oaTable is a linear-probing hash table of 8-byte keys with backward-shift
// deletion (no tombstones), kept at most half full.
type oaTable struct {
	slots []oaSlot
	shift uint8 // 64 - log2(len(slots))
	n     int
	// scratch is each's snapshot buffer, kept so a GC pass over a large
	// set allocates nothing after the first.
	scratch []*Elem
}

type oaSlot struct {
	key uint64
	exp int64
	e   *Elem // nil: empty
}

func (t *oaTable) init(size int) {
	if size < 8 {
		size = 8
	}
	size = 1 << bits.Len(uint(size-1))
	t.slots = make([]oaSlot, size)
	t.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
}

// home is Fibonacci hashing: the top bits of key times 2^64/φ.
func (t *oaTable) home(key uint64) uint64 { return (key * 0x9e3779b97f4a7c15) >> t.shift }

func (t *oaTable) get(key uint64) (*Elem, int64) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.e == nil {
			return nil, 0
		}
		if s.key == key {
			return s.e, s.exp
		}
	}
}

func (t *oaTable) put(key uint64, e *Elem) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.e == nil {
			break
		}
		if s.key == key {
			s.exp, s.e = e.expires, e
			return
		}
	}
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.init(2 * len(old))
		for i := range old {
			if old[i].e != nil {
				t.insert(old[i].key, old[i].exp, old[i].e)
			}
		}
	}
	t.insert(key, e.expires, e)
}

// insert places a key known to be absent.
func (t *oaTable) insert(key uint64, exp int64, e *Elem) {
	mask := uint64(len(t.slots) - 1)
	i := t.home(key)
	for t.slots[i].e != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = oaSlot{key, exp, e}
	t.n++
}

func (t *oaTable) del(key uint64) {
	mask := uint64(len(t.slots) - 1)
	i := t.home(key)
	for {
		s := &t.slots[i]
		if s.e == nil {
			return
		}
		if s.key == key {
			break
		}
		i = (i + 1) & mask
	}
	// Backward shift: move later entries of the probe run into the hole
	// unless their home lies cyclically in (hole, j].
	j := i
	for {
		j = (j + 1) & mask
		s := &t.slots[j]
		if s.e == nil {
			break
		}
		h := t.home(s.key)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i] = oaSlot{}
	t.n--
}

// each visits every element; f may delete the element it is given. A
// deletion can shift a later entry back into an already visited slot, so
// the walk goes over a snapshot of the elements.
func (t *oaTable) each(f func(*Elem)) {
	es := t.scratch[:0]
	for i := range t.slots {
		if e := t.slots[i].e; e != nil {
			es = append(es, e)
		}
	}
	for _, e := range es {
		f(e)
	}
	clear(es)
	t.scratch = es[:0]
}
