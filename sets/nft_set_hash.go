package sets

import "encoding/binary"

// hashTable is the exact-match backend (nft_set_hash.c: hash, hash_fast
// and rhash give the same answers). Keys are the klen key bytes packed
// into a fixed-size array, so a lookup hashes a small value and allocates
// nothing; the map is chosen by klen so the common 4- and 8-byte keys use
// Go's fast integer maps.
//
// Ref: net/netfilter/nft_set_hash.c — nft_rhash_lookup, nft_rhash_cmp
type hashTable struct {
	klen int
	m8   map[uint64]*Elem    // klen <= 8
	m16  map[[2]uint64]*Elem // klen <= 16
	m64  map[[maxKeyLen]byte]*Elem
}

func (h *hashTable) init(klen int) {
	h.klen = klen
	switch {
	case klen <= 8:
		h.m8 = map[uint64]*Elem{}
	case klen <= 16:
		h.m16 = map[[2]uint64]*Elem{}
	default:
		h.m64 = map[[maxKeyLen]byte]*Elem{}
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

// get returns the element stored for key (len(key) == klen), nil if none.
func (h *hashTable) get(key []byte) *Elem {
	switch {
	case h.m8 != nil:
		return h.m8[key8(key)]
	case h.m16 != nil:
		return h.m16[key16(key)]
	case h.m64 != nil:
		var k [maxKeyLen]byte
		copy(k[:], key)
		return h.m64[k]
	}
	return nil
}

func (h *hashTable) put(key []byte, e *Elem) {
	switch {
	case h.m8 != nil:
		h.m8[key8(key)] = e
	case h.m16 != nil:
		h.m16[key16(key)] = e
	case h.m64 != nil:
		var k [maxKeyLen]byte
		copy(k[:], key)
		h.m64[k] = e
	}
}

func (h *hashTable) del(key []byte) {
	switch {
	case h.m8 != nil:
		delete(h.m8, key8(key))
	case h.m16 != nil:
		delete(h.m16, key16(key))
	case h.m64 != nil:
		var k [maxKeyLen]byte
		copy(k[:], key)
		delete(h.m64, k)
	}
}

// each calls f for every stored element; f may delete the element it is
// given.
func (h *hashTable) each(f func(*Elem)) {
	for _, e := range h.m8 {
		f(e)
	}
	for _, e := range h.m16 {
		f(e)
	}
	for _, e := range h.m64 {
		f(e)
	}
}
