package compiler

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/ruleset"
)

var update = flag.Bool("update", false, "rewrite golden files")

// compileOutput is what `nftgo --debug=netlink -c -f ruleset.nft` prints:
// the batch, or the error report.
func compileOutput(t *testing.T, dir string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "ruleset.nft"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := CompileSource("ruleset.nft", src, Options{})
	if err != nil {
		return []byte(err.Error() + "\n")
	}
	var b bytes.Buffer
	if err := c.WriteNetlink(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGoldenNetlink checks nftgo's debug output against real nft's.
// nft.golden comes from testdata/rulesets/regen-nft-golden.sh (real nft in a
// netns); bytecode.golden is nftgo's, rewritten with -update.
func TestGoldenNetlink(t *testing.T) {
	dirs, _ := filepath.Glob("../testdata/rulesets/*")
	n := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "ruleset.nft")); err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := compileOutput(t, dir)
			gold := filepath.Join(dir, "bytecode.golden")
			if *update {
				if err := os.WriteFile(gold, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(gold)
			if err != nil {
				t.Fatalf("%v (run go test ./compiler/ -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from bytecode.golden:\n%s", firstDiff(got, want))
			}
			ref, err := os.ReadFile(filepath.Join(dir, "nft.golden"))
			if err != nil {
				t.Fatalf("%v (run testdata/rulesets/regen-nft-golden.sh as root)", err)
			}
			if !bytes.Equal(got, ref) {
				t.Errorf("nftgo differs from nft 1.0.6 (nft.golden):\n%s", firstDiff(got, ref))
			}
		})
	}
	if n == 0 {
		t.Fatal("no rulesets under testdata/rulesets")
	}
}

func firstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, a, b)
		}
	}
	return "(no line difference)"
}

var (
	reTable  = regexp.MustCompile(`^table (\S+) (\S+) \{ # handle (\d+)$`)
	reObj    = regexp.MustCompile(`^\t(chain|set|map|counter|quota|limit) (\S+) \{ # handle (\d+)$`)
	reRule   = regexp.MustCompile(`^\t\t.* # handle (\d+)$`)
	reCloseT = regexp.MustCompile(`^}$`)
)

// TestGoldenHandles checks table, chain, set and rule handles against
// `nft -a list ruleset` after the kernel loaded the file (handles.golden).
func TestGoldenHandles(t *testing.T) {
	dirs, _ := filepath.Glob("../testdata/rulesets/*")
	for _, dir := range dirs {
		hg, err := os.ReadFile(filepath.Join(dir, "handles.golden"))
		if err != nil || len(hg) == 0 {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "ruleset.nft"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := CompileSource("ruleset.nft", src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var tbl *ruleset.Table
			var ch *ruleset.Chain
			ruleIdx := 0
			for _, line := range strings.Split(string(hg), "\n") {
				if m := reTable.FindStringSubmatch(line); m != nil {
					tbl, ch = nil, nil
					for _, x := range c.Ruleset.Tables {
						if x.Family.String() == m[1] && x.Name == m[2] {
							tbl = x
						}
					}
					if tbl == nil {
						t.Fatalf("table %s %s missing", m[1], m[2])
					}
					if fmt.Sprint(tbl.Handle) != m[3] {
						t.Errorf("table %s handle %d, kernel %s", tbl.Name, tbl.Handle, m[3])
					}
					continue
				}
				if m := reObj.FindStringSubmatch(line); m != nil && tbl != nil {
					var h uint64
					found := false
					switch m[1] {
					case "chain":
						for _, x := range tbl.Chains {
							if x.Name == m[2] {
								ch, h, found, ruleIdx = x, x.Handle, true, 0
							}
						}
					case "set", "map":
						for _, x := range tbl.Sets {
							if x.Name == m[2] {
								h, found = x.Handle, true
							}
						}
					default:
						for _, x := range tbl.Objects {
							if x.Name == m[2] {
								h, found = x.Handle, true
							}
						}
					}
					if !found {
						t.Errorf("%s %s missing", m[1], m[2])
					} else if fmt.Sprint(h) != m[3] {
						t.Errorf("%s %s handle %d, kernel %s", m[1], m[2], h, m[3])
					}
					continue
				}
				if m := reRule.FindStringSubmatch(line); m != nil && ch != nil {
					if ruleIdx >= len(ch.Rules) {
						t.Errorf("chain %s: kernel has more rules", ch.Name)
						continue
					}
					if h := ch.Rules[ruleIdx].Handle; fmt.Sprint(h) != m[1] {
						t.Errorf("chain %s rule %d handle %d, kernel %s", ch.Name, ruleIdx, h, m[1])
					}
					ruleIdx++
				}
			}
		})
	}
}
