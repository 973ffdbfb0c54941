package vm

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/nftgo/nftgo/packet"
)

// TestPlain4: whenever plain4 lets a pair of IPv4 addresses skip the
// checks, the checks would have answered plain unicast (classify) and
// neither address local; and it does let the common pair through.
func TestPlain4(t *testing.T) {
	h, err := newHost(routerHost())
	if err != nil {
		t.Fatal(err)
	}
	edge := []uint32{
		0, 0x00000001, 0x01020304, 0x7f000001, 0x7fffffff, 0xc6336407, // 198.51.100.7
		0xc63364fe, 0xc63364ff, 0xcb0071fe, 0xcb0071ff, 0xcb007105, // local, directed broadcast, 203.0.113.5
		0xdfffffff, 0xe0000001, 0xe00000fb, 0xefffffff, 0xf0000001, 0xffffffff,
	}
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		edge = append(edge, rnd.Uint32())
	}
	var p packet.Packet
	skipped := 0
	for _, s := range edge {
		for _, d := range edge[:40] {
			var src, dst [4]byte
			binary.BigEndian.PutUint32(src[:], s)
			binary.BigEndian.PutUint32(dst[:], d)
			if !h.plain4(src[:], dst[:]) {
				continue
			}
			skipped++
			if c := h.classify(&p, src[:], dst[:]); c != routeUnicast || h.local(src[:]) || h.local(dst[:]) {
				t.Fatalf("plain4(%08x, %08x): classify %d, local src %v dst %v", s, d, c, h.local(src[:]), h.local(dst[:]))
			}
		}
	}
	if !h.plain4([]byte{203, 0, 113, 5}, []byte{198, 51, 100, 7}) {
		t.Error("plain4 refuses a forwarded lan -> wan pair")
	}
	if skipped < 1000 {
		t.Errorf("plain4 passed only %d pairs", skipped)
	}
}
