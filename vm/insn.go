package vm

// opcode selects what one instruction does. The machine runs a rule as a
// flat slice of insn with a switch on op: no interface call and no
// allocation per expression (gVisor's interpreter pays ~117 ns per rule for
// its interface dispatch; the target here is ≤ 10 ns).
type opcode uint8

const (
	opNop opcode = iota
	opImm
	opImmVerdict
	opCmp4 // cmp eq/neq of ≤ 4 bytes: masked word compare (nft_cmp_fast_eval)
	opCmp
	opRange
	opBitwise
	opLshift
	opRshift
	opByteorder
	opPayloadLL
	opPayloadNet
	opPayloadTh
	opPayloadInner
	opPayloadWrite
	opMeta
	opMetaSet
	opCt
	opCtSet
	opCounter
	opLimit
	opQuota
	opLog
	opReject
	opQueue
	opNotrack
	opLookup
	opDynset
	opConnlimit
	opNAT
	opMasq
	opRedir
	opObjrefMap
	opExthdr
	opNumgen
	opHash
	opFib
	opRt
	opSocket
	opFwd
	opOsf
	opXfrm
	opTproxy
	opSynproxy
	opFlowOffload
	// Fused pairs (a load into a register, then a word compare of that
	// register): same effect as the two instructions, one dispatch.
	opPayloadNetCmp
	opPayloadThCmp
	opMetaCmp
	opL4protoCmp // meta l4proto + cmp
	opNfprotoCmp // meta nfproto + cmp
	opCtStateCmp // ct state + cmp
)

// insn is one loaded expression. Register fields are byte offsets into the
// register file; idx points into the side table of the instruction's kind
// (counters, limits, sets, …) or, for constants longer than a word, into
// the machine's data pool. It is kept small (28 bytes): a non-matching rule
// is four of them, and at 1000 rules the instruction stream must stay in
// cache.
type insn struct {
	op   opcode
	sreg uint8
	dreg uint8
	len  uint8
	aux  uint8 // cmp/range op, byteorder op, flags, payload base
	aux2 uint8
	key  uint32 // meta/ct key, verdict code, shift
	off  uint32 // payload offset, data length, …
	imm  uint32 // opCmp4 value
	mask uint32 // opCmp4 mask
	idx  int32  // side table index; for data-carrying ops, m.pool[idx] (and idx+1)
}
