package connlimit

import (
	"net/netip"
	"runtime"
	"syscall"
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// BenchmarkConncountAdd is nf_conncount at 100k keys against the real
// conntrack table: 100k lists (one per source address, as a dynamic set
// keeps them), each holding two live TCP connections; every op adds a
// packet of one of them (the steady state: a duplicate, found after a scan
// of at most two entries) and reads the count.
func BenchmarkConncountAdd(b *testing.B) {
	const keys = 100000
	tab := ct.NewTable(ct.DefaultConfig())
	lists := make([]List, keys)
	tuples := make([]ct.Tuple, 2*keys)
	var p packet.Packet
	for i := range tuples {
		k := i / 2
		src := netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)})
		spec := testpkt.Spec{Src: src.String(), Dst: "203.0.113.10", Proto: "tcp", Sport: uint16(40000 + i%2), Dport: 22, Flags: testpkt.SYN}
		if err := p.Decode(packet.LinkRaw, testpkt.MustBuild(spec)); err != nil {
			b.Fatal(err)
		}
		c, info, drop := tab.In(&p, ct.HookPrerouting, 1)
		if drop || c == nil {
			b.Fatal("no conntrack entry")
		}
		tab.Confirm(c, info, 1)
		tuples[i] = c.Orig()
		lists[k].Add(tab, tuples[i], 0, 1)
	}
	runtime.GC()
	b.ReportAllocs()
	start := cpuTime()
	b.ResetTimer()
	var sum uint32
	for i := 0; i < b.N; i++ {
		k := (i * 7919) % keys
		n, _ := lists[k].Add(tab, tuples[2*k+1], 0, 2)
		sum += n + lists[k].Count()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	if b.N > 0 && sum != uint32(4*b.N) {
		b.Fatalf("counts sum %d, want %d", sum, 4*b.N)
	}
}

// cpuTime is this process's user+system CPU time in ns: the shared
// machines are often loaded, and CPU time per op is steadier than wall
// time there.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
