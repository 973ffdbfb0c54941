package compiler

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile: compiling and printing never panic (CompileSource turns a
// panic into an error, so the fuzzer checks for that message too).
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("../testdata/rulesets/*/ruleset.nft")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("table inet t { set s { type ipv4_addr . inet_service; flags interval; }\n chain c { ip saddr . tcp dport @s accept; meta mark set 0x1 }\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := CompileSource("fuzz.nft", src, Options{})
		if err != nil {
			if msg := err.Error(); len(msg) > 0 && containsInternal(msg) {
				t.Fatalf("panic during compilation: %s", msg)
			}
			return
		}
		if err := c.WriteNetlink(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}

func containsInternal(s string) bool {
	const p = "Error: internal error:"
	for i := 0; i+len(p) <= len(s); i++ {
		if s[i:i+len(p)] == p {
			return true
		}
	}
	return false
}
