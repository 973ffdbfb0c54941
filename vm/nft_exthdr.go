package vm

import (
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// Exthdr instruction variants (insn.aux2).
const (
	exthdrLoad = iota
	exthdrWrite
	exthdrReset
)

// loadExthdr is nft_exthdr_select_ops with the init checks of each variant:
// loads for every op, writes and resets for TCP options only; IPv4
// options only for the types ipv4_find_option knows.
//
// Ref: net/netfilter/nft_exthdr.c — nft_exthdr_select_ops, nft_exthdr_init,
// nft_exthdr_ipv4_init, nft_exthdr_tcp_set_init, nft_exthdr_tcp_strip_init.
func (l *loader) loadExthdr(x *ruleset.Exthdr) (in insn, st int32, err error) {
	st = -1
	if x.Offset > 255 || x.Len > 255 || x.Flags&^ruleset.ExthdrFPresent != 0 {
		return in, st, errRange
	}
	in.op, in.key, in.off, in.len = opExthdr, uint32(x.Op), x.Offset, uint8(x.Len)
	in.imm = uint32(x.Type)
	in.aux = uint8(x.Flags)
	switch x.Op {
	case ruleset.ExthdrOpIPv6, ruleset.ExthdrOpTCPOpt, ruleset.ExthdrOpSCTP:
	case ruleset.ExthdrOpIPv4:
		switch x.Type {
		case ipoptSSRR, ipoptLSRR, ipoptRR, ipoptRA:
		default:
			return in, st, errNotSupp
		}
	default:
		// DCCP options: nft 1.0.6 cannot express them.
		return in, st, errNotSupp
	}
	switch {
	case x.Write:
		if x.Op != ruleset.ExthdrOpTCPOpt || x.Flags != 0 {
			return in, st, errNotSupp
		}
		if x.Len != 2 && x.Len != 4 {
			return in, st, errInval
		}
		in.aux2 = exthdrWrite
		in.sreg, err = l.load(x.SReg, int(x.Len))
	case x.Reset:
		if x.Op != ruleset.ExthdrOpTCPOpt {
			return in, st, errNotSupp
		}
		in.aux2 = exthdrReset
	default:
		if x.Len == 0 {
			return in, st, errInval
		}
		in.aux2 = exthdrLoad
		in.dreg, err = l.store(x.DReg, int(x.Len))
	}
	return in, st, err
}

// exthdrEval dispatches on the header kind.
func (m *machine) exthdrEval(in *insn) {
	switch in.aux2 {
	case exthdrWrite:
		m.tcpoptSetEval(in)
		return
	case exthdrReset:
		m.tcpoptStripEval(in)
		return
	}
	off := -1 // offset of the requested bytes in Data, or -1 when absent
	p := m.pkt
	switch in.key {
	case ruleset.ExthdrOpIPv6:
		if o := ipv6FindHdr(p, uint8(in.imm)); o >= 0 {
			off = o
		}
	case ruleset.ExthdrOpIPv4:
		if o := ipv4FindOption(p, uint8(in.imm)); o >= 0 {
			off = o
		}
	case ruleset.ExthdrOpTCPOpt:
		off = tcpoptFind(p, uint8(in.imm), int(in.off)+int(in.len))
	case ruleset.ExthdrOpSCTP:
		off = sctpChunkFind(p, uint8(in.imm), in.aux&ruleset.ExthdrFPresent != 0, int(in.off)+int(in.len))
	}
	if in.aux&ruleset.ExthdrFPresent != 0 {
		// nft_reg_store8(dest, found): a word 1 or 0, never a BREAK.
		w := uint32(0)
		if off >= 0 {
			w = 1
		}
		m.store32(in.dreg, w)
		return
	}
	if off < 0 {
		m.verdict = ruleset.VerdictBreak
		return
	}
	start := off + int(in.off)
	end := start + int(in.len)
	if end > len(p.Data) {
		m.verdict = ruleset.VerdictBreak
		return
	}
	m.store(in.dreg, p.Data[start:end])
}

// IPv6 extension header numbers (include/net/ipv6.h).
const (
	nexthdrHop      = 0
	nexthdrRouting  = 43
	nexthdrFragment = 44
	nexthdrAuth     = 51
	nexthdrNone     = 59
	nexthdrDest     = 60
)

func ipv6ExtHdr(n uint8) bool {
	switch n {
	case nexthdrHop, nexthdrRouting, nexthdrFragment, nexthdrAuth, nexthdrNone, nexthdrDest:
		return true
	}
	return false
}

// ipv6FindHdr walks the extension header chain to the header of type
// target and returns its offset in Data, or -1. A target equal to a
// non-extension next header (the transport protocol) is found too; a
// non-first fragment ends the walk unless the fragment header is the
// target.
//
// Ref: net/ipv6/exthdrs_core.c — ipv6_find_hdr.
func ipv6FindHdr(p *packet.Packet, target uint8) int {
	if p.NFProto != packet.NFProtoIPv6 {
		return -1
	}
	b := p.Data[p.NetOff:]
	if len(b) < 40 {
		return -1
	}
	start := 40
	next := b[6]
	for {
		found := next == target
		if !ipv6ExtHdr(next) || next == nexthdrNone {
			if found {
				return p.NetOff + start
			}
			return -1
		}
		if start+2 > len(b) {
			return -1
		}
		var hlen int
		switch next {
		case nexthdrFragment:
			if start+4 > len(b) {
				return -1
			}
			if (uint16(b[start+2])<<8|uint16(b[start+3]))&^7 != 0 {
				if !found {
					return -1
				}
				return p.NetOff + start
			}
			hlen = 8
		case nexthdrAuth:
			hlen = (int(b[start+1]) + 2) << 2
		default:
			hlen = (int(b[start+1]) + 1) << 3
		}
		if found {
			return p.NetOff + start
		}
		next = b[start]
		start += hlen
	}
}

// IPv4 option types (include/uapi/linux/ip.h).
const (
	ipoptEnd  = 0
	ipoptNoop = 1
	ipoptRR   = 7
	ipoptTS   = 68
	ipoptLSRR = 131
	ipoptSSRR = 137
	ipoptRA   = 148
	ipoptCIPS = 134
)

// ipv4FindOption validates the options as __ip_options_compile does
// without an skb (any error hides every option) and returns the offset in
// Data of the requested source route, record route or router alert
// option, or -1.
//
// Ref: net/netfilter/nft_exthdr.c — ipv4_find_option; net/ipv4/ip_options.c —
// __ip_options_compile.
func ipv4FindOption(p *packet.Packet, target uint8) int {
	if p.Protocol != 0x0800 || p.NFProto != packet.NFProtoIPv4 {
		return -1
	}
	b := p.Data[p.NetOff:]
	if len(b) < 20 {
		return -1
	}
	hl := int(b[0]&0xf) * 4
	if hl <= 20 || hl > len(b) {
		return -1
	}
	opts := b[20:hl]
	var srr, rr, ra, ts int // offsets from the IP header, 0 = absent
	strict := false
	for i := 0; i < len(opts); {
		switch opts[i] {
		case ipoptEnd:
			i = len(opts)
			continue
		case ipoptNoop:
			i++
			continue
		}
		l := len(opts) - i
		if l < 2 {
			return -1
		}
		ol := int(opts[i+1])
		if ol < 2 || ol > l {
			return -1
		}
		o := opts[i:]
		switch o[0] {
		case ipoptSSRR, ipoptLSRR:
			if ol < 3 || o[2] < 4 || srr != 0 {
				return -1
			}
			// Without an skb the route must be untraversed.
			if o[2] != 4 || ol < 7 || (ol-3)&3 != 0 {
				return -1
			}
			strict = o[0] == ipoptSSRR
			srr = 20 + i
		case ipoptRR:
			if rr != 0 || ol < 3 || o[2] < 4 {
				return -1
			}
			if int(o[2]) <= ol && int(o[2])+3 > ol {
				return -1
			}
			rr = 20 + i
		case ipoptTS:
			if ts != 0 || ol < 4 || o[2] < 5 {
				return -1
			}
			if int(o[2]) <= ol {
				if int(o[2])+3 > ol {
					return -1
				}
				switch o[3] & 0xf {
				case 1, 3: // TSANDADDR, PRESPEC
					if int(o[2])+7 > ol {
						return -1
					}
				}
			} else if o[3]&0xf != 3 && o[3]>>4 == 15 {
				return -1
			}
			ts = 20 + i
		case ipoptRA:
			if ol < 4 {
				return -1
			}
			if o[2] == 0 && o[3] == 0 {
				ra = 20 + i
			}
		case ipoptCIPS:
			// cipso_v4_validate fails without a configured DOI.
			return -1
		}
		i += ol
	}
	off := 0
	switch target {
	case ipoptSSRR, ipoptLSRR:
		if srr != 0 && strict == (target == ipoptSSRR) {
			off = srr
		}
	case ipoptRR:
		off = rr
	case ipoptRA:
		off = ra
	}
	if off == 0 {
		return -1
	}
	return p.NetOff + off
}

// tcpHeader returns the TCP header with its options, or nil when the
// packet has none (not TCP, a later fragment, a bad data offset).
//
// Ref: net/netfilter/nft_exthdr.c — nft_tcp_header_pointer.
func tcpHeader(p *packet.Packet) []byte {
	if !p.HasL4 || p.L4Proto != packet.ProtoTCP || p.FragOff != 0 || p.ThOff+20 > len(p.Data) {
		return nil
	}
	n := int(p.Data[p.ThOff+12]>>4) * 4
	if n < 20 || p.ThOff+n > len(p.Data) {
		return nil
	}
	return p.Data[p.ThOff : p.ThOff+n]
}

// tcpoptLen is the kernel's optlen: EOL, NOP and zero-length options
// advance by one byte.
func tcpoptLen(opt []byte, i int) int {
	if opt[i] <= ipoptNoop || opt[i+1] == 0 {
		return 1
	}
	return int(opt[i+1])
}

// tcpoptFind returns the offset in Data of the first TCP option of type
// typ, or -1; an option too short for need (offset + length) or running
// past the header is not found.
//
// Ref: net/netfilter/nft_exthdr.c — nft_exthdr_tcp_eval.
func tcpoptFind(p *packet.Packet, typ uint8, need int) int {
	h := tcpHeader(p)
	if h == nil {
		return -1
	}
	for i := 20; i < len(h)-1; {
		ol := tcpoptLen(h, i)
		if h[i] == typ {
			if i+ol > len(h) || need > ol {
				return -1
			}
			return p.ThOff + i
		}
		i += ol
	}
	return -1
}

// sctpChunkFind returns the offset in Data of the first chunk of type typ,
// or -1. A zero chunk length ends the walk.
//
// Ref: net/netfilter/nft_exthdr.c — nft_exthdr_sctp_eval.
func sctpChunkFind(p *packet.Packet, typ uint8, present bool, need int) int {
	if !p.HasL4 || p.L4Proto != packet.ProtoSCTP || p.FragOff != 0 {
		return -1
	}
	off := p.ThOff + 12
	for off < len(p.Data) {
		if off+4 > len(p.Data) {
			return -1
		}
		cl := int(p.Data[off+2])<<8 | int(p.Data[off+3])
		if cl == 0 {
			return -1
		}
		if p.Data[off] == typ {
			if present {
				return off
			}
			if need > cl || off+cl > len(p.Data) {
				return -1
			}
			return off
		}
		off += (cl + 3) &^ 3
	}
	return -1
}

// tcpoptSetEval rewrites 2 or 4 bytes of the first option of the type and
// fixes the TCP checksum; an MSS is only ever lowered.
//
// Ref: net/netfilter/nft_exthdr.c — nft_exthdr_tcp_set_eval.
func (m *machine) tcpoptSetEval(in *insn) {
	p := m.pkt
	h := tcpHeader(p)
	if h == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	typ := uint8(in.imm)
	n := int(in.len)
	for i := 20; i < len(h)-1; {
		ol := tcpoptLen(h, i)
		if h[i] != typ {
			i += ol
			continue
		}
		if i+ol > len(h) || n+int(in.off) > ol {
			m.verdict = ruleset.VerdictBreak
			return
		}
		at := h[i+int(in.off):]
		nw := m.regs[in.sreg : int(in.sreg)+n]
		if n == 2 && typ == tcpoptMSS && uint16(at[0])<<8|uint16(at[1]) <= uint16(nw[0])<<8|uint16(nw[1]) {
			return
		}
		if string(at[:n]) == string(nw) {
			return
		}
		csumReplace(h[16:], csumPartial(at[:n], 0), csumPartial(nw, 0))
		copy(at, nw)
		return
	}
}

const tcpoptMSS = 2

// tcpoptStripEval overwrites the first option of the type with NOPs,
// fixing the checksum byte by byte; an option running past the header
// drops the packet.
//
// Ref: net/netfilter/nft_exthdr.c — nft_exthdr_tcp_strip_eval.
func (m *machine) tcpoptStripEval(in *insn) {
	h := tcpHeader(m.pkt)
	if h == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	typ := uint8(in.imm)
	for i := 20; i < len(h)-1; {
		ol := tcpoptLen(h, i)
		if h[i] != typ {
			i += ol
			continue
		}
		if i+ol > len(h) {
			m.verdict = ruleset.VerdictDrop
			return
		}
		for j := 0; j < ol; j++ {
			o, nop := uint32(h[i+j]), uint32(ipoptNoop)
			if (i+j)%2 == 0 {
				o, nop = o<<8, nop<<8
			}
			csumReplace(h[16:], o, nop)
			h[i+j] = ipoptNoop
		}
		return
	}
}
