package ct

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// In on a packet of an existing flow must not allocate.
func TestNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b testpkt.Spec
	}{
		{"tcp", c2s("S", 100, 0, 0), s2c("SA", 5000, 101, 0)},
		{"udp", udp("10.0.0.1", "10.0.0.2", 1, 2), udp("10.0.0.2", "10.0.0.1", 2, 1)},
		{"icmp", icmp("10.0.0.1", "10.0.0.2", 8, 0, 1), icmp("10.0.0.2", "10.0.0.1", 0, 0, 1)},
		{"ipv6 udp", udp("2001:db8::1", "2001:db8::2", 1, 2), udp("2001:db8::2", "2001:db8::1", 2, 1)},
	} {
		tab := newTable(t, "net.netfilter.nf_conntrack_acct", "1")
		pa, pb := pkt(t, tc.a), pkt(t, tc.b)
		pass(t, tab, pa, sec(0))
		pass(t, tab, pb, sec(0))
		ack := pkt(t, c2s("A", 101, 5001, 0))
		if tc.name == "tcp" {
			pass(t, tab, ack, sec(0))
			pb = pkt(t, s2c("A", 5001, 101, 0))
			pa = ack
		}
		n := testing.AllocsPerRun(1000, func() {
			c, info, _ := tab.In(pa, HookPrerouting, sec(1))
			tab.Confirm(c, info, sec(1))
			c, info, _ = tab.In(pb, HookPrerouting, sec(1))
			tab.Confirm(c, info, sec(1))
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per packet pair", tc.name, n)
		}
	}
}

// synPackets makes n SYNs with distinct source address/port pairs.
func synPackets(tb testing.TB, n int) []packet.Packet {
	tmpl := pkt(tb, tcp("10.0.0.1", "192.0.2.1", 1, 80, "S", 1, 0, 0))
	ps := make([]packet.Packet, n)
	buf := make([]byte, n*len(tmpl.Data))
	for i := range ps {
		d := buf[i*len(tmpl.Data) : (i+1)*len(tmpl.Data)]
		copy(d, tmpl.Data)
		binary.BigEndian.PutUint32(d[12:], 0x0a000000|uint32(i>>16))
		binary.BigEndian.PutUint16(d[20:], uint16(i))
		if err := ps[i].Decode(packet.LinkRaw, d); err != nil {
			tb.Fatal(err)
		}
	}
	return ps
}

func fill(tb testing.TB, n int) (*Table, []packet.Packet) {
	cfg := DefaultConfig()
	cfg.Max = n
	cfg.SetSysctl("net.netfilter.nf_conntrack_checksum", "0")
	tab := NewTable(cfg)
	ps := synPackets(tb, n)
	for i := range ps {
		c, info, drop := tab.In(&ps[i], HookPrerouting, t0)
		if drop || tab.Confirm(c, info, t0) {
			tb.Fatalf("packet %d dropped", i)
		}
	}
	return tab, ps
}

// BenchmarkBytesPerEntry reports the heap bytes a 1M-entry table costs
// per entry, index included.
func BenchmarkBytesPerEntry(b *testing.B) {
	const n = 1 << 20
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		ps := synPackets(b, n)
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		cfg := DefaultConfig()
		cfg.Max = n
		cfg.SetSysctl("net.netfilter.nf_conntrack_checksum", "0")
		tab := NewTable(cfg)
		for i := range ps {
			c, info, _ := tab.In(&ps[i], HookPrerouting, t0)
			tab.Confirm(c, info, t0)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(tab)
		runtime.KeepAlive(ps)
	}
}

