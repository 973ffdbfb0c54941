package ct

import (
	"encoding/binary"
	"math/bits"

	"github.com/nftgo/nftgo/packet"
)

// Directions of a tuple within its entry (enum ip_conntrack_dir).
const (
	dirOriginal = 0
	dirReply    = 1
)

// hasPorts reports protocols whose tuple holds the first four L4 bytes as
// source and destination port. DCCP is not among them: its tracker is gone
// from the target kernel (6.18), so DCCP is generic (ports 0).
//
// Ref: net/netfilter/nf_conntrack_core.c — nf_ct_get_tuple
func hasPorts(proto uint8) bool {
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoUDPLite, packet.ProtoSCTP:
		return true
	}
	return false
}

// icmpInverse maps an ICMP type to its counterpart + 1 (0 = not invertible).
//
// Ref: net/netfilter/nf_conntrack_proto_icmp.c — nf_conntrack_invert_icmp_tuple
var icmpInverse = [19]uint8{8: 0 + 1, 0: 8 + 1, 13: 14 + 1, 14: 13 + 1, 15: 16 + 1, 16: 15 + 1, 17: 18 + 1, 18: 17 + 1}

// icmpv6Inverse is the same for ICMPv6 types, indexed by type-128.
//
// Ref: net/netfilter/nf_conntrack_proto_icmpv6.c — nf_conntrack_invert_icmpv6_tuple
var icmpv6Inverse = [13]uint8{0: 129 - 128 + 1, 1: 128 - 128 + 1, 11: 140 - 128 + 1, 12: 139 - 128 + 1}

// invert returns the tuple of the other direction; ok is false for ICMP
// types without a counterpart, which can never create an entry.
//
// Ref: net/netfilter/nf_conntrack_core.c — nf_ct_invert_tuple
func (t *Tuple) invert() (r Tuple, ok bool) {
	r.L3, r.Proto = t.L3, t.Proto
	r.Src, r.Dst = t.Dst, t.Src
	switch {
	case t.Proto == packet.ProtoICMP && t.L3 == packet.NFProtoIPv4:
		typ := t.DstPort >> 8
		if typ >= uint16(len(icmpInverse)) || icmpInverse[typ] == 0 {
			return r, false
		}
		r.SrcPort = t.SrcPort
		r.DstPort = uint16(icmpInverse[typ]-1)<<8 | t.DstPort&0xff
	case t.Proto == packet.ProtoICMPv6 && t.L3 == packet.NFProtoIPv6:
		typ := int(t.DstPort>>8) - 128
		if typ < 0 || typ >= len(icmpv6Inverse) || icmpv6Inverse[typ] == 0 {
			return r, false
		}
		r.SrcPort = t.SrcPort
		r.DstPort = uint16(int(icmpv6Inverse[typ])-1+128)<<8 | t.DstPort&0xff
	default:
		r.SrcPort, r.DstPort = t.DstPort, t.SrcPort
	}
	return r, true
}

// hash is the table's keyed hash of a tuple and zone (the kernel uses
// siphash with a boot-random key; here the key is Config.HashSeed so that
// bucket placement, and with it early drop, is reproducible).
//
// Ref: net/netfilter/nf_conntrack_core.c — hash_conntrack_raw
func (t *Tuple) hash(zone uint16, seed uint64) uint32 {
	const k0, k1, k2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3
	a := binary.LittleEndian.Uint64(t.Src[0:])
	b := binary.LittleEndian.Uint64(t.Src[8:])
	c := binary.LittleEndian.Uint64(t.Dst[0:])
	d := binary.LittleEndian.Uint64(t.Dst[8:])
	e := uint64(t.SrcPort) | uint64(t.DstPort)<<16 | uint64(t.L3)<<32 | uint64(t.Proto)<<40 | uint64(zone)<<48
	h := mum(a^k0^seed, b^k1)
	h = mum(h^c^k2, d^k0)
	h = mum(h^e^k1, seed^k2)
	return uint32(h ^ h>>32)
}

