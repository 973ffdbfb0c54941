package vm

import (
	"errors"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

var udp53 = testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", Sport: 5000, Dport: 53}

// TestVerdictPaths runs one forwarded UDP packet through small rulesets
// covering every verdict of nft_do_chain.
func TestVerdictPaths(t *testing.T) {
	any := func(h uint64, v ruleset.Expr) *ruleset.Rule { return r(h, counter(), v) }
	tests := []struct {
		name    string
		chains  []*ruleset.Chain
		verdict ruleset.VerdictCode
		decided string
	}{
		{"accept", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Drop, any(1, imm(Acc)))}, Acc, "f:0"},
		{"drop", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Acc, any(1, imm(Drop)))}, Drop, "f:0"},
		{"fall off to policy drop", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Drop, r(1, counter()))}, Drop, "f:policy"},
		{"continue is a no-op", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Drop, any(1, imm(ruleset.VerdictContinue)), any(2, imm(Acc)))}, Acc, "f:1"},
		{"break goes to the next rule", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Drop, any(1, imm(ruleset.VerdictBreak)), any(2, imm(Acc)))}, Acc, "f:1"},
		{"return in a base chain is the policy", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Drop, any(1, imm(Ret)), any(2, imm(Acc)))}, Drop, "f:policy"},
		{"jump and return continue after the jump", []*ruleset.Chain{
			user("u", any(3, imm(Ret)), any(4, imm(Drop))),
			base("f", ruleset.HookForward, 0, Drop, any(1, jumpTo(Jmp, "u")), any(2, imm(Acc)))}, Acc, "f:1"},
		{"jump, end of chain continues after the jump", []*ruleset.Chain{
			user("u", r(3, counter())),
			base("f", ruleset.HookForward, 0, Drop, any(1, jumpTo(Jmp, "u")), any(2, imm(Acc)))}, Acc, "f:1"},
		{"accept in a user chain is named by its chain", []*ruleset.Chain{
			user("u", r(3, counter()), any(4, imm(Acc))),
			base("f", ruleset.HookForward, 0, Drop, any(1, jumpTo(Jmp, "u")))}, Acc, "u:1"},
		{"goto then end of chain is the policy", []*ruleset.Chain{
			user("u", r(3, counter())),
			base("f", ruleset.HookForward, 0, Drop, any(1, jumpTo(Goto, "u")), any(2, imm(Acc)))}, Drop, "f:policy"},
		{"goto inside a jump returns to the jumper's caller", []*ruleset.Chain{
			user("v", r(5, counter())),
			user("u", any(3, jumpTo(Goto, "v")), any(4, imm(Drop))),
			base("f", ruleset.HookForward, 0, Drop, any(1, jumpTo(Jmp, "u")), any(2, imm(Acc)))}, Acc, "f:1"},
		{"nested jumps unwind one frame each", []*ruleset.Chain{
			user("v", any(5, imm(Ret))),
			user("u", any(3, jumpTo(Jmp, "v")), any(4, imm(Drop))),
			base("f", ruleset.HookForward, 0, Acc, any(1, jumpTo(Jmp, "u")))}, Drop, "u:1"},
		{"queue", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Acc, any(1, &ruleset.Queue{Num: 3}))}, ruleset.VerdictQueue, "f:0"},
		{"queue bypass without a listener goes on", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Drop, any(1, &ruleset.Queue{Num: 3, Flags: queueFlagBypass}))}, Acc, "f:0"},
		{"reject drops", []*ruleset.Chain{base("f", ruleset.HookForward, 0, Acc, any(1, &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 1}))}, Drop, "f:0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", tc.chains...))
			res := m.Receive(pkt(t, udp53), "wan", 1)
			if res.Verdict != tc.verdict || decided(res) != tc.decided {
				t.Errorf("got %v by %s, want %v by %s", res.Verdict, decided(res), tc.verdict, tc.decided)
			}
			if tc.name == "reject drops" && (res.Reject == nil || res.Reject.Code != 1) {
				t.Errorf("reject not recorded: %+v", res.Reject)
			}
			if tc.name == "queue" && res.QueueNum != 3 {
				t.Errorf("queue num %d", res.QueueNum)
			}
		})
	}
}