// BenchmarkLookup1M looks up random tuples in a table of 1M entries.
func BenchmarkLookup1M(b *testing.B) {
	const n = 1 << 20
	tab, ps := fill(b, n)
	// The tuples are laid out in a scrambled order and read sequentially:
	// consecutive lookups hit unrelated parts of the table, while reading
	// the keys themselves streams from memory.
	tups := make([]Tuple, n)
	for i := range tups {
		tups[i], _ = TupleOf(&ps[uint64(i)*0x9E3779B1%n])
	}
	b.ReportAllocs()
	b.ResetTimer()
	ct := startCPU(b)
	defer ct.stop()
	for i := range b.N {
		tup := &tups[i&(n-1)]
		if _, _, ok := tab.lookup(tup, 0, tup.hash(0, tab.seed)); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkInEstablished is In + Confirm for a packet of an existing flow.
func BenchmarkInEstablished(b *testing.B) {
	tab, ps := fill(b, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	ct := startCPU(b)
	defer ct.stop()
	for i := range b.N {
		p := &ps[(i*7919)&(1<<16-1)]
		c, info, _ := tab.In(p, HookPrerouting, t0)
		tab.Confirm(c, info, t0)
	}
}

// BenchmarkSYNFlood sends distinct SYNs against nf_conntrack_max=65536:
// once full, every SYN costs an early-drop scan and a table-full drop,
// and memory must stay flat.
func BenchmarkSYNFlood(b *testing.B) {
	const max = 1 << 16
	ps := synPackets(b, 1<<20)
	cfg := DefaultConfig()
	cfg.Max = max
	cfg.SetSysctl("net.netfilter.nf_conntrack_checksum", "0")
	tab := NewTable(cfg)
	drops := 0
	b.ReportAllocs()
	b.ResetTimer()
	ct := startCPU(b)
	defer ct.stop()
	for i := range b.N {
		now := t0 + int64(i)*1000
		if i&1023 == 0 {
			tab.Expire(now)
		}
		c, info, drop := tab.In(&ps[i&(1<<20-1)], HookPrerouting, now)
		if drop {
			drops++
			continue
		}
		tab.Confirm(c, info, now)
	}
	b.StopTimer()
	if b.N > max && tab.Count() != max {
		b.Fatalf("count %d", tab.Count())
	}
	b.ReportMetric(float64(drops)/float64(b.N), "drops/op")
}

// BenchmarkInHot is In + Confirm for the packets of one established TCP
// flow, both directions: the per-packet CPU cost without cache misses.
func BenchmarkInHot(b *testing.B) {
	tab := newTable(b, "net.netfilter.nf_conntrack_checksum", "0")
	steps := []testpkt.Spec{c2s("S", 100, 0, 0), s2c("SA", 5000, 101, 0), c2s("A", 101, 5001, 0)}
	for _, s := range steps {
		pass(b, tab, pkt(b, s), t0)
	}
	ps := []*packet.Packet{pkt(b, c2s("A", 101, 5001, 0)), pkt(b, s2c("A", 5001, 101, 0))}
	b.ReportAllocs()
	b.ResetTimer()
	ct := startCPU(b)
	defer ct.stop()
	for i := range b.N {
		c, info, _ := tab.In(ps[i&1], HookPrerouting, t0)
		tab.Confirm(c, info, t0)
	}
}

// BenchmarkLookupHot1M looks up 4096 flows of a 1M-entry table over and
// over: a replay's working set is its active flows, not the whole table.
func BenchmarkLookupHot1M(b *testing.B) {
	const n = 1 << 20
	tab, ps := fill(b, n)
	tups := make([]Tuple, 4096)
	for i := range tups {
		tups[i], _ = TupleOf(&ps[i*(n/4096)])
	}
	b.ReportAllocs()
	b.ResetTimer()
	ct := startCPU(b)
	defer ct.stop()
	for i := range b.N {
		tup := &tups[i&4095]
		if _, _, ok := tab.lookup(tup, 0, tup.hash(0, tab.seed)); !ok {
			b.Fatal("miss")
		}
	}
}

// TestSYNFloodMemoryFlat floods a table limited to 65536 entries with 2M
// distinct SYNs over 2 replay seconds: the heap must not grow in the second
// half (entries are recycled, early drop and table-full cost nothing).
func TestSYNFloodMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const max, n = 1 << 16, 1 << 20
	ps := synPackets(t, n)
	cfg := DefaultConfig()
	cfg.Max = max
	cfg.SetSysctl("net.netfilter.nf_conntrack_checksum", "0")
	tab := NewTable(cfg)
	var heap [2]uint64
	for round := 0; round < 2; round++ {
		for i := range ps {
			now := t0 + int64(round*n+i)*1000
			tab.Expire(now)
			// Vary the source port per round so round 2 is new flows too.
			d := ps[i].Data
			d[ps[i].ThOff+3] ^= byte(round)
			c, info, drop := tab.In(&ps[i], HookPrerouting, now)
			if !drop {
				tab.Confirm(c, info, now)
			}
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		heap[round] = m.HeapAlloc
	}
	if tab.Count() != max {
		t.Errorf("count %d, want %d", tab.Count(), max)
	}
	if heap[1] > heap[0]+1<<20 {
		t.Errorf("heap grew from %d to %d bytes during the second million SYNs", heap[0], heap[1])
	}
	t.Logf("heap after 1M SYNs %d, after 2M %d; early drops %d, table-full drops %d", heap[0], heap[1], tab.Stats.EarlyDrop, tab.Stats.Drop)
}
