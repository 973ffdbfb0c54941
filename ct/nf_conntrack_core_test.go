package ct

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
)

// The seed experiment, also scenario ct-table-full: nf_conntrack_max=7 and
// 10 SYNs to an unanswered server leave 7 SYN_SENT entries, 3 packets are
// dropped inside conntrack and the kernel logs three table-full lines.
func TestTableFull(t *testing.T) {
	var logs []string
	cfg := DefaultConfig()
	if err := cfg.SetSysctl("net.netfilter.nf_conntrack_max", "7"); err != nil {
		t.Fatal(err)
	}
	cfg.Log = func(_ int64, m string) { logs = append(logs, m) }
	tab := NewTable(cfg)
	drops := 0
	for i := 0; i < 10; i++ {
		p := pkt(t, tcp("198.51.100.2", "203.0.113.10", uint16(1000+i), 80, "S", 1, 0, 0))
		if _, _, drop := pass(t, tab, p, sec(float64(i)*0.001)); drop {
			drops++
			if i < 7 {
				t.Errorf("SYN %d dropped with room in the table", i)
			}
		}
	}
	if drops != 3 || tab.Count() != 7 {
		t.Errorf("drops=%d count=%d, want 3 and 7", drops, tab.Count())
	}
	if len(logs) != 3 || logs[0] != "nf_conntrack: table full, dropping packet" {
		t.Errorf("log = %q", logs)
	}
	if n := len(lines(list(t, tab, sec(0.01)))); n != 7 {
		t.Errorf("conntrack -L shows %d entries, want 7", n)
	}
}

// net_ratelimit lets 10 messages through per 5 s window.
func TestTableFullRateLimit(t *testing.T) {
	var logs []string
	cfg := DefaultConfig()
	cfg.Max = 1
	cfg.Log = func(_ int64, m string) { logs = append(logs, m) }
	tab := NewTable(cfg)
	for i := 0; i < 30; i++ {
		p := pkt(t, tcp("198.51.100.2", "203.0.113.10", uint16(1000+i), 80, "S", 1, 0, 0))
		pass(t, tab, p, sec(float64(i)*0.1))
	}
	// 29 drops between 0.1 s and 2.9 s: one window, 10 printed.
	if len(logs) != 10 {
		t.Fatalf("%d log lines, want 10", len(logs))
	}
	p := pkt(t, tcp("198.51.100.2", "203.0.113.10", 5000, 80, "S", 1, 0, 0))
	pass(t, tab, p, sec(6))
	if len(logs) != 12 || logs[10] != "net_ratelimit: 19 callbacks suppressed" {
		t.Errorf("after the window: %q", logs[10:])
	}
}

// Early drop evicts non-ASSURED entries from the new tuple's bucket range,
// never ASSURED ones. One bucket puts every entry in range.
func TestEarlyDrop(t *testing.T) {
	for _, tc := range []struct {
		name     string
		assured  int // handshakes completed first
		half     int // SYN-only entries
		wantDrop bool
		wantLeft int
	}{
		{"evicts the unassured", 1, 1, false, 2},
		{"all assured: table full", 2, 0, true, 2},
		{"evicts every unassured entry of the bucket", 0, 2, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Max, cfg.Buckets = 2, 1
			tab := NewTable(cfg)
			now := sec(0)
			for i := 0; i < tc.assured; i++ {
				handshake(t, tab, "198.51.100.2", "203.0.113.10", uint16(2000+i), 80, now)
			}
			for i := 0; i < tc.half; i++ {
				if _, _, drop := pass(t, tab, pkt(t, tcp("198.51.100.3", "203.0.113.10", uint16(3000+i), 80, "S", 1, 0, 0)), now); drop {
					t.Fatal("setup SYN dropped")
				}
			}
			_, _, drop := pass(t, tab, pkt(t, tcp("198.51.100.4", "203.0.113.10", 4000, 80, "S", 1, 0, 0)), now)
			if drop != tc.wantDrop {
				t.Errorf("drop = %v, want %v", drop, tc.wantDrop)
			}
			out := list(t, tab, now)
			if got := len(lines(out)); got != tc.wantLeft {
				t.Errorf("%d entries left, want %d:\n%s", got, tc.wantLeft, out)
			}
			if got := strings.Count(out, "[ASSURED]"); got != tc.assured {
				t.Errorf("%d ASSURED entries, want %d", got, tc.assured)
			}
			if tc.wantDrop == false && !strings.Contains(out, "sport=4000") {
				t.Errorf("new entry missing:\n%s", out)
			}
		})
	}
}

