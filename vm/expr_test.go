package vm

import (
	"encoding/binary"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// matches runs p (forwarded, in on wan) through a forward chain with
// policy drop whose rules are rules + `accept`, and reports an accept.
func matches(t *testing.T, p *packet.Packet, rules ...[]ruleset.Expr) bool {
	t.Helper()
	var rs []*ruleset.Rule
	for i, es := range rules {
		rs = append(rs, r(uint64(i+1), append(es, imm(Acc))...))
	}
	m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("f", ruleset.HookForward, 0, Drop, rs...)))
	return m.Receive(p, "wan", 1e18).Verdict == Acc
}

func ex(es ...ruleset.Expr) []ruleset.Expr { return es }

// never is a rule that loads into a register and never matches; it leaves
// the register dirty for the next rule.
func dirty(reg ruleset.Register, n uint32) []ruleset.Expr {
	return ex(&ruleset.Immediate{DReg: reg, Data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}[:n]}, cmpw(Eq, 1, 0x42))
}

func TestExpressions(t *testing.T) {
	tcp := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "tcp", Sport: 40000, Dport: 22, Flags: testpkt.SYN, TTL: 64, Payload: make([]byte, 100)}
	frag := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", Sport: 1, Dport: 2, FragOffset: 10}
	v6 := testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "udp", Sport: 5000, Dport: 53}
	hton := func(n uint32) *ruleset.Byteorder {
		return &ruleset.Byteorder{Op: ruleset.HtoN, SReg: 1, DReg: 1, Len: n, Size: n}
	}
	tests := []struct {
		name  string
		spec  testpkt.Spec
		rules [][]ruleset.Expr
		want  bool
	}{
		// Zero-fill: a 1-byte load after a 16-byte immediate must clear the
		// rest of its word (the gVisor divergence in style.md).
		{"payload 1b zero-fills its word", tcp, [][]ruleset.Expr{dirty(1, 16), ex(payload(NET, 9, 1), cmpw(Eq, 4, 6))}, true},
		{"payload 2b zero-fills its word", tcp, [][]ruleset.Expr{dirty(1, 16), ex(payload(TH, 2, 2), cmpw(Eq, 4, 0x1600))}, true},
		{"payload 3b zero-fills its word", tcp, [][]ruleset.Expr{dirty(1, 16), ex(payload(NET, 12, 3), cmpw(Eq, 4, 0x006433c6))}, true},
		{"meta l4proto zero-fills", tcp, [][]ruleset.Expr{dirty(1, 16), ex(metaLoad(L4), cmpw(Eq, 4, 6))}, true},
		{"concatenation: second field on its own word", tcp, [][]ruleset.Expr{ex(
			&ruleset.Payload{Base: TH, Offset: 2, Len: 2, DReg: 9}, &ruleset.Payload{Base: NET, Offset: 9, Len: 1, DReg: 10},
			&ruleset.Cmp{Op: Eq, SReg: 9, Data: []byte{0, 22, 0, 0, 6, 0, 0, 0}})}, true},
		{"transport load on a fragment breaks", frag, [][]ruleset.Expr{ex(payload(TH, 0, 2), cmpw(Neq, 2, 0))}, false},
		{"network load on a fragment works", frag, [][]ruleset.Expr{ex(payload(NET, 9, 1), cmpw(Eq, 1, 17))}, true},
		{"read past the end breaks", tcp, [][]ruleset.Expr{ex(payload(TH, 200, 4), cmpw(Neq, 4, 1))}, false},
		{"link layer on a raw packet breaks", tcp, [][]ruleset.Expr{ex(payload(ruleset.BaseLink, 0, 2), cmpw(Neq, 2, 1))}, false},
		{"cmp lt is big-endian byte order", tcp, [][]ruleset.Expr{ex(payload(TH, 2, 2), &ruleset.Cmp{Op: ruleset.CmpLt, SReg: 1, Data: []byte{0x01, 0x00}})}, true},
		{"cmp gte", tcp, [][]ruleset.Expr{ex(payload(TH, 2, 2), &ruleset.Cmp{Op: ruleset.CmpGte, SReg: 1, Data: []byte{0x00, 0x17}})}, false},
		// [ range eq reg 1 0x00001400 0x00001900 ] (nft 1.0.6 emits cmp gte + cmp lte for eq; range for neq)
		{"range eq inside", tcp, [][]ruleset.Expr{ex(payload(TH, 2, 2), &ruleset.Range{Op: Eq, SReg: 1, From: []byte{0, 20}, To: []byte{0, 25}})}, true},
		// [ range neq reg 1 0x00001400 0x00001900 ]
		{"range neq inside", tcp, [][]ruleset.Expr{ex(payload(TH, 2, 2), &ruleset.Range{Op: Neq, SReg: 1, From: []byte{0, 20}, To: []byte{0, 25}})}, false},
		// [ bitwise reg 1 = ( reg 1 & 0x00000012 ) ^ 0x00000000 ] — tcp flags & (syn|ack) == syn
		{"bitwise mask", tcp, [][]ruleset.Expr{ex(payload(TH, 13, 1), &ruleset.Bitwise{SReg: 1, DReg: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}}, cmpw(Eq, 1, 2))}, true},
		{"bitwise xor", tcp, [][]ruleset.Expr{ex(payload(TH, 13, 1), &ruleset.Bitwise{SReg: 1, DReg: 1, Len: 1, Mask: []byte{0xff}, Xor: []byte{0x03}}, cmpw(Eq, 1, 1))}, true},
		// nft_bitwise_eval_lshift walks the native words from the last to
		// the first: bits leaving word 1 enter word 0.
		{"lshift carries across words", tcp, [][]ruleset.Expr{ex(&ruleset.Immediate{DReg: 1, Data: []byte{1, 0, 0, 0x80, 0, 0, 0, 0x80}},
			&ruleset.Bitwise{Op: ruleset.BitwiseLshift, SReg: 1, DReg: 1, Len: 8, Shift: 1},
			&ruleset.Cmp{Op: Eq, SReg: 1, Data: []byte{3, 0, 0, 0, 0, 0, 0, 0}})}, true},
		{"rshift carries across words", tcp, [][]ruleset.Expr{ex(&ruleset.Immediate{DReg: 1, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
			&ruleset.Bitwise{Op: ruleset.BitwiseRshift, SReg: 1, DReg: 1, Len: 8, Shift: 1},
			&ruleset.Cmp{Op: Eq, SReg: 1, Data: []byte{0, 0, 0, 0, 0, 0, 0, 0x80}})}, true},
		// meta length > 100: [ byteorder reg 1 = hton(reg 1, 4, 4) ] [ cmp gt reg 1 0x64000000 ]
		{"meta length hton gt", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaLen), hton(4), cmpw(ruleset.CmpGt, 4, 0x64000000))}, true},
		// [ meta load len => reg 1 ] [ cmp eq reg 1 0x0000008c ]
		{"meta length value", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaLen), cmpw(Eq, 4, 140))}, true},
		{"byteorder 2 zero-pads", tcp, [][]ruleset.Expr{dirty(1, 16), ex(&ruleset.Immediate{DReg: 1, Data: []byte{0x34, 0x12}}, hton(2), cmpw(Eq, 4, 0x3412))}, true},
		{"byteorder 8", tcp, [][]ruleset.Expr{ex(&ruleset.Immediate{DReg: 1, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}, hton(8), &ruleset.Cmp{Op: Eq, SReg: 1, Data: []byte{8, 7, 6, 5, 4, 3, 2, 1}})}, true},
		// [ meta load protocol => reg 1 ] [ cmp eq reg 1 0x00000008 ]
		{"meta protocol is network order", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaProtocol), cmpw(Eq, 2, 0x0008))}, true},
		{"meta nfproto ipv6", v6, [][]ruleset.Expr{ex(metaLoad(NFP), cmpw(Eq, 1, 10))}, true},
		{"meta l4proto breaks without L4", tcp, [][]ruleset.Expr{ex(metaLoad(L4), cmpw(Eq, 1, 6))}, true},
		{"meta mark set then get", tcp, [][]ruleset.Expr{
			ex(&ruleset.Immediate{DReg: 1, Data: []byte{0x10, 0, 0, 0}}, &ruleset.Meta{Key: ruleset.MetaMark, Set: true, SReg: 1}, cmpw(Eq, 1, 0x42)),
			ex(metaLoad(ruleset.MetaMark), cmpw(Eq, 4, 0x10))}, true},
		// [ meta load iifname => reg 1 ] [ cmp eq reg 1 0x006e6177 0x00000000 0x00000000 0x00000000 ]
		{"iifname wan", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaIifname), cmpw(Eq, 16, 0x006e6177, 0, 0, 0))}, true},
		{"oifname lan", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaOifname), cmpw(Eq, 16, 0x006e616c, 0, 0, 0))}, true},
		// [ meta load iif => reg 1 ] [ cmp eq reg 1 0x00000002 ]
		{"iif index 2, oif 3", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaIif), cmpw(Eq, 4, 2), metaLoad(ruleset.MetaOif), cmpw(Eq, 4, 3))}, true},
		// [ meta load iiftype => reg 1 ] [ cmp eq reg 1 0x0000fffe ]
		{"iiftype tun is ARPHRD_NONE", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaIiftype), cmpw(Eq, 2, 0xfffe))}, true},
		// [ meta load pkttype => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		// [ meta load iifkind => reg 1 ] [ cmp eq reg 1 0x006e7574 0x00000000 0x00000000 0x00000000 ]
		// (oracle: meta iifkind "tun", iiftype 65534, pkttype host all match on its tun devices)
		{"iifkind tun", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaIifkind), cmpw(Eq, 16, 0x006e7574, 0, 0, 0))}, true},
		{"pkttype host", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaPkttype), cmpw(Eq, 1, 0))}, true},
		// [ meta load skuid => reg 1 ] [ cmp eq reg 1 0x00003039 ]
		{"skuid breaks without a socket", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaSkuid), cmpw(Neq, 4, 12345))}, false},
		// 1e18 ns = 2001-09-09T01:46:40Z, a Sunday.
		// [ meta load day => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		{"meta day", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaTimeDay), cmpw(Eq, 1, 0))}, true},
		// [ meta load hour => reg 1 ] (nft adds hton + cmp gte/lte for ranges)
		{"meta hour", tcp, [][]ruleset.Expr{ex(metaLoad(ruleset.MetaTimeHour), cmpw(Eq, 4, 6400))}, true},
		{"forward sees the decremented ttl", tcp, [][]ruleset.Expr{ex(payload(NET, 8, 1), cmpw(Eq, 1, 63))}, true},
		{"counter never breaks", tcp, [][]ruleset.Expr{ex(counter())}, true},
		// [ quota bytes 1000 consumed 0 flags 0 ]
		{"quota under", tcp, [][]ruleset.Expr{ex(&ruleset.Quota{Bytes: 1000})}, true},
		// quota over 100 bytes: [ quota bytes 100 consumed 0 flags 1 ]
		{"quota over matches past the quota", tcp, [][]ruleset.Expr{ex(&ruleset.Quota{Bytes: 100, Flags: ruleset.QuotaInvert})}, true},
		{"quota exhausted", tcp, [][]ruleset.Expr{ex(&ruleset.Quota{Bytes: 100})}, false},
		// [ limit rate 1/second burst 5 type packets flags 0x0 ]
		{"limit first packet passes", tcp, [][]ruleset.Expr{ex(&ruleset.Limit{Rate: 1, Unit: 1})}, true},
		{"limit over: first packet breaks", tcp, [][]ruleset.Expr{ex(&ruleset.Limit{Rate: 1, Unit: 1, Flags: ruleset.LimitInvert})}, false},
		// [ log prefix x ]
		{"log goes on", tcp, [][]ruleset.Expr{ex(&ruleset.Log{Prefix: "x", HasPrefix: true})}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matches(t, pkt(t, tc.spec), tc.rules...); got != tc.want {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLimitBucket: 2/second burst 5 lets 5 packets through at once, then
// one every 500 ms (nft_limit_pkts_eval on the replay clock).
func TestLimitBucket(t *testing.T) {
	// [ limit rate 2/second burst 5 type packets flags 0x0 ]
	m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t",
		base("f", ruleset.HookForward, 0, Drop, r(1, &ruleset.Limit{Rate: 2, Unit: 1, Burst: 5}, imm(Acc)))))
	p := pkt(t, udp53)
	orig := append([]byte(nil), p.Data...)
	var got []bool
	at := func(ns int64) {
		copy(p.Data, orig)
		got = append(got, m.Receive(p, "wan", ns).Verdict == Acc)
	}
	base := int64(1e18)
	for i := 0; i < 7; i++ {
		at(base)
	}
	at(base + 499e6)
	at(base + 500e6)
	at(base + 500e6)
	want := []bool{true, true, true, true, true, false, false, false, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: accepted %v, want %v (all %v)", i, got[i], want[i], got)
		}
	}
}

