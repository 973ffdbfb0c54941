package replay

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/nftgo/nftgo/packet"
)

// maxSnaplen bounds the record buffer pcapgo allocates from a file's
// snapshot length, so a corrupt header cannot make the reader allocate
// gigabytes; libpcap itself caps snaplen at 262144 (MAXIMUM_SNAPLEN).
const maxSnaplen = 1 << 20

// Capture reads the records of a pcap or pcapng file (either possibly
// gzip-compressed) with gopacket's pcapgo, one reused buffer for all
// records, and keeps the byte offset of each record so a corrupt one can
// be reported by position.
type Capture struct {
	// Format is "pcap" or "pcapng"; Gzip tells whether the file was
	// compressed (offsets then count decompressed bytes).
	Format string
	Gzip   bool

	cnt    *countingReader
	br     *bufio.Reader
	pcap   *pcapgo.Reader
	ng     *pcapgo.NgReader
	link   packet.LinkType // pcap: the header's link type, untruncated
	closer io.Closer

	order   binary.ByteOrder // pcapng: of the current section
	ngAlloc bool             // pcapng: an interface's snaplen is too large to reuse a buffer of

	index int   // records returned so far
	start int64 // offset of the record being read

	file *countingReader // the file's own bytes (compressed, for gzip), for Progress
	size int64           // the file's size; 0 when unknown
}

// Progress returns how many bytes of the file have been read and its size
// (0 when unknown, e.g. a pipe), in file bytes, compressed or not.
func (c *Capture) Progress() (read, size int64) {
	if c.file == nil {
		return 0, 0
	}
	return c.file.n, c.size
}

// countingReader counts the bytes handed to the bufio.Reader above it; the
// offset consumed by pcapgo is count minus what bufio still buffers.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open opens a capture file.
func Open(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fc := &countingReader{r: f}
	c, err := NewCapture(fc)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.closer = f
	c.file = fc
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		c.size = st.Size()
	}
	return c, nil
}

// Close closes the file Open opened.
func (c *Capture) Close() error {
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

// NewCapture reads the file header from r. A file whose link type nftgo
// cannot decode is an error here, before any record is replayed.
func NewCapture(r io.Reader) (c *Capture, err error) {
	defer func() {
		// pcapgo indexes option bytes without checking lengths on some
		// corrupt pcapng headers; nftgo never panics on input.
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("corrupt capture header: %v", p)
		}
	}()
	c = &Capture{}
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a capture file: %w", eofIsShort(err))
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		c.Gzip = true
		r = zr
	} else {
		r = br
	}
	c.cnt = &countingReader{r: r}
	// pcapgo wraps its input in bufio.NewReader, which returns this very
	// reader when it is already a large enough *bufio.Reader: the offsets
	// stay exact.
	c.br = bufio.NewReaderSize(c.cnt, 64<<10)
	hdr, err := c.br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a capture file: %w", eofIsShort(err))
	}
	if binary.BigEndian.Uint32(hdr) == 0x0a0d0d0a {
		c.Format = "pcapng"
		c.order = binary.LittleEndian
		if h, _ := c.br.Peek(12); len(h) == 12 && binary.BigEndian.Uint32(h[8:]) == 0x1a2b3c4d {
			c.order = binary.BigEndian
		}
		c.ng, err = pcapgo.NewNgReader(c.br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng: %w", eofIsShort(err))
		}
		for i := 0; i < c.ng.NInterfaces(); i++ {
			if ifc, err := c.ng.Interface(i); err == nil && ifc.SnapLength > maxSnaplen {
				c.ngAlloc = true
			}
		}
		if c.ng.NInterfaces() > 0 {
			if lt := ngLinkType(c.ng.LinkType()); !Supported(lt) {
				return nil, unsupported(lt)
			}
		}
		return c, nil
	}
	c.Format = "pcap"
	full, err := c.br.Peek(24)
	if err != nil {
		return nil, fmt.Errorf("pcap: file header truncated")
	}
	var lt uint32
	switch binary.LittleEndian.Uint32(full) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		lt = binary.LittleEndian.Uint32(full[20:])
	case 0xd4c3b2a1, 0x4d3cb2a1:
		lt = binary.BigEndian.Uint32(full[20:])
	default:
		return nil, fmt.Errorf("not a pcap or pcapng file (magic %08x)", binary.BigEndian.Uint32(full))
	}
	// The upper bits carry the FCS length (LT_LINKTYPE in pcap-common.h).
	c.link = packet.LinkType(lt & 0x03ffffff)
	if !Supported(c.link) {
		return nil, unsupported(c.link)
	}
	c.pcap, err = pcapgo.NewReader(c.br)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", eofIsShort(err))
	}
	if s := c.pcap.Snaplen(); s == 0 || s > maxSnaplen {
		c.pcap.SetSnaplen(maxSnaplen)
	}
	return c, nil
}

