package compiler

import (
	"fmt"
	"strings"
	"testing"
)

// benchAddr spells the i-th address of the compile benchmarks (10.x.y.z),
// as ../shared/bench/gen-compile-bench.py does.
func benchAddr(b *strings.Builder, i int) {
	fmt.Fprintf(b, "10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
}

// benchRules is a ruleset of n rules like the shared r50k.nft.
func benchRules(n int) []byte {
	var b strings.Builder
	b.WriteString("table inet filter {\n chain input {\n  type filter hook input priority filter; policy accept;\n")
	for i := 0; i < n; i++ {
		b.WriteString("  ip saddr ")
		benchAddr(&b, i)
		fmt.Fprintf(&b, " tcp dport %d counter accept\n", 1+i%65000)
	}
	b.WriteString(" }\n}\n")
	return []byte(b.String())
}

// benchSet is a ruleset with one n-element set like the shared set100k.nft.
func benchSet(n int) []byte {
	var b strings.Builder
	b.WriteString("table inet filter {\n set blk {\n  type ipv4_addr\n  elements = { ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		benchAddr(&b, i)
	}
	b.WriteString(" }\n }\n chain input {\n  type filter hook input priority filter; policy accept;\n  ip saddr @blk drop\n }\n}\n")
	return []byte(b.String())
}

func benchCompile(b *testing.B, src []byte, wantRules, wantElems int) {
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := CompileSource("bench.nft", src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		t := c.Ruleset.Tables[0]
		rules, elems := 0, 0
		for _, ch := range t.Chains {
			rules += len(ch.Rules)
		}
		for _, s := range t.Sets {
			elems += len(s.Elements)
		}
		if rules != wantRules || elems != wantElems {
			b.Fatalf("got %d rules, %d elements; want %d, %d", rules, elems, wantRules, wantElems)
		}
	}
}

func BenchmarkCompileRules50k(b *testing.B) { benchCompile(b, benchRules(50000), 50000, 0) }
func BenchmarkCompileRules10k(b *testing.B) { benchCompile(b, benchRules(10000), 10000, 0) }
func BenchmarkCompileSet100k(b *testing.B)  { benchCompile(b, benchSet(100000), 1, 100000) }
