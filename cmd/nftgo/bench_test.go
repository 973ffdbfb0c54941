package main

import (
	"io"
	"os"
	"testing"
)

// BenchmarkReplayCapture is the whole `nftgo --replay` command (reading,
// decoding, the vm with conntrack, the per-packet lines) over the capture
// named by NFTGO_BENCH_PCAP with the ruleset NFTGO_BENCH_RULESET, e.g. the
// 1M-packet capture of ../shared/bench/gen-replay-bench.py with
// stateful10.nft (docs/performance.md). NFTGO_BENCH_ARGS adds flags
// (e.g. "--verdicts /dev/null"). One iteration is one whole replay.
func BenchmarkReplayCapture(b *testing.B) {
	pcap, rs := os.Getenv("NFTGO_BENCH_PCAP"), os.Getenv("NFTGO_BENCH_RULESET")
	if pcap == "" || rs == "" {
		b.Skip("set NFTGO_BENCH_PCAP and NFTGO_BENCH_RULESET (see docs/performance.md)")
	}
	args := []string{"-f", rs, "--replay", pcap,
		"--iface", "wan=198.51.100.254/24,2001:db8:1::fffe/64",
		"--iface", "lan=203.0.113.254/24,2001:db8:2::fffe/64", "--route", "default@wan"}
	if extra := os.Getenv("NFTGO_BENCH_ARGS"); extra != "" {
		args = append(args, splitFields(extra)...)
	}
	b.ReportAllocs()
	for b.Loop() {
		if st := run(args, io.Discard, io.Discard); st != 0 {
			b.Fatalf("nftgo exited %d", st)
		}
	}
}

func splitFields(s string) []string {
	var out []string
	f := ""
	for _, c := range s {
		if c == ' ' {
			if f != "" {
				out = append(out, f)
			}
			f = ""
			continue
		}
		f += string(c)
	}
	if f != "" {
		out = append(out, f)
	}
	return out
}
