package replay

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/nftgo/nftgo/packet"
)

// AppendSummary appends a one-line description of p in tcpdump's spirit,
// e.g. "tcp 198.51.100.2:1000 > 203.0.113.10:80 [S]", reading the header
// fields at the offsets Decode found. It allocates nothing when b has room.
func AppendSummary(b []byte, p *packet.Packet) []byte {
	nw := p.Network()
	var src, dst netip.Addr
	switch p.NFProto {
	case packet.NFProtoIPv4:
		src, dst = netip.AddrFrom4([4]byte(nw[12:16])), netip.AddrFrom4([4]byte(nw[16:20]))
	case packet.NFProtoIPv6:
		src, dst = netip.AddrFrom16([16]byte(nw[8:24])), netip.AddrFrom16([16]byte(nw[24:40]))
	default:
		b = append(b, "ethertype 0x"...)
		return strconv.AppendUint(b, uint64(p.Protocol), 16)
	}
	th := p.Transport()
	switch {
	case !p.HasL4:
		if p.NFProto == packet.NFProtoIPv4 {
			b = append(b, "ip "...)
		} else {
			b = append(b, "ip6 "...)
		}
		b = src.AppendTo(b)
		b = append(b, " > "...)
		return dst.AppendTo(b)
	case (p.L4Proto == packet.ProtoTCP || p.L4Proto == packet.ProtoUDP) && len(th) >= 4:
		if p.L4Proto == packet.ProtoTCP {
			b = append(b, "tcp "...)
		} else {
			b = append(b, "udp "...)
		}
		b = appendHostPort(b, src, binary.BigEndian.Uint16(th))
		b = append(b, " > "...)
		b = appendHostPort(b, dst, binary.BigEndian.Uint16(th[2:]))
		if p.L4Proto == packet.ProtoTCP && len(th) >= 14 {
			b = appendTCPFlags(b, th[13])
		}
		return b
	case (p.L4Proto == packet.ProtoICMP || p.L4Proto == packet.ProtoICMPv6) && len(th) >= 2:
		if p.L4Proto == packet.ProtoICMP {
			b = append(b, "icmp "...)
		} else {
			b = append(b, "icmpv6 "...)
		}
		b = src.AppendTo(b)
		b = append(b, " > "...)
		b = dst.AppendTo(b)
		b = append(b, " type "...)
		b = strconv.AppendUint(b, uint64(th[0]), 10)
		b = append(b, " code "...)
		return strconv.AppendUint(b, uint64(th[1]), 10)
	}
	b = append(b, "proto "...)
	b = strconv.AppendUint(b, uint64(p.L4Proto), 10)
	b = append(b, ' ')
	b = src.AppendTo(b)
	b = append(b, " > "...)
	b = dst.AppendTo(b)
	if p.FragOff != 0 {
		b = append(b, " frag"...)
	}
	return b
}

func appendHostPort(b []byte, a netip.Addr, port uint16) []byte {
	if a.Is6() {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	} else {
		b = appendIPv4(b, a.As4())
	}
	b = append(b, ':')
	return appendPort(b, port)
}

// decByte holds the decimal text of every byte value: a dotted quad is
// four table copies instead of netip's digit loop (the per-packet line is
// most of the human-readable replay's cost).
var decByte = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func appendIPv4(b []byte, a [4]byte) []byte {
	b = append(b, decByte[a[0]]...)
	b = append(b, '.')
	b = append(b, decByte[a[1]]...)
	b = append(b, '.')
	b = append(b, decByte[a[2]]...)
	b = append(b, '.')
	return append(b, decByte[a[3]]...)
}

// appendPort appends a 16-bit number in decimal without strconv's
// general path.
func appendPort(b []byte, v uint16) []byte {
	var d [5]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// appendTCPFlags prints the flags in tcpdump's letters, "." for ACK.
func appendTCPFlags(b []byte, f byte) []byte {
	b = append(b, " ["...)
	for _, x := range [...]struct {
		bit byte
		c   byte
	}{{0x02, 'S'}, {0x01, 'F'}, {0x08, 'P'}, {0x04, 'R'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}, {0x10, '.'}} {
		if f&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	return append(b, ']')
}