// handshake runs SYN, SYN/ACK, ACK through tab.
func handshake(t *testing.T, tab *Table, cli, srv string, sport, dport uint16, now int64) {
	t.Helper()
	for _, s := range []testpkt.Spec{
		tcp(cli, srv, sport, dport, "S", 100, 0, 0),
		tcp(srv, cli, dport, sport, "SA", 5000, 101, 0),
		tcp(cli, srv, sport, dport, "A", 101, 5001, 0),
	} {
		if c, _, drop := pass(t, tab, pkt(t, s), now); drop || c == nil {
			t.Fatalf("handshake packet %s: drop=%v ct=%v", s.Flags, drop, c)
		}
	}
}

// A packet dropped between In and Confirm leaves nothing behind, and its
// slot is reused.
func TestReleaseLeavesNothing(t *testing.T) {
	tab := newTable(t)
	for i := 0; i < 3; i++ {
		p := pkt(t, tcp("198.51.100.2", "203.0.113.10", 1000, 80, "S", 1, 0, 0))
		c, info, drop := tab.In(p, HookPrerouting, sec(0))
		if c == nil || info != New || drop {
			t.Fatalf("In = %v %v %v", c, info, drop)
		}
		if tab.Count() != 1 {
			t.Fatalf("count = %d while unconfirmed, want 1", tab.Count())
		}
		tab.Release(c)
		if tab.Count() != 0 {
			t.Fatalf("count = %d after Release", tab.Count())
		}
		if out := list(t, tab, sec(0)); out != "" {
			t.Fatalf("table not empty:\n%s", out)
		}
		tup, _ := TupleOf(p)
		if tab.Find(tup, 0, sec(0)) != nil {
			t.Fatal("released entry found")
		}
	}
	if tab.nalloc != 1 {
		t.Errorf("%d slots used, want the one recycled", tab.nalloc)
	}
}

// Expired entries vanish from lookups and listings, and Expire reaps them.
func TestExpiry(t *testing.T) {
	tab := newTable(t)
	p := pkt(t, testpkt.Spec{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: "udp", Sport: 5353, Dport: 53})
	pass(t, tab, p, sec(0))
	tup, _ := TupleOf(p)
	for _, tc := range []struct {
		at    float64
		alive bool
	}{{29.99, true}, {30, false}} {
		if got := tab.Find(tup, 0, sec(tc.at)) != nil; got != tc.alive {
			t.Errorf("at %vs alive=%v, want %v", tc.at, got, tc.alive)
		}
	}
	tab.Expire(sec(31))
	if tab.Count() != 0 {
		t.Errorf("count %d after expiry", tab.Count())
	}
}

// The index must behave like a map under inserts and deletes (backward
// shift deletion, growth), including when many tuples share a bucket.
func TestIndexAgainstMap(t *testing.T) {
	for _, buckets := range []int{1, 512, 262144} {
		cfg := DefaultConfig()
		cfg.Max, cfg.Buckets = 0, buckets
		tab := NewTable(cfg)
		live := map[uint16]*Conn{}
		r := rand.New(rand.NewPCG(1, uint64(buckets)))
		now := sec(0)
		for i := 0; i < 4000; i++ {
			port := uint16(r.IntN(1500) + 1)
			p := pkt(t, testpkt.Spec{Src: "10.0.0.1", Dst: "10.0.0.2", Proto: "udp", Sport: port, Dport: 53})
			if c, ok := live[port]; ok && r.IntN(2) == 0 {
				idx, _ := tab.idxOf(c)
				tab.unlink(idx)
				tab.freeSlot(idx)
				delete(live, port)
				continue
			}
			c, info, _ := pass(t, tab, p, now)
			if _, ok := live[port]; ok != (info == Established || info == New && ok) {
				t.Fatalf("port %d: info %v, live %v", port, info, ok)
			}
			live[port] = c
		}
		for port, c := range live {
			tup := c.Orig()
			if tab.Find(tup, 0, now) != c {
				t.Fatalf("buckets %d: port %d lost", buckets, port)
			}
			rep := c.Reply()
			if tab.Find(rep, 0, now) != c {
				t.Fatalf("buckets %d: reply of port %d lost", buckets, port)
			}
		}
		if tab.Count() != len(live) || tab.used != 2*len(live) {
			t.Fatalf("buckets %d: count %d used %d, want %d", buckets, tab.Count(), tab.used, len(live))
		}
	}
}

