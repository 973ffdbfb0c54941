package vm

import (
	"encoding/binary"
	"testing"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// rawPacket decodes hand-built raw IP bytes (headers testpkt cannot
// build: IP options, TCP options, extension headers, SCTP chunks).
func rawPacket(t *testing.T, b []byte) *packet.Packet {
	t.Helper()
	p := new(packet.Packet)
	if err := p.Decode(packet.LinkRaw, append([]byte(nil), b...)); err != nil {
		t.Fatal(err)
	}
	return p
}

// ip4 wraps an IPv4 payload (with opts) from 203.0.113.5 to 198.51.100.7.
func ip4(proto byte, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	b := make([]byte, hl+len(payload))
	b[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 64, proto
	copy(b[12:], []byte{203, 0, 113, 5, 198, 51, 100, 7})
	copy(b[20:], opts)
	binary.BigEndian.PutUint16(b[10:], csumFold(csumPartial(b[:hl], 0)))
	copy(b[hl:], payload)
	if proto == 6 {
		fixTCPCsum(b)
	}
	return b
}

// tcpSum is the TCP checksum check over the IPv4 pseudo-header: 0 when valid.
func tcpSum(b []byte) uint16 {
	hl := int(b[0]&0xf) * 4
	tcp := b[hl:]
	var ph [12]byte
	copy(ph[:], b[12:20])
	ph[9] = 6
	binary.BigEndian.PutUint16(ph[10:], uint16(len(tcp)))
	return csumFold(csumPartial(tcp, csumPartial(ph[:], 0)))
}

func fixTCPCsum(b []byte) {
	hl := int(b[0]&0xf) * 4
	b[hl+16], b[hl+17] = 0, 0
	binary.BigEndian.PutUint16(b[hl+16:], tcpSum(b))
}

// synWithOptions: MSS 1460, SACK-permitted, NOP, NOP, window scale 7, EOL.
func synWithOptions() []byte {
	tcp := []byte{0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x02, 0xff, 0xff, 0, 0, 0, 0,
		2, 4, 0x05, 0xb4, 4, 2, 1, 1, 3, 3, 7, 0}
	return ip4(6, nil, tcp)
}

func exthdr(op uint32, typ uint8, off, n uint32, flags uint32) *ruleset.Exthdr {
	return &ruleset.Exthdr{Op: op, Type: typ, Offset: off, Len: n, DReg: 1, Flags: flags}
}

// TestExthdr checks each exthdr load against the rule nft 1.0.6 builds
// (`nft --debug=netlink`), matched (accept) or not (the policy drops).
func TestExthdr(t *testing.T) {
	const tcpopt, ip6, ip4o, sctp = ruleset.ExthdrOpTCPOpt, ruleset.ExthdrOpIPv6, ruleset.ExthdrOpIPv4, ruleset.ExthdrOpSCTP
	const present = ruleset.ExthdrFPresent
	// IPv6 (2001:db8:2::5 > 2001:db8:1::7): hop-by-hop (next: fragment),
	// fragment header offset 0 M=1 (next: UDP), UDP 1000 > 53.
	v6 := []byte{0x60, 0, 0, 0, 0, 24, 0, 64,
		0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
		0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
		44, 0, 1, 4, 0, 0, 0, 0, // hbh: PadN
		17, 0, 0, 1, 0, 0, 0, 9, // frag: offset 0, M
		0x03, 0xe8, 0, 53, 0, 8, 0, 0}
	// IPv4 with router alert (and a NOP, EOL pad) carrying UDP 1000 > 53.
	ra := ip4(17, []byte{148, 4, 0, 0, 1, 0, 0, 0}, []byte{0x03, 0xe8, 0, 53, 0, 8, 0, 0})
	// IPv4 with a traversed loose source route (pointer 8): invalid
	// without an skb, so no option is found at all.
	lsrr := ip4(17, []byte{131, 11, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0}, []byte{0x03, 0xe8, 0, 53, 0, 8, 0, 0})
	// SCTP 1000 > 80 with DATA (len 17, padded) then INIT (len 20).
	sc := ip4(132, nil, append([]byte{0x03, 0xe8, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 3, 0, 17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0, 0},
		1, 0, 0, 20, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0xff, 0xff, 0, 1, 0, 1, 0, 0, 0, 0))
	tests := []struct {
		name  string
		pkt   []byte
		exprs []ruleset.Expr
		match bool
	}{
		// tcp option maxseg size 1460: [ exthdr load tcpopt 2b @ 2 + 2 => reg 1 ] [ cmp eq reg 1 0x0000b405 ]
		{"tcp mss", synWithOptions(), cat(exthdr(tcpopt, 2, 2, 2, 0), cmpw(Eq, 2, 0xb405)), true},
		// tcp option sack-perm exists: [ exthdr load tcpopt 1b @ 4 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000001 ]
		{"sack-perm exists", synWithOptions(), cat(exthdr(tcpopt, 4, 0, 1, present), cmpw(Eq, 1, 1)), true},
		// tcp option window count 7
		{"window scale", synWithOptions(), cat(exthdr(tcpopt, 3, 2, 1, 0), cmpw(Eq, 1, 7)), true},
		// tcp option timestamp missing: [ exthdr load tcpopt 1b @ 8 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000000 ]
		{"timestamp missing", synWithOptions(), cat(exthdr(tcpopt, 8, 0, 1, present), cmpw(Eq, 1, 0)), true},
		{"absent option breaks a load", synWithOptions(), cat(exthdr(tcpopt, 8, 2, 4, 0), cmpw(Neq, 4, 0)), false},
		{"tcp option on UDP is absent", ra, cat(exthdr(tcpopt, 2, 0, 1, present), cmpw(Eq, 1, 0)), true},
		// exthdr hbh exists: [ exthdr load ipv6 1b @ 0 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000001 ]
		{"hbh exists", v6, cat(exthdr(ip6, 0, 0, 1, present), cmpw(Eq, 1, 1)), true},
		// exthdr frag exists
		{"frag exists", v6, cat(exthdr(ip6, 44, 0, 1, present), cmpw(Eq, 1, 1)), true},
		// exthdr rt exists (none)
		{"rt missing", v6, cat(exthdr(ip6, 43, 0, 1, present), cmpw(Eq, 1, 1)), false},
		// hbh nexthdr 44: [ exthdr load ipv6 1b @ 0 + 0 => reg 1 ] [ cmp eq reg 1 0x0000002c ]
		{"hbh nexthdr", v6, cat(exthdr(ip6, 0, 0, 1, 0), cmpw(Eq, 1, 44)), true},
		// frag more-fragments 1: [ exthdr load ipv6 1b @ 44 + 3 => reg 1 ] [ bitwise & 0x01 ] …
		{"frag id", v6, cat(exthdr(ip6, 44, 4, 4, 0), cmpw(Eq, 4, 0x09000000)), true},
		// ip option ra exists: [ exthdr load ipv4 1b @ 148 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000001 ]
		{"ip option ra", ra, cat(exthdr(ip4o, 148, 0, 1, present), cmpw(Eq, 1, 1)), true},
		{"ip option rr missing", ra, cat(exthdr(ip4o, 7, 0, 1, present), cmpw(Eq, 1, 0)), true},
		// ip option ra value 0: [ exthdr load ipv4 2b @ 148 + 2 => reg 1 ]
		{"ip option ra value", ra, cat(exthdr(ip4o, 148, 2, 2, 0), cmpw(Eq, 2, 0)), true},
		{"traversed lsrr is invalid", lsrr, cat(exthdr(ip4o, 131, 0, 1, present), cmpw(Eq, 1, 0)), true},
		// sctp chunk init exists: [ exthdr load sctp 1b @ 1 + 0 present => reg 1 ] [ cmp eq reg 1 0x00000001 ]
		{"sctp init exists", sc, cat(exthdr(sctp, 1, 0, 1, present), cmpw(Eq, 1, 1)), true},
		// sctp chunk init init-tag 0xaabbccdd: [ exthdr load sctp 4b @ 1 + 4 => reg 1 ]
		{"sctp init tag", sc, cat(exthdr(sctp, 1, 4, 4, 0), cmpw(Eq, 4, 0xddccbbaa)), true},
		{"sctp abort missing", sc, cat(exthdr(sctp, 6, 0, 1, present), cmpw(Eq, 1, 0)), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t",
				base("f", ruleset.HookForward, 0, Drop, r(1, append(tc.exprs, imm(Acc))...))))
			if got := m.Receive(rawPacket(t, tc.pkt), "lan", 1e18).Verdict == Acc; got != tc.match {
				t.Errorf("matched %v, want %v", got, tc.match)
			}
		})
	}
}

