package vm

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// ctState is `ct state X`:
//
//	[ ct load state => reg 1 ]
//	[ bitwise reg 1 = ( reg 1 & 0x0000000X ) ^ 0x00000000 ]
//	[ cmp neq reg 1 0x00000000 ]
func ctState(mask uint32) []ruleset.Expr {
	return []ruleset.Expr{
		&ruleset.Ct{Key: ruleset.CtState, Direction: ruleset.CtDirUnset, DReg: 1},
		&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: 4, Mask: wordBytes(4, mask), Xor: make([]byte, 4)},
		cmpw(Neq, 4, 0),
	}
}

func cat(parts ...any) []ruleset.Expr {
	var out []ruleset.Expr
	for _, p := range parts {
		switch x := p.(type) {
		case []ruleset.Expr:
			out = append(out, x...)
		case ruleset.Expr:
			out = append(out, x)
		}
	}
	return out
}

func machineCT(t *testing.T, host Host, sysctl map[string]string, tables ...*ruleset.Table) *Machine {
	t.Helper()
	cfg := ct.DefaultConfig()
	for k, v := range sysctl {
		if err := cfg.SetSysctl(k, v); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(&ruleset.Ruleset{Tables: tables}, Config{Host: host, CT: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestScenarioCtTableFull(t *testing.T) {
	tb := table(ruleset.FamilyINet, "t",
		base("raw", ruleset.HookPrerouting, -300, Acc, r(4, counter())),
		base("mangle", ruleset.HookPrerouting, -150, Acc, r(5, counter())),
		base("forward", ruleset.HookForward, 0, Acc, r(6, cat(ctState(8), counter(), imm(Acc))...)),
	)
	m := machineCT(t, routerHost(), map[string]string{"net.netfilter.nf_conntrack_max": "7"}, tb)
	k, out := replayScenario(t, "ct-table-full", m, nil)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
	if got := m.Conntrack().Count(); got != k.ConntrackCount {
		t.Errorf("conntrack count %d, kernel %d", got, k.ConntrackCount)
	}
}

// statefulForward is the forward chain of tcp-handshake-fin: an anonymous
// set lookup among ct state matches.
func statefulForward() *ruleset.Table {
	anon := &ruleset.Set{Name: "__set0", ID: 1, Flags: ruleset.SetAnonymous | ruleset.SetConstant, KeyType: 13, KeyLen: 2,
		Elements: []*ruleset.Element{{Key: []byte{0x00, 0x50}}, {Key: []byte{0x01, 0xbb}}}} // element 00005000 element 0000bb01
	tb := table(ruleset.FamilyINet, "filter",
		base("forward", ruleset.HookForward, 0, Drop,
			r(2, cat(ctState(6), counter(), imm(Acc))...),
			r(3, cat(ctState(1), counter(), imm(Drop))...),
			r(4, cat(metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2),
				&ruleset.Lookup{Set: "__set0", SetID: 1, SReg: 1}, // [ lookup reg 1 set __set%d ]
				ctState(8), counter(), imm(Acc))...),
			r(5, cat(metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, 0x3500), ctState(8), counter(), imm(Acc))...),
			r(6, counter()),
		),
	)
	tb.Sets = []*ruleset.Set{anon}
	return tb
}

func TestScenarioTCPHandshakeFin(t *testing.T) {
	m := machineCT(t, routerHost(), nil, statefulForward())
	k, out := replayScenario(t, "tcp-handshake-fin", m, nil)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
	if got := m.Conntrack().Count(); got != k.ConntrackCount {
		t.Errorf("conntrack count %d, kernel %d", got, k.ConntrackCount)
	}
}

func TestScenarioICMPErrorRelated(t *testing.T) {
	tb := table(ruleset.FamilyINet, "filter",
		base("forward", ruleset.HookForward, 0, Drop,
			r(2, cat(ctState(1), counter(), imm(Drop))...),
			r(3, cat(ctState(4), counter(), imm(Acc))...),
			r(4, cat(ctState(2), counter(), imm(Acc))...),
			r(5, cat(ctState(8), counter(), imm(Acc))...),
			r(6, counter()),
		))
	m := machineCT(t, routerHost(), nil, tb)
	k, out := replayScenario(t, "icmp-error-related", m, nil)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
}

func TestScenarioIPv6Inet(t *testing.T) {
	tb := table(ruleset.FamilyINet, "filter",
		base("forward", ruleset.HookForward, 0, Drop,
			r(2, cat(ctState(6), counter(), imm(Acc))...),
			r(3, cat(ctState(1), counter(), imm(Drop))...),
			r(4, cat(metaLoad(NFP), cmpw(Eq, 1, 10), payload(NET, 8, 16),
				cmpw(Eq, 16, 0xb80d0120, 0x00000100, 0x00000000, 0x66000000), // ip6 saddr 2001:db8:1::66
				counter(), imm(Drop))...),
			r(5, cat(metaLoad(NFP), cmpw(Eq, 1, 10), metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x5000), ctState(8), counter(), imm(Acc))...),
			r(6, cat(metaLoad(NFP), cmpw(Eq, 1, 10), metaLoad(L4), cmpw(Eq, 1, 58), payload(TH, 0, 1), cmpw(Eq, 1, 0x80), counter(), imm(Acc))...),
			r(7, cat(metaLoad(NFP), cmpw(Eq, 1, 2), payload(NET, 12, 3), cmpw(Eq, 3, 0x006433c6), metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, 0x3500), counter(), imm(Acc))...),
			r(8, counter()),
		))
	m := machineCT(t, routerHost(), nil, tb)
	k, out := replayScenario(t, "ipv6-inet", m, nil)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
	if got := m.Conntrack().Count(); got != k.ConntrackCount {
		t.Errorf("conntrack count %d, kernel %d", got, k.ConntrackCount)
	}
}

