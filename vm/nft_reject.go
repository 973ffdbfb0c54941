package vm

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// The reply a reject statement makes is built after the packet's own
// traversal and sent as a locally generated packet (output, postrouting),
// as nf_send_reset / icmp_send do with ip_local_out: output chains count
// it and conntrack sees it. The kernel sends it from inside the rule; the
// rejected packet is dropped right after, so nothing can observe the
// difference in order.
//
// Ref: net/ipv4/netfilter/nf_reject_ipv4.c — nf_send_reset, nf_send_unreach,
// nf_reject_ip_tcphdr_put; net/ipv4/icmp.c — __icmp_send;
// net/ipv6/netfilter/nf_reject_ipv6.c; net/ipv6/icmp.c — icmp6_send.

// icmpx codes mapped to ICMP and ICMPv6 (nft_reject.c — icmp_code_v4/v6).
var icmpxV4 = [4]uint8{0, 3, 1, 13}
var icmpxV6 = [4]uint8{0, 4, 3, 1}

const defaultTTL = 64

// rejectReply builds the reply to p for rj, or nil when the kernel would
// send none (RST to a RST, errors about errors or fragments, …).
func (m *machine) rejectReply(p *packet.Packet, rj *ruleset.Reject, local bool) []byte {
	if !p.HasL4 || p.FragOff != 0 {
		return nil
	}
	v4 := p.NFProto == packet.NFProtoIPv4
	switch rj.Type {
	case ruleset.RejectTCPRst:
		if p.L4Proto != packet.ProtoTCP {
			return nil
		}
		return tcpReset(p, v4)
	case ruleset.RejectICMPXUnreach:
		if rj.Code > 3 {
			return nil
		}
		if v4 {
			return m.icmpUnreach(p, icmpxV4[rj.Code], local)
		}
		return m.icmp6Unreach(p, icmpxV6[rj.Code], local)
	}
	if v4 {
		return m.icmpUnreach(p, rj.Code, local)
	}
	return m.icmp6Unreach(p, rj.Code, local)
}

// tcpReset is nf_send_reset(6): addresses and ports swapped; with ACK set
// the RST takes the ACK number as its sequence, otherwise RST|ACK
// acknowledges the segment (SYN and FIN count one).
func tcpReset(p *packet.Packet, v4 bool) []byte {
	nh, th := p.Network(), p.Transport()
	if len(th) < 20 {
		return nil
	}
	flags := th[13]
	if flags&0x04 != 0 { // never answer a RST
		return nil
	}
	doff := int(th[12]>>4) * 4
	if doff < 20 || doff > len(th) {
		return nil
	}
	hl := 20
	if !v4 {
		hl = 40
	}
	b := make([]byte, hl+20)
	t := b[hl:]
	copy(t[0:2], th[2:4])
	copy(t[2:4], th[0:2])
	if flags&0x10 != 0 {
		copy(t[4:8], th[8:12])
		t[13] = 0x04
	} else {
		ack := binary.BigEndian.Uint32(th[4:]) + uint32(len(th)-doff)
		if flags&0x02 != 0 {
			ack++
		}
		if flags&0x01 != 0 {
			ack++
		}
		binary.BigEndian.PutUint32(t[8:], ack)
		t[13] = 0x14
	}
	t[12] = 5 << 4
	if v4 {
		ipHeader4(b, nh[16:20], nh[12:16], packet.ProtoTCP, 0, 0x4000)
	} else {
		ipHeader6(b, nh[24:40], nh[8:24], packet.ProtoTCP)
	}
	l4Checksum(b, hl, v4, packet.ProtoTCP, 16)
	return b
}

// icmpUnreach is icmp_send(ICMP_DEST_UNREACH): the source is the address
// the packet was sent to when it was for us, else the in interface's;
// the quote is as much of the packet as fits in 576 bytes.
func (m *machine) icmpUnreach(p *packet.Packet, code uint8, local bool) []byte {
	return m.icmpError(p, 3, code, local)
}

