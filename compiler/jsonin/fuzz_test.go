package jsonin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nftgo/nftgo/compiler"
)

func jsonUnmarshal(b []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// FuzzCompileJSON: no input may panic (CompileJSON turns a panic into an
// error, so the fuzzer checks for the internal-error message instead), and
// every command stays on its own line of generated text.
func FuzzCompileJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"nftables": [{"add": {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new"]}}]}}}]}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		// no JSON value may break out of its line of nft text
		if text, lines, err := Translate(src); err == nil && bytes.Count(text, []byte("\n")) != len(lines) {
			t.Fatalf("%d lines for %d commands:\n%s", bytes.Count(text, []byte("\n")), len(lines), text)
		}
		_, err := CompileJSON("fuzz.json", src, compiler.Options{})
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("internal error")) {
			t.Fatalf("panic: %v", err)
		}
	})
}