func TestScenarioLocalInputConnlimit(t *testing.T) {
	local := netip.MustParseAddr("203.0.113.1")
	tb := table(ruleset.FamilyINet, "filter",
		base("input", ruleset.HookInput, 0, Drop,
			r(3, cat(ctState(6), counter(), imm(Acc))...),
			r(4, cat(metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x1600),
				&ruleset.Connlimit{Count: 2}, // [ connlimit count 2 flags 0 ]
				counter(), imm(Acc))...),
			r(5, cat(metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, 0x3500), counter(), imm(Acc))...),
			r(6, counter()),
		),
		base("output", ruleset.HookOutput, 0, Acc, r(7, counter())),
	)
	m := machineCT(t, Host{Local: []netip.Addr{local}}, nil, tb)
	isLocal := func(p *packet.Packet) bool {
		src, _, _ := addrs(p)
		return src == local
	}
	k, out := replayScenario(t, "local-input-connlimit", m, isLocal)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
	if got := m.Conntrack().Count(); got != k.ConntrackCount {
		t.Errorf("conntrack count %d, kernel %d", got, k.ConntrackCount)
	}
}

func TestScenarioConnlimitSet(t *testing.T) {
	cl := &ruleset.Set{Name: "cl", ID: 1, Flags: ruleset.SetEval, KeyType: 7, KeyLen: 4, Size: 65535, SizeSet: true} // cl filter 20 size 65535
	tb := table(ruleset.FamilyINet, "filter",
		base("forward", ruleset.HookForward, 0, Acc,
			r(3, cat(ctState(8), metaLoad(NFP), cmpw(Eq, 1, 2), payload(NET, 12, 4),
				// [ dynset add reg_key 1 set cl expr [ connlimit count 2 flags 1 ] ]
				&ruleset.Dynset{Op: ruleset.DynsetAdd, Set: "cl", SetID: 1, SRegKey: 1, Flags: dynsetExpr,
					Exprs: []ruleset.Expr{&ruleset.Connlimit{Count: 2, Flags: ruleset.ConnlimitInvert}}},
				counter(), imm(Drop))...),
			r(4, counter()),
		))
	tb.Sets = []*ruleset.Set{cl}
	m := machineCT(t, routerHost(), nil, tb)
	k, out := replayScenario(t, "connlimit-set", m, nil)
	checkVerdicts(t, k, out)
	snap := m.Snapshot(0)
	checkCounters(t, k, snap)
	if n := len(snap.Tables[0].Sets[0].Elements); n != 3 {
		t.Errorf("set cl has %d elements, kernel lists 3", n)
	}
}

