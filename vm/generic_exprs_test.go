package vm

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

func gen(kind, body string) *ruleset.Generic { return &ruleset.Generic{Kind: kind, Body: body} }

// TestGenericLoadErrors: the load-time answers of osf, xfrm, tproxy and
// synproxy, each checked with nft 1.0.6 -f on 6.18 (the rule text in the
// comment); nil means the kernel accepts the rule.
func TestGenericLoadErrors(t *testing.T) {
	pre, in, fwd, out, post := ruleset.HookPrerouting, ruleset.HookInput, ruleset.HookForward, ruleset.HookOutput, ruleset.HookPostrouting
	ip, ip6, inet, netdev, bridge := ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet, ruleset.FamilyNetdev, ruleset.FamilyBridge
	tcp := []ruleset.Expr{metaLoad(ruleset.MetaL4proto), cmpw(ruleset.CmpEq, 1, 6)}
	port := &ruleset.Immediate{DReg: 1, Data: []byte{0, 80}}
	addr4 := &ruleset.Immediate{DReg: 1, Data: []byte{127, 0, 0, 1}}
	tests := []struct {
		name string
		fam  ruleset.Family
		hook ruleset.Hook
		es   []ruleset.Expr
		err  error
	}{
		{"osf name, ip prerouting", ip, pre, []ruleset.Expr{gen("osf", "dreg 1 ")}, nil},
		{"osf ttl skip version, ip forward", ip, fwd, []ruleset.Expr{gen("osf", "dreg 1 ttl 2 flags 1 ")}, nil},
		{"osf, ip output", ip, out, []ruleset.Expr{gen("osf", "dreg 1 ")}, errNotSupp},
		{"osf, ip postrouting", ip, post, []ruleset.Expr{gen("osf", "dreg 1 ")}, errNotSupp},
		{"osf, ip6 prerouting", ip6, pre, []ruleset.Expr{gen("osf", "dreg 1 ")}, errNotSupp},
		{"osf, inet input", inet, in, []ruleset.Expr{gen("osf", "dreg 1 ")}, nil},
		{"osf, bridge input", bridge, in, []ruleset.Expr{gen("osf", "dreg 1 ")}, errNotSupp},
		{"osf ttl 3", ip, pre, []ruleset.Expr{gen("osf", "dreg 1 ttl 3 ")}, errInval},
		{"ipsec in reqid, prerouting", ip, pre, []ruleset.Expr{gen("xfrm", "load in 0 reqid => reg 1 ")}, nil},
		{"ipsec out reqid, prerouting", ip, pre, []ruleset.Expr{gen("xfrm", "load out 0 reqid => reg 1 ")}, errNotSupp},
		{"ipsec out reqid, input", ip, in, []ruleset.Expr{gen("xfrm", "load out 0 reqid => reg 1 ")}, errNotSupp},
		{"ipsec in reqid, output", ip, out, []ruleset.Expr{gen("xfrm", "load in 0 reqid => reg 1 ")}, errNotSupp},
		{"ipsec in reqid, postrouting", ip, post, []ruleset.Expr{gen("xfrm", "load in 0 reqid => reg 1 ")}, errNotSupp},
		{"ipsec in and out, forward", ip, fwd, []ruleset.Expr{gen("xfrm", "load in 0 reqid => reg 1 "), gen("xfrm", "load out 0 reqid => reg 1 ")}, nil},
		{"ipsec in spnum 5", ip, in, []ruleset.Expr{gen("xfrm", "load in 5 reqid => reg 1 ")}, nil},
		{"ipsec in spnum 6", ip, in, []ruleset.Expr{gen("xfrm", "load in 6 reqid => reg 1 ")}, errRange},
		{"ipsec in ip6 saddr, ip6 input", ip6, in, []ruleset.Expr{gen("xfrm", "load in 0 saddr6 => reg 1 ")}, nil},
		{"tproxy to :80, prerouting", ip, pre, append(tcp, port, gen("tproxy", "ip port reg 1 ")), nil},
		{"tproxy to :80, input", ip, in, append(tcp, port, gen("tproxy", "ip port reg 1 ")), errNotSupp},
		{"tproxy to :80, output", ip, out, append(tcp, port, gen("tproxy", "ip port reg 1 ")), errNotSupp},
		{"inet tproxy to :80", inet, pre, append(tcp, port, gen("tproxy", "port reg 1 ")), nil},
		{"ip table, tproxy ip6 family", ip, pre, append(tcp, port, gen("tproxy", "ip6 port reg 1 ")), errInval},
		{"inet tproxy address without family", inet, pre, append(tcp, addr4, gen("tproxy", "addr reg 1 ")), errInval},
		{"tproxy from an unset register", ip, pre, append(tcp, gen("tproxy", "ip port reg 2 ")), errNoData},
		{"synproxy, input", ip, in, append(tcp, gen("synproxy", "mss 1460 wscale 7 ")), nil},
		{"synproxy, forward", ip6, fwd, append(tcp, gen("synproxy", "mss 1460 wscale 7 flags 15 ")), nil},
		{"synproxy, prerouting", ip, pre, append(tcp, gen("synproxy", "mss 0 wscale 0 ")), errNotSupp},
		{"synproxy, output", ip, out, append(tcp, gen("synproxy", "mss 0 wscale 0 ")), errNotSupp},
		{"synproxy, netdev", netdev, ruleset.HookNetdevIngress, append(tcp, gen("synproxy", "mss 0 wscale 0 ")), errProto},
		{"synproxy, bad flags", ip, in, append(tcp, gen("synproxy", "mss 0 wscale 0 flags 64 ")), errNotSupp},
		{"unknown kind stays unsupported", ip, fwd, []ruleset.Expr{gen("nosuch", "")}, errNotImpl},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base("c", tc.hook, 0, Acc, r(1, tc.es...))
			if tc.fam == ruleset.FamilyNetdev {
				c.Hook.Devices = []string{"lo"}
			}
			_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(tc.fam, "t", c)}}, Config{Host: routerHost()})
			if tc.err == nil {
				if err != nil {
					t.Fatalf("load: %v, kernel accepts", err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("load: %v, kernel %v", err, tc.err)
			}
		})
	}
}

