// Package packet holds one packet the way nf_tables sees it: the raw bytes
// and the offsets the kernel keeps in struct sk_buff and struct nft_pktinfo
// (network header, transport header, L4 protocol, fragment offset).
//
// Decoding reads header fields at fixed offsets, like the kernel does; it
// never builds per-layer objects and never allocates, so the replay path can
// reuse one Packet for every record of a capture.
package packet

import (
	"encoding/binary"
	"errors"
)

// LinkType is a pcap LINKTYPE_ value.
type LinkType uint32

// Link types nftgo reads (https://www.tcpdump.org/linktypes.html).
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet LinkType = 1   // Ethernet II, optionally 802.1Q/802.1ad tagged
	LinkRaw      LinkType = 101 // raw IPv4/IPv6
	LinkLoop     LinkType = 108 // OpenBSD loopback: 4-byte network-order family
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkRawIPv4  LinkType = 228
	LinkRawIPv6  LinkType = 229
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
	// LinkRawDLT12 is DLT_RAW as some BSDs number it in pcap files.
	LinkRawDLT12 LinkType = 12
	LinkRawDLT14 LinkType = 14
)

// Ethertypes (skb->protocol values, host order here).
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeQinQ = 0x88a8
	EtherTypeIPv6 = 0x86dd
)

// NFPROTO numbers of the network layer.
const (
	NFProtoIPv4 = 2
	NFProtoIPv6 = 10
)

// IP protocol numbers.
const (
	ProtoICMP    = 1
	ProtoIGMP    = 2
	ProtoTCP     = 6
	ProtoUDP     = 17
	ProtoGRE     = 47
	ProtoESP     = 50
	ProtoAH      = 51
	ProtoICMPv6  = 58
	ProtoSCTP    = 132
	ProtoUDPLite = 136
)

// Packet is one packet and its header offsets. Offsets index Data.
type Packet struct {
	// Data holds the frame from the link-layer header (if any) to the end of
	// the network-layer datagram: link padding past the IP total length is
	// cut off, as ip_rcv/ipv6_rcv trim the skb.
	Data []byte
	// MACOff and MACLen locate the link-layer header; MACLen 0 means the
	// packet has none (raw IP captures, locally generated packets).
	MACOff, MACLen int
	// NetOff is the network header offset (skb_network_offset).
	NetOff int
	// Protocol is skb->protocol: the ethertype of the network layer.
	Protocol uint16
	// NFProto is NFProtoIPv4, NFProtoIPv6, or 0 for anything else.
	NFProto uint8

	// The fields below are nft_pktinfo: valid only when HasL4 is set.
	HasL4   bool   // NFT_PKTINFO_L4PROTO
	L4Proto uint8  // tprot
	ThOff   int    // thoff, from the start of Data
	FragOff uint16 // fragoff: non-zero for a non-first fragment (in 8-byte units for IPv4, bytes for IPv6)

	// VLAN is the outermost 802.1Q tag's TCI when the link layer carried one
	// (kept in the data, as nftgo does not strip tags); HasVLAN tells.
	VLAN    uint16
	HasVLAN bool
}

// Len is skb->len at the ip/ip6/inet hooks: the bytes from the network header on.
func (p *Packet) Len() int { return len(p.Data) - p.NetOff }

// Network returns the bytes from the network header on.
func (p *Packet) Network() []byte { return p.Data[p.NetOff:] }

// Transport returns the bytes from the transport header on, or nil when
// the packet has no transport header nftgo can read (no L4 info, or a
// non-first fragment).
func (p *Packet) Transport() []byte {
	if !p.HasL4 || p.FragOff != 0 || p.ThOff > len(p.Data) {
		return nil
	}
	return p.Data[p.ThOff:]
}

// Errors Decode reports. Each names what the kernel does with such a frame:
// these are dropped by the IP layer before any netfilter hook sees them
// (ip_rcv_core, ipv6_rcv), or never reach IP at all.
var (
	ErrTruncatedLink = errors.New("link-layer header truncated")
	ErrNotIP         = errors.New("not an IPv4 or IPv6 packet")
	ErrTruncatedIP   = errors.New("IP header truncated")
	ErrBadIPHeader   = errors.New("malformed IP header")
	ErrBadIPLength   = errors.New("IP total length exceeds the captured bytes")
)

