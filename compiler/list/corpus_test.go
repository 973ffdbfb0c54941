package list

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var reAnon = regexp.MustCompile(`__(set|map|objmap)\d+`)

// normListing applies check.py's normalisations N1, N2, N4.
func normListing(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		out = append(out, strings.TrimRight(l, " \t"))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	r := strings.Join(out, "\n")
	r = reAnon.ReplaceAllString(r, "__$1%d")
	return regexp.MustCompile(`expires \S+`).ReplaceAllString(r, "expires ?")
}

// TestCorpusListing measures the listing on the shared nft 1.0.6 corpus:
// for every case nft loaded, the IR is built from nft's own bytecode dump
// and the listing compared with the recorded `nft list ruleset`. It
// reports the pass rate (and, with NFTGO_CORPUS_FAILS=N, N failures,
// NFTGO_CORPUS_MATCH=S only those mentioning S); it fails when the rate
// drops below 97%.
func TestCorpusListing(t *testing.T) {
	dir := "../../../shared/conformance"
	t.Setenv("TZ", "UTC-2") // as check.py runs candidates
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		t.Skip("../shared/conformance not present")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	pass, total := 0, 0
	byDir := map[string][2]int{}
	var fails, passIDs []string
	for sc.Scan() {
		var r struct {
			ID, File, Verdict, Listing string
			Check                      struct{ Stdout string }
			Load                       struct{ Rc int }
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Verdict != "accept" || r.Load.Rc != 0 {
			continue
		}
		total++
		src, err := os.ReadFile(filepath.Join(dir, r.File))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		rs, err := buildFromNetlink(string(src), r.Check.Stdout)
		if err == nil {
			var b strings.Builder
			if err := Text(&b, rs, Options{}); err != nil {
				got = "ERROR " + err.Error()
			} else {
				got = b.String()
			}
		} else {
			got = "HELPER " + err.Error()
		}
		d := r.ID[:strings.Index(r.ID, "/")]
		c := byDir[d]
		c[1]++
		if normListing(got) == normListing(r.Listing) {
			pass++
			c[0]++
			passIDs = append(passIDs, r.ID)
		} else {
			fails = append(fails, r.ID+"\n"+diff(normListing(r.Listing), normListing(got)))
		}
		byDir[d] = c
	}
	var ds []string
	for d, c := range byDir {
		if c[0] != c[1] {
			ds = append(ds, d)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return byDir[ds[i]][1]-byDir[ds[i]][0] > byDir[ds[j]][1]-byDir[ds[j]][0] })
	for _, d := range ds {
		t.Logf("%-22s %d/%d", d, byDir[d][0], byDir[d][1])
	}
	if n := os.Getenv("NFTGO_CORPUS_FAILS"); n != "" {
		k := 0
		for _, f := range fails {
			if m := os.Getenv("NFTGO_CORPUS_MATCH"); m != "" && !strings.Contains(f, m) {
				continue
			}
			if k++; k > atoi(n) {
				break
			}
			t.Log(f)
		}
	}
	if p := os.Getenv("NFTGO_CORPUS_PASSLIST"); p != "" {
		os.WriteFile(p, []byte(strings.Join(passIDs, "\n")+"\n"), 0o644)
	}
	t.Logf("corpus listing: %d/%d (%.1f%%) of the cases nft loaded", pass, total, 100*float64(pass)/float64(total))
	// 98.3% when written; a drop below the floor is a regression
	if total > 0 && float64(pass) < 0.97*float64(total) {
		t.Errorf("corpus listing fell below 97%%: %d/%d", pass, total)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
