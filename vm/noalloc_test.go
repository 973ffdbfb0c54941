package vm

import (
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

func machineCTb(tb testing.TB, tables ...*ruleset.Table) *Machine {
	tb.Helper()
	m, err := New(&ruleset.Ruleset{Tables: tables}, Config{Host: routerHost(), CT: ct.DefaultConfig()})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestNoAllocs: the packet path allocates nothing, per packet kind, with
// and without conntrack (after the first packet of a flow).
func TestNoAllocs(t *testing.T) {
	kinds := []struct {
		name string
		spec testpkt.Spec
	}{
		{"tcp4", tcpSpec},
		{"udp4", testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", Sport: 5000, Dport: 53}},
		{"icmp4", testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "icmp", Type: 8, ID: 7}},
		{"tcp6", testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.ACK}},
		{"udp6", testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "udp", Sport: 5000, Dport: 53}},
		{"icmp6", testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "icmpv6", Type: 128, ID: 7}},
		{"frag4", testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", FragOffset: 100}},
	}
	rulesets := map[string]func() []*ruleset.Table{
		"linear":   func() []*ruleset.Table { return []*ruleset.Table{linearTable(20)} },
		"stateful": func() []*ruleset.Table { return []*ruleset.Table{statefulTen()} },
		"nat":      natDnat,
		"sets": func() []*ruleset.Table {
			saddr := payload(NET, 12, 4)
			return []*ruleset.Table{setTable(
				r(2, saddr, &ruleset.Lookup{Set: "s", SReg: 1, Flags: ruleset.LookupInvert}, counter()),
				r(3, payload(NET, 12, 4), &ruleset.Dynset{Op: ruleset.DynsetUpdate, Set: "s", SRegKey: 1, Flags: dynsetExpr, Exprs: []ruleset.Expr{counter()}}),
				r(4, payload(NET, 12, 4), &ruleset.Lookup{Set: "v", SReg: 1, DReg: 0, HasDReg: true}),
				r(5, &ruleset.Log{Prefix: "x"}, &ruleset.Limit{Rate: 10, Unit: 1}, &ruleset.Quota{Bytes: 1 << 40}, imm(Acc)))}
		},
	}
	rulesets["expressions"] = func() []*ruleset.Table {
		tb := table(ruleset.FamilyINet, "x", base("forward", ruleset.HookForward, 0, Acc,
			r(2, exthdr(ruleset.ExthdrOpTCPOpt, 2, 2, 2, 0), counter()),
			r(3, exthdr(ruleset.ExthdrOpIPv6, 44, 0, 1, ruleset.ExthdrFPresent), counter()),
			r(4, &ruleset.Numgen{DReg: 1, Modulus: 3}, &ruleset.Hash{SReg: 1, DReg: 2, Len: 4, Modulus: 7, Seed: 1, HasSeed: true}, &ruleset.Hash{DReg: 1, Modulus: 5, Type: hashSym}),
			r(5, fib(fibResOifname, fibDaddr), fib(fibResAddrtype, fibSaddr|fibIif), fib(fibResOif, fibSaddr|fibIif|fibPresent), &ruleset.Rt{Key: rtNexthop4, DReg: 1}),
			r(6, &ruleset.Objref{Type: objCounter, ObjName: "c"}, payload(NET, 12, 4), &ruleset.Objref{SReg: 1, SetName: "om"}),
		))
		tb.Objects = []*ruleset.Object{{Kind: "counter", Name: "c", Expr: &ruleset.Counter{}}}
		tb.Sets = []*ruleset.Set{{Name: "om", Flags: ruleset.SetObject, KeyType: 7, KeyLen: 4, ObjType: objCounter,
			Elements: []*ruleset.Element{{Key: []byte{198, 51, 100, 2}, ObjRef: "c"}}}}
		return []*ruleset.Table{tb}
	}
	for rname, mk := range rulesets {
		for _, k := range kinds {
			t.Run(rname+"/"+k.name, func(t *testing.T) {
				m := machineCTb(t, mk()...)
				p := pkt(t, k.spec)
				orig := append([]byte(nil), p.Data...)
				now := int64(1e18)
				m.Receive(p, "wan", now)
				allocs := testing.AllocsPerRun(100, func() {
					copy(p.Data, orig)
					now += 1e6
					m.Advance(now)
					m.Receive(p, "wan", now)
				})
				if allocs != 0 {
					t.Errorf("%v allocations per packet", allocs)
				}
			})
		}
	}
}

func ctDefault() ct.Config { return ct.DefaultConfig() }

// TestNoAllocsSend: locally generated packets (output, postrouting) and a
// packet to the host itself (output, postrouting, prerouting, input on lo).
func TestNoAllocsSend(t *testing.T) {
	for _, spec := range []testpkt.Spec{
		{Src: "198.51.100.254", Dst: "198.51.100.9", Proto: "tcp", Sport: 22, Dport: 40000, Flags: testpkt.ACK},
		{Src: "198.51.100.254", Dst: "198.51.100.254", Proto: "udp", Sport: 1, Dport: 2},
	} {
		m := machineCTb(t, statefulTen())
		p := pkt(t, spec)
		orig := append([]byte(nil), p.Data...)
		now := int64(1e18)
		m.Send(p, now)
		if allocs := testing.AllocsPerRun(100, func() {
			copy(p.Data, orig)
			now += 1e6
			m.Send(p, now)
		}); allocs != 0 {
			t.Errorf("%s → %s: %v allocations per packet", spec.Src, spec.Dst, allocs)
		}
	}
}
