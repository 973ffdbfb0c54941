package vm

import (
	"errors"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

func fib(result, flags uint32) *ruleset.Fib {
	return &ruleset.Fib{DReg: 1, Result: result, Flags: flags}
}

func udp(src, dst string, sport, dport uint16) testpkt.Spec {
	return testpkt.Spec{Src: src, Dst: dst, Proto: "udp", Sport: sport, Dport: dport}
}

// TestNumgenFibKernel replays parts of testdata/scenarios/hash-numgen-fib
// written as IR; the expected rule per packet and counters are the
// kernel.golden's (Linux 6.18).
func TestNumgenFibKernel(t *testing.T) {
	t.Run("numgen inc per expression", func(t *testing.T) {
		// numgen inc mod 3 offset 7 == 8: [ numgen reg 1 = inc mod 3 offset 7 ] [ cmp eq reg 1 0x00000008 ]
		ng := func() *ruleset.Numgen { return &ruleset.Numgen{DReg: 1, Modulus: 3, Offset: 7} }
		m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("f", ruleset.HookForward, 0, Acc,
			r(1, ng(), cmpw(Eq, 4, 8), imm(Acc)), r(2, ng(), cmpw(Eq, 4, 8), imm(Drop)), r(3, imm(Acc)))))
		want := []int{2, 0, 1, 2, 0, 2, 1}
		for i, w := range want {
			res := m.Receive(pkt(t, udp("198.51.100.2", "203.0.113.10", 5100, 2000)), "wan", 1e18+int64(i)*1e7)
			if res.Decided == nil || res.Decided.RuleIndex != w {
				t.Errorf("packet %d decided by %s, kernel rule %d", i, decided(res), w)
			}
		}
	})
	t.Run("fib forward", func(t *testing.T) {
		m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("f", ruleset.HookForward, 0, Acc,
			// fib saddr . iif oif missing drop: [ fib saddr . iif oif present => reg 1 ] [ cmp eq reg 1 0x00000000 ]
			r(1, fib(fibResOif, fibSaddr|fibIif|fibPresent), cmpw(Eq, 1, 0), imm(Drop)),
			// fib daddr oifname "lan": [ fib daddr oifname => reg 1 ] [ cmp eq reg 1 0x006e616c 0x0 0x0 0x0 ]
			r(2, fib(fibResOifname, fibDaddr), &ruleset.Cmp{Op: Eq, SReg: 1, Data: []byte("lan\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")}, imm(Acc)),
			// fib daddr . oif type unicast: [ fib daddr . oif type => reg 1 ] [ cmp eq reg 1 0x00000001 ]
			r(3, fib(fibResAddrtype, fibDaddr|fibOif), cmpw(Eq, 4, 1), imm(Drop)),
			r(4, imm(Acc)))))
		for i, tc := range []struct {
			spec testpkt.Spec
			in   string
			rule int
		}{
			{udp("198.51.100.9", "203.0.113.10", 6000, 3000), "wan", 1},
			{udp("203.0.113.9", "198.51.100.9", 6000, 3000), "lan", 2},
		} {
			res := m.Receive(pkt(t, tc.spec), tc.in, 1e18+int64(i))
			if res.Decided == nil || res.Decided.RuleIndex != tc.rule {
				t.Errorf("packet %d decided by %s, kernel rule %d", i, decided(res), tc.rule)
			}
		}
	})
	t.Run("fib input", func(t *testing.T) {
		m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("in", ruleset.HookInput, 0, Acc,
			r(1, fib(fibResAddrtype, fibDaddr), cmpw(Eq, 4, rtnLocal), counter()),
			r(2, fib(fibResAddrtype, fibDaddr), cmpw(Eq, 4, rtnBroadcast), counter()),
			r(3, fib(fibResAddrtype, fibDaddr|fibIif), cmpw(Eq, 4, rtnLocal), counter()),
			r(4, fib(fibResOif, fibSaddr|fibIif|fibPresent), cmpw(Eq, 1, 1), counter()),
			// fib daddr oif 0: [ fib daddr oif => reg 1 ] [ cmp eq reg 1 0x00000000 ]
			r(5, fib(fibResOif, fibDaddr), cmpw(Eq, 4, 0), counter()))))
		for i, dst := range []string{"198.51.100.254", "203.0.113.254", "198.51.100.255"} {
			if res := m.Receive(pkt(t, udp("198.51.100.2", dst, 7000, 4000)), "wan", 1e18+int64(i)); res.Verdict != Acc || res.Out != "" {
				t.Fatalf("packet %d not delivered locally: %+v", i, res)
			}
		}
		want := []uint64{2, 1, 1, 3, 2}
		for i, rl := range m.Snapshot(1e18).Tables[0].Chains[0].Rules {
			if c := rl.Exprs[2].(*ruleset.Counter); c.Packets != want[i] {
				t.Errorf("input rule %d counted %d, kernel %d", i, c.Packets, want[i])
			}
		}
	})
}

