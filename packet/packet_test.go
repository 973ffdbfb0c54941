package packet_test

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// serialize builds a frame from gopacket layers with lengths and checksums
// fixed, as every test packet in the project is built.
func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ipv4TCP() (*layers.IPv4, *layers.TCP) {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP{198, 51, 100, 2}, DstIP: net.IP{203, 0, 113, 10}}
	tcp := &layers.TCP{SrcPort: 1000, DstPort: 80, SYN: true, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	return ip, tcp
}

// fragHeader is an IPv6 fragment header (offset in 8-byte units): gopacket
// decodes IPv6Fragment but cannot serialise it, so its 8 bytes are given
// as the payload of the layer before.
func fragHeader(next layers.IPProtocol, offset uint16) gopacket.Payload {
	h := make([]byte, 8)
	h[0] = byte(next)
	binary.BigEndian.PutUint16(h[2:], offset<<3)
	binary.BigEndian.PutUint32(h[4:], 7)
	return h
}

func ipv6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP("2001:db8:1::2"), DstIP: net.ParseIP("2001:db8:2::10")}
}

// TestDecode checks the offsets nft_pktinfo would hold for each link type
// and network-layer shape.
func TestDecode(t *testing.T) {
	ip, tcp := ipv4TCP()
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ethTCP := serialize(t, eth, ip, tcp)

	ip, tcp = ipv4TCP()
	vlanEth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q}
	dot1q := &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4}
	vlanTCP := serialize(t, vlanEth, dot1q, ip, tcp)

	// Ethernet pads a 40-byte datagram to the 60-byte minimum frame;
	// ip_rcv trims the skb back to the IP total length.
	padded := append(append([]byte(nil), ethTCP...), make([]byte, 60-len(ethTCP))...)

	ip, tcp = ipv4TCP()
	loop := serialize(t, &layers.Loopback{Family: layers.ProtocolFamilyIPv4}, ip, tcp)

	rawTCP := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1, Dport: 2, Flags: "S"})
	// Linux cooked capture v1: 16-byte header, protocol in its last two
	// bytes (gopacket decodes LinuxSLL but cannot serialise it).
	sll := make([]byte, 16, 16+len(rawTCP))
	binary.BigEndian.PutUint16(sll[14:], 0x0800)
	sll = append(sll, rawTCP...)
	// Linux cooked capture v2: protocol first, 20-byte header.
	sll2 := make([]byte, 20, 20+len(rawTCP))
	binary.BigEndian.PutUint16(sll2[0:], 0x0800)
	sll2 = append(sll2, rawTCP...)

	frag := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 1, Dport: 2, FragOffset: 185})

	// IPv6 with a hop-by-hop header, then a first fragment, then TCP: the
	// walk reaches TCP.
	// A PadN option fills the hop-by-hop header to its 8 bytes.
	hbh := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: make([]byte, 4)}}}
	hbh.NextHeader = layers.IPProtocolIPv6Fragment
	v6 := ipv6(layers.IPProtocolIPv6HopByHop)
	v6tcp := &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true, Window: 1}
	v6tcp.SetNetworkLayerForChecksum(v6)
	v6first := serialize(t, v6, hbh, fragHeader(layers.IPProtocolTCP, 0), v6tcp)
	// A non-first IPv6 fragment stops at the fragment header.
	v6later := serialize(t, ipv6(layers.IPProtocolIPv6Fragment),
		fragHeader(layers.IPProtocolUDP, 100),
		gopacket.Payload(make([]byte, 16)))
	// AH is final for nft_set_pktinfo_ipv6 (ipv6_find_hdr with IP6_FH_F_AUTH).
	v6ah := serialize(t, ipv6(layers.IPProtocolAH), gopacket.Payload(make([]byte, 24)))

	tests := []struct {
		name               string
		lt                 packet.LinkType
		data               []byte
		netOff, thOff, len int
		nfproto, l4        uint8
		fragOff            uint16
		vlan               int // -1: no tag
	}{
		{"ethernet", packet.LinkEthernet, ethTCP, 14, 34, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, -1},
		{"ethernet 802.1Q", packet.LinkEthernet, vlanTCP, 18, 38, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, 42},
		{"ethernet padding trimmed", packet.LinkEthernet, padded, 14, 34, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, -1},
		{"null loopback", packet.LinkNull, loop, 4, 24, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, -1},
		{"raw", packet.LinkRaw, rawTCP, 0, 20, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, -1},
		{"sll", packet.LinkSLL, sll, 16, 36, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, -1},
		{"sll2", packet.LinkSLL2, sll2, 20, 40, 40, packet.NFProtoIPv4, packet.ProtoTCP, 0, -1},
		{"ipv4 non-first fragment", packet.LinkRaw, frag, 0, 20, len(frag), packet.NFProtoIPv4, packet.ProtoUDP, 185, -1},
		{"ipv6 hop-by-hop + first fragment", packet.LinkRaw, v6first, 0, 56, len(v6first), packet.NFProtoIPv6, packet.ProtoTCP, 0, -1},
		{"ipv6 later fragment", packet.LinkRaw, v6later, 0, 48, len(v6later), packet.NFProtoIPv6, packet.ProtoUDP, 800, -1},
		{"ipv6 AH is final", packet.LinkRaw, v6ah, 0, 40, len(v6ah), packet.NFProtoIPv6, packet.ProtoAH, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p packet.Packet
			if err := p.Decode(tt.lt, tt.data); err != nil {
				t.Fatal(err)
			}
			if p.NetOff != tt.netOff || p.ThOff != tt.thOff || p.Len() != tt.len || p.NFProto != tt.nfproto || p.L4Proto != tt.l4 || p.FragOff != tt.fragOff || !p.HasL4 {
				t.Errorf("netoff %d thoff %d len %d nfproto %d l4 %d fragoff %d hasL4 %v; want %d %d %d %d %d %d true",
					p.NetOff, p.ThOff, p.Len(), p.NFProto, p.L4Proto, p.FragOff, p.HasL4,
					tt.netOff, tt.thOff, tt.len, tt.nfproto, tt.l4, tt.fragOff)
			}
			if got := map[bool]int{true: int(p.VLAN), false: -1}[p.HasVLAN]; got != tt.vlan {
				t.Errorf("vlan %d, want %d", got, tt.vlan)
			}
			if (p.FragOff != 0) != (p.Transport() == nil) {
				t.Errorf("Transport() = %v for fragoff %d: only non-first fragments lack one", p.Transport() != nil, p.FragOff)
			}
		})
	}
}

