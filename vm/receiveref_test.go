package vm

import (
	"reflect"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestReceiveRef: ReceiveRef and SendRef answer what Receive and Send
// answer, the host's replies (reject, time exceeded) included, on two
// machines fed the same packets.
func TestReceiveRef(t *testing.T) {
	tb := func() *ruleset.Table {
		// tcp dport 25 reject with tcp reset; tcp dport 23 drop; policy accept
		return table(ruleset.FamilyIPv4, "t",
			base("f", ruleset.HookForward, 0, Acc,
				r(1, metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x1900), &ruleset.Reject{Type: ruleset.RejectTCPRst}),
				r(2, metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x1700), imm(Drop))),
			base("o", ruleset.HookOutput, 0, Acc, r(3, counter())))
	}
	spec := func(dport uint16, ttl uint8) testpkt.Spec {
		return testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: dport, Flags: testpkt.SYN, TTL: ttl}
	}
	a, b := newMachine(t, routerHost(), tb()), newMachine(t, routerHost(), tb())
	for _, tc := range []struct {
		name   string
		s      testpkt.Spec
		local  bool
		want   ruleset.VerdictCode
		reply  bool
		kernel string
	}{
		{"accept", spec(80, 64), false, Acc, false, ""},
		{"reject", spec(25, 64), false, Drop, true, ""},
		{"drop", spec(23, 64), false, Drop, false, ""},
		{"ttl exceeded", spec(80, 1), false, Drop, true, "routing"},
		{"local out", testpkt.Spec{Src: "198.51.100.254", Dst: "198.51.100.7", Proto: "udp", Sport: 5353, Dport: 53}, true, Acc, false, ""},
	} {
		var want Result
		var got *Result
		if tc.local {
			want = a.Send(pkt(t, tc.s), 1e9)
			got = b.SendRef(pkt(t, tc.s), 1e9)
		} else {
			want = a.Receive(pkt(t, tc.s), "lan", 1e9)
			got = b.ReceiveRef(pkt(t, tc.s), "lan", 1e9)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: ref %+v, value %+v", tc.name, *got, want)
		}
		if got.Verdict != tc.want || (got.Reply != nil) != tc.reply || got.KernelDrop != tc.kernel {
			t.Errorf("%s: verdict %v reply %v kernel %q, want %v %v %q", tc.name, got.Verdict, got.Reply != nil, got.KernelDrop, tc.want, tc.reply, tc.kernel)
		}
	}
}
