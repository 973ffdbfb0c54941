package vm

import (
	"bytes"
	"encoding/binary"

	"github.com/nftgo/nftgo/ruleset"
)

// jumpStackSize is NFT_JUMP_STACK_SIZE.
const jumpStackSize = 16

type jumpFrame struct {
	chain int32
	rule  int32
}

// doChain runs one base chain for the current packet and returns its
// verdict and what decided it (a rule, or the base chain's policy).
//
// Ref: net/netfilter/nf_tables_core.c — nft_do_chain.
func (m *machine) doChain(base int) (ruleset.VerdictCode, *Decision) {
	stack := &m.jstack
	sp := 0
	ci := int32(base)
	c := &m.chains[ci]
	ri := 0
	p := m.pkt
	for {
		if ri >= len(c.rules) {
			// Ran out of rules: like RETURN.
			if sp == 0 {
				break
			}
			sp--
			ci, ri = stack[sp].chain, int(stack[sp].rule)
			c = &m.chains[ci]
			continue
		}
		r := &c.rules[ri]
		// The common rules are fused word compares, a counter and a
		// verdict: run those here without a call, keeping the verdict in
		// a local; any other instruction runs the rest of the rule in
		// exec.
		verdict := ruleset.VerdictContinue
		code := c.code[r.start:r.end]
	fast:
		for i := range code {
			in := &code[i]
			switch in.op {
			case opL4protoCmp:
				if !p.HasL4 {
					verdict = ruleset.VerdictBreak
					break fast
				}
				// The register is only observable by later expressions
				// of this rule (loads of slots the rule did not write are
				// refused at load), so a failed compare needs no store.
				w := uint32(p.L4Proto)
				if (w&in.mask == in.imm) != (in.aux == 0) {
					verdict = ruleset.VerdictBreak
					break fast
				}
				if in.aux2 != deadStore {
					m.store32(in.dreg, w)
				}
			case opPayloadThCmp:
				start := p.ThOff + int(in.off)
				if !p.HasL4 || p.FragOff != 0 || start+int(in.len) > len(p.Data) {
					verdict = ruleset.VerdictBreak
					break fast
				}
				w := loadWord(p.Data[start:], in.len)
				if (w&in.mask == in.imm) != (in.aux == 0) {
					verdict = ruleset.VerdictBreak
					break fast
				}
				if in.aux2 != deadStore {
					m.store32(in.dreg, w)
				}
			case opCtStateCmp:
				w := m.ctState()
				if in.aux2 != deadStore {
					m.store32(in.dreg, w)
				}
				if (w&in.mask == in.imm) != (in.aux == 0) {
					verdict = ruleset.VerdictBreak
					break fast
				}
			case opCounter:
				cs := &m.counters[in.idx]
				cs.packets++
				cs.bytes += uint64(p.Len())
			case opImmVerdict:
				verdict = ruleset.VerdictCode(int32(in.key))
				m.vchain = in.idx
				if verdict != ruleset.VerdictContinue {
					break fast
				}
			default:
				m.verdict = ruleset.VerdictContinue
				m.exec(code[i:])
				verdict = m.verdict
				break fast
			}
		}
		if m.trace != nil && (verdict != ruleset.VerdictBreak || m.traceAll) {
			m.trace(TraceEvent{Hook: m.hook, Rule: r.dec, Verdict: verdict})
		}
		switch verdict {
		case ruleset.VerdictContinue, ruleset.VerdictBreak:
			ri++
		case ruleset.VerdictAccept, ruleset.VerdictDrop, ruleset.VerdictQueue, ruleset.VerdictStolen:
			return verdict, r.dec
		case ruleset.VerdictJump:
			if sp == jumpStackSize {
				// WARN_ON_ONCE in the kernel; load-time validation
				// keeps it unreachable.
				return ruleset.VerdictDrop, r.dec
			}
			stack[sp] = jumpFrame{ci, int32(ri + 1)}
			sp++
			ci, ri = m.vchain, 0
			c = &m.chains[ci]
		case ruleset.VerdictGoto:
			ci, ri = m.vchain, 0
			c = &m.chains[ci]
		case ruleset.VerdictReturn:
			if sp == 0 {
				return m.policy(base)
			}
			sp--
			ci, ri = stack[sp].chain, int(stack[sp].rule)
			c = &m.chains[ci]
		default:
			ri++
		}
	}
	return m.policy(base)
}

