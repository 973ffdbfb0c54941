package vm

import (
	"net/netip"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// bridgeHost is the measured setup: br0 (02:00:00:00:00:fe,
// 192.0.2.1/24) with ports vA and vB.
func bridgeHost(noIP bool) Host {
	return Host{
		Ifaces: []Iface{
			{Name: "vA"}, {Name: "vB"},
			{Name: "br0", Prefix: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}},
		},
		Bridges: []Bridge{{Name: "br0", Ports: []string{"vA", "vB"}, MAC: [6]byte{2, 0, 0, 0, 0, 0xfe}, NoIPHooks: noIP}},
	}
}

func ethFrame(t *testing.T, dst, src byte, s testpkt.Spec) *packet.Packet {
	t.Helper()
	ip, err := testpkt.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(b byte) []byte {
		if b == 0xff {
			return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		}
		return []byte{2, 0, 0, 0, 0, b}
	}
	f := append(append(append(mac(dst), mac(src)...), 0x08, 0x00), ip...)
	p := new(packet.Packet)
	if err := p.Decode(packet.LinkEthernet, f); err != nil {
		t.Fatal(err)
	}
	return p
}

func nameIs(k ruleset.MetaKey, name string) []ruleset.Expr {
	var b [16]byte
	copy(b[:], name)
	return []ruleset.Expr{metaLoad(k), &ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: b[:]}}
}

// TestBridge replays the frames written to the ports of a real br0 on 6.18
// (veth ports, br_netfilter built in, bridge-nf-call-iptables 1; python
// AF_PACKET writes, `nft list ruleset` counters) and expects the same
// counters: bridge chains per hook, inet chains with br0 as in and out
// device.
func TestBridge(t *testing.T) {
	udp := func(dst string) testpkt.Spec {
		return testpkt.Spec{Src: "192.0.2.10", Dst: dst, Proto: "udp", Sport: 1234, Dport: 9999}
	}
	c := func(es ...ruleset.Expr) *ruleset.Rule { return r(0, append(es, counter())...) }
	brTable := table(ruleset.FamilyBridge, "b",
		base("pre", ruleset.HookPrerouting, 0, Acc, c()),
		base("in", ruleset.HookInput, 0, Acc, c()),
		base("fwd", ruleset.HookForward, 0, Acc, c(nameIs(ruleset.MetaOifname, "vB")...), c(nameIs(ruleset.MetaOifname, "vA")...), c()),
		base("post", ruleset.HookPostrouting, 0, Acc, c()))
	inTable := table(ruleset.FamilyINet, "i",
		base("pre", ruleset.HookPrerouting, 0, Acc, c(nameIs(ruleset.MetaIifname, "br0")...), c(nameIs(ruleset.MetaIifname, "vA")...), c()),
		base("in", ruleset.HookInput, 0, Acc, c()),
		base("fwd", ruleset.HookForward, 0, Acc, c(append(nameIs(ruleset.MetaIifname, "br0"), nameIs(ruleset.MetaOifname, "br0")...)...), c()),
		base("post", ruleset.HookPostrouting, 0, Acc, c(nameIs(ruleset.MetaOifname, "br0")...), c()))
	// Counter order: bridge pre, in, fwd vB, fwd vA, fwd, post; inet pre
	// br0, pre vA, pre, in, fwd br0/br0, fwd, post br0, post.
	steps := []struct {
		name      string
		port      string
		dst, src  byte
		ipDst     string
		out       string
		increment [14]uint64
	}{
		{"unknown unicast from vA is flooded to vB", "vA", 0x0b, 0x0a, "192.0.2.11", "vB",
			[14]uint64{1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1}},
		{"unicast to the learnt vA address leaves by vA only", "vB", 0x0a, 0x0b, "192.0.2.10", "vA",
			[14]uint64{1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1}},
		{"to the bridge's address: bridge input, inet input", "vA", 0xfe, 0x0a, "192.0.2.1", "",
			[14]uint64{1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0}},
		{"broadcast: flooded to vB and delivered to the host", "vA", 0xff, 0x0a, "192.0.2.255", "vB",
			[14]uint64{1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1}},
	}
	m := newMachine(t, bridgeHost(false), brTable, inTable)
	var prev [14]uint64
	for i, st := range steps {
		res := m.Receive(ethFrame(t, st.dst, st.src, udp(st.ipDst)), st.port, int64(i+1)*1e9)
		if res.Verdict != Acc || res.Out != st.out || !res.Shared {
			t.Fatalf("%s: verdict %v out %q, want accept out %q", st.name, res.Verdict, res.Out, st.out)
		}
		for k := range prev {
			if got := m.counters[k].packets - prev[k]; got != st.increment[k] {
				t.Errorf("%s: counter %d went up by %d, kernel %d", st.name, k, got, st.increment[k])
			}
			prev[k] = m.counters[k].packets
		}
	}
}

