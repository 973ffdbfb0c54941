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
	w     int      // 64-bit words per key
	keys  []uint64 // len(elems)*w words, ascending
	elems []*Elem
	top   []uint32 // 1<<16 + 1 offsets: elements with first-word prefix p are [top[p], top[p+1])
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
	r.elems = slices.Clone(all)
	slices.SortStableFunc(r.elems, func(a, b *Elem) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(b.flags&ruleset.ElemIntervalEnd) - int(a.flags&ruleset.ElemIntervalEnd)
	})
	r.keys = make([]uint64, len(r.elems)*r.w)
	for i, e := range r.elems {
		words(r.keys[i*r.w:(i+1)*r.w], e.key)
	}
	r.top = make([]uint32, 1<<16+1)
	i := 0
	for p := 0; p <= 1<<16; p++ {
		for i < len(r.elems) && int(r.keys[i*r.w]>>48) < p {
			i++
		}
		r.top[p] = uint32(i)
	}
}

func (r *rbtree) lookup(key []byte, now int64) *Elem {
	if len(r.elems) == 0 {
		return nil
	}
	var i int
	switch r.w {
	case 1:
		var k uint64
		if len(key) == 4 {
			k = uint64(binary.BigEndian.Uint32(key)) << 32
		} else {
			var kw [1]uint64
			words(kw[:], key)
			k = kw[0]
		}
		lo, hi := int(r.top[k>>48]), int(r.top[k>>48+1])
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if r.keys[m] <= k {
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo - 1
	case 2:
		var kw [2]uint64
		words(kw[:], key)
		lo, hi := int(r.top[kw[0]>>48]), int(r.top[kw[0]>>48+1])
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if a := r.keys[2*m]; a < kw[0] || (a == kw[0] && r.keys[2*m+1] <= kw[1]) {
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo - 1
	default:
		var kw [maxKeyLen / 8]uint64
		k := kw[:r.w]
		words(k, key)
		lo, hi := int(r.top[k[0]>>48]), int(r.top[k[0]>>48+1])
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if cmpWords(r.keys[m*r.w:(m+1)*r.w], k) <= 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo - 1
	}
	if i < 0 {
		return nil
	}
	e := r.elems[i]
	if e.flags&ruleset.ElemIntervalEnd != 0 || e.expired(now) {
		return nil
	}
	return e
}