// TestQuotaAndCounterSnapshot: quota consumes every packet, matched or
// not; the dump caps consumed at the quota and flags it depleted.
func TestQuotaAndCounterSnapshot(t *testing.T) {
	m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t",
		base("f", ruleset.HookForward, 0, Acc, r(1, counter(), &ruleset.Quota{Bytes: 100}, imm(Drop)))))
	p := pkt(t, udp53) // 28 bytes
	orig := append([]byte(nil), p.Data...)
	var drops int
	for i := 0; i < 5; i++ {
		copy(p.Data, orig)
		if m.Receive(p, "wan", 1).Verdict == Drop {
			drops++
		}
	}
	if drops != 3 {
		t.Errorf("%d drops, want 3 (28, 56, 84 bytes under 100)", drops)
	}
	exprs := m.Snapshot(1).Tables[0].Chains[0].Rules[0].Exprs
	if c := exprs[0].(*ruleset.Counter); c.Packets != 5 || c.Bytes != 140 {
		t.Errorf("counter %+v", c)
	}
	if q := exprs[1].(*ruleset.Quota); q.Consumed != 100 || q.Flags&ruleset.QuotaDepleted == 0 {
		t.Errorf("quota %+v", q)
	}
}

// TestPayloadWriteChecksums: `tcp dport set 8080` and `ip ttl set 5` keep
// the IPv4 and TCP checksums valid.
func TestPayloadWriteChecksums(t *testing.T) {
	tcp := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "tcp", Sport: 40000, Dport: 22, Flags: testpkt.SYN}
	m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t",
		base("f", ruleset.HookForward, 0, Acc,
			// [ immediate reg 1 0x0000901f ]
			// [ payload write reg 1 => 2b @ transport header + 2 csum_type 1 csum_off 16 csum_flags 0x0 ]
			r(1, metaLoad(L4), cmpw(Eq, 1, 6), &ruleset.Immediate{DReg: 1, Data: []byte{0x1f, 0x90}},
				&ruleset.PayloadWrite{Base: TH, Offset: 2, Len: 2, SReg: 1, CsumType: 1, CsumOffset: 16}),
			// [ payload load 2b @ network header + 8 => reg 1 ]
			// [ bitwise reg 1 = ( reg 1 & 0x0000ff00 ) ^ 0x00000005 ]
			// [ payload write reg 1 => 2b @ network header + 8 csum_type 1 csum_off 10 csum_flags 0x0 ]
			r(2, payload(NET, 8, 2), &ruleset.Bitwise{SReg: 1, DReg: 1, Len: 2, Mask: []byte{0, 0xff}, Xor: []byte{5, 0}},
				&ruleset.PayloadWrite{Base: NET, Offset: 8, Len: 2, SReg: 1, CsumType: 1, CsumOffset: 10}),
		)))
	p := pkt(t, tcp)
	if res := m.Receive(p, "wan", 1); res.Verdict != Acc {
		t.Fatal(res)
	}
	nh := p.Network()
	if port := binary.BigEndian.Uint16(p.Transport()[2:]); port != 8080 {
		t.Errorf("dport %d", port)
	}
	if nh[8] != 5 {
		t.Errorf("ttl %d", nh[8])
	}
	if s := csumFold(csumPartial(nh[:20], 0)); s != 0 {
		t.Errorf("IPv4 header checksum off by %#x", s)
	}
	// TCP checksum over the pseudo-header and segment.
	seg := p.Transport()
	ph := make([]byte, 0, 12+len(seg))
	ph = append(ph, nh[12:20]...)
	ph = append(ph, 0, 6, byte(len(seg)>>8), byte(len(seg)))
	ph = append(ph, seg...)
	if s := csumFold(csumPartial(ph, 0)); s != 0 {
		t.Errorf("TCP checksum off by %#x", s)
	}
}