// TestNetdevFibHooks: nft_fib_validate in netdev chains as 6.18 answers
// (nft 1.0.6 -f, `fib ...` in a chain on device lo).
func TestNetdevFibHooks(t *testing.T) {
	ing, egr := ruleset.HookNetdevIngress, ruleset.HookNetdevEgress
	tests := []struct {
		name string
		hook ruleset.Hook
		fib  *ruleset.Fib
		ok   bool
	}{
		{"ingress daddr type", ing, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr, DReg: 1}, true},
		{"ingress daddr . oif type", ing, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr | fibOif, DReg: 1}, false},
		{"ingress daddr . iif type", ing, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr | fibIif, DReg: 1}, true},
		{"ingress daddr oif", ing, &ruleset.Fib{Result: fibResOif, Flags: fibDaddr, DReg: 1}, true},
		{"egress daddr type", egr, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr, DReg: 1}, true},
		{"egress daddr . oif type", egr, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr | fibOif, DReg: 1}, true},
		{"egress daddr . iif type", egr, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr | fibIif, DReg: 1}, false},
		{"egress daddr oif", egr, &ruleset.Fib{Result: fibResOif, Flags: fibDaddr, DReg: 1}, false},
		{"egress saddr oifname", egr, &ruleset.Fib{Result: fibResOifname, Flags: fibSaddr, DReg: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base("c", tc.hook, 0, Acc, r(1, tc.fib))
			c.Hook.Devices = []string{"lo"}
			_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(ruleset.FamilyNetdev, "t", c)}}, Config{Host: routerHost()})
			if tc.ok != (err == nil) || err != nil && !errors.Is(err, errNotSupp) {
				t.Fatalf("load: %v, kernel ok=%v", err, tc.ok)
			}
		})
	}
}

