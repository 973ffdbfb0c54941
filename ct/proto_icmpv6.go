package ct

import "github.com/nftgo/nftgo/packet"

// icmpv6Error is the ICMPv6 counterpart: neighbour discovery and MLD are
// untracked, errors (type < 128) are looked up by their inner tuple.
//
// Ref: net/netfilter/nf_conntrack_proto_icmpv6.c — nf_conntrack_icmpv6_error
func (t *Table) icmpv6Error(p *packet.Packet, l4 []byte, hook uint8, j uint32) (*Conn, Info, bool) {
	if len(l4) < 8 {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	if t.p.checksum && hook == HookPrerouting && !l4ChecksumOK(p, l4, packet.ProtoICMPv6) {
		t.Stats.Invalid++
		return nil, NoInfo, true
	}
	typ := l4[0]
	switch typ {
	case 130, 131, 132, 133, 134, 135, 136, 143, 151, 152:
		return nil, Untracked, true
	case 137:
		// A redirect is looked up by the packet it quotes only when it is
		// well-formed (code 0, hop limit 255, link-local source, redirected
		// header option first); nftgo does not parse the options, so it
		// checks the header fields and treats the rest as invalid.
		nh := p.Data[p.NetOff:]
		if l4[1] != 0 || nh[7] != 255 || !(nh[8] == 0xfe && nh[9]&0xc0 == 0x80) || len(l4) < 40+8 || l4[40] != 4 {
			t.Stats.Invalid++
			return nil, NoInfo, true
		}
		var outer [16]byte
		copy(outer[:], nh[24:40])
		return t.inetError(l4[48:], packet.NFProtoIPv6, outer, j)
	}
	if typ >= 128 {
		return nil, 0, false
	}
	var outer [16]byte
	copy(outer[:], p.Data[p.NetOff+24:p.NetOff+40])
	return t.inetError(l4[8:], packet.NFProtoIPv6, outer, j)
}
