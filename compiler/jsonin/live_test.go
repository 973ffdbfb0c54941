package jsonin

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/compiler"
)

// liveNft gives a function running nft in a scratch network namespace, or
// skips: these tests ask the real nft 1.0.6 and need NFTGO_LIVE=1 and root.
func liveNft(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	if os.Getenv("NFTGO_LIVE") == "" {
		t.Skip("set NFTGO_LIVE=1 (as root, with nft 1.0.6) to compare with the real nft")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ns := fmt.Sprintf("nftgo-jsonin-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stdout.String(), fmt.Errorf("%v: %s", err, stderr.String())
		}
		return stdout.String(), nil
	}
}

// TestLiveScenarios loads each shared scenario ruleset (and the
// repository's own) into a namespace, takes `nft -j list ruleset`, and
// requires CompileJSON of that listing to produce exactly the batch nft
// 1.0.6 sends for it (`nft --debug=netlink -c -j -f`).
func TestLiveScenarios(t *testing.T) {
	nft := liveNft(t)
	files, _ := filepath.Glob("../../../shared/scenarios/*/ruleset.nft")
	if len(files) == 0 {
		t.Log("../shared/scenarios not present; repository rulesets only")
	}
	own, _ := filepath.Glob("../../testdata/*/*/ruleset.nft")
	files = append(files, own...)
	tmp := t.TempDir()
	for _, f := range files {
		t.Run(strings.TrimPrefix(filepath.Dir(f), "../"), func(t *testing.T) {
			nft("flush", "ruleset")
			abs, _ := filepath.Abs(f)
			if _, err := nft("-f", abs); err != nil {
				t.Skipf("nft does not load it: %v", err)
			}
			listing, err := nft("-j", "list", "ruleset")
			if err != nil {
				t.Fatal(err)
			}
			nft("flush", "ruleset")
			jf := filepath.Join(tmp, "l.json")
			if err := os.WriteFile(jf, []byte(listing), 0o644); err != nil {
				t.Fatal(err)
			}
			want, nerr := nft("--debug=netlink", "-c", "-j", "-f", jf)
			c, err := CompileJSON(jf, []byte(listing), compiler.Options{})
			if nerr != nil {
				if err == nil {
					t.Skipf("nft rejects the listing (%v), nftgo does not model it", nerr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CompileJSON: %v", err)
			}
			if got := netlink(t, c); got != want {
				t.Errorf("netlink differs from nft -j -f:\n%s", diff(want, got))
			}
		})
	}
}

// TestLiveTranslate checks translateCases with nft 1.0.6: a rule holding
// the JSON statement and a rule holding its translation compile to the
// same batch.
func TestLiveTranslate(t *testing.T) {
	nft := liveNft(t)
	const preJSON = `{"table": {"family": "inet", "name": "t"}},
{"chain": {"family": "inet", "table": "t", "name": "tcp_in"}},
{"chain": {"family": "inet", "table": "t", "name": "udp_in"}},
{"chain": {"family": "inet", "table": "t", "name": "other"}},
{"counter": {"family": "inet", "table": "t", "name": "web"}},
{"ct helper": {"family": "inet", "table": "t", "name": "ftp-std", "type": "ftp", "protocol": "tcp", "l3proto": "inet"}},
{"set": {"family": "inet", "table": "t", "name": "meters", "type": "ipv4_addr", "size": 100}},
{"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter", "hook": "prerouting", "prio": 0, "policy": "accept"}},
{"chain": {"family": "inet", "table": "t", "name": "n", "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}`
	tmp := t.TempDir()
	for _, tc := range translateCases {
		t.Run(tc.want, func(t *testing.T) {
			var st any
			if err := json.Unmarshal([]byte(tc.stmt), &st); err != nil {
				t.Fatal(err)
			}
			chain, pre, preText := "c", "", ""
			if m, ok := st.(map[string]any); ok {
				for _, k := range []string{"snat", "dnat", "masquerade", "redirect"} {
					if _, ok := m[k]; ok {
						// NAT to a port needs a transport protocol match
						chain = "n"
						pre = `{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, `
						preText = "meta l4proto == tcp "
					}
				}
			}
			doc := fmt.Sprintf(`{"nftables": [%s, {"rule": {"family": "inet", "table": "t", "chain": %q, "expr": [%s%s]}}]}`, preJSON, chain, pre, tc.stmt)
			text, _, err := Translate([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(text), preText+tc.want+"\n") {
				t.Fatalf("translation %q does not end in %q", text, tc.want)
			}
			jf, tf := filepath.Join(tmp, "a.json"), filepath.Join(tmp, "a.nft")
			os.WriteFile(jf, []byte(doc), 0o644)
			os.WriteFile(tf, text, 0o644)
			nft("flush", "ruleset")
			fromJSON, err := nft("--debug=netlink", "-c", "-j", "-f", jf)
			if err != nil {
				t.Fatalf("nft -j: %v", err)
			}
			fromText, err := nft("--debug=netlink", "-c", "-f", tf)
			if err != nil {
				t.Fatalf("nft: %v", err)
			}
			if fromJSON != fromText {
				t.Errorf("nft compiles the JSON and its translation differently:\n%s", diff(fromJSON, fromText))
			}
		})
	}
}