// TestBaseChainsOnOneHook: ascending priority; ACCEPT ends one base chain,
// DROP the packet; equal priorities run the later-registered chain first
// (nf_hook_entries_grow), so the earlier-declared chain decides last.
func TestBaseChainsOnOneHook(t *testing.T) {
	tests := []struct {
		name    string
		chains  []*ruleset.Chain
		verdict ruleset.VerdictCode
		decided string
		counts  map[string]uint64 // chain -> packets of its first rule's counter
	}{
		{"accept then drop", []*ruleset.Chain{
			base("late", ruleset.HookForward, 10, Acc, r(1, counter(), imm(Drop))),
			base("early", ruleset.HookForward, -10, Acc, r(2, counter(), imm(Acc))),
		}, Drop, "late:0", map[string]uint64{"late": 1, "early": 1}},
		{"drop ends the packet", []*ruleset.Chain{
			base("late", ruleset.HookForward, 10, Acc, r(1, counter(), imm(Acc))),
			base("early", ruleset.HookForward, -10, Acc, r(2, counter(), imm(Drop))),
		}, Drop, "early:0", map[string]uint64{"late": 0, "early": 1}},
		{"the last accepting chain decides", []*ruleset.Chain{
			base("b", ruleset.HookForward, 5, Acc, r(1, counter())),
			base("a", ruleset.HookForward, 0, Acc, r(2, counter(), imm(Acc))),
		}, Acc, "b:policy", map[string]uint64{"a": 1, "b": 1}},
		{"equal priority: later registration runs first", []*ruleset.Chain{
			base("first", ruleset.HookForward, 0, Acc, r(1, counter(), imm(Acc))),
			base("second", ruleset.HookForward, 0, Acc, r(2, counter(), imm(Acc))),
		}, Acc, "first:0", map[string]uint64{"first": 1, "second": 1}},
		{"prerouting and forward", []*ruleset.Chain{
			base("fwd", ruleset.HookForward, 0, Acc, r(1, counter(), imm(Acc))),
			base("pre", ruleset.HookPrerouting, 0, Acc, r(2, counter(), imm(Acc))),
			base("in", ruleset.HookInput, 0, Drop, r(3, counter(), imm(Drop))),
			base("post", ruleset.HookPostrouting, 0, Acc, r(4, counter())),
		}, Acc, "post:policy", map[string]uint64{"fwd": 1, "pre": 1, "in": 0, "post": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t", tc.chains...))
			res := m.Receive(pkt(t, udp53), "wan", 1)
			if res.Verdict != tc.verdict || decided(res) != tc.decided {
				t.Errorf("got %v by %s, want %v by %s", res.Verdict, decided(res), tc.verdict, tc.decided)
			}
			snap := m.Snapshot(1)
			for _, c := range snap.Tables[0].Chains {
				want, ok := tc.counts[c.Name]
				if !ok {
					continue
				}
				if got := c.Rules[0].Exprs[0].(*ruleset.Counter).Packets; got != want {
					t.Errorf("chain %s counter %d, want %d", c.Name, got, want)
				}
			}
		})
	}
}

// TestFamilies: ip tables see IPv4 only, ip6 tables IPv6 only, inet both.
func TestFamilies(t *testing.T) {
	v6 := testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "udp", Sport: 5000, Dport: 53}
	for _, tc := range []struct {
		fam          ruleset.Family
		want4, want6 ruleset.VerdictCode
	}{
		{ruleset.FamilyIPv4, Drop, Acc},
		{ruleset.FamilyIPv6, Acc, Drop},
		{ruleset.FamilyINet, Drop, Drop},
	} {
		m := newMachine(t, routerHost(), table(tc.fam, "t", base("f", ruleset.HookForward, 0, Drop)))
		if got := m.Receive(pkt(t, udp53), "wan", 1).Verdict; got != tc.want4 {
			t.Errorf("%v table, IPv4: %v want %v", tc.fam, got, tc.want4)
		}
		if got := m.Receive(pkt(t, v6), "wan", 1).Verdict; got != tc.want6 {
			t.Errorf("%v table, IPv6: %v want %v", tc.fam, got, tc.want6)
		}
	}
}