// TestRtSocketFwd: rt has no route before the routing decision; the next
// hop of a gateway-less route is the destination; socket finds no socket
// for received packets; fwd steals; dup is a no-op; hook checks refuse
// rt tcpmss in prerouting and socket in forward.
func TestRtSocketFwd(t *testing.T) {
	spec := udp("203.0.113.9", "198.51.100.9", 1, 2)
	for _, tc := range []struct {
		name  string
		hook  ruleset.Hook
		exprs []ruleset.Expr
		match bool
	}{
		// rt ip nexthop 198.51.100.9: [ rt load nexthop4 => reg 1 ] [ cmp eq reg 1 0x096433c6 ]
		{"nexthop in forward", ruleset.HookForward, cat(&ruleset.Rt{Key: rtNexthop4, DReg: 1}, cmpw(Eq, 4, 0x096433c6)), true},
		{"no route in prerouting", ruleset.HookPrerouting, cat(&ruleset.Rt{Key: rtNexthop4, DReg: 1}, cmpw(Neq, 4, 0)), false},
		// rt mtu 1460: [ rt load tcpmss => reg 1 ] [ cmp eq reg 1 0x0000b405 ]
		{"tcpmss", ruleset.HookForward, cat(&ruleset.Rt{Key: rtTCPMSS, DReg: 1}, cmpw(Eq, 2, 0xb405)), true},
		// socket transparent 0: [ socket load transparent => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		{"no socket", ruleset.HookPrerouting, cat(&ruleset.Socket{Key: socketTransparent, DReg: 1}, cmpw(Eq, 1, 0)), false},
		// [ immediate reg 1 0x0100000a ] [ dup sreg_addr 1 ]
		{"dup", ruleset.HookForward, cat(&ruleset.Immediate{DReg: 1, Data: []byte{10, 0, 0, 1}}, &ruleset.Dup{SRegAddr: 1}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t", base("c", tc.hook, 0, Drop, r(1, append(tc.exprs, imm(Acc))...))))
			if got := m.Receive(pkt(t, spec), "lan", 1e18).Verdict == Acc; got != tc.match {
				t.Errorf("matched %v, want %v", got, tc.match)
			}
		})
	}
	for _, tc := range []struct {
		name string
		hook ruleset.Hook
		e    ruleset.Expr
	}{
		{"rt tcpmss in prerouting", ruleset.HookPrerouting, &ruleset.Rt{Key: rtTCPMSS, DReg: 1}},
		{"socket in forward", ruleset.HookForward, &ruleset.Socket{Key: socketTransparent, DReg: 1}},
		{"fib oif in postrouting", ruleset.HookPostrouting, fib(fibResOif, fibSaddr|fibIif)},
	} {
		_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(ruleset.FamilyINet, "t", base("c", tc.hook, 0, Acc, r(1, tc.e)))}}, Config{Host: routerHost()})
		if !errors.Is(err, errNotSupp) {
			t.Errorf("%s: %v, want EOPNOTSUPP", tc.name, err)
		}
	}
	// fwd to "lan": [ immediate reg 1 0x00000003 ] [ fwd sreg_dev 1 ]
	tb := table(ruleset.FamilyNetdev, "n", &ruleset.Chain{Name: "in", Hook: &ruleset.ChainHook{Type: "filter", Hook: ruleset.HookNetdevIngress, Policy: ruleset.Verdict{Code: Acc}, Devices: []string{"lan"}},
		Rules: []*ruleset.Rule{r(1, &ruleset.Immediate{DReg: 1, Data: []byte{3, 0, 0, 0}}, &ruleset.Fwd{SRegDev: 1})}})
	m := newMachine(t, routerHost(), tb)
	if res := m.Receive(pkt(t, spec), "lan", 1e18); res.Verdict != ruleset.VerdictStolen {
		t.Errorf("fwd verdict %v, want stolen", res.Verdict)
	}
}

