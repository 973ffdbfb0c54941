package sets

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/nftgo/nftgo/ruleset"
)

// rbtree is the single-field interval backend. nft sends each range as a
// start element and an INTERVAL_END element one past its end; a key
// matches when the greatest element whose key is <= it (memcmp order) is a
// start element that has not expired. The kernel keeps an rbtree; a sorted
// array gives the same answers with fewer cache misses. Keys are stored as
// big-endian 64-bit words (memcmp order is then integer order), and a table
// indexed by the top 16 bits of the first word narrows each binary search
// to the few elements sharing that prefix.
//
// Ref: net/netfilter/nft_set_rbtree.c — __nft_rbtree_lookup
type rbtree struct {
	w int // 64-bit words per key
	// ents holds the first key word beside the element, 16 bytes per
	// element, so the search touches as few cache lines as possible; the
	// end flags live in a bitmap small enough to stay in cache, and the
	// element's expiration is read only in sets that have timeouts.
	ents     []rbEntry
	end      []uint64 // bit i: ents[i] is an INTERVAL_END element
	rest     []uint64 // words 1..w-1 of each key, (w-1) per element
	top      []uint32 // 1<<16 + 1 offsets: elements with first-word prefix p are [top[p], top[p+1])
	timeouts bool     // some element expires
}

type rbEntry struct {
	k0 uint64
	e  *Elem
}

// words writes k, zero-padded to len(dst)*8 bytes, as big-endian words.
func words(dst []uint64, k []byte) {
	if len(dst) == 1 && len(k) == 4 {
		dst[0] = uint64(binary.BigEndian.Uint32(k)) << 32
		return
	}
	var buf [8]byte
	for j := range dst {
		if len(k) >= 8 {
			dst[j] = binary.BigEndian.Uint64(k)
			k = k[8:]
			continue
		}
		buf = [8]byte{}
		copy(buf[:], k)
		k = nil
		dst[j] = binary.BigEndian.Uint64(buf[:])
	}
}

func cmpWords(a, b []uint64) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// build sorts the elements: by key, an end element before a start element
// with the same key (so a range starting where another ends matches, as
// the kernel prefers the start element), then in insertion order.
func (r *rbtree) build(all []*Elem, klen int) {
	r.w = (klen + 7) / 8
	elems := slices.Clone(all)
	slices.SortStableFunc(elems, func(a, b *Elem) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(b.flags&ruleset.ElemIntervalEnd) - int(a.flags&ruleset.ElemIntervalEnd)
	})
	r.ents = make([]rbEntry, len(elems))
	r.end = make([]uint64, (len(elems)+63)/64)
	r.rest = make([]uint64, len(elems)*(r.w-1))
	kw := make([]uint64, r.w)
	for i, e := range elems {
		words(kw, e.key)
		r.ents[i] = rbEntry{k0: kw[0], e: e}
		if e.flags&ruleset.ElemIntervalEnd != 0 {
			r.end[i/64] |= 1 << (i % 64)
		}
		if e.expires != 0 {
			r.timeouts = true
		}
		copy(r.rest[i*(r.w-1):], kw[1:])
	}
	r.top = make([]uint32, 1<<16+1)
	i := 0
	for p := 0; p <= 1<<16; p++ {
		for i < len(r.ents) && int(r.ents[i].k0>>48) < p {
			i++
		}
		r.top[p] = uint32(i)
	}
}

func (r *rbtree) lookup(key []byte, now int64) *Elem {
	if len(r.ents) == 0 {
		return nil
	}
	var kw [maxKeyLen / 8]uint64
	if r.w == 1 && len(key) == 4 {
		kw[0] = uint64(binary.BigEndian.Uint32(key)) << 32
	} else {
		words(kw[:r.w], key)
	}
	k0 := kw[0]
	lo, hi := int(r.top[k0>>48]), int(r.top[k0>>48+1])
	if r.w == 1 {
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if r.ents[m].k0 <= k0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
	} else {
		n := r.w - 1
		rest := kw[1:r.w]
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if a := r.ents[m].k0; a < k0 || (a == k0 && cmpWords(r.rest[m*n:(m+1)*n], rest) <= 0) {
				lo = m + 1
			} else {
				hi = m
			}
		}
	}
	i := lo - 1
	if i < 0 {
		return nil
	}
	if r.end[i/64]&(1<<(i%64)) != 0 {
		return nil
	}
	e := r.ents[i].e
	if r.timeouts && e.expired(now) {
		return nil
	}
	return e
}
