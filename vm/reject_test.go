package vm

import (
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestRejectReplies: the reply of each reject kind, as the oracle saw the
// kernel send them in forward mode (RST spoofed from the original
// destination with ack = seq+1 for a SYN; ICMP errors from the router
// address of the source's side; inet default port-unreachable), sent
// through output where a counter sees it.
func TestRejectReplies(t *testing.T) {
	syn := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "tcp", Sport: 40000, Dport: 22, Flags: testpkt.SYN, Seq: 1000}
	udp28 := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", Sport: 5000, Dport: 53}
	udp6 := testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::9", Proto: "udp", Sport: 5000, Dport: 53}
	tests := []struct {
		name  string
		rj    *ruleset.Reject
		spec  testpkt.Spec
		check func(t *testing.T, p gopacket.Packet)
	}{
		// [ reject type 1 code 0 ]
		{"tcp reset", &ruleset.Reject{Type: ruleset.RejectTCPRst}, syn, func(t *testing.T, p gopacket.Packet) {
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if ip.SrcIP.String() != "203.0.113.9" || ip.DstIP.String() != "198.51.100.2" || !tcp.RST || !tcp.ACK || tcp.Ack != 1001 || tcp.SrcPort != 22 || tcp.DstPort != 40000 {
				t.Errorf("RST %v %v %+v", ip.SrcIP, ip.DstIP, tcp)
			}
		}},
		// [ reject type 2 code 1 ] (inet default: icmpx port-unreachable)
		{"icmpx port unreachable v4", &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 1}, udp28, func(t *testing.T, p gopacket.Packet) {
			if len(p.Data()) != 56 {
				t.Errorf("ICMP error is %d bytes, kernel 56", len(p.Data()))
			}
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ip.SrcIP.String() != "198.51.100.254" || ic.TypeCode.Type() != 3 || ic.TypeCode.Code() != 3 {
				t.Errorf("ICMP from %v type %v", ip.SrcIP, ic.TypeCode)
			}
		}},
		{"icmpx admin prohibited v6", &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 3}, udp6, func(t *testing.T, p gopacket.Packet) {
			ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			if ip.SrcIP.String() != "2001:db8:1::fffe" || ic.TypeCode.Type() != 1 || ic.TypeCode.Code() != 1 {
				t.Errorf("ICMPv6 from %v type %v", ip.SrcIP, ic.TypeCode)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t",
				base("f", ruleset.HookForward, 0, Acc, r(1, tc.rj)),
				base("out", ruleset.HookOutput, 0, Acc, r(2, counter()))))
			res := m.Receive(pkt(t, tc.spec), "wan", 1)
			if res.Verdict != Drop || res.Reply == nil || res.ReplyVerdict != Acc {
				t.Fatalf("verdict %v reply %d bytes (%v)", res.Verdict, len(res.Reply), res.ReplyVerdict)
			}
			var first gopacket.Decoder = layers.LayerTypeIPv4
			if res.Reply[0]>>4 == 6 {
				first = layers.LayerTypeIPv6
			}
			gp := gopacket.NewPacket(res.Reply, first, gopacket.Default)
			if el := gp.ErrorLayer(); el != nil {
				t.Fatalf("reply does not decode: %v", el.Error())
			}
			tc.check(t, gp)
			verifyChecksums(t, res.Reply)
			// Kernel (oracle, forward mode, 6.18): a SYN rejected with tcp
			// reset and a 28-byte UDP rejected with port-unreachable put
			// 2 packets / 96 bytes (RST 40 + ICMP 20+8+28) on the output
			// and postrouting counters.
			c := m.Snapshot(1).Tables[0].Chains[1].Rules[0].Exprs[0].(*ruleset.Counter)
			if want := uint64(len(res.Reply)); c.Packets != 1 || c.Bytes != want {
				t.Errorf("output counter %d/%d, want 1/%d (the reply)", c.Packets, c.Bytes, want)
			}
			if tc.name == "tcp reset" && len(res.Reply) != 40 {
				t.Errorf("RST is %d bytes, kernel 40", len(res.Reply))
			}
		})
	}
}

// verifyChecksums recomputes the IPv4 header and L4 checksums of a raw
// packet: each must sum to zero.
func verifyChecksums(t *testing.T, b []byte) {
	t.Helper()
	var ph []byte
	var l4 []byte
	var proto byte
	if b[0]>>4 == 4 {
		if s := csumFold(csumPartial(b[:20], 0)); s != 0 {
			t.Errorf("IPv4 header checksum off by %#x", s)
		}
		l4, proto = b[20:], b[9]
		if proto == 1 {
			if s := csumFold(csumPartial(l4, 0)); s != 0 {
				t.Errorf("ICMP checksum off by %#x", s)
			}
			return
		}
		ph = append(append([]byte(nil), b[12:20]...), 0, proto)
	} else {
		l4, proto = b[40:], b[6]
		ph = append(append([]byte(nil), b[8:40]...), 0, proto)
	}
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(l4)))
	ph = append(append(ph, n[:]...), l4...)
	if s := csumFold(csumPartial(ph, 0)); s != 0 {
		t.Errorf("L4 checksum off by %#x", s)
	}
}

// TestNetdevRejectSkipsOutput: a reject in a netdev ingress chain hands its
// answer to the device it came in on (nft_reject_queue_xmit →
// dev_queue_xmit): the IP output and postrouting chains never see it, where
// an inet reject's answer goes through both (TestRejectReplies).
func TestNetdevRejectSkipsOutput(t *testing.T) {
	syn := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "tcp", Sport: 40000, Dport: 22, Flags: testpkt.SYN, Seq: 1000}
	ing := base("in_wan", ruleset.HookNetdevIngress, 0, Acc, r(1, &ruleset.Reject{Type: ruleset.RejectTCPRst}))
	ing.Hook.Devices = []string{"wan"}
	m := newMachine(t, routerHost(), table(ruleset.FamilyNetdev, "n", ing),
		table(ruleset.FamilyINet, "t",
			base("out", ruleset.HookOutput, 0, Acc, r(2, counter())),
			base("post", ruleset.HookPostrouting, 0, Acc, r(3, counter()))))
	res := m.Receive(pkt(t, syn), "wan", 1)
	if res.Verdict != Drop || len(res.Reply) != 40 || res.ReplyVerdict != Acc {
		t.Fatalf("verdict %v reply %d bytes (%v), want drop with a 40-byte RST", res.Verdict, len(res.Reply), res.ReplyVerdict)
	}
	verifyChecksums(t, res.Reply)
	for i, ch := range m.Snapshot(1).Tables[1].Chains {
		if c := ch.Rules[0].Exprs[0].(*ruleset.Counter); c.Packets != 0 {
			t.Errorf("inet %s counter %d: the netdev reject's answer went through the IP output path", []string{"output", "postrouting"}[i], c.Packets)
		}
	}
}