// TestLoadErrors: what the kernel refuses at load, with nft's wording
// (checked with nft 1.0.6 on 6.18 in a netns: jump to a base chain,
// 16 nested chains, dynset on a constant set).
func TestLoadErrors(t *testing.T) {
	chainOf := func(n int) []*ruleset.Chain {
		cs := []*ruleset.Chain{base("b", ruleset.HookInput, 0, Acc, r(1, jumpTo(Jmp, "c1")))}
		for i := 1; i <= n; i++ {
			var e ruleset.Expr = imm(Acc)
			if i < n {
				e = jumpTo(Jmp, "c"+itoa(i+1))
			}
			cs = append(cs, user("c"+itoa(i), r(uint64(i+1), e)))
		}
		return cs
	}
	constSet := &ruleset.Set{Name: "s", Flags: ruleset.SetConstant, KeyLen: 4, KeyType: 7}
	timeoutSet := &ruleset.Set{Name: "s", Flags: ruleset.SetTimeout | ruleset.SetEval, KeyLen: 4, KeyType: 7}
	plainSet := &ruleset.Set{Name: "s", Flags: ruleset.SetEval, KeyLen: 4, KeyType: 7}
	addS := func(exprs ...ruleset.Expr) *ruleset.Rule {
		return r(9, payload(NET, 12, 4), &ruleset.Dynset{Set: "s", SRegKey: 1, Exprs: exprs})
	}
	withSet := func(s *ruleset.Set, rules ...*ruleset.Rule) *ruleset.Table {
		tb := table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, rules...))
		tb.Sets = []*ruleset.Set{s}
		return tb
	}
	tests := []struct {
		name  string
		table *ruleset.Table
		err   error  // nil: loads
		text  string // Error() prefix
	}{
		{"jump to a base chain", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc), user("c", r(1, jumpTo(Jmp, "b")))), errNotSupp, "Could not process rule: Operation not supported"},
		{"jump to a missing chain", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, jumpTo(Jmp, "nope")))), errNoEnt, "Could not process rule: No such file or directory"},
		{"15 nested chains load", table(ruleset.FamilyIPv4, "t", chainOf(15)...), nil, ""},
		{"16 nested chains", table(ruleset.FamilyIPv4, "t", chainOf(16)...), errMLink, "Could not process rule: Too many links"},
		{"jump loop", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, jumpTo(Jmp, "x"))), user("x", r(2, jumpTo(Jmp, "y"))), user("y", r(3, jumpTo(Jmp, "x")))), errMLink, "Could not process rule: Too many links"},
		{"loop not reachable from a base chain loads", table(ruleset.FamilyIPv4, "t", user("x", r(2, jumpTo(Jmp, "y"))), user("y", r(3, jumpTo(Jmp, "x")))), nil, ""},
		{"queue verdict in an immediate", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, imm(ruleset.VerdictQueue)))), errInval, ""},
		{"load of an unwritten register", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, cmpw(Eq, 4, 1)))), errNoData, ""},
		{"register out of range", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, &ruleset.Payload{Base: NET, Len: 4, DReg: 24}))), errRange, ""},
		{"data into the verdict register", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, &ruleset.Payload{Base: NET, Len: 4, DReg: 0}))), errInval, ""},
		{"unknown expression", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, &ruleset.Generic{Kind: "fib", Body: "x"}))), errNotImpl, "Could not process rule: expression \"fib\""},
		{"dynset on a constant set", withSet(constSet, addS()), errBusy, "Could not process rule: Device or resource busy"},
		{"connlimit element in a timeout set", withSet(timeoutSet, addS(&ruleset.Connlimit{Count: 1})), errNotSupp, ""},
		{"dynset timeout without timeout flag", withSet(plainSet, r(9, payload(NET, 12, 4), &ruleset.Dynset{Set: "s", SRegKey: 1, Timeout: 1000})), errInval, ""},
		// Checked with nft 1.0.6 on 6.18: reject reached by jump from
		// postrouting, meta pkttype set in input → Operation not supported;
		// notrack in forward loads.
		{"reject in a chain jumped to from postrouting", table(ruleset.FamilyIPv4, "t", user("u", r(1, &ruleset.Reject{})), base("p", ruleset.HookPostrouting, 0, Acc, r(2, jumpTo(Jmp, "u")))), errNotSupp, "Could not process rule: Operation not supported"},
		{"meta pkttype set in input", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, &ruleset.Immediate{DReg: 1, Data: []byte{0}}, &ruleset.Meta{Key: ruleset.MetaPkttype, Set: true, SReg: 1}))), errNotSupp, ""},
		{"notrack in forward loads", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookForward, 0, Acc, r(1, &ruleset.Notrack{}))), nil, ""},
		{"dnat in a filter chain", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookPrerouting, 0, Acc, r(1, &ruleset.NAT{Type: ruleset.NATDnat, Family: ruleset.FamilyIPv4}))), errNotSupp, ""},
		{"reject in postrouting", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookPostrouting, 0, Acc, r(1, &ruleset.Reject{}))), errNotSupp, ""},
		{"bitwise partial overlap", table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Acc, r(1, payload(NET, 0, 8), &ruleset.Bitwise{SReg: 8, DReg: 9, Len: 8, Mask: make([]byte, 8), Xor: make([]byte, 8)}))), errInval, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{tc.table}}, Config{Host: routerHost()})
			if tc.err == nil {
				if err != nil {
					t.Fatalf("load failed: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), tc.text) {
				t.Errorf("error text %q, want prefix %q", err.Error(), tc.text)
			}
		})
	}
}

