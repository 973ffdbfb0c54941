package vm

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestConntrackInUse: only expressions whose init takes a conntrack
// reference register conntrack; notrack alone does not (kernel 6.18:
// scenario notrack-alone-tracks-nothing, where a forwarded UDP flow and
// TCP connection leave `conntrack -L` empty).
func TestConntrackInUse(t *testing.T) {
	ctGet := &ruleset.Ct{Key: ruleset.CtState, DReg: 1, Direction: ruleset.CtDirUnset}
	for _, tc := range []struct {
		name  string
		exprs []ruleset.Expr
		want  bool
		// tracked: the UDP packet leaves a conntrack entry
		tracked bool
	}{
		{"notrack only", []ruleset.Expr{&ruleset.Notrack{}}, false, false},
		{"ct state", []ruleset.Expr{ctGet}, true, true},
		{"notrack and ct state", []ruleset.Expr{&ruleset.Notrack{}, ctGet}, true, false},
		{"counter only", []ruleset.Expr{&ruleset.Counter{}}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("c", ruleset.HookPrerouting, -300, Acc, r(1, tc.exprs...))))
			if got := m.ConntrackInUse(); got != tc.want {
				t.Fatalf("ConntrackInUse() = %v, want %v", got, tc.want)
			}
			udp := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 40001, Dport: 5353}
			m.Receive(pkt(t, udp), "wan", 1)
			if n := len(m.Conntrack().Entries(1)); (n > 0) != tc.tracked {
				t.Fatalf("%d conntrack entries after a UDP packet, want tracked %v", n, tc.tracked)
			}
		})
	}
}
