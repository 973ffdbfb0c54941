package difffuzz

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/kernel"
	"github.com/nftgo/nftgo/internal/scenario"
)

var reduce = flag.String("difffuzz.reduce", "", "TestReduce shrinks the mismatching scenario in this directory (greedy removal of traffic lines and rules, one kernel run per try) and writes the result to DIR-min")

// TestReduce shrinks a kept mismatch: it drops traffic lines and rules one
// at a time and keeps a removal when nftgo still differs from the kernel in
// one of the aspects it differed in at first. The result, DIR-min, is
// re-run 3 times in the kernel before it is written with its golden.
func TestReduce(t *testing.T) {
	if *reduce == "" {
		t.Skip("SKIP: set -difffuzz.reduce DIR to shrink a kept mismatch (root, nft, conntrack)")
	}
	if m := kernel.Missing(); m != "" {
		t.Skipf("SKIP: this machine lacks %s", m)
	}
	cand := candidate(t)
	s0, err := scenario.Load(*reduce)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := os.ReadFile(s0.RulesetPath())
	if err != nil {
		t.Fatal(err)
	}
	c := Case{Ruleset: string(rs), Traffic: s0.Traffic, Params: s0.Params}
	work := t.TempDir()
	try := func(c Case) map[string]string {
		d, err := c.Write(work, "try")
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Load(d)
		if err != nil {
			return nil
		}
		want, _, err := scenario.RunKernel(s)
		if err != nil || want.LoadError != "" {
			return nil
		}
		if err := writePcap(d); err != nil {
			return nil
		}
		got, err := cand.Run(s.Params, s.RulesetPath(), s.PcapPath())
		if err != nil {
			return nil
		}
		return scenario.Diff(want, got, scenario.DiffOptions{Candidate: true})
	}
	first := try(c)
	if len(first) == 0 {
		t.Fatalf("%s: nftgo does not differ from the kernel now", s0.Name)
	}
	same := func(d map[string]string) bool {
		for a := range d {
			if _, ok := first[a]; ok {
				return true
			}
		}
		return false
	}
	runs := 0
	for changed := true; changed; {
		changed = false
		for _, part := range []string{"traffic", "ruleset"} {
			for i := 0; ; i++ {
				var lines []string
				if part == "traffic" {
					lines = strings.Split(c.Traffic, "\n")
				} else {
					lines = strings.Split(c.Ruleset, "\n")
				}
				idx := removable(lines, part == "ruleset")
				if i >= len(idx) {
					break
				}
				l := idx[i]
				next := c
				joined := strings.Join(append(append([]string{}, lines[:l]...), lines[l+1:]...), "\n")
				if part == "traffic" {
					next.Traffic = joined
				} else {
					next.Ruleset = joined
				}
				runs++
				if d := try(next); len(d) > 0 && same(d) {
					c = next
					changed = true
					i--
				}
			}
		}
	}
	out := strings.TrimRight(*reduce, "/") + "-min"
	d, err := c.Write(filepath.Dir(out), filepath.Base(out))
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := scenario.Regenerate(s, 3)
	if err != nil {
		t.Fatalf("reduced scenario is not reproducible in the kernel: %v", err)
	}
	os.WriteFile(s.GoldenPath(), g.Marshal(), 0o644)
	writePcap(d)
	t.Logf("%d tries; reduced scenario in %s:\n%s\n%s", runs, d, c.Ruleset, c.Traffic)
}

// removable lists the lines that may be dropped: every non-empty traffic
// line, or every rule line of a chain (not its type line, not set
// declarations).
func removable(lines []string, ruleset bool) []int {
	var out []int
	inChain := false
	for i, ln := range lines {
		tl := strings.TrimSpace(ln)
		if !ruleset {
			if tl != "" {
				out = append(out, i)
			}
			continue
		}
		switch {
		case strings.HasPrefix(tl, "chain "):
			inChain = true
		case tl == "}":
			inChain = false
		case inChain && tl != "" && !strings.HasPrefix(tl, "type "):
			out = append(out, i)
		}
	}
	return out
}
