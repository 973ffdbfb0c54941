package vm

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// FuzzReceive: any frame that decodes runs through a ruleset touching
// every packet-reading expression, with conntrack, defrag, NAT and
// reject, without panicking.
func FuzzReceive(f *testing.F) {
	for _, s := range []testpkt.Spec{tcpSpec, udp53,
		{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "icmpv6", Type: 128},
		{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", FragOffset: 3, MoreFragments: true},
		{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "icmp", Type: 3, Code: 3, Inner: &udp53}} {
		f.Add(testpkt.MustBuild(s), false)
	}
	tables := append(natDnat(), statefulTen(), table(ruleset.FamilyINet, "x",
		base("pre", ruleset.HookPrerouting, -300, Acc,
			r(1, payload(ruleset.BaseLink, 0, 6), cmpw(Eq, 4, 1)),
			r(2, payload(TH, 250, 4), cmpw(Eq, 4, 1)),
			r(3, metaLoad(ruleset.MetaIiftype), cmpw(Eq, 2, 1)),
			r(4, &ruleset.Immediate{DReg: 1, Data: []byte{1, 2}}, &ruleset.PayloadWrite{Base: TH, Offset: 0, Len: 2, SReg: 1, CsumType: 1, CsumOffset: 6, CsumFlags: 1})),
		base("f", ruleset.HookForward, 0, Acc,
			r(5, metaLoad(L4), cmpw(Eq, 1, 17), &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 1}),
			r(6, metaLoad(L4), cmpw(Eq, 1, 6), &ruleset.Reject{Type: ruleset.RejectTCPRst}))))
	f.Add(synWithOptions(), false)
	for _, b := range exthdrPackets() {
		f.Add(b, false)
	}
	f.Add(ip4(17, []byte{148, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0}, []byte{0, 1, 0, 2, 0, 8, 0, 0}), false)
	tables = append(tables, table(ruleset.FamilyINet, "y",
		base("pre", ruleset.HookPrerouting, -250, Acc,
			r(10, exthdr(ruleset.ExthdrOpTCPOpt, 2, 2, 2, 0), counter()),
			r(11, exthdr(ruleset.ExthdrOpTCPOpt, 8, 6, 4, 0), counter()),
			r(12, exthdr(ruleset.ExthdrOpIPv6, 44, 2, 2, 0), counter()),
			r(13, exthdr(ruleset.ExthdrOpIPv6, 60, 0, 1, ruleset.ExthdrFPresent), counter()),
			r(14, exthdr(ruleset.ExthdrOpIPv4, ipoptRR, 2, 1, 0), counter()),
			r(15, exthdr(ruleset.ExthdrOpIPv4, ipoptLSRR, 0, 1, ruleset.ExthdrFPresent), counter()),
			r(16, exthdr(ruleset.ExthdrOpSCTP, 1, 4, 4, 0), counter()),
			r(17, &ruleset.Immediate{DReg: 1, Data: []byte{1, 0}}, &ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 2, Offset: 2, Len: 2, SReg: 1, Write: true}),
			r(18, &ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 4, Reset: true}),
			r(19, &ruleset.Hash{DReg: 1, Modulus: 5, Type: hashSym}, fib(fibResOif, fibSaddr|fibIif|fibPresent), fib(fibResAddrtype, fibDaddr))),
		base("f", ruleset.HookForward, 0, Acc,
			r(20, fib(fibResOifname, fibDaddr), &ruleset.Rt{Key: rtNexthop6, DReg: 1}, &ruleset.Rt{Key: rtTCPMSS, DReg: 1}))))
	m, err := New(&ruleset.Ruleset{Tables: tables}, Config{Host: routerHost(), CT: ctDefault()})
	if err != nil {
		f.Fatal(err)
	}
	now := int64(1e18)
	f.Fuzz(func(t *testing.T, b []byte, local bool) {
		var p packet.Packet
		if p.Decode(packet.LinkRaw, b) != nil {
			return
		}
		now += 1e6
		m.Advance(now)
		if local {
			m.Send(&p, now)
		} else {
			m.Receive(&p, "", now)
		}
	})
}
