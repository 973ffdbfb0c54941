package vm

import (
	"net/netip"
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

// TestConnlimitLookupNotAssured is connlimit-raw-output-reply (kernel
// 6.18): `ct count over 1` in output before conntrack looks the connection
// up by the packet's tuple; the host's SYN-ACK finds a confirmed connection
// that is not assured and is added (count 2: dropped), while the ACK that
// follows it is not the host's and the host's own UDP packet is counted
// once.
func TestConnlimitLookupNotAssured(t *testing.T) {
	local := netip.MustParseAddr("203.0.113.1")
	tb := table(ruleset.FamilyIPv4, "t0",
		base("b0", ruleset.HookOutput, -300, Acc, r(2, &ruleset.Connlimit{Count: 1, Flags: ruleset.ConnlimitInvert}, imm(Drop))))
	m := machineCT(t, Host{Local: []netip.Addr{local}}, nil, tb)
	const ms = int64(1e6)
	steps := []struct {
		out  bool
		spec testpkt.Spec
		want ruleset.VerdictCode
	}{
		{true, testpkt.Spec{Src: "203.0.113.1", Dst: "198.51.100.4", Proto: "udp", Sport: 5353, Dport: 40002}, Acc},
		{false, testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.1", Proto: "tcp", Sport: 40012, Dport: 443, Flags: testpkt.SYN, Seq: 1000}, Acc},
		{true, testpkt.Spec{Src: "203.0.113.1", Dst: "198.51.100.2", Proto: "tcp", Sport: 443, Dport: 40012, Flags: testpkt.SYNACK, Seq: 5000, Ack: 1001}, Drop},
	}
	for i, s := range steps {
		now := int64(i+1) * 10 * ms
		m.Advance(now)
		var res Result
		if s.out {
			res = m.Send(pkt(t, s.spec), now)
		} else {
			res = m.Receive(pkt(t, s.spec), "", now)
		}
		if res.Verdict != s.want {
			t.Fatalf("packet %d: %v (%s), want %v", i, res.Verdict, decided(res), s.want)
		}
	}
}
