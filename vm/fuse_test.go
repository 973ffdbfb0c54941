package vm

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestFuseBitwise: a load, a bitwise mask/xor of its register and a word
// compare run as one fused compare with the mask and xor folded in, but
// only when nothing later in the rule reads the masked register; the
// verdicts are those of the three expressions run one by one.
func TestFuseBitwise(t *testing.T) {
	ctState := &ruleset.Ct{Key: ruleset.CtState, Direction: ruleset.CtDirUnset, DReg: 1}
	// [ payload load 1b @ transport header + 13 => reg 1 ] (tcp flags)
	flags := payload(TH, 13, 1)
	bw := func(mask, xor byte) *ruleset.Bitwise {
		return &ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: 1, Mask: []byte{mask}, Xor: []byte{xor}}
	}
	bw4 := &ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: 4, Mask: wordBytes(4, 6), Xor: wordBytes(4, 0)}
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN}
	synack := testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.5", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK}
	drop := imm(Drop)
	for _, tc := range []struct {
		name string
		rule *ruleset.Rule
		// op of the first instruction and whether it still stores
		op     opcode
		dead   bool
		insns  int
		synV   ruleset.VerdictCode // the SYN from lan
		replyV ruleset.VerdictCode // the SYN/ACK answering it from wan
	}{
		// ct state established,related counter drop:
		// [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]
		// [ cmp neq reg 1 0x00000000 ] [ counter ] [ immediate reg 0 drop ]
		{"ct state established,related", r(1, ctState, bw4, cmpw(Neq, 4, 0), counter(), drop), opCtStateCmp, true, 3, Acc, Drop},
		// ct state new drop: [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0 ] [ cmp neq reg 1 0 ]
		{"ct state new", r(1, ctState, &ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: 4, Mask: wordBytes(4, 8), Xor: wordBytes(4, 0)}, cmpw(Neq, 4, 0), drop), opCtStateCmp, true, 2, Drop, Acc},
		// ct state established read twice: the first compare's store is live.
		{"ct state live", r(1, ctState, cmpw(Neq, 4, 0), cmpw(Eq, 4, 2), drop), opCtStateCmp, false, 3, Acc, Drop},
		// tcp flags & (syn | ack) == syn drop:
		// [ bitwise reg 1 = ( reg 1 & 0x12 ) ^ 0x00 ] [ cmp eq reg 1 0x02 ]
		{"tcp flags syn", r(1, flags, bw(0x12, 0), cmpw(Eq, 1, 0x02), drop), opPayloadThCmp, true, 2, Drop, Acc},
		{"tcp flags syn,ack", r(1, flags, bw(0x12, 0), cmpw(Eq, 1, 0x12), drop), opPayloadThCmp, true, 2, Acc, Drop},
		// with an xor: (flags & 0x12) ^ 0x01 == 0x03 holds for a SYN only.
		{"xor", r(1, flags, bw(0x12, 0x01), cmpw(Eq, 1, 0x03), drop), opPayloadThCmp, true, 2, Drop, Acc},
		{"xor neq", r(1, flags, bw(0x12, 0x01), cmpw(Neq, 1, 0x03), drop), opPayloadThCmp, true, 2, Acc, Drop},
		// the masked flags are compared twice: nothing folds.
		{"bitwise live", r(1, flags, bw(0x12, 0), cmpw(Eq, 1, 0x02), cmpw(Eq, 1, 0x02), drop), opPayloadTh, false, 5, Drop, Acc},
		// the masked flags are overwritten by the next load: folded.
		{"bitwise dead by load", r(1, flags, bw(0x12, 0), cmpw(Eq, 1, 0x02), payload(TH, 2, 2), cmpw(Eq, 2, 0x5000), drop), opPayloadThCmp, true, 3, Drop, Acc},
	} {
		m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t", base("f", ruleset.HookForward, 0, Acc, tc.rule)))
		code := m.chains[0].code
		if code[0].op != tc.op || (code[0].aux2 == deadStore) != tc.dead || len(code) != tc.insns {
			t.Errorf("%s: first insn op %d dead %v, %d insns; want op %d dead %v, %d insns", tc.name, code[0].op, code[0].aux2 == deadStore, len(code), tc.op, tc.dead, tc.insns)
		}
		if res := m.Receive(pkt(t, syn), "lan", 1e9); res.Verdict != tc.synV {
			t.Errorf("%s: SYN %v, want %v", tc.name, res.Verdict, tc.synV)
		}
		if res := m.Receive(pkt(t, synack), "wan", 2e9); res.Verdict != tc.replyV {
			t.Errorf("%s: SYN/ACK %v, want %v", tc.name, res.Verdict, tc.replyV)
		}
	}
}
