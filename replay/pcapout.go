package replay

import (
	"bufio"
	"encoding/binary"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/nftgo/nftgo/packet"
)

// PcapWriter writes replayed packets (--write-accepted, --write-dropped) as
// a pcap file of the input's link type, each frame as the vm left it: NAT,
// TTL and payload writes are in the bytes, so Wireshark shows the packet as
// it left the host (or as it was when dropped). Frames of another link type
// (a pcapng capture mixing interfaces) cannot go into one pcap: they are
// counted in Skipped.
type PcapWriter struct {
	Link    packet.LinkType
	Skipped int
	bw      *bufio.Writer
	w       *pcapgo.Writer
	ci      gopacket.CaptureInfo
	hdr     []byte // link header of a reply
}

// NewPcapWriter writes a pcap file header for link type lt to w.
// Timestamps keep nanoseconds (the replay clock's resolution).
func NewPcapWriter(w io.Writer, lt packet.LinkType) (*PcapWriter, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	pw := pcapgo.NewWriterNanos(bw)
	if lt <= 0xff {
		if err := pw.WriteFileHeader(262144, layers.LinkType(lt)); err != nil {
			return nil, err
		}
	} else {
		// pcapgo's 8-bit layers.LinkType cannot name SLL2 (276): only
		// that header is written by hand, in the layout pcapgo writes.
		var h [24]byte
		binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond pcap
		binary.LittleEndian.PutUint16(h[4:], 2)
		binary.LittleEndian.PutUint16(h[6:], 4)
		binary.LittleEndian.PutUint32(h[16:], 262144)
		binary.LittleEndian.PutUint32(h[20:], uint32(lt))
		if _, err := bw.Write(h[:]); err != nil {
			return nil, err
		}
	}
	return &PcapWriter{Link: lt, bw: bw, w: pw, hdr: make([]byte, 0, 64)}, nil
}

// Write adds one frame of link type lt captured at ts (ns).
func (pw *PcapWriter) Write(ts int64, lt packet.LinkType, frame []byte) error {
	if lt != pw.Link {
		pw.Skipped++
		return nil
	}
	pw.ci.Timestamp = time.Unix(0, ts)
	pw.ci.CaptureLength = len(frame)
	pw.ci.Length = len(frame)
	return pw.w.WritePacket(pw.ci, frame)
}

// WriteReply adds the raw IP packet the host sent in answer to p (a
// reject's RST or ICMP error, ICMP time exceeded), framed with p's link
// header turned around: Ethernet addresses swapped, cooked captures marked
// outgoing. The reply has p's IP version, so the protocol fields stay.
func (pw *PcapWriter) WriteReply(ts int64, lt packet.LinkType, p *packet.Packet, reply []byte) error {
	if lt != pw.Link || p.NetOff > len(p.Data) {
		pw.Skipped++
		return nil
	}
	b := append(pw.hdr[:0], p.Data[:p.NetOff]...)
	switch lt {
	case packet.LinkEthernet:
		if len(b) >= 12 {
			var mac [6]byte
			copy(mac[:], b[0:6])
			copy(b[0:6], b[6:12])
			copy(b[6:12], mac[:])
		}
	case packet.LinkSLL:
		if len(b) >= 2 {
			b[0], b[1] = 0, 4 // PACKET_OUTGOING
		}
	case packet.LinkSLL2:
		if len(b) >= 11 {
			b[10] = 4 // PACKET_OUTGOING
		}
	}
	b = append(b, reply...)
	pw.hdr = b
	return pw.Write(ts, lt, b)
}

// Flush writes what is buffered.
func (pw *PcapWriter) Flush() error {
	if pw.bw == nil {
		return nil
	}
	return pw.bw.Flush()
}