// TestExthdrWrite: `tcp option maxseg size set 1300` lowers the MSS with
// a valid checksum, a raise is ignored; `reset tcp option sack-perm`
// leaves NOPs and a valid checksum.
func TestExthdrWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    []ruleset.Expr
		want []byte // options after the rule
	}{
		// [ immediate reg 1 0x00001405 ] [ exthdr write tcpopt reg 1 => 2b @ 2 + 2 ]
		{"mss lowered", cat(&ruleset.Immediate{DReg: 1, Data: []byte{0x05, 0x14}}, &ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 2, Offset: 2, Len: 2, SReg: 1, Write: true}),
			[]byte{2, 4, 0x05, 0x14, 4, 2, 1, 1, 3, 3, 7, 0}},
		{"mss not raised", cat(&ruleset.Immediate{DReg: 1, Data: []byte{0x05, 0xdc}}, &ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 2, Offset: 2, Len: 2, SReg: 1, Write: true}),
			[]byte{2, 4, 0x05, 0xb4, 4, 2, 1, 1, 3, 3, 7, 0}},
		// [ exthdr reset tcpopt 4 ]
		{"reset sack-perm", cat(&ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 4, Reset: true}),
			[]byte{2, 4, 0x05, 0xb4, 1, 1, 1, 1, 3, 3, 7, 0}},
		// [ exthdr reset tcpopt 3 ]: the window scale sits at an odd offset
		{"reset window", cat(&ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 3, Reset: true}),
			[]byte{2, 4, 0x05, 0xb4, 4, 2, 1, 1, 1, 1, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyIPv4, "t",
				base("f", ruleset.HookForward, 0, Acc, r(1, tc.e...))))
			p := rawPacket(t, synWithOptions())
			if res := m.Receive(p, "lan", 1e18); res.Verdict != Acc {
				t.Fatalf("verdict %v", res.Verdict)
			}
			opts := p.Data[p.ThOff+20 : p.ThOff+32]
			if string(opts) != string(tc.want) {
				t.Errorf("options % x, want % x", opts, tc.want)
			}
			if s := tcpSum(p.Data[p.NetOff:]); s != 0 {
				t.Errorf("TCP checksum invalid after the rewrite (residue %#x)", s)
			}
		})
	}
}
