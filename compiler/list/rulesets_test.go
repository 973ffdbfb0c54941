package list_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/compiler/list"
)

// TestRulesetsListing lists each realistic ruleset under testdata/rulesets
// with handles and compares it with handles.golden, `nft -a list ruleset`
// after the real nft 1.0.6 loaded the file (regen-nft-golden.sh).
func TestRulesetsListing(t *testing.T) {
	dirs, _ := filepath.Glob("../../testdata/rulesets/*")
	for _, dir := range dirs {
		want, err := os.ReadFile(filepath.Join(dir, "handles.golden"))
		if err != nil || len(want) == 0 {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := compiler.CompileFile(filepath.Join(dir, "ruleset.nft"), compiler.Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			var b bytes.Buffer
			if err := list.Text(&b, c.Ruleset, list.Options{Handles: true}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("listing differs from nft:\n%s", lineDiff(b.String(), string(want)))
			}
		})
	}
}

func lineDiff(got, want string) string {
	g, w := bytes.Split([]byte(got), []byte("\n")), bytes.Split([]byte(want), []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b []byte
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if !bytes.Equal(a, b) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + string(a) + "\n nft: " + string(b)
		}
	}
	return ""
}