// TestTrace: the trace sees the jump, the user chain's return, and the
// accepting rule, but not rules that broke.
func TestTrace(t *testing.T) {
	var got []string
	tb := table(ruleset.FamilyINet, "t",
		user("u", r(3, cmpw(Eq, 1, 1)), r(4, imm(Ret))),
		base("f", ruleset.HookForward, 0, Drop,
			r(1, metaLoad(L4), cmpw(Eq, 1, 6), imm(Acc)), // not tcp: breaks
			r(2, jumpTo(Jmp, "u")),
			r(5, counter()),
			r(6, imm(Acc))))
	tb.Chains[0].Rules[0].Exprs = []ruleset.Expr{metaLoad(NFP), cmpw(Eq, 1, 10)}
	m, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{tb}}, Config{Host: routerHost(), Trace: func(ev TraceEvent) {
		got = append(got, ev.Rule.Chain+":"+itoa(ev.Rule.RuleIndex)+" "+ev.Verdict.String())
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.Receive(pkt(t, udp53), "wan", 1)
	want := "f:1 jump,u:1 return,f:2 continue,f:3 accept"
	if s := strings.Join(got, ","); s != want {
		t.Errorf("trace %s, want %s", s, want)
	}
}

// TestNetdevHooks: netdev ingress runs before prerouting on its device only
// (meta nfproto reads 5 there), inet ingress joins the same list by
// priority, netdev egress runs after postrouting on the out device.
func TestNetdevHooks(t *testing.T) {
	dev := func(c *ruleset.Chain, d string) *ruleset.Chain { c.Hook.Devices = []string{d}; return c }
	nd := table(ruleset.FamilyNetdev, "n",
		// [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000005 ]
		dev(base("in_wan", ruleset.HookNetdevIngress, 0, Acc, r(1, metaLoad(NFP), cmpw(Eq, 1, 5), counter())), "wan"),
		dev(base("in_lan", ruleset.HookNetdevIngress, 0, Drop), "lan"),
		dev(base("eg_lan", ruleset.HookNetdevEgress, 0, Acc, r(2, counter(), imm(Acc))), "lan"))
	in := table(ruleset.FamilyINet, "i",
		dev(base("ing", ruleset.HookIngress, -10, Acc, r(3, metaLoad(NFP), cmpw(Eq, 1, 2), counter())), "wan"))
	m := newMachine(t, routerHost(), nd, in)
	res := m.Receive(pkt(t, udp53), "wan", 1)
	if res.Verdict != Acc || decided(res) != "eg_lan:0" || res.Out != "lan" {
		t.Errorf("wan → lan: %v by %s out %q, want accept by eg_lan:0", res.Verdict, decided(res), res.Out)
	}
	back := testpkt.Spec{Src: "203.0.113.9", Dst: "198.51.100.2", Proto: "udp", Sport: 53, Dport: 5000}
	if res := m.Receive(pkt(t, back), "lan", 1); res.Verdict != Drop || decided(res) != "in_lan:policy" {
		t.Errorf("lan ingress: %v by %s", res.Verdict, decided(res))
	}
	snap := m.Snapshot(1)
	if c := snap.Tables[0].Chains[0].Rules[0].Exprs[2].(*ruleset.Counter); c.Packets != 1 {
		t.Errorf("netdev nfproto 5 counter %d", c.Packets)
	}
	if c := snap.Tables[1].Chains[0].Rules[0].Exprs[2].(*ruleset.Counter); c.Packets != 1 {
		t.Errorf("inet ingress nfproto 2 counter %d", c.Packets)
	}
}

// TestLoadBadShapes: nil pieces and odd values in hand-built IR are load
// errors, never panics.
func TestLoadBadShapes(t *testing.T) {
	cases := map[string]*ruleset.Ruleset{
		"nil table":               {Tables: []*ruleset.Table{nil}},
		"nil chain":               {Tables: []*ruleset.Table{{Name: "t", Family: ruleset.FamilyIPv4, Chains: []*ruleset.Chain{nil}}}},
		"nil rule":                {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", nil))}},
		"nil expr":                {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", r(1, nil)))}},
		"policy return":           {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", base("b", ruleset.HookInput, 0, Ret))}},
		"zero-length cmp":         {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", r(1, payload(NET, 0, 4), &ruleset.Cmp{SReg: 1})))}},
		"huge payload":            {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", r(1, payload(NET, 0, 200))))}},
		"lookup of a missing set": {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", r(1, payload(NET, 0, 4), &ruleset.Lookup{Set: "nope", SReg: 1})))}},
		"shift by 32":             {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", r(1, payload(NET, 0, 4), &ruleset.Bitwise{Op: ruleset.BitwiseLshift, SReg: 1, DReg: 1, Len: 4, Shift: 32})))}},
		"limit rate 0":            {Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t", user("c", r(1, &ruleset.Limit{Unit: 1})))}},
	}
	for name, rs := range cases {
		if _, err := New(rs, Config{}); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
