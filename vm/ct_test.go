package vm

import (
	"net/netip"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

func ctLoad(k ruleset.CtKey, dir int) *ruleset.Ct {
	return &ruleset.Ct{Key: k, Direction: dir, DReg: 1}
}

const noDir = ruleset.CtDirUnset

// TestCtKeys runs a SYN (lan → wan) and its SYN-ACK through a forward
// chain whose rules test one ct key each and accept; the policy drops.
func TestCtKeys(t *testing.T) {
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 100}
	synack := testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.5", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 1000, Ack: 101}
	tests := []struct {
		name         string
		exprs        []ruleset.Expr
		first, reply bool // accepted?
	}{
		// ct state new: [ ct load state => reg 1 ] [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ] [ cmp neq reg 1 0x00000000 ]
		{"state new, then established", cat(ctState(8)), true, false},
		{"state established on the reply", cat(ctState(2)), false, true},
		// [ ct load direction => reg 1 ] [ cmp eq reg 1 0x00000001 ]
		{"direction reply", cat(ctLoad(ruleset.CtDirection, noDir), cmpw(Eq, 1, 1)), false, true},
		// [ ct load status => reg 1 ] … & 0x2 (seen-reply) is set only after the reply's tracking
		{"status seen-reply", cat(ctLoad(ruleset.CtStatus, noDir), &ruleset.Bitwise{SReg: 1, DReg: 1, Len: 4, Mask: wordBytes(4, 2), Xor: make([]byte, 4)}, cmpw(Neq, 4, 0)), false, true},
		{"status confirmed", cat(ctLoad(ruleset.CtStatus, noDir), &ruleset.Bitwise{SReg: 1, DReg: 1, Len: 4, Mask: wordBytes(4, 8), Xor: make([]byte, 4)}, cmpw(Neq, 4, 0)), false, true},
		// [ ct load l3protocol => reg 1 ] [ cmp eq reg 1 0x00000002 ]
		{"l3proto ipv4", cat(ctLoad(ruleset.CtL3Protocol, noDir), cmpw(Eq, 1, 2)), true, true},
		// [ ct load protocol => reg 1 ] [ cmp eq reg 1 0x00000006 ]
		{"protocol tcp", cat(ctLoad(ruleset.CtProtocol, noDir), cmpw(Eq, 1, 6)), true, true},
		// [ ct load src_ip => reg 1 , dir original ] [ cmp eq reg 1 0x057100cb ]
		{"original ip saddr", cat(ctLoad(ruleset.CtSrcIP, ruleset.CtDirOriginal), cmpw(Eq, 4, 0x057100cb)), true, true},
		// [ ct load src_ip => reg 1 , dir reply ] [ cmp eq reg 1 0x076433c6 ]
		{"reply ip saddr", cat(ctLoad(ruleset.CtSrcIP, ruleset.CtDirReply), cmpw(Eq, 4, 0x076433c6)), true, true},
		// [ ct load src_ip6 => reg 1 , dir original ]
		{"ip6 saddr breaks on IPv4", cat(ctLoad(ruleset.CtSrcIP6, ruleset.CtDirOriginal), cmpw(Neq, 4, 0)), false, false},
		// [ ct load proto_dst => reg 1 , dir original ] [ cmp eq reg 1 0x00005000 ]
		{"original proto-dst", cat(ctLoad(ruleset.CtProtoDst, ruleset.CtDirOriginal), cmpw(Eq, 2, 0x5000)), true, true},
		// [ ct load mark => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		{"mark 0", cat(ctLoad(ruleset.CtMark, noDir), cmpw(Eq, 4, 0)), true, true},
		// [ ct load zone => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		{"zone 0", cat(ctLoad(ruleset.CtZone, noDir), cmpw(Eq, 2, 0)), true, true},
		// [ ct load packets => reg 1 ] [ cmp eq reg 1 0x00000002 0x00000000 ]
		{"packets both directions", cat(ctLoad(ruleset.CtPkts, noDir), &ruleset.Cmp{Op: Eq, SReg: 1, Data: []byte{2, 0, 0, 0, 0, 0, 0, 0}}), false, true},
		// [ ct load packets => reg 1 , dir original ] [ cmp eq reg 1 0x00000001 0x00000000 ]
		{"packets original", cat(ctLoad(ruleset.CtPkts, ruleset.CtDirOriginal), &ruleset.Cmp{Op: Eq, SReg: 1, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0}}), true, true},
		// [ ct load expiration => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		{"expiration of an unconfirmed entry is 0", cat(ctLoad(ruleset.CtExpiration, noDir), cmpw(Eq, 4, 0)), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t",
				base("f", ruleset.HookForward, 0, Drop, r(1, append(tc.exprs, imm(Acc))...)),
				// confirm every flow even when f drops its first packet
				base("pre", ruleset.HookPrerouting, 0, Acc)))
			if got := m.Receive(pkt(t, syn), "lan", 1e18).Verdict == Acc; got != tc.first {
				t.Errorf("SYN accepted %v, want %v", got, tc.first)
			}
			if !tc.first {
				// Let the flow exist: a second machine state is not
				// needed, the SYN's entry was released; send it again
				// through an accepting path.
				m2 := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t",
					base("f", ruleset.HookForward, 0, Drop, r(1, append(tc.exprs, imm(Acc))...), r(2, ctState(8)[0], ctState(8)[1], ctState(8)[2], imm(Acc)))))
				m2.Receive(pkt(t, syn), "lan", 1e18)
				m = m2
			}
			if got := m.Receive(pkt(t, synack), "wan", 1e18+1e6).Verdict == Acc; got != tc.reply {
				t.Errorf("SYN-ACK accepted %v, want %v", got, tc.reply)
			}
		})
	}
}

