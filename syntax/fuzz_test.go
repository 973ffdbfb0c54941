package syntax

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: the parser never panics, and an error is always an *Error or
// a plain error, never a partial file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../testdata/rulesets/*/ruleset.nft")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("table ip t { chain c { tcp dport { 22, 80 } accept; }; }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.nft", src)
		if err == nil && file == nil {
			t.Fatal("nil file without error")
		}
		if err != nil {
			_ = err.Error()
		}
	})
}