// TestGenericEval: what each expression does to a forwarded packet on a
// host with no fingerprints, no IPsec SA and no socket (the scenarios
// osf-unknown, xfrm-no-sa and tproxy-no-socket pin the same with the
// kernel): the counter after the expression tells whether the rule went on.
func TestGenericEval(t *testing.T) {
	syn := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN, Seq: 1}
	ack := syn
	ack.Flags = testpkt.ACK
	udp := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 1000, Dport: 53}
	syn6 := testpkt.Spec{Src: "2001:db8:ff02::2", Dst: "2001:db8:2::10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN}
	// [ osf dreg 1 ] [ cmp eq reg 1 0x6e6b6e75 0x006e776f 0x00000000 0x00000000 ]
	unknown := &ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: osfUnknown[:]}
	tests := []struct {
		name  string
		hook  ruleset.Hook
		es    []ruleset.Expr
		spec  testpkt.Spec
		match bool
	}{
		{"osf unknown, SYN", ruleset.HookForward, []ruleset.Expr{gen("osf", "dreg 1 "), unknown}, syn, true},
		{"osf version unknown, SYN", ruleset.HookForward, []ruleset.Expr{gen("osf", "dreg 1 ttl 2 flags 1 "), unknown}, syn, true},
		{"osf, ACK", ruleset.HookForward, []ruleset.Expr{gen("osf", "dreg 1 ")}, ack, false},
		{"osf, UDP", ruleset.HookForward, []ruleset.Expr{gen("osf", "dreg 1 ")}, udp, false},
		{"osf, IPv6 SYN", ruleset.HookForward, []ruleset.Expr{gen("osf", "dreg 1 ")}, syn6, false},
		{"ipsec in reqid", ruleset.HookForward, []ruleset.Expr{gen("xfrm", "load in 0 reqid => reg 1 ")}, syn, false},
		{"ipsec out spi", ruleset.HookForward, []ruleset.Expr{gen("xfrm", "load out 0 spi => reg 1 ")}, udp, false},
		{"tproxy", ruleset.HookPrerouting, []ruleset.Expr{&ruleset.Immediate{DReg: 1, Data: []byte{0x1f, 0x90}}, gen("tproxy", "port reg 1 ")}, syn, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t",
				base("c", tc.hook, 0, Acc, r(1, append(tc.es, counter())...))))
			res := m.Receive(pkt(t, tc.spec), "wan", 1)
			if res.Verdict != Acc {
				t.Fatalf("verdict %v", res.Verdict)
			}
			if n := m.counters[0].packets; (n == 1) != tc.match {
				t.Fatalf("counter %d, want match=%v", n, tc.match)
			}
		})
	}
}

