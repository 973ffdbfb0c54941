package compiler

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// conformanceFloor is the netlink-mode pass rate measured on the public
// corpus when this floor was set; the test fails if a change drops below it.
const conformanceFloor = 0.98

var reAnon = regexp.MustCompile(`__(set|map|objmap)\d+`)

// normalise applies check.py's N1 and N2.
func normalise(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return reAnon.ReplaceAllString(strings.Join(lines, "\n"), "__$1%d")
}

// TestConformanceCorpus runs nft 1.0.6's conformance corpus (../shared,
// never copied into the project) in netlink mode, as check.py scores it.
func TestConformanceCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "conformance")
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		t.Skipf("conformance corpus not available (%v); skipping", err)
	}
	defer f.Close()
	// The corpus was recorded with TZ=UTC-2 (meta hour/time constants).
	t.Setenv("TZ", "UTC-2")
	type rec struct {
		ID      string `json:"id"`
		File    string `json:"file"`
		Verdict string `json:"verdict"`
		Check   struct {
			Stdout string `json:"stdout"`
		} `json:"check"`
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	pass, total := 0, 0
	var failed []string
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(filepath.Join(dir, r.File))
		if err != nil {
			t.Fatal(err)
		}
		total++
		c, err := CompileSource(r.File, src, Options{})
		var out bytes.Buffer
		if err == nil {
			if werr := c.WriteNetlink(&out); werr != nil {
				t.Fatal(werr)
			}
		}
		ok := false
		switch r.Verdict {
		case "accept":
			ok = err == nil && normalise(out.String()) == normalise(r.Check.Stdout)
		case "reject":
			ok = err != nil
		case "kernel-reject":
			ok = normalise(out.String()) == normalise(r.Check.Stdout)
		}
		if ok {
			pass++
		} else {
			failed = append(failed, r.ID)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	rate := float64(pass) / float64(total)
	t.Logf("conformance (netlink): %d/%d passed (%.1f%%)", pass, total, 100*rate)
	if testing.Verbose() && len(failed) > 0 {
		n := len(failed)
		if n > 20 {
			n = 20
		}
		t.Logf("first failures: %s", strings.Join(failed[:n], " "))
	}
	if rate < conformanceFloor {
		t.Errorf("pass rate %.3f below floor %.2f", rate, conformanceFloor)
	}
}
