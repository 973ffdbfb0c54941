package ct

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// manipIsDst is HOOK2MANIP: prerouting and output rewrite the
// destination, input and postrouting the source.
func manipIsDst(hook uint8) bool { return hook == HookPrerouting || hook == HookOutput }

// Mangle is nf_nat_packet: if the entry's NAT applies to this hook and
// direction, rewrite p.Data's addresses and ports to the tuple the other
// direction expects, with incremental IP and L4 checksum updates. An ICMP
// error RELATED to a NATed flow is translated inside and out
// (nf_nat_icmp_reply_translation). It reports whether the packet changed.
//
// Ref: net/netfilter/nf_nat_core.c — nf_nat_packet, nf_nat_manip_pkt;
// net/netfilter/nf_nat_proto.c — nf_nat_ipv4_fn, nf_nat_icmp_reply_translation
func (t *Table) Mangle(p *packet.Packet, c *Conn, info Info, hook uint8) bool {
	if c == nil || info > RelatedReply {
		return false
	}
	dst := manipIsDst(hook)
	bit := uint32(StatusSrcNAT)
	if dst {
		bit = StatusDstNAT
	}
	dir := uint32(Direction(info))
	if dir == dirReply {
		bit ^= statusNATMask
	}
	if (info == Related || info == RelatedReply) && p.HasL4 && p.FragOff == 0 &&
		(p.L4Proto == packet.ProtoICMP && p.NFProto == packet.NFProtoIPv4 ||
			p.L4Proto == packet.ProtoICMPv6 && p.NFProto == packet.NFProtoIPv6) {
		return icmpReplyTranslation(p, c, dir, dst, bit)
	}
	if c.Status&bit == 0 {
		return false
	}
	other := c.TupleDir(uint8(1 - dir))
	target, ok := other.invert()
	if !ok {
		return false
	}
	var l4 []byte
	if p.HasL4 && p.FragOff == 0 && p.ThOff <= len(p.Data) {
		l4 = p.Data[p.ThOff:]
	}
	manipIP(p.Data[p.NetOff:], p.NFProto, p.L4Proto, l4, &target, dst)
	return true
}

// icmpReplyTranslation rewrites the packet an ICMP error quotes with the
// opposite manip (it travelled the other way), recomputes the ICMP
// checksum, then rewrites the outer header like a reply.
//
// Ref: net/netfilter/nf_nat_proto.c — nf_nat_icmp_reply_translation,
// nf_nat_icmpv6_reply_translation
func icmpReplyTranslation(p *packet.Packet, c *Conn, dir uint32, dst bool, bit uint32) bool {
	l4 := p.Data[p.ThOff:]
	if len(l4) < 8 {
		return false
	}
	if p.NFProto == packet.NFProtoIPv4 && l4[0] == 5 { // redirect
		if c.Status&(StatusSrcNATDone|StatusDstNATDone) != StatusSrcNATDone|StatusDstNATDone || c.Status&statusNATMask != 0 {
			return false
		}
	}
	if c.Status&bit == 0 {
		return false
	}
	inner := l4[8:]
	l3 := p.NFProto
	var innerProto uint8
	var innerL4 []byte
	if l3 == packet.NFProtoIPv4 {
		if len(inner) < 20 {
			return false
		}
		ihl := int(inner[0]&0xf) * 4
		if ihl < 20 || len(inner) < ihl {
			return false
		}
		innerProto, innerL4 = inner[9], inner[ihl:]
	} else {
		if len(inner) < 40 {
			return false
		}
		innerProto, innerL4 = inner[6], inner[40:]
	}
	orig := c.TupleDir(uint8(1 - dir))
	manipIP(inner, l3, innerProto, innerL4, &orig, !dst)
	// The whole ICMP message is summed again.
	l4[2], l4[3] = 0, 0
	var sum uint64
	if l3 == packet.NFProtoIPv6 {
		nh := p.Data[p.NetOff:]
		sum = csumAdd(sum, nh[8:40])
		sum += uint64(packet.ProtoICMPv6) + uint64(len(l4))
	}
	binary.BigEndian.PutUint16(l4[2:], ^csumFold(csumAdd(sum, l4)))
	target, ok := orig.invert()
	if !ok {
		target = Tuple{Src: orig.Dst, Dst: orig.Src, L3: orig.L3}
	}
	manipIP(p.Data[p.NetOff:], l3, p.L4Proto, l4, &target, dst)
	return true
}