// policy is the base chain's policy verdict. The kernel bumps the chain's
// own counters here only when the chain was created with counters, which
// nft never asks for, so none are kept.
func (m *machine) policy(base int) (ruleset.VerdictCode, *Decision) {
	c := &m.chains[base]
	if m.trace != nil {
		m.trace(TraceEvent{Hook: m.hook, Rule: &c.polDec, Verdict: c.policy})
	}
	return c.policy, &c.polDec
}

// exec runs a rule's instructions until one sets a verdict other than
// CONTINUE. BREAK and every other verdict stop the rule.
func (m *machine) exec(code []insn) {
	for i := range code {
		in := &code[i]
		switch in.op {
		case opCmp4:
			// Ref: net/netfilter/nf_tables_core.c — nft_cmp_fast_eval.
			if (m.load32(in.sreg)&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opPayloadThCmp:
			p := m.pkt
			if !p.HasL4 || p.FragOff != 0 {
				m.verdict = ruleset.VerdictBreak
				return
			}
			start := p.ThOff + int(in.off)
			if start+int(in.len) > len(p.Data) {
				m.verdict = ruleset.VerdictBreak
				return
			}
			w := loadWord(p.Data[start:], in.len)
			m.store32(in.dreg, w)
			if (w&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opL4protoCmp:
			p := m.pkt
			if !p.HasL4 {
				m.verdict = ruleset.VerdictBreak
				return
			}
			w := uint32(p.L4Proto)
			m.store32(in.dreg, w)
			if (w&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opNfprotoCmp:
			w := uint32(m.nfproto)
			m.store32(in.dreg, w)
			if (w&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opCtStateCmp:
			// Ref: net/netfilter/nft_ct.c — nft_ct_get_fast_eval (NFT_CT_STATE).
			w := m.ctState()
			if in.aux2 != deadStore {
				m.store32(in.dreg, w)
			}
			if (w&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opMetaCmp:
			m.metaGetEval(in)
			if m.verdict != ruleset.VerdictContinue {
				return
			}
			if (m.load32(in.dreg)&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opPayloadNetCmp:
			p := m.pkt
			start := p.NetOff + int(in.off)
			if start+int(in.len) > len(p.Data) {
				m.verdict = ruleset.VerdictBreak
				return
			}
			w := loadWord(p.Data[start:], in.len)
			m.store32(in.dreg, w)
			if (w&in.mask == in.imm) != (in.aux == 0) {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case opPayloadNet:
			// Ref: net/netfilter/nf_tables_core.c — nft_payload_fast_eval.
			p := m.pkt
			start := p.NetOff + int(in.off)
			end := start + int(in.len)
			if end > len(p.Data) {
				m.verdict = ruleset.VerdictBreak
				return
			}
			m.store(in.dreg, p.Data[start:end])
		case opPayloadTh:
			p := m.pkt
			if !p.HasL4 || p.FragOff != 0 {
				m.verdict = ruleset.VerdictBreak
				return
			}
			start := p.ThOff + int(in.off)
			end := start + int(in.len)
			if end > len(p.Data) {
				m.verdict = ruleset.VerdictBreak
				return
			}
			m.store(in.dreg, p.Data[start:end])
		case opImmVerdict:
			m.verdict = ruleset.VerdictCode(int32(in.key))
			m.vchain = in.idx
		case opImm:
			m.store(in.dreg, m.pool[in.idx][:in.len])
		case opCmp:
			m.cmpEval(in)
		case opMeta:
			m.metaGetEval(in)
		case opCt:
			m.ctGetEval(in)
		case opCounter:
			// Ref: net/netfilter/nft_counter.c — nft_counter_do_eval.
			c := &m.counters[in.idx]
			c.packets++
			c.bytes += uint64(m.pkt.Len())
		case opRange:
			m.rangeEval(in)
		case opBitwise:
			m.bitwiseEval(in)
		case opLshift, opRshift:
			m.shiftEval(in)
		case opByteorder:
			m.byteorderEval(in)
		case opPayloadLL:
			m.payloadLLEval(in)
		case opPayloadInner:
			m.verdict = ruleset.VerdictBreak
		case opPayloadWrite:
			m.payloadSetEval(in)
		case opMetaSet:
			m.metaSetEval(in)
		case opCtSet:
			m.ctSetEval(in)
		case opLimit:
			m.res.Shared = true
			if m.limitEval(&m.limits[in.idx]) {
				m.verdict = ruleset.VerdictBreak
			}
		case opQuota:
			m.res.Shared = true
			if m.quotaEval(&m.quotas[in.idx]) {
				m.verdict = ruleset.VerdictBreak
			}
		case opLog:
			m.logEval(in)
		case opReject:
			m.rejectEval(in)
		case opQueue:
			m.queueEval(in)
		case opNotrack:
			// Ref: net/netfilter/nft_ct.c — nft_notrack_eval: only
			// when no entry is attached yet.
			if m.conn == nil && !m.untracked && !m.tmpl {
				m.untracked = true
			}
		case opLookup:
			m.lookupEval(in)
		case opDynset:
			m.res.Shared = true
			m.dynsetEval(in)
		case opConnlimit:
			m.res.Shared = true
			m.connlimitEval(in)
		case opNAT, opMasq, opRedir:
			m.res.Shared = true
			m.natEval(in)
		case opObjrefMap:
			m.res.Shared = true
			m.objrefMapEval(in)
		case opExthdr:
			m.exthdrEval(in)
		case opNumgen:
			m.res.Shared = true
			m.numgenEval(in)
		case opHash:
			m.hashEval(in)
		case opFib:
			m.fibEval(in)
		case opRt:
			m.rtEval(in)
		case opSocket:
			m.socketEval(in)
		case opFwd:
			m.fwdEval(in)
		case opOsf:
			m.osfEval(in)
		case opXfrm:
			m.xfrmEval(in)
		case opTproxy:
			m.tproxyEval(in)
		case opSynproxy:
			m.synproxyEval(&m.synproxies[in.idx])
		case opFlowOffload:
			m.flowOffloadEval(in)
		}
		if m.verdict != ruleset.VerdictContinue {
			return
		}
	}
}

// cmpEval compares register bytes with the constant, byte-wise (unsigned
// big-endian order).
//
// Ref: net/netfilter/nft_cmp.c — nft_cmp_eval.
func (m *machine) cmpEval(in *insn) {
	d := bytes.Compare(m.regs[in.sreg:int(in.sreg)+int(in.len)], m.pool[in.idx][:in.len])
	var ok bool
	switch ruleset.CmpOp(in.aux) {
	case ruleset.CmpEq:
		ok = d == 0
	case ruleset.CmpNeq:
		ok = d != 0
	case ruleset.CmpLt:
		ok = d < 0
	case ruleset.CmpLte:
		ok = d <= 0
	case ruleset.CmpGt:
		ok = d > 0
	case ruleset.CmpGte:
		ok = d >= 0
	}
	if !ok {
		m.verdict = ruleset.VerdictBreak
	}
}

// rangeEval: EQ matches from ≤ reg ≤ to, NEQ the complement.
//
// Ref: net/netfilter/nft_range.c — nft_range_eval.
func (m *machine) rangeEval(in *insn) {
	v := m.regs[in.sreg : int(in.sreg)+int(in.len)]
	d1 := bytes.Compare(v, m.pool[in.idx][:in.len])
	d2 := bytes.Compare(v, m.pool[in.idx+1][:in.len])
	inside := d1 >= 0 && d2 <= 0
	if inside != (ruleset.CmpOp(in.aux) == ruleset.CmpEq) {
		m.verdict = ruleset.VerdictBreak
	}
}

// bitwiseEval is dst = (src & mask) ^ xor word by word; mask and xor are
// zero past len, so the padding of the last word comes out zero.
//
// Ref: net/netfilter/nft_bitwise.c — nft_bitwise_eval_mask_xor.
func (m *machine) bitwiseEval(in *insn) {
	n := (int(in.len) + 3) &^ 3
	s, d := int(in.sreg), int(in.dreg)
	mask, xor := &m.pool[in.idx], &m.pool[in.idx+1]
	for i := 0; i < n; i++ {
		m.regs[d+i] = (m.regs[s+i] & mask[i]) ^ xor[i]
	}
}

// shiftEval shifts the value as a sequence of native 32-bit words,
// carrying bits across them.
//
// Ref: net/netfilter/nft_bitwise.c — nft_bitwise_eval_lshift, nft_bitwise_eval_rshift.
func (m *machine) shiftEval(in *insn) {
	words := (int(in.len) + 3) / 4
	sh := in.key
	s, d := in.sreg, in.dreg
	var carry uint32
	if in.op == opLshift {
		for i := words - 1; i >= 0; i-- {
			v := m.load32(s + uint8(4*i))
			m.store32(d+uint8(4*i), v<<sh|carry)
			carry = v >> (32 - sh)
		}
		return
	}
	for i := 0; i < words; i++ {
		v := m.load32(s + uint8(4*i))
		m.store32(d+uint8(4*i), carry|v>>sh)
		carry = v << (32 - sh)
	}
}

// byteorderEval converts between host (little-endian) and network order.
// On a little-endian host both directions are a byte swap; 2-byte elements
// each occupy their own 32-bit slot and are zero-padded.
//
// Ref: net/netfilter/nft_byteorder.c — nft_byteorder_eval.
func (m *machine) byteorderEval(in *insn) {
	s, d := int(in.sreg), int(in.dreg)
	size := int(in.aux2)
	var tmp [maxRegLen]byte
	n := int(in.len)
	copy(tmp[:], m.regs[s:s+((n+3)&^3)])
	switch size {
	case 8:
		for i := 0; i+8 <= n; i += 8 {
			for j := 0; j < 8; j++ {
				m.regs[d+i+j] = tmp[i+7-j]
			}
		}
	case 4:
		for i := 0; i+4 <= n; i += 4 {
			m.regs[d+i], m.regs[d+i+1], m.regs[d+i+2], m.regs[d+i+3] = tmp[i+3], tmp[i+2], tmp[i+1], tmp[i]
		}
	case 2:
		for i := 0; i < n/2; i++ {
			m.regs[d+4*i], m.regs[d+4*i+1] = tmp[4*i+1], tmp[4*i]
			m.regs[d+4*i+2], m.regs[d+4*i+3] = 0, 0
		}
	}
}

// loadWord reads n (1 to 4) packet bytes as the little-endian register
// word a store of them makes (the rest of the word zero). It is small
// enough to inline: a whole word and a mask, unless the packet ends
// within it.
func loadWord(b []byte, n uint8) uint32 {
	if len(b) >= 4 {
		return binary.LittleEndian.Uint32(b) & (^uint32(0) >> (32 - 8*uint32(n)))
	}
	return loadWordTail(b, n)
}

func loadWordTail(b []byte, n uint8) uint32 {
	switch n {
	case 1:
		return uint32(b[0])
	case 2:
		_ = b[1]
		return uint32(b[0]) | uint32(b[1])<<8
	case 3:
		_ = b[2]
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	}
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
