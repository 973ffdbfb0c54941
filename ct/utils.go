package ct

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// csumAdd adds b to a one's-complement running sum (not yet folded).
func csumAdd(sum uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>48 + v>>32&0xffff + v>>16&0xffff + v&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// csumFold folds a running sum to 16 bits (not complemented).
func csumFold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// l4ChecksumOK verifies an L4 checksum that covers the pseudo-header
// (TCP, UDP, ICMPv6), the way nf_checksum does for CHECKSUM_NONE skbs.
//
// Ref: net/netfilter/utils.c — nf_ip_checksum, nf_ip6_checksum
func l4ChecksumOK(p *packet.Packet, l4 []byte, proto uint8) bool {
	nh := p.Data[p.NetOff:]
	var sum uint64
	if p.NFProto == packet.NFProtoIPv4 {
		sum = csumAdd(sum, nh[12:20])
	} else {
		sum = csumAdd(sum, nh[8:40])
	}
	sum += uint64(proto) + uint64(len(l4))
	sum = csumAdd(sum, l4)
	return csumFold(sum) == 0xffff
}

// plainChecksumOK verifies a checksum without pseudo-header (ICMP).
func plainChecksumOK(b []byte) bool { return csumFold(csumAdd(0, b)) == 0xffff }

// l4PartialChecksumOK verifies a checksum covering the pseudo-header and
// the first cov bytes (nf_checksum_partial). UDP-Lite's tracker passes
// IPPROTO_UDP, not IPPROTO_UDPLITE, so the pseudo-header carries 17: kernel
// 6.18 accepts only UDP-Lite packets summed that way (oracle run).
//
// Ref: net/netfilter/utils.c — nf_checksum_partial
func l4PartialChecksumOK(p *packet.Packet, l4 []byte, cov int, proto uint8) bool {
	nh := p.Data[p.NetOff:]
	var sum uint64
	if p.NFProto == packet.NFProtoIPv4 {
		sum = csumAdd(sum, nh[12:20])
	} else {
		sum = csumAdd(sum, nh[8:40])
	}
	sum += uint64(proto) + uint64(len(l4))
	sum = csumAdd(sum, l4[:cov])
	return csumFold(sum) == 0xffff
}