// TestSynproxy: the SYN is answered with a SYN/ACK carrying a cookie and
// stolen; the ACK that returns the cookie makes the SYN to the server and
// is stolen; a wrong cookie, a stale one or a bad checksum is dropped; a
// lone RST goes on. IPv6 segments fail synproxy's IPv4-shaped checksum
// check and are dropped (the kernel scenario synproxy-local pins it).
func TestSynproxy(t *testing.T) {
	m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t",
		// tcp dport 80 synproxy mss 1460 wscale 7; counter
		base("f", ruleset.HookForward, 0, Acc,
			r(1, metaLoad(ruleset.MetaL4proto), cmpw(ruleset.CmpEq, 1, 6), payload(ruleset.BaseTransport, 2, 2), cmpw(ruleset.CmpEq, 2, 0x5000), gen("synproxy", "mss 1460 wscale 7 ")),
			r(2, counter()))))
	now := int64(1e12)
	src, dst := "198.51.100.2", "203.0.113.10"
	syn := testpkt.Spec{Src: src, Dst: dst, Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN, Seq: 5000}
	res := m.Receive(pkt(t, syn), "wan", now)
	if res.Verdict != ruleset.VerdictStolen || len(res.Reply) != 40 {
		t.Fatalf("SYN: verdict %v reply %d bytes", res.Verdict, len(res.Reply))
	}
	// No MSS option in the SYN: none in the SYN/ACK (opts &= configured).
	th := res.Reply[20:]
	if th[13] != 0x12 || binary.BigEndian.Uint32(th[8:]) != 5001 || binary.BigEndian.Uint16(th[14:]) != 0 ||
		binary.BigEndian.Uint16(th[0:]) != 80 || binary.BigEndian.Uint16(th[2:]) != 1000 || th[12] != 0x50 {
		t.Fatalf("SYN/ACK header % x", th[:20])
	}
	cookie := binary.BigEndian.Uint32(th[4:])
	ack := testpkt.Spec{Src: src, Dst: dst, Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.ACK, Seq: 5001, Ack: cookie + 1}
	res = m.Receive(pkt(t, ack), "wan", now+30e9)
	if res.Verdict != ruleset.VerdictStolen || len(res.Reply) == 0 {
		t.Fatalf("valid ACK: verdict %v reply %d", res.Verdict, len(res.Reply))
	}
	// The SYN to the server: client's ports, seq-1, MSS 536 (no MSS in the
	// client's SYN encodes msstab[0]).
	sth := res.Reply[20:]
	if sth[13] != 0x02 || binary.BigEndian.Uint32(sth[4:]) != 5000 || binary.BigEndian.Uint16(sth[0:]) != 1000 || sth[20] != 2 || binary.BigEndian.Uint16(sth[22:]) != 536 {
		t.Fatalf("server SYN % x", sth)
	}
	// A cookie one higher still decodes (to MSS index 1): change its
	// minute counter instead.
	bad := ack
	bad.Ack = cookie + 1 + 16<<cookieBits
	if res := m.Receive(pkt(t, bad), "wan", now+30e9); res.Verdict != Drop {
		t.Fatalf("wrong cookie: %v", res.Verdict)
	}
	if res := m.Receive(pkt(t, ack), "wan", now+200e9); res.Verdict != Drop {
		t.Fatalf("cookie of 3 minutes ago: %v", res.Verdict)
	}
	p := pkt(t, ack)
	p.Data[p.ThOff+16] ^= 0xff
	if res := m.Receive(p, "wan", now+30e9); res.Verdict != Drop {
		t.Fatalf("bad checksum: %v", res.Verdict)
	}
	rst := testpkt.Spec{Src: src, Dst: dst, Proto: "tcp", Sport: 1001, Dport: 80, Flags: testpkt.RST, Seq: 9}
	before := m.counters[0].packets
	if res := m.Receive(pkt(t, rst), "wan", now); res.Verdict != Acc || m.counters[0].packets != before+1 {
		t.Fatalf("RST: %v", res.Verdict)
	}
	syn6 := testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN, Seq: 5000}
	if res := m.Receive(pkt(t, syn6), "wan", now); res.Verdict != Drop || res.Reply != nil {
		t.Fatalf("IPv6 SYN: %v, reply %d bytes", res.Verdict, len(res.Reply))
	}
}

// TestSynproxyCookie6: the IPv6 cookie round trip (__cookie_v6_init_sequence,
// __cookie_v6_check) with its own MSS table.
func TestSynproxyCookie6(t *testing.T) {
	var m machine
	m.now = 5e12
	src := make([]byte, 16)
	dst := make([]byte, 16)
	src[15], dst[15] = 1, 2
	th := make([]byte, 20)
	binary.BigEndian.PutUint16(th[0:], 1000)
	binary.BigEndian.PutUint16(th[2:], 80)
	binary.BigEndian.PutUint32(th[4:], 77)
	mss := uint16(1460)
	c := m.cookieInitSequence(src, dst, th, &mss, false)
	if mss != 1440 {
		t.Fatalf("mss rounded to %d, want 1440 (1500-60)", mss)
	}
	binary.BigEndian.PutUint32(th[4:], 78) // the ACK's seq
	if got := m.cookieCheck(src, dst, th, c, false); got != 1440 {
		t.Fatalf("cookie check %d", got)
	}
	if got := m.cookieCheck(src, dst, th, c, true); got != 0 {
		t.Fatalf("IPv6 cookie checked as IPv4: %d", got)
	}
}

