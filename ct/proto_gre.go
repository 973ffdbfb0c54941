package ct

import "github.com/nftgo/nftgo/packet"

// grePacket is gre_packet: 30 s until a reply was seen, then the 180 s
// stream timeout and ASSURED.
//
// Ref: net/netfilter/nf_conntrack_proto_gre.c — nf_conntrack_gre_packet
func (t *Table) grePacket(c *Conn, p *packet.Packet, info Info, j uint32) int {
	if c.Status&StatusSeenReply != 0 {
		t.refresh(c, p, info, t.p.greStream, j)
		if c.Status&StatusAssured == 0 {
			c.Status |= StatusAssured
			t.cacheEvent(c, evAssured)
		}
		return vAccept
	}
	t.refresh(c, p, info, t.p.gre, j)
	return vAccept
}