// TestBridgeNoIPHooks: without br_netfilter bridged frames meet only the
// bridge chains; the host's copy still reaches inet prerouting and input
// through the bridge device.
func TestBridgeNoIPHooks(t *testing.T) {
	m := newMachine(t, bridgeHost(true),
		table(ruleset.FamilyBridge, "b", base("fwd", ruleset.HookForward, 0, Acc, r(1, counter()))),
		table(ruleset.FamilyINet, "i",
			base("pre", ruleset.HookPrerouting, 0, Acc, r(2, append(nameIs(ruleset.MetaIifname, "br0"), counter())...)),
			base("fwd", ruleset.HookForward, 0, Acc, r(3, counter()))))
	udp := testpkt.Spec{Src: "192.0.2.10", Dst: "192.0.2.11", Proto: "udp", Sport: 1, Dport: 2}
	if res := m.Receive(ethFrame(t, 0x0b, 0x0a, udp), "vA", 1); res.Verdict != Acc || res.Out != "vB" {
		t.Fatalf("bridged: %v %q", res.Verdict, res.Out)
	}
	if m.counters[0].packets != 1 || m.counters[1].packets != 0 || m.counters[2].packets != 0 {
		t.Fatalf("counters %v", m.counters)
	}
	udp.Dst = "192.0.2.1"
	m.Receive(ethFrame(t, 0xfe, 0x0a, udp), "vA", 2)
	if m.counters[1].packets != 1 {
		t.Fatalf("host copy: inet prerouting counter %d", m.counters[1].packets)
	}
}

// TestBridgeDrops: a bridge forward drop stops the copy; a frame for the
// port it came from is not sent back; the FDB forgets after 300 s.
func TestBridgeDrops(t *testing.T) {
	m := newMachine(t, bridgeHost(true),
		table(ruleset.FamilyBridge, "b", base("fwd", ruleset.HookForward, 0, Acc, r(1, append(nameIs(ruleset.MetaOifname, "vB"), counter(), imm(Drop))...))))
	udp := testpkt.Spec{Src: "192.0.2.10", Dst: "192.0.2.11", Proto: "udp", Sport: 1, Dport: 2}
	if res := m.Receive(ethFrame(t, 0x0b, 0x0a, udp), "vA", 1); res.Verdict != Drop || decided(res) != "fwd:0" {
		t.Fatalf("dropped copy: %v %s", res.Verdict, decided(res))
	}
	// 02::0a is on vA: a frame to it arriving on vA goes nowhere.
	if res := m.Receive(ethFrame(t, 0x0a, 0x0c, udp), "vA", 2); res.Verdict != Drop || res.KernelDrop != "bridge" {
		t.Fatalf("same port: %v %q", res.Verdict, res.KernelDrop)
	}
	// 02::0c learnt on vA at t=2; from vB 301 s later it is unknown again
	// and flooded to vA.
	if res := m.Receive(ethFrame(t, 0x0c, 0x0b, udp), "vB", 2+301e9); res.Verdict != Acc || res.Out != "vA" {
		t.Fatalf("aged out: %v %q", res.Verdict, res.Out)
	}
}

// TestBridgeHookOrder: br_netfilter's calls into inet prerouting and
// forward sit at bridge priority 0 behind user chains of the same
// priority, and inet postrouting after every bridge postrouting chain
// (measured on 6.18: bridge chains dropping at priority 0 hide the frame
// from the inet chains, at priority 1 they do not; at INT_MAX in
// postrouting they still do).
func TestBridgeHookOrder(t *testing.T) {
	udp := testpkt.Spec{Src: "192.0.2.10", Dst: "192.0.2.11", Proto: "udp", Sport: 1234, Dport: 9999}
	for _, tc := range []struct {
		hook   ruleset.Hook
		prio   int32
		inetOK bool
	}{
		{ruleset.HookPrerouting, 0, false}, {ruleset.HookPrerouting, 1, true},
		{ruleset.HookForward, 0, false}, {ruleset.HookForward, 1, true},
		{ruleset.HookPostrouting, 2147483647, false},
	} {
		m := newMachine(t, bridgeHost(false),
			table(ruleset.FamilyBridge, "b", base("c", tc.hook, tc.prio, Acc, r(1, imm(Drop)))),
			table(ruleset.FamilyINet, "i", base("c", tc.hook, 0, Acc, r(2, counter()))))
		if res := m.Receive(ethFrame(t, 0x0b, 0x0a, udp), "vA", 1); res.Verdict != Drop {
			t.Fatalf("hook %d prio %d: %v", tc.hook, tc.prio, res.Verdict)
		}
		if got := m.counters[0].packets == 1; got != tc.inetOK {
			t.Errorf("hook %d prio %d: inet chain saw the frame: %v, kernel %v", tc.hook, tc.prio, got, tc.inetOK)
		}
	}
}

// TestBridgeConntrack: bridged IP frames are tracked through br_netfilter's
// inet hooks (measured on 6.18: `ct state new` in inet forward counts
// bridged UDP and conntrack -L lists the flows).
func TestBridgeConntrack(t *testing.T) {
	m := machineCT(t, bridgeHost(false), nil,
		table(ruleset.FamilyINet, "i", base("f", ruleset.HookForward, 0, Acc, r(1, append(ctState(8), counter())...))))
	udp := testpkt.Spec{Src: "192.0.2.10", Dst: "192.0.2.11", Proto: "udp", Sport: 1234, Dport: 9999}
	if res := m.Receive(ethFrame(t, 0x0b, 0x0a, udp), "vA", 1); res.Verdict != Acc || res.CtState != CtStateNew {
		t.Fatalf("bridged frame: %v ct state %d", res.Verdict, res.CtState)
	}
	if m.counters[0].packets != 1 || m.Conntrack().Count() != 1 {
		t.Fatalf("ct state new counted %d, conntrack entries %d", m.counters[0].packets, m.Conntrack().Count())
	}
}