// TestCtInRawChain: before conntrack (priority < -200) ct state is
// invalid and other keys break; notrack there makes the packet untracked
// and leaves no entry.
func TestCtInRawChain(t *testing.T) {
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN}
	m := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t",
		base("raw", ruleset.HookPrerouting, -300, Acc,
			r(1, cat(ctState(1), counter())...),                            // ct state invalid counter
			r(2, ctLoad(ruleset.CtMark, noDir), cmpw(Eq, 4, 0), counter()), // ct mark 0 counter: breaks
			r(3, &ruleset.Notrack{})),
		base("f", ruleset.HookForward, 0, Drop, r(4, cat(ctState(64), imm(Acc))...))))
	res := m.Receive(pkt(t, syn), "lan", 1)
	if decided(res) != "f:0" {
		t.Errorf("decided %s, want f:0 (ct state untracked)", decided(res))
	}
	exprs := m.Snapshot(1).Tables[0].Chains[0].Rules
	if c := exprs[0].Exprs[3].(*ruleset.Counter); c.Packets != 1 {
		t.Errorf("ct state invalid counter %d, want 1", c.Packets)
	}
	if c := exprs[1].Exprs[2].(*ruleset.Counter); c.Packets != 0 {
		t.Errorf("ct mark counter %d, want 0 (no entry: break)", c.Packets)
	}
	if n := m.Conntrack().Count(); n != 0 {
		t.Errorf("%d conntrack entries after notrack", n)
	}
}

