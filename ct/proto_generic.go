package ct

import "github.com/nftgo/nftgo/packet"

// genericPacket is the tracker of protocols without their own: 600 s,
// refreshed by every packet.
//
// Ref: net/netfilter/nf_conntrack_core.c — generic_packet
func (t *Table) genericPacket(c *Conn, p *packet.Packet, info Info, j uint32) int {
	t.refresh(c, p, info, t.p.generic, j)
	return vAccept
}