// TestRoutingStages: local destinations go to input, martians and
// unroutable packets are dropped by routing, TTL 1 is not forwarded.
func TestRoutingStages(t *testing.T) {
	m := newMachine(t, Host{Ifaces: routerHost().Ifaces}, table(ruleset.FamilyIPv4, "t",
		base("in", ruleset.HookInput, 0, Acc, r(1, counter())),
		base("f", ruleset.HookForward, 0, Acc, r(2, counter()))))
	for _, tc := range []struct {
		name, ifc string
		spec      testpkt.Spec
		want      string
		out       string
	}{
		{"to the router", "wan", testpkt.Spec{Src: "198.51.100.2", Dst: "198.51.100.254", Proto: "udp"}, "in:policy", ""},
		{"forwarded", "wan", testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.7", Proto: "udp"}, "f:policy", "lan"},
		{"no route (no default)", "wan", testpkt.Spec{Src: "198.51.100.2", Dst: "8.8.8.8", Proto: "udp"}, "kernel:routing", ""},
		{"martian source", "wan", testpkt.Spec{Src: "203.0.113.254", Dst: "203.0.113.7", Proto: "udp"}, "kernel:routing", ""},
		{"limited broadcast", "wan", testpkt.Spec{Src: "0.0.0.0", Dst: "255.255.255.255", Proto: "udp"}, "in:policy", ""},
		{"directed broadcast", "lan", testpkt.Spec{Src: "203.0.113.7", Dst: "203.0.113.255", Proto: "udp"}, "in:policy", ""},
		{"all-hosts multicast", "lan", testpkt.Spec{Src: "203.0.113.7", Dst: "224.0.0.1", Proto: "udp"}, "in:policy", ""},
		{"other multicast is not forwarded", "lan", testpkt.Spec{Src: "203.0.113.7", Dst: "239.255.255.250", Proto: "udp"}, "kernel:routing", ""},
		{"ff02::1", "lan", testpkt.Spec{Src: "2001:db8:2::7", Dst: "ff02::1", Proto: "udp"}, "none", ""},
		{"solicited-node of the router", "lan", testpkt.Spec{Src: "2001:db8:2::7", Dst: "ff02::1:ff00:fffe", Proto: "icmpv6", Type: 135}, "none", ""},
		{"link-local destination", "lan", testpkt.Spec{Src: "2001:db8:2::7", Dst: "fe80::1", Proto: "udp"}, "kernel:routing", ""},
		{"ttl 1", "wan", testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.7", Proto: "udp", TTL: 1}, "kernel:routing", ""},
	} {
		res := m.Receive(pkt(t, tc.spec), tc.ifc, 1)
		if decided(res) != tc.want || res.Out != tc.out {
			t.Errorf("%s: %s out %q, want %s out %q", tc.name, decided(res), res.Out, tc.want, tc.out)
		}
	}
}

// TestRoutingOracle replays six packets a kernel oracle run (forward mode,
// 6.18) routed as: TTL 1 → dropped, ICMP time exceeded (56 bytes) out
// through output; 239.255.255.250 → dropped; 224.0.0.1, the lan directed
// broadcast (from either side) and 255.255.255.255 → input. Counters:
// prerouting 6/168, input 4/112, forward 0, output 1/56.
func TestRoutingOracle(t *testing.T) {
	c := func(name string, h ruleset.Hook) *ruleset.Chain { return base(name, h, 0, Acc, r(1, counter())) }
	m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t",
		c("prer", ruleset.HookPrerouting), c("inp", ruleset.HookInput), c("forw", ruleset.HookForward), c("outp", ruleset.HookOutput)))
	specs := []struct {
		s   testpkt.Spec
		ifc string
	}{
		{testpkt.Spec{Src: "198.51.100.3", Dst: "203.0.113.9", Proto: "udp", Sport: 5000, Dport: 53, TTL: 1}, "wan"},
		{testpkt.Spec{Src: "203.0.113.7", Dst: "239.255.255.250", Proto: "udp", Sport: 1900, Dport: 1900}, "lan"},
		{testpkt.Spec{Src: "203.0.113.7", Dst: "224.0.0.1", Proto: "udp", Sport: 1, Dport: 2}, "lan"},
		{testpkt.Spec{Src: "198.51.100.3", Dst: "203.0.113.255", Proto: "udp", Sport: 1, Dport: 2}, "wan"},
		{testpkt.Spec{Src: "203.0.113.7", Dst: "203.0.113.255", Proto: "udp", Sport: 1, Dport: 2}, "lan"},
		{testpkt.Spec{Src: "198.51.100.3", Dst: "255.255.255.255", Proto: "udp", Sport: 1, Dport: 2}, "wan"},
	}
	for i, sp := range specs {
		res := m.Receive(pkt(t, sp.s), sp.ifc, int64(i))
		if i == 0 && (res.KernelDrop != "routing" || len(res.Reply) != 56 || res.Reply[20] != 11) {
			t.Errorf("TTL 1: drop %q reply %d bytes", res.KernelDrop, len(res.Reply))
		}
	}
	want := map[string][2]uint64{"prer": {6, 168}, "inp": {4, 112}, "forw": {0, 0}, "outp": {1, 56}}
	for _, ch := range m.Snapshot(1).Tables[0].Chains {
		got := ch.Rules[0].Exprs[0].(*ruleset.Counter)
		if w := want[ch.Name]; got.Packets != w[0] || got.Bytes != w[1] {
			t.Errorf("%s counter %d/%d, kernel %d/%d", ch.Name, got.Packets, got.Bytes, w[0], w[1])
		}
	}
}