// TestDecodeErrors checks the frames the IP layer drops before any hook,
// and the non-IP frames no ip/ip6/inet hook sees.
func TestDecodeErrors(t *testing.T) {
	raw := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 1, Dport: 2})
	badIHL := append([]byte(nil), raw...)
	badIHL[0] = 0x44
	longTot := append([]byte(nil), raw...)
	binary.BigEndian.PutUint16(longTot[2:], uint16(len(raw)+1))
	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: []byte{198, 51, 100, 2},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{198, 51, 100, 254}})
	tests := []struct {
		name string
		lt   packet.LinkType
		data []byte
		want error
	}{
		{"empty raw", packet.LinkRaw, nil, packet.ErrTruncatedIP},
		{"short ipv4", packet.LinkRaw, raw[:19], packet.ErrTruncatedIP},
		{"ihl below 5", packet.LinkRaw, badIHL, packet.ErrBadIPHeader},
		{"total length past the capture", packet.LinkRaw, longTot, packet.ErrBadIPLength},
		{"short ethernet", packet.LinkEthernet, make([]byte, 13), packet.ErrTruncatedLink},
		{"arp", packet.LinkEthernet, arp, packet.ErrNotIP},
		{"unknown link type", packet.LinkType(147), raw, packet.ErrNotIP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p packet.Packet
			if err := p.Decode(tt.lt, tt.data); !errors.Is(err, tt.want) {
				t.Errorf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
	var p packet.Packet
	_ = p.Decode(packet.LinkEthernet, arp)
	if p.Protocol != packet.EtherTypeARP || p.NetOff != 14 {
		t.Errorf("ARP frame: protocol %#x netoff %d, want 0x0806 and 14 (kept for arp tables)", p.Protocol, p.NetOff)
	}
}

// TestDecodeNoAllocs: the replay decodes every record into one Packet.
func TestDecodeNoAllocs(t *testing.T) {
	raw := testpkt.MustBuild(testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "tcp", Sport: 1, Dport: 2, Flags: "S"})
	var p packet.Packet
	if n := testing.AllocsPerRun(100, func() { _ = p.Decode(packet.LinkRaw, raw) }); n != 0 {
		t.Errorf("%v allocations per Decode, want 0", n)
	}
}

// FuzzDecode: no frame makes Decode panic or hand out offsets outside Data.
func FuzzDecode(f *testing.F) {
	f.Add(uint32(packet.LinkRaw), testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1, Dport: 2, Flags: "S"}))
	f.Add(uint32(packet.LinkRaw), testpkt.MustBuild(testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "icmpv6", Type: 128}))
	f.Add(uint32(packet.LinkEthernet), make([]byte, 60))
	f.Add(uint32(packet.LinkSLL2), make([]byte, 24))
	f.Fuzz(func(t *testing.T, lt uint32, data []byte) {
		var p packet.Packet
		if err := p.Decode(packet.LinkType(lt), data); err != nil {
			return
		}
		if p.NetOff > len(p.Data) || len(p.Data) > len(data) {
			t.Fatalf("netoff %d beyond data %d (input %d)", p.NetOff, len(p.Data), len(data))
		}
		_ = p.Transport()
		_ = p.Network()
	})
}
