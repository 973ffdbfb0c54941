package nfttest

import (
	"strings"
	"testing"
)

// Run runs the test files under paths (files, or directories searched for
// *.nfttest) as subtests of t: one subtest per file and case, failing with
// the same message `nftgo test` prints. A file that does not parse fails
// its subtest with the error at file:line.
func Run(t *testing.T, paths ...string) {
	t.Helper()
	files, err := Find(paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %s files under %s", Ext, strings.Join(paths, " "))
	}
	for _, p := range files {
		f, err := ParseFile(p)
		if err != nil {
			t.Run(p, func(t *testing.T) { t.Fatal(err) })
			continue
		}
		for _, c := range f.Cases {
			t.Run(caseName(f, c), func(t *testing.T) {
				r := RunCase(f, c)
				if r.Failed() {
					var b strings.Builder
					WriteFailure(&b, r)
					t.Error("\n" + b.String())
				}
			})
		}
	}
}
