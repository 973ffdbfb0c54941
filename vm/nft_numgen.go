package vm

import "github.com/nftgo/nftgo/ruleset"

// Numgen types (enum nft_ng_types).
const (
	ngIncremental = 0
	ngRandom      = 1
)

// loadNumgen is nft_ng_select_ops with nft_ng_inc_init/nft_ng_random_init:
// the counter starts at modulus-1, so the first packet gets 0 + offset.
//
// Ref: net/netfilter/nft_numgen.c — nft_ng_inc_init, nft_ng_random_init.
func (l *loader) loadNumgen(x *ruleset.Numgen) (in insn, st int32, err error) {
	st = -1
	if x.Type > ngRandom {
		return in, st, errNotSupp
	}
	if x.Modulus == 0 {
		return in, st, errRange
	}
	if x.Offset+x.Modulus-1 < x.Offset {
		return in, st, errOverflow
	}
	in.op, in.aux, in.key, in.off = opNumgen, uint8(x.Type), x.Modulus, x.Offset
	if x.Type == ngIncremental {
		in.idx = int32(len(l.m.numgens))
		l.m.numgens = append(l.m.numgens, x.Modulus-1)
	}
	in.dreg, err = l.store(x.DReg, 4)
	return in, st, err
}

// numgenEval stores the next number. Random is the machine's deterministic
// stream scaled as reciprocal_scale does, so a replay repeats itself.
//
// Ref: net/netfilter/nft_numgen.c — nft_ng_inc_eval, nft_ng_random_eval.
func (m *machine) numgenEval(in *insn) {
	if in.aux == ngIncremental {
		c := &m.numgens[in.idx]
		if *c+1 < in.key {
			*c++
		} else {
			*c = 0
		}
		m.store32(in.dreg, *c+in.off)
		return
	}
	m.store32(in.dreg, reciprocalScale(m.prandom(), in.key)+in.off)
}

// reciprocalScale maps a 32-bit value into [0, n) (include/linux/math.h).
func reciprocalScale(v, n uint32) uint32 { return uint32(uint64(v) * uint64(n) >> 32) }
