package list_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/compiler/list"
)

// TestCompiledGolden runs the whole front half on the golden rulesets:
// nftgo's compiler, then this package, compared with what the real nft
// listed after loading the same file (testdata/*/list.txt, list.json).
// A ruleset the compiler cannot handle yet is logged and skipped: that is
// the compiler's test to fail, not the listing's.
func TestCompiledGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/ruleset.nft")
	for _, f := range files {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := compiler.CompileFile(f, compiler.Options{})
			if err != nil {
				t.Skipf("compiler: %v", err)
			}
			var text, js bytes.Buffer
			if err := list.Text(&text, c.Ruleset, list.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := list.JSON(&js, c.Ruleset, list.Options{}); err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(filepath.Join(dir, "list.txt"))
			if text.String() != string(want) {
				t.Errorf("listing of the compiled ruleset differs from nft:\n--- nft\n%s--- nftgo\n%s", want, text.String())
			}
			wantJS, _ := os.ReadFile(filepath.Join(dir, "list.json"))
			var g, w any
			if err := json.Unmarshal(js.Bytes(), &g); err != nil {
				t.Fatalf("nftgo JSON: %v", err)
			}
			json.Unmarshal(wantJS, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("JSON of the compiled ruleset differs from nft:\nnft:   %s\nnftgo: %s", wantJS, js.String())
			}
		})
	}
}
