package vm

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// Fragment reassembly for conntrack: while conntrack is in use, defrag runs
// at priority -400 in prerouting and output. A fragment is queued (the hook
// steals it: later hooks never see it) until its datagram is complete; the
// fragment that completes it goes on as the whole datagram.
//
// Ref: net/ipv4/netfilter/nf_defrag_ipv4.c — ipv4_conntrack_defrag;
// net/ipv4/ip_fragment.c — ip_defrag, ip_frag_queue, ip_frag_reasm;
// net/ipv6/netfilter/nf_conntrack_reasm.c — nf_ct_frag6_gather;
// net/ipv4/inet_fragment.c — inet_frag_queue_insert.

// Reassembly timeouts: net.ipv4.ipfrag_time 30 s; nf_conntrack_frag6_timeout 60 s.
const (
	fragTimeout4 = 30e9
	fragTimeout6 = 60e9
	// fragHighThresh is ipfrag_high_thresh (and nf_conntrack_frag6_high_thresh):
	// past it new fragments are dropped. The kernel counts skb truesize;
	// nftgo counts payload bytes.
	fragHighThresh = 4 << 20
)

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
	out      bool // IP_DEFRAG_CONNTRACK_OUT vs _IN: separate queues
	zone     uint16
}

type fragPiece struct {
	off  int
	data []byte
}

type fragQueue struct {
	pieces  []fragPiece
	total   int // datagram payload length, -1 until the last fragment is seen
	head    []byte
	netOff  int
	macOff  int
	macLen  int
	nextOff int // v6: offset in head of the next-header byte to patch
	expires int64
}

// defragSkips is defrag's answer for the common packet without a call:
// one with conntrack attached, or an IPv4 packet that is no fragment.
func (m *machine) defragSkips() bool {
	if m.conn != nil || m.untracked {
		return true
	}
	p := m.pkt
	if p.NFProto != packet.NFProtoIPv4 {
		return false
	}
	nh := p.Network()
	return len(nh) >= 8 && nh[6]&0x3f == 0 && nh[7] == 0
}

// defrag returns false when the packet was taken (queued, or dropped with
// its queue); when it completes a datagram p now holds the whole datagram.
func (m *machine) defrag(out bool) bool {
	p := m.pkt
	if m.conn != nil || m.untracked {
		return true
	}
	if p.NFProto == packet.NFProtoIPv4 {
		nh := p.Network()
		fo := binary.BigEndian.Uint16(nh[6:])
		if fo&0x3fff == 0 { // not a fragment: no MF, offset 0
			return true
		}
		ihl := int(nh[0]&0x0f) * 4
		var k fragKey
		copy(k.src[:], nh[12:16])
		copy(k.dst[:], nh[16:20])
		k.id, k.proto, k.out, k.zone = uint32(binary.BigEndian.Uint16(nh[4:])), nh[9], out, m.zone
		return m.fragAdd(k, int(fo&0x1fff)*8, fo&0x2000 != 0, nh[ihl:], ihl, -1)
	}
	// IPv6: walk to the fragment header.
	nh := p.Network()
	next, off, prevNext := nh[6], 40, 6
	for {
		switch next {
		case 0, 43, 60:
			if len(nh) < off+2 {
				return true
			}
			prevNext = off
			next = nh[off]
			off += (int(nh[off+1]) + 1) * 8
			continue
		case 44:
			if len(nh) < off+8 {
				return true
			}
			fo := binary.BigEndian.Uint16(nh[off+2:])
			var k fragKey
			copy(k.src[:], nh[8:24])
			copy(k.dst[:], nh[24:40])
			k.id, k.v6, k.out, k.zone = binary.BigEndian.Uint32(nh[off+4:]), true, out, m.zone
			if fo&^7 == 0 && fo&1 == 0 {
				// Atomic fragment (offset 0, no M): nothing to wait for.
				return true
			}
			return m.fragAdd(k, int(fo&^7), fo&1 != 0, nh[off+8:], off, prevNext)
		}
		return true
	}
}