func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// TupleOf builds the original-direction tuple of a packet with no entry
// attached (nf_ct_get_tuplepr). ok is false when conntrack could not track
// the packet (no L4 header, non-first fragment, short L4 header).
//
// Ref: net/netfilter/nf_conntrack_core.c — nf_ct_get_tuplepr, nf_ct_get_tuple
func TupleOf(p *packet.Packet) (Tuple, bool) {
	var t Tuple
	if p == nil || !p.HasL4 || p.FragOff != 0 || p.ThOff > len(p.Data) {
		return t, false
	}
	ok := tupleFrom(&t, p.Data[p.NetOff:], p.NFProto, p.L4Proto, p.Data[p.ThOff:])
	return t, ok
}

// tupleFrom fills t from a network header (for addresses) and the L4 bytes.
func tupleFrom(t *Tuple, nh []byte, l3, proto uint8, l4 []byte) bool {
	*t = Tuple{L3: l3, Proto: proto}
	switch l3 {
	case packet.NFProtoIPv4:
		if len(nh) < 20 {
			return false
		}
		copy(t.Src[:4], nh[12:16])
		copy(t.Dst[:4], nh[16:20])
	case packet.NFProtoIPv6:
		if len(nh) < 40 {
			return false
		}
		copy(t.Src[:], nh[8:24])
		copy(t.Dst[:], nh[24:40])
	default:
		return false
	}
	switch {
	case hasPorts(proto):
		if len(l4) < 4 {
			return false
		}
		t.SrcPort = binary.BigEndian.Uint16(l4)
		t.DstPort = binary.BigEndian.Uint16(l4[2:])
	case proto == packet.ProtoICMP && l3 == packet.NFProtoIPv4,
		proto == packet.ProtoICMPv6 && l3 == packet.NFProtoIPv6:
		// icmp_pkt_to_tuple / icmpv6_pkt_to_tuple: the 8-byte header.
		if len(l4) < 8 {
			return false
		}
		t.SrcPort = binary.BigEndian.Uint16(l4[4:])
		t.DstPort = uint16(l4[0])<<8 | uint16(l4[1])
	case proto == packet.ProtoGRE:
		// gre_pkt_to_tuple: only PPTP's enhanced GRE (version 1) has a
		// key, the call id, as destination key; the source key comes from
		// the PPTP helper's keymap, which nftgo does not have (0).
		if len(l4) >= 8 && l4[1]&7 == 1 {
			t.DstPort = binary.BigEndian.Uint16(l4[6:])
		}
	}
	return true
}

// innerTuple parses the packet an ICMP error quotes (starting at its IP
// header) into a tuple, as nf_ct_get_tuplepr does for the embedded header.
func innerTuple(t *Tuple, b []byte, l3 uint8) bool {
	switch l3 {
	case packet.NFProtoIPv4:
		if len(b) < 20 || b[0]>>4 != 4 {
			return false
		}
		ihl := int(b[0]&0xf) * 4
		if ihl < 20 || len(b) < ihl {
			return false
		}
		// ipv4_get_l4proto: a non-first fragment has no L4 header.
		if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return false
		}
		return tupleFrom(t, b, l3, b[9], b[ihl:])
	case packet.NFProtoIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return false
		}
		next, off := b[6], 40
		for {
			switch next {
			case 0, 43, 60, 51: // hop-by-hop, routing, destination options, AH
				if len(b) < off+2 {
					return false
				}
				hl := (int(b[off+1]) + 1) * 8
				if next == 51 {
					hl = (int(b[off+1]) + 2) * 4
				}
				next = b[off]
				off += hl
				continue
			case 44:
				if len(b) < off+8 {
					return false
				}
				if binary.BigEndian.Uint16(b[off+2:])&^7 != 0 {
					return false
				}
				next = b[off]
				off += 8
				continue
			}
			break
		}
		if off > len(b) {
			return false
		}
		return tupleFrom(t, b, l3, next, b[off:])
	}
	return false
}