// manipIP is nf_nat_ipv4_manip_pkt / nf_nat_ipv6_manip_pkt: the L4 part
// first (port or ICMP id, and the pseudo-header in its checksum), then the
// address and, for IPv4, the header checksum.
func manipIP(nh []byte, l3, proto uint8, l4 []byte, target *Tuple, dst bool) {
	var old, nw []byte
	if l3 == packet.NFProtoIPv4 {
		if len(nh) < 20 {
			return
		}
		if dst {
			old, nw = nh[16:20], target.Dst[:4]
		} else {
			old, nw = nh[12:16], target.Src[:4]
		}
	} else {
		if len(nh) < 40 {
			return
		}
		if dst {
			old, nw = nh[24:40], target.Dst[:]
		} else {
			old, nw = nh[8:24], target.Src[:]
		}
	}
	if l4 != nil {
		manipL4(proto, l4, old, nw, target, dst)
	}
	if l3 == packet.NFProtoIPv4 {
		csumReplace(nh[10:12], old, nw)
	}
	copy(old, nw)
}

// manipL4 is l4proto_manip_pkt: the port (or ICMP query id) and the
// pseudo-header part of the checksum. With only 8 bytes of a TCP header
// (a quoted packet) the ports change and the checksum is left alone.
//
// Ref: net/netfilter/nf_nat_proto.c — tcp_manip_pkt, udp_manip_pkt,
// icmp_manip_pkt, icmpv6_manip_pkt
func manipL4(proto uint8, l4, oldAddr, newAddr []byte, target *Tuple, dst bool) {
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoUDPLite, packet.ProtoSCTP:
		if len(l4) < 4 {
			return
		}
		port := l4[0:2]
		np := target.SrcPort
		if dst {
			port, np = l4[2:4], target.DstPort
		}
		var nb [2]byte
		binary.BigEndian.PutUint16(nb[:], np)
		var ck []byte
		switch proto {
		case packet.ProtoTCP:
			if len(l4) >= 20 {
				ck = l4[16:18]
			}
		case packet.ProtoUDP, packet.ProtoUDPLite:
			if len(l4) >= 8 && (proto == packet.ProtoUDPLite || binary.BigEndian.Uint16(l4[6:]) != 0) {
				ck = l4[6:8]
			}
		}
		if ck != nil {
			csumReplace(ck, oldAddr, newAddr)
			csumReplace(ck, port, nb[:])
			if proto == packet.ProtoUDP && ck[0] == 0 && ck[1] == 0 {
				ck[0], ck[1] = 0xff, 0xff // CSUM_MANGLED_0
			}
		}
		copy(port, nb[:])
	case packet.ProtoICMP:
		if len(l4) < 8 {
			return
		}
		switch l4[0] {
		case 0, 8, 13, 14, 15, 16, 17, 18: // queries carry an id
		default:
			return
		}
		var nb [2]byte
		binary.BigEndian.PutUint16(nb[:], target.SrcPort)
		csumReplace(l4[2:4], l4[4:6], nb[:])
		copy(l4[4:6], nb[:])
	case packet.ProtoICMPv6:
		if len(l4) < 8 {
			return
		}
		csumReplace(l4[2:4], oldAddr, newAddr)
		if l4[0] != 128 && l4[0] != 129 {
			return
		}
		var nb [2]byte
		binary.BigEndian.PutUint16(nb[:], target.SrcPort)
		csumReplace(l4[2:4], l4[4:6], nb[:])
		copy(l4[4:6], nb[:])
	}
}

// csumReplace updates the 16-bit checksum at ck for old bytes becoming new
// ones (RFC 1624, as inet_proto_csum_replace*).
func csumReplace(ck, old, nw []byte) {
	sum := uint64(^binary.BigEndian.Uint16(ck))
	for i := 0; i+1 < len(old); i += 2 {
		sum += uint64(^binary.BigEndian.Uint16(old[i:]))
		sum += uint64(binary.BigEndian.Uint16(nw[i:]))
	}
	binary.BigEndian.PutUint16(ck, ^csumFold(sum))
}