// fragAdd queues one fragment; hdrLen is the part of the network header
// kept in the reassembled datagram (for IPv6 without the fragment header,
// whose next header is written at nextAt).
func (m *machine) fragAdd(k fragKey, off int, more bool, payload []byte, hdrLen, nextAt int) bool {
	p := m.pkt
	if m.frags == nil {
		m.frags = map[fragKey]*fragQueue{}
	}
	if m.fragMem+len(payload) > fragHighThresh {
		return false
	}
	q := m.frags[k]
	if q != nil && m.now >= q.expires {
		m.fragDrop(k, q)
		q = nil
	}
	if q == nil {
		to := int64(fragTimeout4)
		if k.v6 {
			to = fragTimeout6
		}
		q = m.newFragQueue()
		q.total, q.expires = -1, m.now+to
		m.frags[k] = q
	}
	end := off + len(payload)
	if !more {
		if q.total >= 0 && q.total != end {
			m.fragDrop(k, q)
			return false
		}
		q.total = end
	} else if len(payload)%8 != 0 && !k.v6 {
		// Non-final fragments are multiples of 8 (the kernel trims).
		payload = payload[:len(payload)&^7]
		end = off + len(payload)
	}
	for _, pc := range q.pieces {
		if off == pc.off && end == pc.off+len(pc.data) {
			return false // exact duplicate: dropped, the queue lives on
		}
		if off < pc.off+len(pc.data) && pc.off < end {
			// Overlap: the whole datagram is discarded.
			m.fragDrop(k, q)
			return false
		}
	}
	q.pieces = append(q.pieces, fragPiece{off, append(m.fragBuf(len(payload)), payload...)})
	m.fragMem += len(payload)
	if off == 0 {
		q.head = append(q.head[:0], p.Data[:p.NetOff+hdrLen]...)
		q.netOff, q.macOff, q.macLen, q.nextOff = p.NetOff, p.MACOff, p.MACLen, nextAt
		if nextAt >= 0 {
			q.nextOff = p.NetOff + nextAt
			// The fragment header's next header replaces its own
			// number in the preceding header.
			q.head[q.nextOff] = p.Data[p.NetOff+hdrLen]
		}
	}
	if q.total < 0 || q.head == nil {
		return false
	}
	// Insertion sort: a handful of pieces, and sort.Slice allocates.
	for i := 1; i < len(q.pieces); i++ {
		for j := i; j > 0 && q.pieces[j].off < q.pieces[j-1].off; j-- {
			q.pieces[j], q.pieces[j-1] = q.pieces[j-1], q.pieces[j]
		}
	}
	at := 0
	for _, pc := range q.pieces {
		if pc.off != at {
			return false // a hole
		}
		at += len(pc.data)
	}
	if at != q.total {
		return false
	}
	ok := m.fragReasm(q, k.v6)
	m.fragDrop(k, q)
	return ok
}

// Fragment memory is recycled: a queue's pieces return to a free list
// when it completes or dies, and one buffer holds the last reassembled
// datagram (valid until the next reassembly), so steady fragmented traffic
// does not allocate.
func (m *machine) newFragQueue() *fragQueue {
	if n := len(m.qFree); n > 0 {
		q := m.qFree[n-1]
		m.qFree = m.qFree[:n-1]
		return q
	}
	return &fragQueue{}
}

func (m *machine) fragBuf(n int) []byte {
	for i := len(m.bufFree) - 1; i >= 0; i-- {
		if b := m.bufFree[i]; cap(b) >= n {
			m.bufFree[i] = m.bufFree[len(m.bufFree)-1]
			m.bufFree = m.bufFree[:len(m.bufFree)-1]
			m.freeBytes -= cap(b)
			return b[:0]
		}
	}
	return make([]byte, 0, max(n, 2048))
}

func (m *machine) fragDrop(k fragKey, q *fragQueue) {
	delete(m.frags, k)
	for _, pc := range q.pieces {
		m.fragMem -= len(pc.data)
		// Keep as much free buffer space as the queues may hold.
		if m.freeBytes+cap(pc.data) <= fragHighThresh {
			m.bufFree = append(m.bufFree, pc.data[:0])
			m.freeBytes += cap(pc.data)
		}
	}
	q.pieces = q.pieces[:0]
	q.head = q.head[:0]
	q.total = -1
	if len(m.qFree) < 64 {
		m.qFree = append(m.qFree, q)
	}
}

// fragReasm makes p the reassembled datagram: the first fragment's headers,
// lengths and (IPv4) checksum fixed, fragment fields cleared.
func (m *machine) fragReasm(q *fragQueue, v6 bool) bool {
	buf := append(m.reasm[:0], q.head...)
	for _, pc := range q.pieces {
		buf = append(buf, pc.data...)
	}
	nh := buf[q.netOff:]
	if !v6 {
		if len(buf)-q.netOff > 0xffff {
			return false
		}
		binary.BigEndian.PutUint16(nh[2:], uint16(len(nh)))
		binary.BigEndian.PutUint16(nh[6:], binary.BigEndian.Uint16(nh[6:])&0x4000) // keep DF
		nh[10], nh[11] = 0, 0
		ihl := int(nh[0]&0x0f) * 4
		binary.BigEndian.PutUint16(nh[10:], csumFold(csumPartial(nh[:ihl], 0)))
	} else {
		if len(nh)-40 > 0xffff {
			return false
		}
		binary.BigEndian.PutUint16(nh[4:], uint16(len(nh)-40))
	}
	m.reasm = buf
	var tmp packet.Packet
	if err := tmp.Decode(packet.LinkRaw, nh); err != nil {
		return false
	}
	p := m.pkt
	*p = packet.Packet{Data: buf, MACOff: q.macOff, MACLen: q.macLen, NetOff: q.netOff, Protocol: p.Protocol, NFProto: tmp.NFProto,
		HasL4: tmp.HasL4, L4Proto: tmp.L4Proto, ThOff: tmp.ThOff + q.netOff, FragOff: tmp.FragOff, VLAN: p.VLAN, HasVLAN: p.HasVLAN}
	return true
}

// fragExpire drops queues whose timer ran out.
func (m *machine) fragExpire(now int64) {
	for k, q := range m.frags {
		if now >= q.expires {
			m.fragDrop(k, q)
		}
	}
}
