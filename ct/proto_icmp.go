package ct

import "github.com/nftgo/nftgo/packet"

// icmpPacket is icmp_packet / icmpv6_packet: only a request may create an
// entry; every packet refreshes the 30 s timeout. ICMP entries are never
// ASSURED.
//
// Ref: net/netfilter/nf_conntrack_proto_icmp.c — nf_conntrack_icmp_packet
func (t *Table) icmpPacket(c *Conn, p *packet.Packet, info Info, j, timeout uint32) int {
	if c.Status&StatusConfirmed == 0 {
		typ := c.orig.DstPort >> 8
		ok := false
		if c.orig.L3 == packet.NFProtoIPv4 {
			ok = typ == 8 || typ == 13 || typ == 15 || typ == 17
		} else {
			ok = typ == 128 || typ == 139
		}
		if !ok {
			return vInvalid
		}
	}
	t.refresh(c, p, info, timeout, j)
	return vAccept
}

// icmpError handles ICMP errors before normal tracking. done reports that
// conntrack is finished with the packet: c/info is the RELATED entry, or
// nil/NoInfo when the packet is invalid.
//
// Ref: net/netfilter/nf_conntrack_proto_icmp.c — nf_conntrack_icmpv4_error
func (t *Table) icmpError(p *packet.Packet, l4 []byte, hook uint8, j uint32) (*Conn, Info, bool) {
	if len(l4) < 8 {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	if t.p.checksum && hook == HookPrerouting && !plainChecksumOK(l4) {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	typ := l4[0]
	if typ > 18 {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	switch typ {
	case 3, 4, 5, 11, 12: // icmp_is_err
	default:
		return nil, 0, false
	}
	var outer [16]byte
	copy(outer[:4], p.Data[p.NetOff+16:p.NetOff+20])
	return t.inetError(l4[8:], packet.NFProtoIPv4, outer, j)
}

// inetError looks up the connection an ICMP error quotes: the inner tuple
// inverted must match a live entry whose tuple in the matched direction is
// addressed to the error's outer destination.
//
// Ref: net/netfilter/nf_conntrack_proto_icmp.c — nf_conntrack_inet_error
func (t *Table) inetError(inner []byte, l3 uint8, outer [16]byte, j uint32) (*Conn, Info, bool) {
	var orig Tuple
	if !innerTuple(&orig, inner, l3) {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	inv, ok := orig.invert()
	if !ok {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	idx, dir, found := t.find(&inv, t.zone, inv.hash(t.zone, t.seed), j)
	if !found {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	c := t.conn(idx)
	if tu := c.TupleDir(uint8(dir)); tu.Dst != outer {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	if dir == dirReply {
		return c, RelatedReply, true
	}
	return c, Related, true
}