func TestSetSysctl(t *testing.T) {
	for _, tc := range []struct {
		key, val, err string
	}{
		{"net.netfilter.nf_conntrack_max", "7", ""},
		{"net.nf_conntrack_max", "0", ""},
		{"net.netfilter.nf_conntrack_tcp_loose", "0", ""},
		{"net.netfilter.nf_conntrack_buckets", "1000", ""},
		{"net.netfilter.nf_conntrack_bogus", "1", "unknown sysctl"},
		{"nf_conntrack_max", "1", "unknown sysctl"},
		{"net.netfilter.nf_conntrack_count", "1", "read-only"},
		{"net.netfilter.nf_conntrack_udp_timeout", "x", "not an integer"},
		{"net.netfilter.nf_conntrack_max", "-1", "out of range"},
	} {
		cfg := DefaultConfig()
		err := cfg.SetSysctl(tc.key, tc.val)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("SetSysctl(%s, %s) = %v, want %q", tc.key, tc.val, err, tc.err)
		}
	}
	cfg := DefaultConfig()
	if cfg.Max != 262144 || cfg.Buckets != 262144 {
		t.Errorf("defaults max=%d buckets=%d", cfg.Max, cfg.Buckets)
	}
	cfg.SetSysctl("net.netfilter.nf_conntrack_buckets", "1000")
	if cfg.Buckets != 1024 {
		t.Errorf("buckets 1000 -> %d, want 1024 (rounded up to 512)", cfg.Buckets)
	}
}

func TestChunkOf(t *testing.T) {
	for _, tc := range []struct{ idx, k, off uint32 }{
		{0, 0, 0}, {4095, 0, 4095}, {4096, 1, 0}, {8191, 1, 4095}, {8192, 2, 0},
	} {
		k, off := chunkOf(tc.idx)
		if uint32(k) != tc.k || off != tc.off {
			t.Errorf("chunkOf(%d) = %d,%d want %d,%d", tc.idx, k, off, tc.k, tc.off)
		}
	}
	tab := newTable(t)
	for i := 0; i < 5000; i++ {
		idx := tab.newSlot()
		if got, ok := tab.idxOf(tab.conn(idx)); !ok || got != idx {
			t.Fatalf("idxOf(conn(%d)) = %d %v", idx, got, ok)
		}
	}
	_ = fmt.Sprint()
}

// Zones separate otherwise identical flows; the listing shows zone=Z.
func TestZones(t *testing.T) {
	tab := newTable(t)
	p := pkt(t, udp("10.0.0.1", "10.0.0.2", 1, 2))
	c1, i1, _ := tab.InZone(p, HookPrerouting, 0, sec(0))
	tab.Confirm(c1, i1, sec(0))
	c2, i2, _ := tab.InZone(p, HookPrerouting, 5, sec(0))
	tab.Confirm(c2, i2, sec(0))
	if c1 == c2 || i2 != New || tab.Count() != 2 {
		t.Fatalf("zone 5 shares zone 0's entry: %v %d", c1 == c2, tab.Count())
	}
	tup, _ := TupleOf(p)
	if tab.Find(tup, 5, sec(0)) != c2 || tab.Find(tup, 0, sec(0)) != c1 {
		t.Error("Find ignores zones")
	}
	out := list(t, tab, sec(0))
	if strings.Count(out, "zone=5 use=1") != 1 || strings.Count(out, "zone=") != 1 {
		t.Errorf("listing:\n%s", out)
	}
}