// TestFibIPv6Kernel is testdata/scenarios/fib-ipv6 as IR; the expected
// rules and counters are its kernel.golden's (Linux 6.18).
func TestFibIPv6Kernel(t *testing.T) {
	lan := []byte("lan\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	m := newMachine(t, routerHost(), table(ruleset.FamilyIPv6, "filter",
		base("forward", ruleset.HookForward, 0, Acc,
			r(1, fib(fibResOif, fibSaddr|fibIif|fibPresent), cmpw(Eq, 1, 0), counter(), imm(Drop)),
			r(2, fib(fibResOifname, fibDaddr), &ruleset.Cmp{Op: Eq, SReg: 1, Data: lan}, counter(), imm(Acc)),
			r(3, fib(fibResAddrtype, fibDaddr|fibOif), cmpw(Eq, 4, rtnUnicast), counter(), imm(Drop)),
			r(4, counter(), imm(Acc))),
		base("input", ruleset.HookInput, 0, Acc,
			r(5, fib(fibResAddrtype, fibDaddr), cmpw(Eq, 4, rtnLocal), counter()),
			r(6, fib(fibResAddrtype, fibDaddr), cmpw(Eq, 4, rtnMulticast), counter()),
			r(7, fib(fibResAddrtype, fibDaddr|fibIif), cmpw(Eq, 4, rtnLocal), counter()),
			r(8, fib(fibResOif, fibSaddr|fibIif|fibPresent), cmpw(Eq, 1, 1), counter()),
			r(9, fib(fibResOif, fibDaddr), cmpw(Eq, 4, 0), counter()),
			r(10, fib(fibResAddrtype, fibSaddr), cmpw(Eq, 4, rtnUnicast), counter()))))
	for i, tc := range []struct {
		src, dst string
		by       string
	}{
		{"2001:db8:1::9", "2001:db8:2::10", "forward:1"},
		{"2001:db8:2::9", "2001:db8:1::9", "forward:2"},
		{"2001:db8:1::2", "2001:db8:1::fffe", "input:policy"},
		{"2001:db8:1::2", "2001:db8:2::fffe", "input:policy"},
		{"2001:db8:1::2", "ff02::1", "input:policy"},
	} {
		if res := m.Receive(pkt(t, udp(tc.src, tc.dst, 7000, 4000)), "", 1e18+int64(i)); decided(res) != tc.by {
			t.Errorf("packet %d decided by %s, kernel %s", i, decided(res), tc.by)
		}
	}
	want := [][]uint64{{0, 1, 1, 0}, {2, 1, 1, 3, 2, 3}}
	for ci, c := range m.Snapshot(1e18).Tables[0].Chains {
		for ri, rl := range c.Rules {
			for _, e := range rl.Exprs {
				if x, ok := e.(*ruleset.Counter); ok && x.Packets != want[ci][ri] {
					t.Errorf("%s rule %d counted %d, kernel %d", c.Name, ri, x.Packets, want[ci][ri])
				}
			}
		}
	}
}
