package vm

import (
	"net/netip"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestConntrackPerFamily: a ct expression registers conntrack only for its
// table's family (nf_ct_netns_get(net, ctx->family); inet is both), so
// with ct in an ip6 table only IPv6 is tracked. Recorded from 6.18 in
// testdata/scenarios/conntrack-per-family.
func TestConntrackPerFamily(t *testing.T) {
	syn4 := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 1000}
	syn6 := testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 1000}
	tests := []struct {
		fam          ruleset.Family
		want4, want6 int // conntrack entries after the v4 SYN, then after the v6 SYN
	}{
		{ruleset.FamilyIPv6, 0, 1},
		{ruleset.FamilyIPv4, 1, 1},
		{ruleset.FamilyINet, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.fam.String(), func(t *testing.T) {
			m := machineCT(t, routerHost(), nil, table(tc.fam, "t",
				base("f", ruleset.HookForward, 0, Acc, r(1, ctState(8)...))))
			m.Receive(pkt(t, syn4), "wan", 1e18)
			if n := m.Conntrack().Count(); n != tc.want4 {
				t.Errorf("after the IPv4 SYN: %d entries, want %d", n, tc.want4)
			}
			m.Receive(pkt(t, syn6), "wan", 1e18+1e7)
			if n := m.Conntrack().Count(); n != tc.want6 {
				t.Errorf("after the IPv6 SYN: %d entries, want %d", n, tc.want6)
			}
		})
	}
}

// TestRejectOutputAnswered: a packet the host sends and output rejects is
// answered — the RST and the ICMP/ICMPv6 error go from the sender's own
// address back to it (testdata/scenarios/reject-output-local, 6.18).
func TestRejectOutputAnswered(t *testing.T) {
	tests := []struct {
		name string
		rj   *ruleset.Reject
		spec testpkt.Spec
		size int // kernel: RST 40, ICMP 20+8+28, ICMPv6 40+8+48
	}{
		{"tcp reset", &ruleset.Reject{Type: ruleset.RejectTCPRst}, testpkt.Spec{Src: "203.0.113.1", Dst: "198.51.100.2", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 1000}, 40},
		{"icmpx v4", &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 1}, testpkt.Spec{Src: "203.0.113.1", Dst: "198.51.100.3", Proto: "udp", Sport: 40001, Dport: 53}, 56},
		{"icmpx v6", &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 1}, testpkt.Spec{Src: "2001:db8:2::1", Dst: "2001:db8:1::3", Proto: "udp", Sport: 40003, Dport: 53}, 96},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			local := []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8:2::1")}
			m := newMachine(t, Host{Local: local}, table(ruleset.FamilyINet, "t",
				base("o", ruleset.HookOutput, 0, Acc, r(1, tc.rj))))
			res := m.Send(pkt(t, tc.spec), 1)
			if res.Verdict != Drop || len(res.Reply) != tc.size {
				t.Fatalf("verdict %v, reply %d bytes; want drop and a %d-byte reply", res.Verdict, len(res.Reply), tc.size)
			}
			src := res.Reply[12:16]
			want := tc.spec.Src
			if res.Reply[0]>>4 == 6 {
				src = res.Reply[8:24]
			}
			if a, _ := netip.AddrFromSlice(src); a.String() != want && tc.rj.Type != ruleset.RejectTCPRst {
				t.Errorf("error sent from %v, want the sender's own %s", a, want)
			}
		})
	}
}
