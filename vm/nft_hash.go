package vm

import (
	"encoding/binary"
	"math/bits"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// Hash types (enum nft_hash_types).
const (
	hashJenkins = 0
	hashSym     = 1
)

// loadHash is nft_hash_select_ops with nft_jhash_init/nft_symhash_init.
// A jhash without a seed gets a random one in the kernel (boot-dependent);
// nftgo uses 0 so replays are reproducible.
//
// Ref: net/netfilter/nft_hash.c — nft_jhash_init, nft_symhash_init.
func (l *loader) loadHash(x *ruleset.Hash) (in insn, st int32, err error) {
	st = -1
	if x.Modulus == 0 {
		return in, st, errRange
	}
	if x.Offset+x.Modulus-1 < x.Offset {
		return in, st, errOverflow
	}
	in.op, in.aux, in.key, in.off = opHash, uint8(x.Type), x.Modulus, x.Offset
	switch x.Type {
	case hashJenkins:
		if x.Len == 0 || x.Len > 255 {
			return in, st, errRange
		}
		in.len = uint8(x.Len)
		if in.sreg, err = l.load(x.SReg, int(x.Len)); err != nil {
			return in, st, err
		}
		if x.HasSeed {
			in.imm = x.Seed
		}
	case hashSym:
	default:
		return in, st, errNotSupp
	}
	in.dreg, err = l.store(x.DReg, 4)
	return in, st, err
}

// hashEval stores reciprocal_scale(hash, modulus) + offset.
//
// Ref: net/netfilter/nft_hash.c — nft_jhash_eval, nft_symhash_eval.
func (m *machine) hashEval(in *insn) {
	var h uint32
	if in.aux == hashJenkins {
		h = jhash(m.regs[in.sreg:int(in.sreg)+int(in.len)], in.imm)
	} else {
		h = symHash(m.pkt)
	}
	m.store32(in.dreg, reciprocalScale(h, in.key)+in.off)
}

// jhash is the kernel's Jenkins hash (lookup3) over bytes read as
// little-endian words (get_unaligned_cpu32 on x86).
//
// Ref: include/linux/jhash.h — jhash, __jhash_mix, __jhash_final.
func jhash(k []byte, initval uint32) uint32 {
	a := 0xdeadbeef + uint32(len(k)) + initval
	b, c := a, a
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k)
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a, b, c = jhashMix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var t [12]byte
	copy(t[:], k)
	a += binary.LittleEndian.Uint32(t[0:])
	b += binary.LittleEndian.Uint32(t[4:])
	c += binary.LittleEndian.Uint32(t[8:])
	return jhashFinal(a, b, c)
}

func jhashMix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func jhashFinal(a, b, c uint32) uint32 {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}

// symHash approximates __skb_get_hash_symmetric: the same value for both
// directions of a flow (addresses and ports ordered, then jhash). The
// kernel keys it with a random boot-time secret, so no replay can
// reproduce its values; only its symmetry and spread are modelled.
func symHash(p *packet.Packet) uint32 {
	var key [40]byte
	src, dst := rawAddrs(p)
	if src == nil {
		return 1
	}
	if string(src) > string(dst) {
		src, dst = dst, src
	}
	n := copy(key[:], src)
	n += copy(key[n:], dst)
	if p.HasL4 && p.FragOff == 0 && p.ThOff+4 <= len(p.Data) {
		switch p.L4Proto {
		case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoUDPLite, packet.ProtoSCTP:
			sp, dp := p.Data[p.ThOff:p.ThOff+2], p.Data[p.ThOff+2:p.ThOff+4]
			if string(sp) > string(dp) {
				sp, dp = dp, sp
			}
			n += copy(key[n:], sp)
			n += copy(key[n:], dp)
		}
	}
	if p.HasL4 {
		key[n] = p.L4Proto
		n++
	}
	h := jhash(key[:n], 0)
	if h == 0 {
		h = 1
	}
	return h
}
