// Package testpkt builds test packets with gopacket's layers and writes them
// as captures with pcapgo, so every test in the project makes its traffic the
// same way and none hand-rolls packet bytes. Packets are raw IP (no link
// layer) with valid checksums, like the kernel scenarios' captures.
package testpkt

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TCP flag sets for Spec.Flags, in tcpdump's letters: S, A, F, R, P, U, E, C.
const (
	SYN    = "S"
	SYNACK = "SA"
	ACK    = "A"
	FINACK = "FA"
	RST    = "R"
	RSTACK = "RA"
	PSHACK = "PA"
)

// Spec describes one packet. Zero values pick sensible defaults: TTL 64,
// window 65535, ICMP echo id 0.
type Spec struct {
	Src, Dst string // addresses; IPv6 when they contain ':'
	Proto    string // "tcp", "udp", "icmp", "icmpv6", or a number for a bare IP payload
	Sport    uint16
	Dport    uint16
	Flags    string // TCP flags, e.g. "S", "SA", "A", "FA", "R"
	Seq, Ack uint32
	Window   uint16
	Payload  []byte
	TTL      uint8
	IPID     uint16
	// ICMP/ICMPv6 type, code and echo id/seq.
	Type, Code  uint8
	ID, EchoSeq uint16
	// Inner is the quoted packet of an ICMP error (its first bytes are used,
	// as a router would quote them).
	Inner *Spec
	// FragOffset (in 8-byte units) and MoreFragments make an IPv4 fragment.
	FragOffset    uint16
	MoreFragments bool
}

// Build serialises s into raw IP bytes with correct lengths and checksums.
func Build(s Spec) ([]byte, error) {
	src, err := netip.ParseAddr(s.Src)
	if err != nil {
		return nil, fmt.Errorf("testpkt: source: %w", err)
	}
	dst, err := netip.ParseAddr(s.Dst)
	if err != nil {
		return nil, fmt.Errorf("testpkt: destination: %w", err)
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = 64
	}
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	v6 := src.Is6()
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: ttl, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
		netLayer = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: s.IPID, SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice()),
			FragOffset: s.FragOffset}
		if s.MoreFragments {
			ip.Flags |= layers.IPv4MoreFragments
		}
		netLayer = ip
		ls = append(ls, ip)
	}
	setProto := func(p layers.IPProtocol) {
		switch ip := netLayer.(type) {
		case *layers.IPv4:
			ip.Protocol = p
		case *layers.IPv6:
			ip.NextHeader = p
		}
	}
	win := s.Window
	if win == 0 {
		win = 65535
	}
	switch s.Proto {
	case "tcp":
		setProto(layers.IPProtocolTCP)
		t := &layers.TCP{SrcPort: layers.TCPPort(s.Sport), DstPort: layers.TCPPort(s.Dport), Seq: s.Seq, Ack: s.Ack, Window: win, DataOffset: 5}
		for _, f := range s.Flags {
			switch f {
			case 'S':
				t.SYN = true
			case 'A':
				t.ACK = true
			case 'F':
				t.FIN = true
			case 'R':
				t.RST = true
			case 'P':
				t.PSH = true
			case 'U':
				t.URG = true
			case 'E':
				t.ECE = true
			case 'C':
				t.CWR = true
			default:
				return nil, fmt.Errorf("testpkt: unknown TCP flag %q", f)
			}
		}
		if err := t.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, err
		}
		ls = append(ls, t)
	case "udp":
		setProto(layers.IPProtocolUDP)
		u := &layers.UDP{SrcPort: layers.UDPPort(s.Sport), DstPort: layers.UDPPort(s.Dport)}
		if err := u.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, err
		}
		ls = append(ls, u)
	case "icmp":
		setProto(layers.IPProtocolICMPv4)
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(s.Type, s.Code), Id: s.ID, Seq: s.EchoSeq})
	case "icmpv6":
		setProto(layers.IPProtocolICMPv6)
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(s.Type, s.Code)}
		if err := ic.SetNetworkLayerForChecksum(netLayer); err != nil {
			return nil, err
		}
		ls = append(ls, ic)
		switch s.Type {
		case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
			ls = append(ls, &layers.ICMPv6Echo{Identifier: s.ID, SeqNumber: s.EchoSeq})
		default:
			// Errors carry 4 unused (or MTU/pointer) bytes before the quote.
			ls = append(ls, gopacket.Payload([]byte{0, 0, 0, 0}))
		}
	default:
		var n int
		if _, err := fmt.Sscanf(s.Proto, "%d", &n); err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("testpkt: unknown protocol %q", s.Proto)
		}
		setProto(layers.IPProtocol(n))
	}
	payload := s.Payload
	if s.Inner != nil {
		inner, err := Build(*s.Inner)
		if err != nil {
			return nil, err
		}
		if max := 28; !v6 && len(inner) > max && s.Proto == "icmp" {
			inner = inner[:max]
		}
		payload = append(append([]byte(nil), inner...), payload...)
	}
	if len(payload) > 0 {
		ls = append(ls, gopacket.Payload(payload))
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		return nil, err
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

// MustBuild is Build for tests: it panics on a malformed Spec, which is a
// bug in the test itself.
func MustBuild(s Spec) []byte {
	b, err := Build(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Record is one packet of a capture with its timestamp.
type Record struct {
	Time time.Time
	Data []byte
}

// Epoch is the timestamp of the first packet of generated captures; any
// fixed instant keeps goldens stable.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Sequence builds specs into records spaced gap apart starting at Epoch.
func Sequence(gap time.Duration, specs ...Spec) ([]Record, error) {
	recs := make([]Record, 0, len(specs))
	for i, s := range specs {
		b, err := Build(s)
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", i, err)
		}
		recs = append(recs, Record{Time: Epoch.Add(time.Duration(i) * gap), Data: b})
	}
	return recs, nil
}

// WritePcap writes records as a LINKTYPE_RAW pcap file.
func WritePcap(w io.Writer, recs []Record) error {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return err
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(r.Data), Length: len(r.Data)}
		if err := pw.WritePacket(ci, r.Data); err != nil {
			return err
		}
	}
	return nil
}
