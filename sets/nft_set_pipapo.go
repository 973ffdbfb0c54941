package sets

import (
	"bytes"
	"slices"
)

// pipapo is the concatenated-interval backend: every element has a KEY and
// a KEY_END, both inclusive, and a key matches when each field lies within
// the element's range for that field (memcmp order per field). Expired
// elements are skipped and the search goes on; among several matches the
// oldest element wins.
//
// The kernel's bit-vector matcher is replaced by an index over the first
// field: its range boundaries cut the value space into segments, and each
// segment lists the elements whose first-field range covers it. A lookup
// binary-searches the segment, then checks the other fields of those few
// candidates. Heavily overlapping first fields would make the lists large;
// past a budget the index is dropped for a linear scan (still correct).
//
// Ref: net/netfilter/nft_set_pipapo.c — nft_pipapo_lookup, pipapo_get
type pipapo struct {
	fields []field
	elems  []*Elem // insertion order

	w        int      // 64-bit words of the first field
	bounds   []uint64 // segment starts, nseg*w words, ascending
	segStart []uint32 // nseg+1 offsets into cand
	cand     []uint32 // element indices, ascending within a segment
	linear   bool

	// rng holds, per element, the start and end words of every field but
	// the first (stride words each), and exp its expiration, so checking a
	// candidate reads one contiguous run instead of the element's slices.
	rng    []uint64
	stride int
	exp    []int64
	narrow bool     // every field after the first fits one word
	top    []uint32 // 1<<16 + 1 offsets into the segments by the first word's top 16 bits
}

type field struct{ off, len int }

func (p *pipapo) init(lens []uint32, klen int) error {
	if len(lens) == 0 {
		p.fields = []field{{0, klen}}
		return nil
	}
	off := 0
	for _, l := range lens {
		if l == 0 || off+int(l) > klen {
			return errorf("concatenation field lengths %v do not fit %d-byte keys: invalid argument", lens, klen)
		}
		p.fields = append(p.fields, field{off, int(l)})
		off += (int(l) + 3) &^ 3
	}
	return nil
}

// inc returns b+1 as a big-endian number of the same length, false on
// overflow.
func inc(b []byte) ([]byte, bool) {
	out := bytes.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			return out, true
		}
	}
	return nil, false
}

func (p *pipapo) build(all []*Elem) {
	p.elems = slices.Clone(all)
	p.stride = 0
	p.narrow = true
	for _, f := range p.fields[1:] {
		if f.len > 8 {
			p.narrow = false
		}
		p.stride += 2 * ((f.len + 7) / 8)
	}
	p.rng = make([]uint64, len(p.elems)*p.stride)
	p.exp = make([]int64, len(p.elems))
	for i, e := range p.elems {
		r := p.rng[i*p.stride:]
		for _, f := range p.fields[1:] {
			fw := (f.len + 7) / 8
			words(r[:fw], e.key[f.off:f.off+f.len])
			words(r[fw:2*fw], e.keyEnd[f.off:f.off+f.len])
			r = r[2*fw:]
		}
		p.exp[i] = e.expires
	}
	f0 := p.fields[0]
	p.w = (f0.len + 7) / 8
	n := len(p.elems)
	// Boundaries: every start and every end+1 of the first field.
	var bs [][]byte
	for _, e := range p.elems {
		bs = append(bs, e.key[f0.off:f0.off+f0.len])
		if nx, ok := inc(e.keyEnd[f0.off : f0.off+f0.len]); ok {
			bs = append(bs, nx)
		}
	}
	slices.SortFunc(bs, bytes.Compare)
	bs = slices.CompactFunc(bs, bytes.Equal)
	nseg := len(bs)
	pos := func(v []byte) int {
		i, _ := slices.BinarySearchFunc(bs, v, bytes.Compare)
		return i
	}
	adds := make([][]uint32, nseg+1)
	dels := make([][]uint32, nseg+1)
	for i, e := range p.elems {
		adds[pos(e.key[f0.off:f0.off+f0.len])] = append(adds[pos(e.key[f0.off:f0.off+f0.len])], uint32(i))
		end := nseg
		if nx, ok := inc(e.keyEnd[f0.off : f0.off+f0.len]); ok {
			end = pos(nx)
		}
		dels[end] = append(dels[end], uint32(i))
	}
	budget := 16*n + 1<<20
	var active []uint32
	p.segStart = make([]uint32, 0, nseg+1)
	p.cand = p.cand[:0]
	for j := 0; j < nseg; j++ {
		for _, d := range dels[j] {
			if k, ok := slices.BinarySearch(active, d); ok {
				active = slices.Delete(active, k, k+1)
			}
		}
		for _, a := range adds[j] {
			k, _ := slices.BinarySearch(active, a)
			active = slices.Insert(active, k, a)
		}
		p.segStart = append(p.segStart, uint32(len(p.cand)))
		p.cand = append(p.cand, active...)
		if len(p.cand) > budget {
			p.linear = true
			p.bounds, p.segStart, p.cand = nil, nil, nil
			return
		}
	}
	p.segStart = append(p.segStart, uint32(len(p.cand)))
	p.bounds = make([]uint64, nseg*p.w)
	for j, b := range bs {
		words(p.bounds[j*p.w:(j+1)*p.w], b)
	}
	// As in the rbtree: the top 16 bits of the first word narrow the
	// binary search to the segments that share them.
	p.top = make([]uint32, 1<<16+1)
	j := 0
	for t := 0; t <= 1<<16; t++ {
		for j < nseg && int(p.bounds[j*p.w]>>48) < t {
			j++
		}
		p.top[t] = uint32(j)
	}
}