// icmpError is icmp_send for an IPv4 error of type/code.
func (m *machine) icmpError(p *packet.Packet, typ, code uint8, local bool) []byte {
	nh := p.Network()
	if p.L4Proto == packet.ProtoICMP {
		if th := p.Transport(); len(th) > 0 && isICMPError(th[0]) {
			return nil
		}
	}
	src := m.replySource(nh[16:20], nh[12:16], local, true)
	if src == nil {
		return nil
	}
	quote := nh
	if max := 576 - 20 - 8; len(quote) > max {
		quote = quote[:max]
	}
	b := make([]byte, 28+len(quote))
	b[20] = typ
	b[21] = code
	copy(b[28:], quote)
	ipHeader4(b, src, nh[12:16], packet.ProtoICMP, nh[1]&0x1e|0xc0, 0)
	binary.BigEndian.PutUint16(b[22:], csumFold(csumPartial(b[20:], 0)))
	return b
}

// icmp6Unreach is icmp6_send(ICMPV6_DEST_UNREACH), quoting up to the
// IPv6 minimum MTU.
func (m *machine) icmp6Unreach(p *packet.Packet, code uint8, local bool) []byte {
	return m.icmp6Error(p, 1, code, local)
}

// icmp6Error is icmp6_send for an ICMPv6 error of type/code.
func (m *machine) icmp6Error(p *packet.Packet, typ, code uint8, local bool) []byte {
	nh := p.Network()
	if p.L4Proto == packet.ProtoICMPv6 {
		if th := p.Transport(); len(th) > 0 && th[0] < 128 {
			return nil
		}
	}
	src := m.replySource(nh[24:40], nh[8:24], local, false)
	if src == nil {
		return nil
	}
	quote := nh
	if max := 1280 - 40 - 8; len(quote) > max {
		quote = quote[:max]
	}
	b := make([]byte, 48+len(quote))
	b[40] = typ
	b[41] = code
	copy(b[48:], quote)
	ipHeader6(b, src, nh[8:24], packet.ProtoICMPv6)
	l4Checksum(b, 40, false, packet.ProtoICMPv6, 2)
	return b
}

func isICMPError(t uint8) bool {
	switch t {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// replySource picks the error's source address: the original destination
// for a packet addressed to us, else the in interface's first address of
// the family. A packet the host sent itself (no in interface, rejected in
// output) has its error routed back to its local source: the source the
// route lookup picks for a local destination is that address (a local
// route's prefsrc), so the error goes from the sender's address to itself
// over loopback, through output, postrouting, prerouting and input.
//
// Ref: net/ipv4/icmp.c — __icmp_send (saddr 0 unless RTCF_LOCAL);
// net/ipv4/route.c — ip_route_output_key_hash_rcu (RTN_LOCAL: prefsrc);
// net/ipv6/icmp.c — icmp6_send
func (m *machine) replySource(dst, src []byte, local, v4 bool) []byte {
	if local {
		return dst
	}
	if m.in == nil {
		return src
	}
	for _, a := range m.in.addrs {
		if a.Is4() == v4 {
			if v4 {
				b := a.As4()
				return b[:]
			}
			b := a.As16()
			return b[:]
		}
	}
	return nil
}

func ipHeader4(b, src, dst []byte, proto, tos uint8, frag uint16) {
	b[0] = 0x45
	b[1] = tos
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8] = defaultTTL
	b[9] = proto
	copy(b[12:16], src)
	copy(b[16:20], dst)
	binary.BigEndian.PutUint16(b[10:], csumFold(csumPartial(b[:20], 0)))
}

func ipHeader6(b, src, dst []byte, proto uint8) {
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	b[6] = proto
	b[7] = defaultTTL
	copy(b[8:24], src)
	copy(b[24:40], dst)
}

// l4Checksum fills the checksum at csumAt of the L4 header at hl with the
// pseudo-header sum.
func l4Checksum(b []byte, hl int, v4 bool, proto uint8, csumAt int) {
	var s uint32
	if v4 {
		s = csumPartial(b[12:20], 0)
	} else {
		s = csumPartial(b[8:40], 0)
	}
	n := len(b) - hl
	s = csumPartial([]byte{0, proto, byte(n >> 8), byte(n)}, s)
	if !v4 {
		s = csumPartial([]byte{0, 0}, s)
	}
	s = csumPartial(b[hl:], s)
	binary.BigEndian.PutUint16(b[hl+csumAt:], csumFold(s))
}