// TestSiphash24 checks the SipHash-2-4 reference vector of the SipHash
// paper's appendix (key 00..0f, message 00..0e: a129ca6149be45e5).
func TestSiphash24(t *testing.T) {
	var key [16]byte
	msg := make([]byte, 15)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	k := [2]uint64{binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])}
	if got := siphash24(k, msg); got != 0xa129ca6149be45e5 {
		t.Fatalf("siphash24 = %#x", got)
	}
}

// TestValidateErrorNamesNoExpr: a hook check failing at commit carries no
// expression, so nft's placement shows the whole rule (nft 1.0.6 on 6.18:
// "meta l4proto tcp tproxy to :80 accept" in input is underlined whole);
// an init error names its expression ("ipsec in spnum 6 reqid 1").
func TestValidateErrorNamesNoExpr(t *testing.T) {
	tcp := []ruleset.Expr{metaLoad(ruleset.MetaL4proto), cmpw(ruleset.CmpEq, 1, 6)}
	_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t",
		base("c", ruleset.HookInput, 0, Acc, r(1, append(tcp, &ruleset.Immediate{DReg: 1, Data: []byte{0, 80}}, gen("tproxy", "ip port reg 1 "))...)))}}, Config{Host: routerHost()})
	var le *LoadError
	if !errors.As(err, &le) || le.Expr != "" || le.Handle != 1 {
		t.Fatalf("validate error %#v", err)
	}
	_, err = New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(ruleset.FamilyIPv4, "t",
		base("c", ruleset.HookInput, 0, Acc, r(1, gen("xfrm", "load in 6 reqid => reg 1 "))))}}, Config{Host: routerHost()})
	if !errors.As(err, &le) || le.Expr != "xfrm" || !errors.Is(err, errRange) {
		t.Fatalf("init error %#v", err)
	}
}

// TestConntrackFamilies: expressions taking conntrack fail with EPROTO in
// netdev, arp and bridge tables on the reference kernel (nft 1.0.6 -f on
// 6.18: `ct state established`, `ct zone set 1`, `ct count over 2` there);
// notrack loads.
func TestConntrackFamilies(t *testing.T) {
	est := []ruleset.Expr{&ruleset.Ct{Key: ruleset.CtState, DReg: 1, Direction: ruleset.CtDirUnset}, cmpw(ruleset.CmpNeq, 4, 0)}
	tests := []struct {
		name string
		fam  ruleset.Family
		hook ruleset.Hook
		es   []ruleset.Expr
		err  error
	}{
		{"netdev ct state", ruleset.FamilyNetdev, ruleset.HookNetdevIngress, est, errProto},
		{"arp ct state", ruleset.FamilyARP, ruleset.HookARPIn, est, errProto},
		{"bridge ct state", ruleset.FamilyBridge, ruleset.HookForward, est, errProto},
		{"bridge ct count", ruleset.FamilyBridge, ruleset.HookForward, []ruleset.Expr{&ruleset.Connlimit{Count: 2}}, errProto},
		{"netdev notrack", ruleset.FamilyNetdev, ruleset.HookNetdevIngress, []ruleset.Expr{&ruleset.Notrack{}}, nil},
		{"inet ct state", ruleset.FamilyINet, ruleset.HookForward, est, nil},
		// `tcp dport 22 reject` in a bridge table: ENOENT on 6.18 without
		// nft_reject_bridge.
		{"bridge reject", ruleset.FamilyBridge, ruleset.HookForward, []ruleset.Expr{&ruleset.Reject{}}, errNoEnt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base("c", tc.hook, 0, Acc, r(1, tc.es...))
			if tc.fam == ruleset.FamilyNetdev {
				c.Hook.Devices = []string{"lo"}
			}
			_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(tc.fam, "t", c)}}, Config{Host: routerHost()})
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("load: %v, kernel %v", err, tc.err)
			}
		})
	}
}

