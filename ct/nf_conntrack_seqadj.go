package ct

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// Sequence adjustment: when a NAT helper rewrites a command to a text of
// another length, every later segment of that direction has its sequence
// number, and every segment of the other direction its acknowledgement
// (and SACK blocks), shifted by the accumulated difference.

// statusSeqAdjust is IPS_SEQ_ADJUST.
const statusSeqAdjust = 0x40

// seqAdjWay is one direction's struct nf_ct_seqadj.
type seqAdjWay struct {
	correctionPos uint32
	offsetBefore  int32
	offsetAfter   int32
}

// seqadjSet records that the segment of direction dir starting at seq
// changed length by off.
//
// Ref: net/netfilter/nf_conntrack_seqadj.c — nf_ct_seqadj_set
func (t *Table) seqadjSet(c *Conn, e *connExt, dir uint8, seq uint32, off int32) {
	if off == 0 {
		return
	}
	c.Status |= statusSeqAdjust
	w := &e.seqadj[dir]
	if w.offsetBefore == w.offsetAfter || before(w.correctionPos, seq) {
		w.correctionPos = seq
		w.offsetBefore = w.offsetAfter
		w.offsetAfter += off
	}
}

// seqOffset is nf_ct_seq_offset: the shift of direction dir at seq, which
// the TCP tracker takes off the other direction's acknowledgements.
func (t *Table) seqOffset(c *Conn, dir uint8, seq uint32) uint32 {
	if c.Status&statusSeqAdjust == 0 {
		return 0
	}
	e := t.extFind(c)
	if e == nil {
		return 0
	}
	w := &e.seqadj[dir]
	if after(seq, w.correctionPos) {
		return uint32(w.offsetAfter)
	}
	return uint32(w.offsetBefore)
}

// seqAdjust rewrites the packet's sequence number, acknowledgement and
// SACK blocks at the confirm hook.
//
// Ref: net/netfilter/nf_conntrack_seqadj.c — nf_ct_seq_adjust, nf_ct_sack_adjust
func seqAdjust(e *connExt, p *packet.Packet, dir uint8) {
	if p.L4Proto != packet.ProtoTCP || p.ThOff+20 > len(p.Data) {
		return
	}
	th := p.Data[p.ThOff:]
	ck := th[16:18]
	this, other := &e.seqadj[dir], &e.seqadj[1-dir]
	seq := binary.BigEndian.Uint32(th[4:])
	off := this.offsetBefore
	if after(seq, this.correctionPos) {
		off = this.offsetAfter
	}
	setWord(th[4:8], ck, seq+uint32(off))
	if th[13]&thACK == 0 {
		return
	}
	ack := binary.BigEndian.Uint32(th[8:])
	setWord(th[8:12], ck, ack-otherOffset(other, ack))
	// SACK blocks acknowledge the other direction too.
	doff := int(th[12]>>4) * 4
	if doff > len(th) {
		return
	}
	for i := 20; i < doff; {
		switch th[i] {
		case 0:
			return
		case 1:
			i++
			continue
		}
		if i+1 >= doff || th[i+1] < 2 || i+int(th[i+1]) > doff {
			return
		}
		l := int(th[i+1])
		if th[i] == 5 && l >= 10 && (l-2)%8 == 0 {
			for b := i + 2; b < i+l; b += 4 {
				v := binary.BigEndian.Uint32(th[b:])
				setWord(th[b:b+4], ck, v-otherOffset(other, v))
			}
		}
		i += l
	}
}

// otherOffset is the shift to take off an acknowledgement of the other
// direction's data.
func otherOffset(w *seqAdjWay, v uint32) uint32 {
	if after(v-uint32(w.offsetBefore), w.correctionPos) {
		return uint32(w.offsetAfter)
	}
	return uint32(w.offsetBefore)
}

// setWord writes v into b and updates the checksum ck incrementally.
func setWord(b, ck []byte, v uint32) {
	var nw [4]byte
	binary.BigEndian.PutUint32(nw[:], v)
	csumReplace(ck, b, nw[:])
	copy(b, nw[:])
}

// mangleTCP replaces data bytes [off, off+n) of the packet (off counts from
// the TCP payload) by repl, fixing the IP length, the IPv4 header checksum
// and the TCP checksum, and records the length change for the direction.
//
// Ref: net/netfilter/nf_nat_helper.c — __nf_nat_mangle_tcp_packet
func (t *Table) mangleTCP(p *packet.Packet, c *Conn, e *connExt, dir uint8, off, n int, repl []byte) bool {
	if p.ThOff+20 > len(p.Data) {
		return false
	}
	dataoff := p.ThOff + int(p.Data[p.ThOff+12]>>4)*4
	start := dataoff + off
	if start+n > len(p.Data) {
		return false
	}
	seq := binary.BigEndian.Uint32(p.Data[p.ThOff+4:])
	d := make([]byte, 0, len(p.Data)-n+len(repl))
	d = append(d, p.Data[:start]...)
	d = append(d, repl...)
	d = append(d, p.Data[start+n:]...)
	nh := d[p.NetOff:]
	if p.NFProto == packet.NFProtoIPv4 {
		binary.BigEndian.PutUint16(nh[2:], uint16(len(nh)))
		ihl := int(nh[0]&0xf) * 4
		nh[10], nh[11] = 0, 0
		binary.BigEndian.PutUint16(nh[10:], ^csumFold(csumAdd(0, nh[:ihl])))
	} else {
		binary.BigEndian.PutUint16(nh[4:], uint16(len(nh)-40))
	}
	p.Data = d
	l4 := d[p.ThOff:]
	l4[16], l4[17] = 0, 0
	var sum uint64
	if p.NFProto == packet.NFProtoIPv4 {
		sum = csumAdd(sum, nh[12:20])
	} else {
		sum = csumAdd(sum, nh[8:40])
	}
	sum += uint64(packet.ProtoTCP) + uint64(len(l4))
	sum = csumAdd(sum, l4)
	binary.BigEndian.PutUint16(l4[16:], ^csumFold(sum))
	t.seqadjSet(c, e, dir, seq, int32(len(repl)-n))
	return true
}