// Decode fills p from a captured frame of the given link type. data is kept,
// not copied. On error p still holds what could be decoded (for ErrNotIP, a
// frame whose Protocol is known) so callers can report it.
func (p *Packet) Decode(lt LinkType, data []byte) error {
	*p = Packet{Data: data}
	off := 0
	switch lt {
	case LinkRaw, LinkRawIPv4, LinkRawIPv6, LinkRawDLT12, LinkRawDLT14:
		if len(data) == 0 {
			return ErrTruncatedIP
		}
		switch data[0] >> 4 {
		case 4:
			p.Protocol = EtherTypeIPv4
		case 6:
			p.Protocol = EtherTypeIPv6
		default:
			return ErrNotIP
		}
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return ErrTruncatedLink
		}
		var af uint32
		if lt == LinkLoop {
			af = binary.BigEndian.Uint32(data)
		} else {
			af = binary.LittleEndian.Uint32(data)
			if af > 0xffff {
				af = binary.BigEndian.Uint32(data)
			}
		}
		p.MACOff, p.MACLen = 0, 4
		off = 4
		switch af {
		case 2:
			p.Protocol = EtherTypeIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, the BSDs and macOS
			p.Protocol = EtherTypeIPv6
		default:
			return ErrNotIP
		}
	case LinkEthernet:
		if len(data) < 14 {
			return ErrTruncatedLink
		}
		et := binary.BigEndian.Uint16(data[12:])
		off = 14
		for et == EtherTypeVLAN || et == EtherTypeQinQ {
			if len(data) < off+4 {
				return ErrTruncatedLink
			}
			if !p.HasVLAN {
				p.VLAN, p.HasVLAN = binary.BigEndian.Uint16(data[off:])&0x0fff, true
			}
			et = binary.BigEndian.Uint16(data[off+2:])
			off += 4
		}
		p.MACOff, p.MACLen = 0, off
		p.Protocol = et
	case LinkSLL:
		if len(data) < 16 {
			return ErrTruncatedLink
		}
		p.MACOff, p.MACLen = 0, 16
		p.Protocol = binary.BigEndian.Uint16(data[14:])
		off = 16
	case LinkSLL2:
		if len(data) < 20 {
			return ErrTruncatedLink
		}
		p.MACOff, p.MACLen = 0, 20
		p.Protocol = binary.BigEndian.Uint16(data[0:])
		off = 20
	default:
		return ErrNotIP
	}
	p.NetOff = off
	switch p.Protocol {
	case EtherTypeIPv4:
		return p.decodeIPv4()
	case EtherTypeIPv6:
		return p.decodeIPv6()
	}
	return ErrNotIP
}

// decodeIPv4 mirrors the checks of ip_rcv_core and the pktinfo set-up of
// nft_set_pktinfo_ipv4 (include/net/netfilter/nf_tables_ipv4.h).
func (p *Packet) decodeIPv4() error {
	b := p.Data[p.NetOff:]
	if len(b) < 20 {
		return ErrTruncatedIP
	}
	ihl := int(b[0]&0x0f) * 4
	if b[0]>>4 != 4 || ihl < 20 {
		return ErrBadIPHeader
	}
	if len(b) < ihl {
		return ErrTruncatedIP
	}
	tot := int(binary.BigEndian.Uint16(b[2:]))
	if tot < ihl {
		return ErrBadIPHeader
	}
	if tot > len(b) {
		return ErrBadIPLength
	}
	p.Data = p.Data[:p.NetOff+tot]
	p.NFProto = NFProtoIPv4
	p.L4Proto = b[9]
	p.ThOff = p.NetOff + ihl
	p.FragOff = binary.BigEndian.Uint16(b[6:]) & 0x1fff
	p.HasL4 = true
	return nil
}

// IPv6 extension headers ipv6_find_hdr walks.
const (
	nextHopByHop = 0
	nextRouting  = 43
	nextFragment = 44
	nextDestOpts = 60
)

// decodeIPv6 mirrors ipv6_rcv's length checks and nft_set_pktinfo_ipv6,
// which uses ipv6_find_hdr to walk the extension headers to the last one:
// only hop-by-hop, routing, fragment and destination options are walked, so
// AH, "no next header" and the mobility header count as final, and a
// non-first fragment stops at the fragment header.
func (p *Packet) decodeIPv6() error {
	b := p.Data[p.NetOff:]
	if len(b) < 40 {
		return ErrTruncatedIP
	}
	if b[0]>>4 != 6 {
		return ErrBadIPHeader
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	if 40+plen > len(b) {
		return ErrBadIPLength
	}
	// A zero payload length with a hop-by-hop header is a jumbogram; keep
	// the captured bytes then.
	if plen != 0 || b[6] != nextHopByHop {
		p.Data = p.Data[:p.NetOff+40+plen]
		b = p.Data[p.NetOff:]
	}
	p.NFProto = NFProtoIPv6
	next := b[6]
	off := 40
	for {
		switch next {
		case nextHopByHop, nextRouting, nextDestOpts:
			if len(b) < off+2 {
				return nil // unspec pktinfo: no L4
			}
			next = b[off]
			off += (int(b[off+1]) + 1) * 8
			continue
		case nextFragment:
			if len(b) < off+8 {
				return nil
			}
			fo := binary.BigEndian.Uint16(b[off+2:]) &^ 7
			nh := b[off]
			off += 8
			if fo != 0 {
				p.HasL4, p.L4Proto, p.ThOff, p.FragOff = true, nh, p.NetOff+off, fo
				return nil
			}
			next = nh
			continue
		}
		break
	}
	if off > len(b) {
		return nil
	}
	p.HasL4, p.L4Proto, p.ThOff = true, next, p.NetOff+off
	return nil
}