// TestSynproxyAndSecmarkObjects: a synproxy object runs like the statement
// through `synproxy name` (objref type 10) and only in input/forward; a
// secmark object fails the load with ENOENT (nft 1.0.6 on 6.18:
// `secmark sm { "system_u:object_r:ssh_server_packet_t:s0" }`).
func TestSynproxyAndSecmarkObjects(t *testing.T) {
	sp := &ruleset.Object{Kind: "synproxy", Name: "sp", Attrs: []ruleset.ObjectAttr{{Key: "mss", Value: "1460"}, {Key: "wscale", Value: "7"}}}
	load := func(hook ruleset.Hook, objs ...*ruleset.Object) (*Machine, error) {
		tb := table(ruleset.FamilyIPv4, "t", base("c", hook, 0, Acc, r(1, &ruleset.Objref{Type: objSynproxy, ObjName: "sp"})))
		tb.Objects = objs
		return New(&ruleset.Ruleset{Tables: []*ruleset.Table{tb}}, Config{Host: routerHost()})
	}
	m, err := load(ruleset.HookForward, sp)
	if err != nil {
		t.Fatal(err)
	}
	syn := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN, Seq: 1}
	if res := m.Receive(pkt(t, syn), "wan", 1); res.Verdict != ruleset.VerdictStolen || len(res.Reply) == 0 {
		t.Fatalf("SYN through the object: %v", res.Verdict)
	}
	if !m.ConntrackInUse() {
		t.Fatal("a synproxy object takes conntrack")
	}
	if _, err := load(ruleset.HookPrerouting, sp); !errors.Is(err, errNotSupp) {
		t.Fatalf("synproxy object in prerouting: %v", err)
	}
	sm := &ruleset.Object{Kind: "secmark", Name: "sm", Attrs: []ruleset.ObjectAttr{{Key: "ctx", Value: "system_u:object_r:ssh_server_packet_t:s0"}}}
	if _, err := load(ruleset.HookForward, sp, sm); !errors.Is(err, errNoEnt) {
		t.Fatalf("secmark object: %v", err)
	}
}

// TestSynproxyObjectMap: `synproxy name tcp dport map { 80 : "sp" }` runs
// the mapped object in input and is refused in prerouting (nft 1.0.6 on
// 6.18: "Operation not supported").
func TestSynproxyObjectMap(t *testing.T) {
	mk := func(hook ruleset.Hook) (*Machine, error) {
		tb := table(ruleset.FamilyIPv4, "t", base("c", hook, 0, Acc,
			r(1, payload(ruleset.BaseTransport, 2, 2), &ruleset.Objref{SReg: 1, SetName: "__objmap0"})))
		tb.Objects = []*ruleset.Object{{Kind: "synproxy", Name: "sp", Attrs: []ruleset.ObjectAttr{{Key: "mss", Value: "1460"}}}}
		tb.Sets = []*ruleset.Set{{Name: "__objmap0", ID: 1, Flags: ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetObject,
			KeyType: 13, KeyLen: 2, KeyTypeName: "inet_service", ObjType: objSynproxy,
			Elements: []*ruleset.Element{{Key: []byte{0, 80}, ObjRef: "sp"}}}}
		return New(&ruleset.Ruleset{Tables: []*ruleset.Table{tb}}, Config{Host: routerHost()})
	}
	if _, err := mk(ruleset.HookPrerouting); !errors.Is(err, errNotSupp) {
		t.Fatalf("prerouting: %v", err)
	}
	m, err := mk(ruleset.HookForward)
	if err != nil {
		t.Fatal(err)
	}
	syn := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN, Seq: 1}
	if res := m.Receive(pkt(t, syn), "wan", 1); res.Verdict != ruleset.VerdictStolen {
		t.Fatalf("port 80: %v", res.Verdict)
	}
	syn.Dport = 81
	if res := m.Receive(pkt(t, syn), "wan", 2); res.Verdict != Acc {
		t.Fatalf("port 81: %v", res.Verdict)
	}
}