// natDnat is ../shared/scenarios/nat-dnat/ruleset.nft.
func natDnat() []*ruleset.Table {
	nat := table(ruleset.FamilyIPv4, "nat",
		base("pre", ruleset.HookPrerouting, -100, Acc,
			r(3, payload(NET, 16, 4), cmpw(Eq, 4, 0xfe6433c6), metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x901f), counter(),
				&ruleset.Immediate{DReg: 1, Data: wordBytes(4, 0x507100cb)}, // [ immediate reg 1 0x507100cb ]
				&ruleset.Immediate{DReg: 2, Data: wordBytes(2, 0x5000)},     // [ immediate reg 2 0x00005000 ]
				// [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]
				&ruleset.NAT{Type: ruleset.NATDnat, Family: ruleset.FamilyIPv4, AddrMin: 1, ProtoMin: 2, Flags: ruleset.NATRangeProtoSpecific, HasFlags: true}),
			r(4, counter()),
		),
		base("post", ruleset.HookPostrouting, 100, Acc, r(5, counter())),
	)
	nat.Chains[0].Hook.Type = "nat"
	nat.Chains[1].Hook.Type = "nat"
	filter := table(ruleset.FamilyINet, "filter",
		base("forward", ruleset.HookForward, 0, Drop,
			r(2, cat(ctState(6), counter(), imm(Acc))...),
			r(3, cat(&ruleset.Ct{Key: ruleset.CtStatus, Direction: ruleset.CtDirUnset, DReg: 1},
				&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: 4, Mask: wordBytes(4, 0x20), Xor: make([]byte, 4)},
				cmpw(Neq, 4, 0), ctState(8), counter(), imm(Acc))...),
			r(4, counter()),
		))
	return []*ruleset.Table{nat, filter}
}

func TestScenarioNatDnat(t *testing.T) {
	m := machineCT(t, routerHost(), nil, natDnat()...)
	k, out := replayScenario(t, "nat-dnat", m, nil)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
}

