package testpkt

import (
	"bytes"
	"testing"
	"time"

	"github.com/nftgo/nftgo/packet"
)

// TestBuildDecodes checks that what Build makes is what packet.Decode reads:
// the two sides of every replay test agree on offsets and protocols.
func TestBuildDecodes(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		nfproto uint8
		l4      uint8
		thoff   int
		length  int
	}{
		{"tcp syn v4", Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: SYN, Seq: 1000}, packet.NFProtoIPv4, packet.ProtoTCP, 20, 40},
		{"udp v4 payload", Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 5000, Dport: 53, Payload: []byte("abcd")}, packet.NFProtoIPv4, packet.ProtoUDP, 20, 32},
		{"tcp v6", Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "tcp", Sport: 1, Dport: 2, Flags: SYN}, packet.NFProtoIPv6, packet.ProtoTCP, 40, 60},
		{"icmp echo", Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "icmp", Type: 8, ID: 7}, packet.NFProtoIPv4, packet.ProtoICMP, 20, 28},
		{"icmpv6 echo", Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "icmpv6", Type: 128, ID: 7}, packet.NFProtoIPv6, packet.ProtoICMPv6, 40, 48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := MustBuild(tt.spec)
			var p packet.Packet
			if err := p.Decode(packet.LinkRaw, b); err != nil {
				t.Fatal(err)
			}
			if p.NFProto != tt.nfproto || p.L4Proto != tt.l4 || p.ThOff != tt.thoff || p.Len() != tt.length {
				t.Errorf("decoded nfproto %d l4 %d thoff %d len %d, want %d %d %d %d", p.NFProto, p.L4Proto, p.ThOff, p.Len(), tt.nfproto, tt.l4, tt.thoff, tt.length)
			}
		})
	}
}

func TestICMPErrorQuotesInner(t *testing.T) {
	inner := Spec{Src: "203.0.113.10", Dst: "198.51.100.2", Proto: "udp", Sport: 53, Dport: 5000}
	b := MustBuild(Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "icmp", Type: 3, Code: 3, Inner: &inner})
	// 20 outer IP + 8 ICMP + 28 quoted bytes (inner IP header + 8 bytes).
	if len(b) != 56 {
		t.Fatalf("len %d, want 56", len(b))
	}
	if !bytes.Equal(b[28+12:28+16], []byte{203, 0, 113, 10}) {
		t.Errorf("quoted source %v", b[40:44])
	}
}

func TestWritePcapRoundTrip(t *testing.T) {
	recs, err := Sequence(time.Millisecond,
		Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1, Dport: 2, Flags: SYN},
		Spec{Src: "203.0.113.10", Dst: "198.51.100.2", Proto: "tcp", Sport: 2, Dport: 1, Flags: SYNACK})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WritePcap(&buf, recs); err != nil {
		t.Fatal(err)
	}
	// 24-byte header + 2 × (16-byte record header + 40 bytes).
	if buf.Len() != 24+2*(16+40) {
		t.Errorf("pcap size %d", buf.Len())
	}
}