// TestTproxyDefrag: a tproxy rule turns defragmentation on for its family
// even without conntrack (nft_tproxy_init calls nf_defrag_ipv4_enable):
// fragments are held at -400 and the prerouting chain sees the datagram
// once; without the tproxy rule it sees every fragment.
func TestTproxyDefrag(t *testing.T) {
	whole := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 5000, Dport: 53, IPID: 9, Payload: make([]byte, 40)})
	frags := fragments4(t, whole, 16)
	for _, withTproxy := range []bool{true, false} {
		rules := []*ruleset.Rule{r(1, counter())}
		if withTproxy {
			// meta l4proto tcp tproxy ip to :8080
			rules = append(rules, r(2, metaLoad(ruleset.MetaL4proto), cmpw(ruleset.CmpEq, 1, 6), &ruleset.Immediate{DReg: 1, Data: []byte{0x1f, 0x90}}, gen("tproxy", "ip port reg 1 ")))
		}
		m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t", base("pre", ruleset.HookPrerouting, 0, Acc, rules...)))
		var last Result
		for i, f := range frags {
			p := new(packet.Packet)
			if err := p.Decode(packet.LinkRaw, append([]byte(nil), f...)); err != nil {
				t.Fatal(err)
			}
			last = m.Receive(p, "wan", int64(1e9+i))
			if withTproxy && i == 0 && (last.Verdict != ruleset.VerdictStolen || last.KernelDrop != "defrag") {
				t.Fatalf("first fragment: %v %q, want held by defrag", last.Verdict, last.KernelDrop)
			}
		}
		want := uint64(2)
		if withTproxy {
			want = 1
		}
		if n := m.counters[0].packets; n != want || last.Verdict != Acc {
			t.Fatalf("tproxy=%v: prerouting counted %d, want %d (last %v)", withTproxy, n, want, last.Verdict)
		}
	}
}

// TestGenericNoAllocs: osf, ipsec, tproxy, netdev fib and bridging (to a
// learnt port) allocate nothing per packet.
func TestGenericNoAllocs(t *testing.T) {
	unknown := &ruleset.Cmp{Op: ruleset.CmpEq, SReg: 1, Data: osfUnknown[:]}
	fib := base("ing", ruleset.HookNetdevIngress, 0, Acc, r(9, &ruleset.Fib{Result: fibResAddrtype, Flags: fibDaddr, DReg: 1}, counter()))
	fib.Hook.Devices = []string{"wan"}
	m := newMachine(t, routerHost(),
		table(ruleset.FamilyINet, "t",
			base("pre", ruleset.HookPrerouting, 0, Acc,
				r(1, &ruleset.Immediate{DReg: 1, Data: []byte{0x1f, 0x90}}, gen("tproxy", "port reg 1 "), counter())),
			base("f", ruleset.HookForward, 0, Acc,
				r(2, gen("osf", "dreg 1 "), unknown, counter()),
				r(3, gen("xfrm", "load in 0 reqid => reg 1 "), counter()),
				r(4, gen("xfrm", "load out 0 spi => reg 1 "), counter()))),
		table(ruleset.FamilyNetdev, "n", fib))
	p := pkt(t, testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN})
	saved := append([]byte(nil), p.Data...)
	n := testing.AllocsPerRun(100, func() {
		copy(p.Data, saved)
		m.Receive(p, "wan", 1)
	})
	if n != 0 || m.counters[1].packets == 0 {
		t.Fatalf("%v allocations per packet (osf matched %d)", n, m.counters[1].packets)
	}
	b := newMachine(t, bridgeHost(false), table(ruleset.FamilyBridge, "b", base("fwd", ruleset.HookForward, 0, Acc, r(1, counter()))))
	udp := testpkt.Spec{Src: "192.0.2.10", Dst: "192.0.2.11", Proto: "udp", Sport: 1, Dport: 2}
	b.Receive(ethFrame(t, 0x0a, 0x0b, udp), "vB", 1) // learn 02::0b on vB
	f := ethFrame(t, 0x0b, 0x0a, udp)
	if n := testing.AllocsPerRun(100, func() { b.Receive(f, "vA", 2) }); n != 0 {
		t.Fatalf("bridging: %v allocations per frame", n)
	}
}
