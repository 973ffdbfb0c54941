package vm

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestResultCtState: Result carries the ctinfo `ct state` and `ct
// direction` read at the end of the path: a SYN is new/original, its
// SYN-ACK established/reply (nf_conntrack_in: the reply direction of a
// known tuple is IP_CT_ESTABLISHED_REPLY), a notrack'ed packet untracked
// with no entry, and a ruleset without conntrack leaves every packet
// invalid with no entry.
func TestResultCtState(t *testing.T) {
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 100}
	synack := testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.5", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 1000, Ack: 101}
	tests := []struct {
		name      string
		exprs     []ruleset.Expr
		state     [2]uint32
		direction [2]int8
	}{
		// ct state new counter: conntrack runs
		{"tracked", cat(ctState(8), counter()), [2]uint32{CtStateNew, CtStateEstablished}, [2]int8{0, 1}},
		// counter only: no conntrack hooks
		{"no conntrack", cat(counter()), [2]uint32{CtStateInvalid, CtStateInvalid}, [2]int8{-1, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t",
				base("f", ruleset.HookForward, 0, Acc, r(1, tc.exprs...))))
			for i, s := range []testpkt.Spec{syn, synack} {
				iface := "lan"
				if i == 1 {
					iface = "wan"
				}
				res := m.Receive(pkt(t, s), iface, 1e18+int64(i)*1e6)
				if res.CtState != tc.state[i] || res.CtDirection != tc.direction[i] {
					t.Errorf("packet %d: ct state %d direction %d, want %d %d", i, res.CtState, res.CtDirection, tc.state[i], tc.direction[i])
				}
			}
		})
	}
	t.Run("notrack", func(t *testing.T) {
		m := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t",
			base("raw", ruleset.HookPrerouting, -300, Acc, r(1, &ruleset.Notrack{}))))
		res := m.Receive(pkt(t, syn), "lan", 1e18)
		if res.CtState != CtStateUntracked || res.CtDirection != -1 {
			t.Errorf("ct state %d direction %d, want untracked, -1", res.CtState, res.CtDirection)
		}
	})
}

// TestTraceBreaks: with TraceBreaks the rules that did not match are
// traced as BREAK, in order, before the one that decided.
func TestTraceBreaks(t *testing.T) {
	tb := func() *ruleset.Table {
		return table(ruleset.FamilyIPv4, "t", base("f", ruleset.HookForward, 0, Drop,
			// meta l4proto udp accept (no match for TCP)
			r(1, metaLoad(L4), cmpw(Eq, 1, 17), imm(Acc)),
			// meta l4proto tcp counter
			r(2, metaLoad(L4), cmpw(Eq, 1, 6), counter()),
			r(3, imm(Acc))))
	}
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN}
	for _, all := range []bool{false, true} {
		var got []string
		m, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{tb()}}, Config{Host: routerHost(), TraceBreaks: all, Trace: func(ev TraceEvent) {
			got = append(got, itoa(int(ev.Rule.Handle))+":"+ev.Verdict.String())
		}})
		if err != nil {
			t.Fatal(err)
		}
		m.Receive(pkt(t, syn), "lan", 1e18)
		want := "2:continue 3:accept"
		if all {
			want = "1:break 2:continue 3:accept"
		}
		if s := join(got); s != want {
			t.Errorf("TraceBreaks=%v: trace %q, want %q", all, s, want)
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestDeadStore: a fused compare skips its register store only when the
// next instruction reloads that register; a later read still sees it.
func TestDeadStore(t *testing.T) {
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN}
	// meta l4proto tcp, tcp dport 80, then reg 1 (l4proto) is compared
	// again after a load into reg 2: [ meta load l4proto => reg 1 ]
	// [ cmp eq reg 1 0x06 ] [ payload load 2b @ transport header + 2 => reg 2 ]
	// [ cmp eq reg 2 0x5000 ] [ cmp eq reg 1 0x06 ] [ immediate reg 0 accept ]
	live := r(1, metaLoad(L4), cmpw(Eq, 1, 6), &ruleset.Payload{Base: TH, Offset: 2, Len: 2, DReg: 2}, &ruleset.Cmp{Op: Eq, SReg: 2, Data: []byte{0, 80}}, cmpw(Eq, 1, 6), imm(Acc))
	// the same with the port loaded into reg 1: the l4proto store is dead.
	dead := r(1, metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x5000), imm(Acc))
	for _, tc := range []struct {
		name string
		rule *ruleset.Rule
		dead bool
	}{{"live", live, false}, {"dead", dead, true}} {
		m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t", base("f", ruleset.HookForward, 0, Drop, tc.rule)))
		if res := m.Receive(pkt(t, syn), "lan", 1e18); res.Verdict != Acc {
			t.Errorf("%s: verdict %v, want accept", tc.name, res.Verdict)
		}
		c := &m.chains[0]
		if got := c.code[0].aux2 == deadStore; got != tc.dead {
			t.Errorf("%s: first store dead %v, want %v", tc.name, got, tc.dead)
		}
	}
}
