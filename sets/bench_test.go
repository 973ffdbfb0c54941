package sets

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// randKeys returns n random 4-byte keys, with a fixed seed, cut from one
// buffer so that reading a probe costs what reading a register does.
func randKeys(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	buf := make([]byte, 4*n)
	out := make([][]byte, n)
	for i := range out {
		out[i] = buf[4*i : 4*i+4 : 4*i+4]
		binary.BigEndian.PutUint32(out[i], r.Uint32())
	}
	return out
}

// flat copies probes into one buffer (see randKeys).
func flat(probes [][]byte) [][]byte {
	var buf []byte
	for _, p := range probes {
		buf = append(buf, p...)
	}
	out := make([][]byte, len(probes))
	off := 0
	for i, p := range probes {
		out[i] = buf[off : off+len(p) : off+len(p)]
		off += len(p)
	}
	return out
}

// Lookups with random probes: at 1k elements the set stays in cache; at
// 100k each lookup is bound by one or two cache misses.
func BenchmarkHashLookup(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchHash(b, n) })
	}
}

func benchHash(b *testing.B, n int) {
	keys := randKeys(n, 1)
	def := &ruleset.Set{KeyLen: 4}
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			def.Elements = append(def.Elements, &ruleset.Element{Key: k})
		}
	}
	s := mustNew(b, def)
	probes := randKeys(n, 2) // half misses, half hits
	for i := 0; i < n; i += 2 {
		probes[i] = keys[(i*7919)%n]
	}
	probes = flat(probes)
	settle(b, s)
	hits := 0
	for i := 0; i < b.N; i++ {
		if s.Lookup(probes[i%len(probes)], 1) != nil {
			hits++
		}
	}
	if hits == 0 && b.N > 1000 {
		b.Fatal("no hits")
	}
}

// BenchmarkIntervalLookup is a CIDR set of 1k or 100k disjoint /20 … /32
// IPv4 prefixes (up to 200k rbtree elements).
func BenchmarkIntervalLookup(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchInterval(b, n) })
	}
}

func benchInterval(b *testing.B, n int) {
	r := rand.New(rand.NewPCG(3, 3))
	// Carve n disjoint prefixes out of random /20 slots.
	slots := map[uint32]bool{}
	var spans []span
	for len(spans) < n {
		slot := r.Uint32() &^ 0xfff
		if slots[slot] {
			continue
		}
		slots[slot] = true
		plen := 20 + r.IntN(13)
		lo := uint64(slot)
		hi := lo + (uint64(1) << (32 - plen)) - 1
		spans = append(spans, span{lo, hi})
	}
	sortSpans(spans)
	s := mustNew(b, intervalSet(spans, 4, true))
	probes := randKeys(1<<16, 4)
	for i := 0; i < len(probes); i += 2 { // half inside a range
		sp := spans[r.IntN(len(spans))]
		binary.BigEndian.PutUint32(probes[i], uint32(sp.lo+r.Uint64N(sp.hi-sp.lo+1)))
	}
	settle(b, s)
	hits := 0
	for i := 0; i < b.N; i++ {
		if s.Lookup(probes[i&(1<<16-1)], 1) != nil {
			hits++
		}
	}
	if hits == 0 && b.N > 1000 {
		b.Fatal("no hits")
	}
}

func sortSpans(s []span) {
	// insertion sort would be quadratic at 100k; use the keys' order.
	vs := make(map[uint64]uint64, len(s))
	keys := make([]uint64, 0, len(s))
	for _, sp := range s {
		vs[sp.lo] = sp.hi
		keys = append(keys, sp.lo)
	}
	slices.Sort(keys)
	for i, k := range keys {
		s[i] = span{k, vs[k]}
	}
}

// BenchmarkConcatLookup is `ip saddr . tcp dport` over 10k elements
// (a /24 range . a port range each, several port ranges per address range).
func BenchmarkConcatLookup(b *testing.B) {
	const n = 10000
	r := rand.New(rand.NewPCG(5, 5))
	def := &ruleset.Set{KeyLen: 8, Flags: ruleset.SetInterval | ruleset.SetConcat, FieldLens: []uint32{4, 2}}
	for i := 0; i < n; i++ {
		a := uint32(i/4) << 8
		p := uint16(i%4) * 1000
		def.Elements = append(def.Elements, &ruleset.Element{
			Key:    cat(be(uint64(a), 4), port(p)),
			KeyEnd: cat(be(uint64(a|0xff), 4), port(p+uint16(r.IntN(999)))),
		})
	}
	s := mustNew(b, def)
	probes := make([][]byte, 1<<16)
	for i := range probes {
		probes[i] = cat(be(uint64(r.UintN(n/4)<<8|r.UintN(256)), 4), port(uint16(r.UintN(5000))))
	}
	probes = flat(probes)
	settle(b, s)
	hits := 0
	for i := 0; i < b.N; i++ {
		if s.Lookup(probes[i&(1<<16-1)], 1) != nil {
			hits++
		}
	}
	if hits == 0 && b.N > 1000 {
		b.Fatal("no hits")
	}
}

// BenchmarkDynsetConnlimit is `add @cl { ip saddr ct count over 2 }` at
// 100k source addresses, each with one live connection in the real
// conntrack table: per op one Update (find the element) and one connlimit
// add (a duplicate: scan, find in conntrack, no add) and its count.
func BenchmarkDynsetConnlimit(b *testing.B) {
	const n = 100000
	tab := ct.NewTable(ct.DefaultConfig())
	s := mustNew(b, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetEval, Size: 1 << 20})
	tmpl := []ruleset.Expr{&ruleset.Connlimit{Count: 2, Flags: ruleset.ConnlimitInvert}}
	tuples := make([]ct.Tuple, n)
	keys := make([][]byte, n)
	var p packet.Packet
	for i := 0; i < n; i++ {
		src := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		keys[i] = src[:]
		spec := testpkt.Spec{Src: netip.AddrFrom4(src).String(), Dst: "203.0.113.10", Proto: "tcp", Sport: 40000, Dport: 22, Flags: testpkt.SYN}
		if err := p.Decode(packet.LinkRaw, testpkt.MustBuild(spec)); err != nil {
			b.Fatal(err)
		}
		c, info, drop := tab.In(&p, ct.HookPrerouting, 1)
		if drop || c == nil {
			b.Fatal("no conntrack entry")
		}
		tab.Confirm(c, info, 1)
		tuples[i] = c.Orig()
		e, _ := s.Update(keys[i], nil, tmpl, 0, false, 1)
		e.Exprs[0].Connlimit(tab, tuples[i], 0, 1)
	}
	settle(b, s)
	over := 0
	for i := 0; i < b.N; i++ {
		k := (i * 7919) % n
		e, _ := s.Update(keys[k], nil, tmpl, 0, false, 2)
		if _, brk := e.Exprs[0].Connlimit(tab, tuples[k], 0, 2); !brk {
			over++
		}
	}
	if over != 0 {
		b.Fatalf("%d elements over the limit", over)
	}
}

// settle anchors the set's clock and finishes the garbage the setup left,
// so neither lands in the timed loop. It also starts a CPU-time clock:
// the shared machines are often loaded, and CPU time per op (reported as
// cpu-ns/op) is steadier than wall time there.
func settle(b *testing.B, s *Set) {
	s.Lookup(make([]byte, s.klen), 1)
	runtime.GC()
	b.ReportAllocs()
	start := cpuTime()
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	})
	b.ResetTimer()
}

// cpuTime is this process's user+system CPU time in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
