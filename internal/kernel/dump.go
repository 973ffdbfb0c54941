package kernel

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"strings"
	"syscall"
)

// markerPacket builds the IPv4/UDP marker for seq with valid checksums.
func markerPacket(seq int) []byte {
	b := make([]byte, 28)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], 28)
	binary.BigEndian.PutUint16(b[4:], uint16(seq))
	b[8], b[9] = 64, 17
	src, dst := netip.MustParseAddr(markSrc).As4(), netip.MustParseAddr(markDst).As4()
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	binary.BigEndian.PutUint16(b[10:], ^csum(b[:20], 0))
	binary.BigEndian.PutUint16(b[20:], uint16(40000+seq>>16))
	binary.BigEndian.PutUint16(b[22:], 9)
	binary.BigEndian.PutUint16(b[24:], 8)
	// pseudo header sum
	var ph uint32
	ph = csumAdd(ph, b[12:20])
	ph += 17 + 8
	c := ^csum(b[20:28], ph)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[26:], c)
	return b
}

func csumAdd(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func csum(b []byte, init uint32) uint16 {
	s := csumAdd(init, b)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// addrs returns a raw IP packet's source and destination.
func addrs(b []byte) (src, dst netip.Addr, ok bool) {
	if len(b) >= 20 && b[0]>>4 == 4 {
		return netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), true
	}
	if len(b) >= 40 && b[0]>>4 == 6 {
		return netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40])), true
	}
	return netip.Addr{}, netip.Addr{}, false
}

// stripHelper removes the helper table from `nft -j list ruleset` output.
func stripHelper(js []byte) ([]byte, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	out := doc.Nftables[:0]
	for _, o := range doc.Nftables {
		drop := false
		for k, v := range o {
			var h struct {
				Table string `json:"table"`
				Name  string `json:"name"`
			}
			if json.Unmarshal(v, &h) == nil && (h.Table == helperTable || (k == "table" && h.Name == helperTable)) {
				drop = true
			}
		}
		if !drop {
			out = append(out, o)
		}
	}
	doc.Nftables = out
	return json.Marshal(doc)
}

// kmsg reads kernel log records written after it was opened.
type kmsg struct{ f *os.File }

func openKmsg() *kmsg {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &kmsg{}
	}
	syscall.Seek(fd, 0, 2) // SEEK_END: only records from now on
	return &kmsg{f: os.NewFile(uintptr(fd), "/dev/kmsg")}
}

func (k *kmsg) lines() []string {
	if k.f == nil {
		return nil
	}
	defer k.f.Close()
	var out []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(int(k.f.Fd()), buf)
		if err != nil {
			if errors.Is(err, syscall.EPIPE) { // records overwritten: keep reading
				continue
			}
			return out
		}
		if n <= 0 {
			return out
		}
		rec := string(buf[:n])
		if i := strings.IndexByte(rec, ';'); i >= 0 {
			rec = rec[i+1:]
		}
		sc := bufio.NewScanner(strings.NewReader(rec))
		if sc.Scan() {
			out = append(out, sc.Text())
		}
	}
}
