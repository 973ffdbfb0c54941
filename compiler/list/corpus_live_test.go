package list

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// stripTableHandles drops table handles (a per-namespace counter) from a
// parsed `nft -j list ruleset` document.
func stripTableHandles(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	items, _ := m["nftables"].([]any)
	for _, it := range items {
		if o, ok := it.(map[string]any); ok {
			if t, ok := o["table"].(map[string]any); ok {
				delete(t, "handle")
			}
		}
	}
	return v
}

// TestCorpusJSONLive compares `-j list ruleset` with the real nft for the
// corpus cases nft loads (every NFTGO_LIVE_CORPUS-th case; root and nft
// needed): the case is loaded into a scratch namespace, nft's JSON is
// compared with the JSON of the IR built from nft's own bytecode dump.
func TestCorpusJSONLive(t *testing.T) {
	stride, _ := strconv.Atoi(os.Getenv("NFTGO_LIVE_CORPUS"))
	if stride <= 0 {
		t.Skip("set NFTGO_LIVE_CORPUS=N to compare JSON with nft on every N-th corpus case")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Setenv("TZ", "UTC-2")
	dir := "../../../shared/conformance"
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		t.Skip("../shared/conformance not present")
	}
	defer f.Close()
	ns := fmt.Sprintf("nftgo-listjson-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	nft := func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
		cmd.Env = append(os.Environ(), "TZ=UTC-2")
		out, err := cmd.Output()
		return string(out), err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n, pass, total := 0, 0, 0
	var fails []string
	for sc.Scan() {
		var r struct {
			ID, File, Verdict string
			Check             struct{ Stdout string }
			Load              struct{ Rc int }
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Verdict != "accept" || r.Load.Rc != 0 {
			continue
		}
		if n++; n%stride != 0 {
			continue
		}
		path, _ := filepath.Abs(filepath.Join(dir, r.File))
		src, _ := os.ReadFile(path)
		nft("flush", "ruleset")
		if _, err := nft("-f", path); err != nil {
			continue
		}
		want, err := nft("-j", "list", "ruleset")
		if err != nil {
			continue
		}
		total++
		rs, err := buildFromNetlink(string(src), r.Check.Stdout)
		if err != nil {
			fails = append(fails, r.ID+": helper: "+err.Error())
			continue
		}
		var b strings.Builder
		JSON(&b, rs, Options{})
		var g, w any
		if err := json.Unmarshal([]byte(b.String()), &g); err != nil {
			fails = append(fails, r.ID+": invalid JSON: "+err.Error())
			continue
		}
		json.Unmarshal([]byte(want), &w)
		if reflect.DeepEqual(stripTableHandles(g), stripTableHandles(w)) {
			pass++
		} else {
			fails = append(fails, r.ID+"\n  nft:   "+want+"\n  nftgo: "+b.String())
		}
	}
	if os.Getenv("NFTGO_CORPUS_FAILS") != "" {
		for _, f := range fails {
			t.Log(f)
		}
	}
	t.Logf("corpus JSON vs live nft: %d/%d", pass, total)
	if total > 0 && float64(pass) < 0.96*float64(total) {
		t.Errorf("JSON agreement fell below 96%%: %d/%d", pass, total)
	}
}