// TestCtMarkSetAndDrop: ct mark set persists on the entry; a packet
// dropped in forward leaves no entry.
func TestCtMarkSetAndDrop(t *testing.T) {
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 100}
	synack := testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.5", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 1000, Ack: 101}
	other := testpkt.Spec{Src: "203.0.113.6", Dst: "198.51.100.7", Proto: "tcp", Sport: 40001, Dport: 22, Flags: testpkt.SYN}
	m := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t",
		base("f", ruleset.HookForward, 0, Drop,
			// [ immediate reg 1 0x00000005 ] [ ct set mark with reg 1 ]
			r(1, metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, 0x5000), &ruleset.Immediate{DReg: 1, Data: []byte{5, 0, 0, 0}}, &ruleset.Ct{Key: ruleset.CtMark, Set: true, SReg: 1}, imm(Acc)),
			r(2, ctLoad(ruleset.CtMark, noDir), cmpw(Eq, 4, 5), imm(Acc)))))
	if res := m.Receive(pkt(t, syn), "lan", 1); res.Verdict != Acc {
		t.Fatal(decided(res))
	}
	if res := m.Receive(pkt(t, synack), "wan", 2); decided(res) != "f:1" {
		t.Errorf("reply decided by %s, want f:1 (ct mark 5)", decided(res))
	}
	if res := m.Receive(pkt(t, other), "lan", 3); res.Verdict != Drop {
		t.Errorf("other flow %v", res.Verdict)
	}
	if n := m.Conntrack().Count(); n != 1 {
		t.Errorf("%d entries, want 1 (the dropped SYN is released)", n)
	}
}

// TestLocalSendToSelf: a locally generated packet to a local address runs
// output, postrouting, then prerouting and input on lo.
func TestLocalSendToSelf(t *testing.T) {
	local := netip.MustParseAddr("203.0.113.1")
	m := newMachine(t, Host{Local: []netip.Addr{local}}, table(ruleset.FamilyIPv4, "t",
		base("out", ruleset.HookOutput, 0, Acc, r(1, counter())),
		base("in", ruleset.HookInput, 0, Acc,
			// [ meta load iifname => reg 1 ] [ cmp eq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]
			r(2, metaLoad(ruleset.MetaIifname), cmpw(Eq, 16, 0x6f6c, 0, 0, 0), counter(), imm(Acc)))))
	res := m.Send(pkt(t, testpkt.Spec{Src: "203.0.113.1", Dst: "203.0.113.1", Proto: "udp", Sport: 1, Dport: 2}), 1)
	if decided(res) != "in:0" || res.Out != "" {
		t.Errorf("decided %s out %q, want in:0", decided(res), res.Out)
	}
	res = m.Send(pkt(t, testpkt.Spec{Src: "203.0.113.1", Dst: "198.51.100.9", Proto: "udp", Sport: 1, Dport: 2}), 1)
	if decided(res) != "out:policy" || res.Out != "tun0" {
		t.Errorf("decided %s out %q, want out:policy via tun0", decided(res), res.Out)
	}
}

// TestCtZoneTemplate: `ct zone set 5` in raw attaches a template; the
// entry conntrack creates is in zone 5 and `ct zone 5` matches later.
func TestCtZoneTemplate(t *testing.T) {
	syn := testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN}
	m := machineCT(t, routerHost(), nil, table(ruleset.FamilyIPv4, "t",
		base("raw", ruleset.HookPrerouting, -300, Acc,
			// [ immediate reg 1 0x00000005 ] [ ct set zone with reg 1 ]
			r(1, &ruleset.Immediate{DReg: 1, Data: []byte{5, 0}}, &ruleset.Ct{Key: ruleset.CtZone, Direction: noDir, Set: true, SReg: 1}),
			r(2, cat(ctState(8), counter())...)), // a template reads as new
		base("f", ruleset.HookForward, 0, Drop,
			// [ ct load zone => reg 1 ] [ cmp eq reg 1 0x00000005 ]
			r(3, ctLoad(ruleset.CtZone, noDir), cmpw(Eq, 2, 5), imm(Acc)))))
	if res := m.Receive(pkt(t, syn), "lan", 1); decided(res) != "f:0" {
		t.Errorf("decided %s, want f:0", decided(res))
	}
	if c := m.Snapshot(1).Tables[0].Chains[0].Rules[1].Exprs[3].(*ruleset.Counter); c.Packets != 1 {
		t.Errorf("ct state new before conntrack with a template: counter %d", c.Packets)
	}
}
