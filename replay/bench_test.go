package replay

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
)

// benchCapture reads the capture NFTGO_BENCH_PCAP into memory (e.g. the
// 1M-packet capture of ../shared/bench/gen-replay-bench.py) and compiles
// NFTGO_BENCH_RULESET (e.g. ../shared/bench/stateful10.nft).
func benchCapture(b *testing.B) ([]byte, *compiler.Compiled) {
	pcap, rs := os.Getenv("NFTGO_BENCH_PCAP"), os.Getenv("NFTGO_BENCH_RULESET")
	if pcap == "" || rs == "" {
		b.Skip("set NFTGO_BENCH_PCAP and NFTGO_BENCH_RULESET (see docs/performance.md)")
	}
	data, err := os.ReadFile(pcap)
	if err != nil {
		b.Fatal(err)
	}
	c, err := compiler.CompileFile(rs, compiler.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return data, c
}

// BenchmarkReplayBig replays the whole NFTGO_BENCH_PCAP capture from memory
// per iteration without per-packet output: reading, decode, routing, the
// vm with conntrack. ns/pkt is the figure.
func BenchmarkReplayBig(b *testing.B) {
	data, c := benchCapture(b)
	b.ReportAllocs()
	pkts := 0
	cpu0 := processCPU()
	for b.Loop() {
		capf, err := NewCapture(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		r, err := New(c.Ruleset, Config{Host: forwardHost(b), CT: ct.DefaultConfig()})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(capf); err != nil {
			b.Fatal(err)
		}
		pkts += r.Stats.Packets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(pkts), "cpu-ns/pkt")
}

// processCPU is the process's CPU time (RUSAGE_SELF, GC included): on a
// shared, noisy machine it measures the work rather than the wait for a
// core.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDecodeBig is the floor of BenchmarkReplayBig: reading the
// records and packet.Decode only.
func BenchmarkDecodeBig(b *testing.B) {
	data, _ := benchCapture(b)
	pkts := 0
	var p packet.Packet
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		capf, err := NewCapture(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			d, _, lt, err := capf.Next()
			if err != nil {
				break
			}
			p.Decode(lt, d)
			pkts++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(pkts), "cpu-ns/pkt")
}

// BenchmarkWorkersBig replays NFTGO_BENCH_PCAP from memory through
// RunWorkers with 1 and 2 workers, without output: the speed-up of
// sharding (compare the two in one run; the ruleset must be shardable,
// e.g. stateful10.nft without its limit rule, see docs/performance.md).
func BenchmarkWorkersBig(b *testing.B) {
	data, c := benchCapture(b)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			pkts := 0
			for b.Loop() {
				r, err := New(c.Ruleset, Config{Host: forwardHost(b), CT: ct.DefaultConfig()})
				if err != nil {
					b.Fatal(err)
				}
				used, why, err := r.RunWorkers(func() (*Capture, error) { return NewCapture(bytes.NewReader(data)) }, n)
				if err != nil || used != n {
					b.Fatalf("used %d workers (%s): %v", used, why, err)
				}
				pkts += r.Stats.Packets
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
		})
	}
}