// TestHookOrderConntrackAndNAT: conntrack registers when the first rule
// that needs it loads (after the chains of its table), the NAT core when
// the first nat chain registers. Kernel (oracle run, forward mode, 6.18)
// for one SYN: a.p counts "new" (conntrack ran first), b.p counts
// "invalid" (registered later, runs before conntrack), c.f at -100 runs
// before the NAT core and sees "new"; traversal order b.p, a.p, c.f, n.pre.
func TestHookOrderConntrackAndNAT(t *testing.T) {
	pre := func(name string, prio int32, rules ...*ruleset.Rule) *ruleset.Chain {
		return base(name, ruleset.HookPrerouting, prio, Acc, rules...)
	}
	a := table(ruleset.FamilyINet, "a", pre("p", -200, r(2, cat(ctState(8), counter())...), r(3, cat(ctState(1), counter())...)))
	b := table(ruleset.FamilyINet, "b", pre("p", -200, r(2, cat(ctState(8), counter())...), r(3, cat(ctState(1), counter())...)))
	n := table(ruleset.FamilyIPv4, "n", pre("pre", -100, r(2, counter())))
	n.Chains[0].Hook.Type = "nat"
	c := table(ruleset.FamilyINet, "c", pre("f", -100, r(2, cat(ctState(8), counter())...)))
	var order []string
	m, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{a, b, n, c}}, Config{Host: routerHost(), CT: ct.DefaultConfig(), Trace: func(ev TraceEvent) {
		if ev.Rule.Policy {
			order = append(order, ev.Rule.Table+"."+ev.Rule.Chain)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	syn := pkt(t, testpkt.Spec{Src: "198.51.100.3", Dst: "203.0.113.9", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN})
	res := m.Receive(syn, "wan", 1)
	if got := strings.Join(order, ","); got != "b.p,a.p,c.f,n.pre" {
		t.Errorf("order %s, kernel b.p,a.p,c.f,n.pre", got)
	}
	if decided(res) != "pre:policy" {
		t.Errorf("decided %s, kernel n pre policy", decided(res))
	}
	snap := m.Snapshot(1)
	want := map[string][]uint64{"a": {1, 0}, "b": {0, 1}, "c": {1}, "n": {1}}
	for _, tb := range snap.Tables {
		for i, w := range want[tb.Name] {
			exprs := tb.Chains[0].Rules[i].Exprs
			if got := exprs[len(exprs)-1].(*ruleset.Counter).Packets; got != w {
				t.Errorf("%s rule %d counter %d, kernel %d", tb.Name, i, got, w)
			}
		}
	}
}

// TestMasqueradeOracle: lan → wan with `oifname "wan" masquerade` in a
// srcnat chain and a filter chain at the same priority registered later.
// Kernel (oracle run, forward mode, 6.18): the SYN runs nat pre, fw, post2,
// then nat post (decided by its masquerade rule); the SYN-ACK to the
// router address is de-NATed to the client; the established packets skip
// nat chains; counters pre 2, post 1, fw 2/1, post2 3; one entry whose
// reply goes to 198.51.100.254.
func TestMasqueradeOracle(t *testing.T) {
	nat := table(ruleset.FamilyIPv4, "nat",
		base("pre", ruleset.HookPrerouting, -100, Acc, r(3, counter())),
		// [ meta load oifname => reg 1 ] [ cmp eq reg 1 0x006e6177 0x00000000 0x00000000 0x00000000 ] [ masq ]
		base("post", ruleset.HookPostrouting, 100, Acc, r(4, counter()), r(5, metaLoad(ruleset.MetaOifname), cmpw(Eq, 16, 0x006e6177, 0, 0, 0), &ruleset.Masq{})))
	nat.Chains[0].Hook.Type, nat.Chains[1].Hook.Type = "nat", "nat"
	f := table(ruleset.FamilyINet, "f",
		base("fw", ruleset.HookForward, 0, Drop,
			r(3, cat(ctState(2), counter(), imm(Acc))...),
			r(4, cat(ctState(8), metaLoad(ruleset.MetaIifname), cmpw(Eq, 16, 0x006e616c, 0, 0, 0), metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x5000), counter(), imm(Acc))...)),
		base("post2", ruleset.HookPostrouting, 100, Acc, r(5, counter())))
	m := machineCT(t, routerHost(), nil, nat, f)
	specs := []struct {
		s   testpkt.Spec
		ifc string
	}{
		{testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 100}, "lan"},
		{testpkt.Spec{Src: "198.51.100.7", Dst: "198.51.100.254", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 5000, Ack: 101}, "wan"},
		{testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.ACK, Seq: 101, Ack: 5001}, "lan"},
		{testpkt.Spec{Src: "203.0.113.6", Dst: "198.51.100.7", Proto: "tcp", Sport: 40001, Dport: 22, Flags: testpkt.SYN, Seq: 100}, "lan"},
	}
	want := []string{"post:1", "post2:policy", "post2:policy", "fw:policy"}
	for i, sp := range specs {
		p := pkt(t, sp.s)
		res := m.Receive(p, sp.ifc, int64(i+1)*1e7)
		if decided(res) != want[i] {
			t.Errorf("packet %d decided by %s, kernel %s", i, decided(res), want[i])
		}
		if i == 1 {
			if _, dst := rawAddrs(p); string(dst) != string([]byte{203, 0, 113, 5}) || res.Out != "lan" {
				t.Errorf("SYN-ACK not de-NATed: dst %v out %q", dst, res.Out)
			}
		}
	}
	counts := map[string][]uint64{"pre": {1 + 1}, "post": {1}, "fw": {2, 1}, "post2": {3}}
	for _, tb := range m.Snapshot(1e9).Tables {
		for _, c := range tb.Chains {
			for i, w := range counts[c.Name] {
				var got uint64
				for _, e := range c.Rules[i].Exprs {
					if x, ok := e.(*ruleset.Counter); ok {
						got = x.Packets
					}
				}
				if got != w {
					t.Errorf("%s rule %d counter %d, kernel %d", c.Name, i, got, w)
				}
			}
		}
	}
	if n := m.Conntrack().Count(); n != 1 {
		t.Errorf("%d entries, kernel 1", n)
	}
}