// match checks every field of key against e's ranges, from field `from`.
func (p *pipapo) match(e *Elem, key []byte, from int) bool {
	for _, f := range p.fields[from:] {
		k := key[f.off : f.off+f.len]
		if bytes.Compare(k, e.key[f.off:f.off+f.len]) < 0 || bytes.Compare(k, e.keyEnd[f.off:f.off+f.len]) > 0 {
			return false
		}
	}
	return true
}

// refresh copies the elements' expirations after the clock is anchored.
func (p *pipapo) refresh() {
	for i, e := range p.elems {
		p.exp[i] = e.expires
	}
}

func (p *pipapo) lookup(key []byte, now int64) *Elem {
	if p.linear {
		for _, e := range p.elems {
			if p.match(e, key, 0) && !e.expired(now) {
				return e
			}
		}
		return nil
	}
	nseg := len(p.segStart) - 1
	if nseg <= 0 {
		return nil
	}
	f0 := p.fields[0]
	var kw [maxKeyLen / 8]uint64
	k := kw[:p.w]
	words(k, key[f0.off:f0.off+f0.len])
	lo, hi := int(p.top[k[0]>>48]), int(p.top[k[0]>>48+1])
	if p.w == 1 {
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if p.bounds[m] <= k[0] {
				lo = m + 1
			} else {
				hi = m
			}
		}
	} else {
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if cmpWords(p.bounds[m*p.w:(m+1)*p.w], k) <= 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
	}
	j := lo - 1
	if j < 0 {
		return nil
	}
	cands := p.cand[p.segStart[j]:p.segStart[j+1]]
	if p.narrow {
		var rw [maxKeyLen / 4]uint64 // up to 16 fields of 4 bytes
		kr := rw[:len(p.fields)-1]
		for i, f := range p.fields[1:] {
			words(kr[i:i+1], key[f.off:f.off+f.len])
		}
		for _, c := range cands {
			r := p.rng[int(c)*p.stride : int(c+1)*p.stride]
			ok := true
			for i, v := range kr {
				if v < r[2*i] || v > r[2*i+1] {
					ok = false
					break
				}
			}
			if ok && (p.exp[c] == 0 || now < p.exp[c]) {
				return p.elems[c]
			}
		}
		return nil
	}
	for _, c := range cands {
		e := p.elems[c]
		if p.match(e, key, 1) && !e.expired(now) {
			return e
		}
	}
	return nil
}
