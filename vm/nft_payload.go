package vm

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// payloadLLEval loads from the link-layer header. Packets without one (raw
// IP captures, locally generated packets) BREAK, as skb_mac_header_len is 0
// there; the read may run on into the network header.
//
// Ref: net/netfilter/nft_payload.c — nft_payload_eval (NFT_PAYLOAD_LL_HEADER).
func (m *machine) payloadLLEval(in *insn) {
	p := m.pkt
	if p.MACLen == 0 {
		m.verdict = ruleset.VerdictBreak
		return
	}
	start := p.MACOff + int(in.off)
	end := start + int(in.len)
	if end > len(p.Data) {
		m.verdict = ruleset.VerdictBreak
		return
	}
	m.store(in.dreg, p.Data[start:end])
}

// Checksum constants (uapi nf_tables.h — NFT_PAYLOAD_CSUM_INET,
// NFT_PAYLOAD_L4CSUM_PSEUDOHDR).
const (
	csumInet        = 1
	l4csumPseudoHdr = 1
)

// payloadSetEval mangles the packet from sreg and fixes the inet checksum at
// csum_offset (and, with the pseudo-header flag, the TCP/UDP checksum) by
// the difference of the one's complement sums of old and new bytes.
//
// Ref: net/netfilter/nft_payload.c — nft_payload_set_eval, nft_payload_l4csum_update, nft_csum_replace.
func (m *machine) payloadSetEval(in *insn) {
	p := m.pkt
	var base int
	switch ruleset.PayloadBase(in.aux) {
	case ruleset.BaseLink:
		if p.MACLen == 0 {
			m.verdict = ruleset.VerdictBreak
			return
		}
		base = p.MACOff
	case ruleset.BaseNetwork:
		base = p.NetOff
	case ruleset.BaseTransport:
		if !p.HasL4 || p.FragOff != 0 {
			m.verdict = ruleset.VerdictBreak
			return
		}
		base = p.ThOff
	default:
		m.verdict = ruleset.VerdictBreak
		return
	}
	off := base + int(in.off)
	n := int(in.len)
	if off+n > len(p.Data) {
		m.verdict = ruleset.VerdictBreak
		return
	}
	src := m.regs[in.sreg : int(in.sreg)+n]
	csumType := in.aux2
	csumOff := base + int(in.key)
	flags := in.mask
	if csumType == csumInet || flags&l4csumPseudoHdr != 0 {
		fsum := csumPartial(p.Data[off:off+n], 0)
		tsum := csumPartial(src, 0)
		if csumType == csumInet {
			if csumOff+2 > len(p.Data) {
				m.verdict = ruleset.VerdictBreak
				return
			}
			csumReplace(p.Data[csumOff:], fsum, tsum)
		}
		if flags&l4csumPseudoHdr != 0 {
			l4csumUpdate(p, fsum, tsum)
		}
	}
	copy(p.Data[off:], src)
}

// l4csumUpdate folds a change of pseudo-header bytes into the TCP or UDP
// checksum.
//
// Ref: net/netfilter/nft_payload.c — nft_payload_l4csum_offset, nft_payload_l4csum_update.
func l4csumUpdate(p *packet.Packet, fsum, tsum uint32) {
	if !p.HasL4 || p.FragOff != 0 {
		return
	}
	var off int
	switch p.L4Proto {
	case packet.ProtoTCP:
		off = p.ThOff + 16
	case packet.ProtoUDP, packet.ProtoUDPLite:
		off = p.ThOff + 6
		if off+2 <= len(p.Data) && p.L4Proto == packet.ProtoUDP && p.Data[off] == 0 && p.Data[off+1] == 0 {
			return // no checksum
		}
	default:
		return
	}
	if off+2 > len(p.Data) {
		return
	}
	csumReplace(p.Data[off:], fsum, tsum)
	if p.L4Proto == packet.ProtoUDP && p.Data[off] == 0 && p.Data[off+1] == 0 {
		p.Data[off], p.Data[off+1] = 0xff, 0xff // CSUM_MANGLED_0
	}
}

// csumPartial is the 32-bit one's complement sum of b taken from an even
// position, as csum_partial computes it.
func csumPartial(b []byte, sum uint32) uint32 {
	s := uint64(sum)
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	return uint32(s)
}

func csumFold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// csumReplace updates the checksum at b[0:2] for a change from the bytes
// summing to from to those summing to to (nft_csum_replace).
func csumReplace(b []byte, from, to uint32) {
	old := uint32(^binary.BigEndian.Uint16(b))
	s := uint64(old) + uint64(^from) + uint64(to)
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	binary.BigEndian.PutUint16(b, csumFold(uint32(s)))
}