func eofIsShort(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// LinkType is the link type of the capture (of its first interface for
// pcapng).
func (c *Capture) LinkType() packet.LinkType {
	if c.ng != nil {
		return ngLinkType(c.ng.LinkType())
	}
	return c.link
}

// ngLinkType undoes the truncation of pcapgo's 8-bit layers.LinkType for
// the one link type above 255 nftgo decodes: 276 (Linux SLL2) reads as 20,
// a value tcpdump's registry leaves unassigned.
func ngLinkType(lt layers.LinkType) packet.LinkType {
	if lt == 276&0xff {
		return packet.LinkSLL2
	}
	return packet.LinkType(lt)
}

// Supported reports whether packet.Decode understands lt.
func Supported(lt packet.LinkType) bool {
	switch lt {
	case packet.LinkNull, packet.LinkEthernet, packet.LinkRaw, packet.LinkLoop, packet.LinkSLL,
		packet.LinkRawIPv4, packet.LinkRawIPv6, packet.LinkSLL2, packet.LinkRawDLT12, packet.LinkRawDLT14:
		return true
	}
	return false
}

func unsupported(lt packet.LinkType) error {
	return fmt.Errorf("unsupported link type %d (nftgo reads Ethernet, Linux SLL/SLL2, Null/loopback and raw IP captures)", lt)
}

// Stopped describes a record the reader could not read: everything before
// it was replayed.
type Stopped struct {
	Record int   // index of the record, counting from 0 like the verdicts
	Offset int64 // byte offset of its header in the (decompressed) file
	Err    error
}

func (s *Stopped) Error() string {
	return fmt.Sprintf("stopped at record %d (byte offset %d): %v", s.Record, s.Offset, s.Err)
}

func (s *Stopped) Unwrap() error { return s.Err }

// Next returns the next record: its bytes (valid until the next call), its
// timestamp in ns and its link type. It returns io.EOF at a clean end of
// file and a *Stopped for a truncated or corrupt record.
func (c *Capture) Next() (data []byte, ts int64, lt packet.LinkType, err error) {
	c.start = c.cnt.n - int64(c.br.Buffered())
	clean := false
	if c.ng != nil {
		if clean, err = c.ngPrecheck(); err != nil {
			return nil, 0, 0, &Stopped{Record: c.index, Offset: c.start, Err: err}
		}
	}
	data, ts, lt, err = c.next()
	if err != nil {
		end := c.cnt.n - int64(c.br.Buffered())
		if errors.Is(err, io.EOF) && (end == c.start || clean) {
			return nil, 0, 0, io.EOF
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, 0, &Stopped{Record: c.index, Offset: c.start, Err: err}
	}
	c.index++
	return data, ts, lt, nil
}

// ngPrecheck walks the pcapng blocks from the boundary the next read
// starts at, peeking into the buffer only, up to the first packet block.
// clean reports that the stream holds nothing but complete non-packet
// blocks (interface statistics, name resolution, …) up to its end: pcapgo
// then consumes them and reports io.EOF, which is a clean end, not a
// truncated record. err reports a packet block whose capture length exceeds
// its block or maxSnaplen, which pcapgo would allocate before noticing; an
// interface with a huge snapshot length switches to allocating reads, since
// pcapgo sizes its reused buffer by it. It costs nothing per packet when a
// packet block comes next.
func (c *Capture) ngPrecheck() (clean bool, err error) {
	off := 0
	for {
		b, perr := c.br.Peek(off + 28)
		if len(b) == off && perr != nil {
			return true, nil
		}
		if len(b) < off+12 {
			return false, nil
		}
		h := b[off:]
		typ := c.order.Uint32(h)
		if typ == 0x0a0d0d0a {
			switch {
			case binary.LittleEndian.Uint32(h[8:]) == 0x1a2b3c4d:
				c.order = binary.LittleEndian
			case binary.BigEndian.Uint32(h[8:]) == 0x1a2b3c4d:
				c.order = binary.BigEndian
			default:
				return false, nil
			}
		}
		n := int64(c.order.Uint32(h[4:]))
		var caplen int64 = -1
		switch typ {
		case 1: // interface description: snaplen at 12
			if len(h) >= 16 && c.order.Uint32(h[12:]) > maxSnaplen {
				c.ngAlloc = true
			}
		case 2, 6: // packet, enhanced packet block: captured length at 20
			if len(h) >= 24 {
				caplen = int64(c.order.Uint32(h[20:]))
			}
		case 3: // simple packet block: original length at 8, captured up to interface 0's snaplen
			orig := int64(c.order.Uint32(h[8:]))
			if ifc, err := c.ng.Interface(0); err == nil && ifc.SnapLength != 0 && orig > int64(ifc.SnapLength) {
				orig = int64(ifc.SnapLength)
			}
			if orig > maxSnaplen {
				return false, fmt.Errorf("corrupt simple packet block: length %d", orig)
			}
			return false, nil
		}
		if caplen >= 0 {
			if caplen > maxSnaplen || caplen > n {
				return false, fmt.Errorf("corrupt packet block: captured length %d, block length %d", caplen, n)
			}
			return false, nil
		}
		if typ == 2 || typ == 6 {
			return false, nil
		}
		if n < 12 || n%4 != 0 || off+int(n) > c.br.Size() {
			return false, nil
		}
		off += int(n)
	}
}

func (c *Capture) next() (data []byte, ts int64, lt packet.LinkType, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("corrupt record: %v", p)
		}
	}()
	if c.pcap != nil {
		d, ci, err := c.pcap.ZeroCopyReadPacketData()
		if err != nil {
			return nil, 0, 0, err
		}
		return d, ci.Timestamp.UnixNano(), c.link, nil
	}
	read := c.ng.ZeroCopyReadPacketData
	if c.ngAlloc {
		read = c.ng.ReadPacketData
	}
	d, ci, err := read()
	if err != nil {
		return nil, 0, 0, err
	}
	lt = c.LinkType()
	if len(ci.AncillaryData) > 0 {
		if l, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			lt = ngLinkType(l)
		}
	}
	return d, ci.Timestamp.UnixNano(), lt, nil
}
