package nfttest

import (
	"os"
	"testing"
)

// FuzzParse: no input makes the parser panic; it parses or says why.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../testdata/examples/server/server.nfttest", "../testdata/examples/home-router/home-router.nfttest"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(header + "case a\n  3x handshake 1.2.3.4:1 > 5.6.7.8:2 => accept\n  expect set a b c { x, { y } }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.nfttest", src)
		if err == nil && (file.Ruleset == "" || len(file.Cases) == 0) {
			t.Fatal("parsed a file without ruleset or cases")
		}
	})
}
