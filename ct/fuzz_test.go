package ct

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// FuzzIn feeds arbitrary raw IP packets through conntrack and NAT: nothing
// may panic, and the table must stay consistent (every listed entry is
// found by its tuples).
func FuzzIn(f *testing.F) {
	for _, s := range []testpkt.Spec{
		c2s("S", 1, 0, 0), s2c("SA", 1, 2, 0), c2s("A", 2, 2, 3),
		udp("10.0.0.1", "10.0.0.2", 1, 2), icmp("10.0.0.1", "10.0.0.2", 8, 0, 1),
		icmp6("2001:db8::1", "2001:db8::2", 128, 0, 1), icmp6("2001:db8::1", "2001:db8::2", 1, 4, 0),
		{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: "47", Payload: []byte{0x20, 1, 0x88, 0x0b, 0, 4, 0, 7}},
		// SCTP INIT (common header, then a chunk: type 1, length 20, init tag).
		{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: "132", Payload: []byte{0x13, 0x88, 0x96, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0,
			1, 0, 0, 20, 0x11, 0x11, 0x11, 0x11, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}},
	} {
		f.Add(testpkt.MustBuild(s), uint8(0))
	}
	e := icmp("198.51.100.53", "203.0.113.10", 3, 3, 0)
	in := udp("203.0.113.10", "198.51.100.53", 1, 2)
	e.Inner = &in
	f.Add(testpkt.MustBuild(e), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, op uint8) {
		cfg := DefaultConfig()
		cfg.Max, cfg.Buckets = 4, 1
		tab := NewTable(cfg)
		// A few variations of the packet, so that later ones meet entries.
		for i := 0; i < 4; i++ {
			d := append([]byte(nil), b...)
			if i&1 == 1 && len(d) >= 20 && d[0]>>4 == 4 {
				copy(d[12:16], b[16:20])
				copy(d[16:20], b[12:16])
			}
			var p packet.Packet
			if p.Decode(packet.LinkRaw, d) != nil {
				return
			}
			hook := uint8(HookPrerouting)
			if op&1 != 0 {
				hook = HookOutput
			}
			now := t0 + int64(i)*int64(op)*1e8
			tab.Expire(now)
			c, info, drop := tab.In(&p, hook, now)
			if drop || c == nil {
				continue
			}
			if op&2 != 0 && c.Status&StatusConfirmed == 0 {
				a := a16("192.0.2.1")
				tab.SetupNAT(c, op&4 != 0, a, a, 1000, 1010, NATMapIPs|NATProtoSpecified)
			}
			tab.Mangle(&p, c, info, HookPrerouting)
			tab.Mangle(&p, c, info, HookPostrouting)
			if op&8 != 0 {
				tab.Release(c)
			} else {
				tab.Confirm(c, info, now)
			}
		}
		for _, c := range tab.Entries(t0) {
			if tab.Find(c.Orig(), c.Zone, t0) != c || tab.Find(c.Reply(), c.Zone, t0) != c {
				t.Fatalf("entry not found by its tuples: %+v", c.Orig())
			}
		}
		if tab.Count() > 4 {
			t.Fatalf("count %d over max", tab.Count())
		}
	})
}
