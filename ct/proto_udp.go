package ct

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// udpError is udp_error: a short header, a length field beyond the packet
// or below 8, or (at prerouting, with nf_conntrack_checksum) a wrong
// non-zero checksum make the packet invalid.
//
// Ref: net/netfilter/nf_conntrack_proto_udp.c — udp_error
func (t *Table) udpError(p *packet.Packet, l4 []byte, hook uint8) bool {
	if len(l4) < 8 {
		return true
	}
	ulen := int(binary.BigEndian.Uint16(l4[4:]))
	if ulen > len(l4) || ulen < 8 {
		return true
	}
	if binary.BigEndian.Uint16(l4[6:]) == 0 {
		return false
	}
	return t.p.checksum && hook == HookPrerouting && !l4ChecksumOK(p, l4, packet.ProtoUDP)
}

// udpPacket is nf_conntrack_udp_packet: 30 s until a reply was seen; after
// that, a packet more than 2 s after the entry's creation makes it a stream
// (120 s, ASSURED). The first reply itself still takes the 30 s branch,
// because SEEN_REPLY is set only after the handler ran.
//
// Ref: net/netfilter/nf_conntrack_proto_udp.c — nf_conntrack_udp_packet
func (t *Table) udpPacket(c *Conn, p *packet.Packet, l4 []byte, info Info, hook uint8, j uint32) int {
	if c.orig.Proto == packet.ProtoUDP && t.udpError(p, l4, hook) {
		return vInvalid
	}
	if c.orig.Proto == packet.ProtoUDPLite {
		return t.udplitePacket(c, p, l4, info, hook, j)
	}
	if c.Status&StatusConfirmed == 0 {
		c.tcp.seen[0].end = j + 2*hz // stream_ts
	}
	unreplied, replied := t.udpTimeouts(c)
	if c.Status&StatusSeenReply == 0 {
		t.refresh(c, p, info, unreplied, j)
		return vAccept
	}
	extra, stream := unreplied, false
	if int32(j-c.tcp.seen[0].end) > 0 {
		extra, stream = replied, true
	}
	t.refresh(c, p, info, extra, j)
	if stream && c.Status&StatusAssured == 0 {
		c.Status |= StatusAssured
		t.cacheEvent(c, evAssured)
	}
	return vAccept
}

// udplitePacket is nf_conntrack_udplite_packet: udplite_error's checks
// (coverage within the packet, a checksum is mandatory), then 30 s until a
// reply was seen and the 120 s stream timeout with ASSURED on any packet
// after it (no 2-second rule).
//
// Ref: net/netfilter/nf_conntrack_proto_udp.c — udplite_error, nf_conntrack_udplite_packet
func (t *Table) udplitePacket(c *Conn, p *packet.Packet, l4 []byte, info Info, hook uint8, j uint32) int {
	if len(l4) < 8 {
		return vInvalid
	}
	cov := int(binary.BigEndian.Uint16(l4[4:]))
	if cov == 0 {
		cov = len(l4)
	} else if cov < 8 || cov > len(l4) {
		return vInvalid
	}
	if binary.BigEndian.Uint16(l4[6:]) == 0 {
		return vInvalid
	}
	if t.p.checksum && hook == HookPrerouting && !l4PartialChecksumOK(p, l4, cov, packet.ProtoUDP) {
		return vInvalid
	}
	unreplied, replied := t.udpTimeouts(c)
	if c.Status&StatusSeenReply == 0 {
		t.refresh(c, p, info, unreplied, j)
		return vAccept
	}
	t.refresh(c, p, info, replied, j)
	if c.Status&StatusAssured == 0 {
		c.Status |= StatusAssured
		t.cacheEvent(c, evAssured)
	}
	return vAccept
}
