package list

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/ruleset"
)

var update = flag.Bool("update", false, "rewrite golden files")

// listings renders a ruleset built from nft's debug output three ways.
func listings(t *testing.T, src, netlink string, fix func(*ruleset.Ruleset)) (text, texta, js string) {
	t.Helper()
	rs, err := buildFromNetlink(src, netlink)
	if err != nil {
		t.Fatalf("building IR from nft output: %v", err)
	}
	if fix != nil {
		fix(rs)
	}
	var a, b, c bytes.Buffer
	if err := Text(&a, rs, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Text(&b, rs, Options{Handles: true}); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&c, rs, Options{}); err != nil {
		t.Fatal(err)
	}
	return a.String(), b.String(), c.String()
}

func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("nftgo JSON does not parse: %v\n%s", err, got)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("reference JSON does not parse: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

// elementState adds what the debug output does not show: the stateful
// expressions the kernel keeps per element (from the set's `counter`
// declaration, `counter packets N bytes M` and `ct count over N` given
// with the elements in ruleset.nft).
var elementState = map[string]func(*ruleset.Ruleset){
	"sets-dynamic": func(rs *ruleset.Ruleset) {
		for _, s := range rs.Tables[0].Sets {
			switch s.Name {
			case "cl":
				for _, e := range s.Elements {
					e.Exprs = []ruleset.Expr{&ruleset.Connlimit{Count: 2, Flags: ruleset.ConnlimitInvert}}
				}
			case "svc":
				for _, e := range s.Elements {
					c := &ruleset.Counter{}
					if e.Key[0] == 10 {
						c.Packets, c.Bytes = 3, 100
					}
					e.Exprs = []ruleset.Expr{c}
				}
			}
		}
	},
}

// TestGolden compares the listing of each testdata ruleset with what the
// real nft 1.0.6 printed for it (testdata/refresh.sh regenerates that side;
// -update rewrites nftgo's side, list.nftgo.*, for review).
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*/ruleset.nft")
	if len(dirs) == 0 {
		t.Fatal("no golden rulesets")
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			read := func(n string) string {
				b, err := os.ReadFile(filepath.Join(dir, n))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			text, texta, js := listings(t, read("ruleset.nft"), read("netlink.txt"), elementState[filepath.Base(dir)])
			if *update {
				os.WriteFile(filepath.Join(dir, "list.nftgo.txt"), []byte(text), 0o644)
				os.WriteFile(filepath.Join(dir, "list-a.nftgo.txt"), []byte(texta), 0o644)
				os.WriteFile(filepath.Join(dir, "list.nftgo.json"), []byte(js), 0o644)
			}
			if want := read("list.txt"); text != want {
				t.Errorf("list ruleset differs from nft:\n%s", diff(want, text))
			}
			if want := read("list-a.txt"); texta != want {
				t.Errorf("-a list ruleset differs from nft:\n%s", diff(want, texta))
			}
			want := read("list.json")
			if !sameJSON(t, js, want) {
				t.Errorf("-j list ruleset differs from nft:\nnft:   %s\nnftgo: %s", want, js)
			} else if js != want {
				t.Errorf("-j list ruleset: same JSON, different bytes:\nnft:   %s\nnftgo: %s", want, js)
			}
		})
	}
}

// diff prints the first differing lines.
func diff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d\n  nft:   %q\n  nftgo: %q\n", i+1, a, c)
			if n++; n > 8 {
				break
			}
		}
	}
	return b.String()
}

// liveNft loads src into a fresh network namespace with the real nft and
// returns its debug output, listing and JSON listing. It skips unless run
// as root with nft installed.
func liveNft(t *testing.T, path string) (netlink, text, js string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	ns := fmt.Sprintf("nftgo-listtest-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	run := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).Output()
		if err != nil {
			t.Fatalf("nft %v: %v", args, err)
		}
		return string(out)
	}
	return run("--debug=netlink", "-f", path), run("list", "ruleset"), run("-j", "list", "ruleset")
}

// TestScenarioRulesetsLive lists every shared scenario ruleset and checks
// it against the real nft's listing of the same file, text and JSON.
func TestScenarioRulesetsLive(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/scenarios/*/ruleset.nft")
	if len(files) == 0 {
		t.Skip("../shared/scenarios not present")
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(f)
			netlink, want, wantJS := liveNft(t, abs)
			text, _, js := listings(t, string(src), netlink, nil)
			if text != want {
				t.Errorf("list ruleset differs from nft:\n%s", diff(want, text))
			}
			// table handles depend on the namespace's history; compare the
			// rest exactly
			if !sameJSON(t, js, wantJS) {
				t.Errorf("-j list ruleset differs from nft:\nnft:   %s\nnftgo: %s", wantJS, js)
			}
		})
	}
}
