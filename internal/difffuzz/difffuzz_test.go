package difffuzz

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/kernel"
	"github.com/nftgo/nftgo/internal/scenario"
)

var (
	n        = flag.Int("difffuzz.n", 0, "random scenarios to run through the kernel and nftgo (0: skip TestDiff)")
	seed     = flag.Int64("difffuzz.seed", 1, "seed of the first scenario; scenario i uses seed+i")
	out      = flag.String("difffuzz.out", "/tmp/difffuzz", "directory receiving every reproducible mismatch as a scenario directory")
	noReject = flag.Bool("difffuzz.noreject", false, "generate no reject statements (to look at the other statements only)")
	showAll  = flag.Bool("difffuzz.v", false, "log every scenario's result, not only mismatches")
	recheck  = flag.String("difffuzz.recheck", "", "TestRecheck compares nftgo again with every kept mismatch (a directory of scenario directories with kernel.golden, as -difffuzz.out writes); no root needed")
	dump     = flag.String("difffuzz.dump", "", "TestGenerate also writes the first -difffuzz.n cases (from -difffuzz.seed) here as scenario directories")
)

// TestGenerate checks, without root, that cases are a function of their
// seed and that every generated traffic spec is one the scenario package
// accepts.
func TestGenerate(t *testing.T) {
	for s := int64(1); s <= 300; s++ {
		a, b := Generate(s), Generate(s)
		if a.Ruleset != b.Ruleset || a.Traffic != b.Traffic {
			t.Fatalf("seed %d: two generations differ", s)
		}
		if _, err := scenario.ParseTraffic(a.Traffic); err != nil {
			t.Fatalf("seed %d: traffic does not parse: %v\n%s", s, err, a.Traffic)
		}
		if !strings.Contains(a.Ruleset, "table ") {
			t.Fatalf("seed %d: no table in\n%s", s, a.Ruleset)
		}
	}
	if *dump != "" {
		for i := 0; i < *n; i++ {
			c := Generate(*seed + int64(i))
			d, err := c.Write(*dump, fmt.Sprintf("fuzz-%d", c.Seed))
			if err != nil {
				t.Fatal(err)
			}
			if err := writePcap(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if Generate(1).Ruleset == Generate(2).Ruleset {
		t.Error("seeds 1 and 2 give the same ruleset")
	}
}

// Write stores c as a scenario directory dir/NAME.
func (c Case) Write(dir, name string) (string, error) {
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	pj, err := json.MarshalIndent(c.Params, "", " ")
	if err != nil {
		return "", err
	}
	for f, b := range map[string][]byte{"ruleset.nft": []byte(c.Ruleset), "traffic": []byte(c.Traffic), "params.json": append(pj, '\n')} {
		if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
			return "", err
		}
	}
	return d, nil
}

// TestDiff runs -difffuzz.n generated scenarios through the kernel (once
// each; a mismatch is re-run 3 times to make sure the kernel side is
// reproducible) and through nftgo, and compares them.
//
//	go test ./internal/difffuzz -run TestDiff -difffuzz.n 200 -difffuzz.seed 1 -timeout 60m
func TestDiff(t *testing.T) {
	if *n == 0 {
		t.Skip("SKIP: set -difffuzz.n N to run N random kernel-differential scenarios (root, nft, conntrack)")
	}
	if m := kernel.Missing(); m != "" {
		t.Skipf("SKIP: this machine lacks %s", m)
	}
	cand := candidate(t)
	work := t.TempDir()
	var ran, loadErrBoth, mismatched, flaky int
	byAspect := map[string]int{}
	start := time.Now()
	for i := 0; i < *n; i++ {
		c := GenerateWith(*seed+int64(i), Options{NoReject: *noReject})
		name := fmt.Sprintf("fuzz-%d", c.Seed)
		dir, err := c.Write(work, name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := scenario.RunKernel(s)
		if err != nil {
			t.Logf("%s: kernel run failed (not counted): %v", name, err)
			continue
		}
		ran++
		pcap := filepath.Join(dir, "packets.pcap")
		if err := s.WritePcap(pcap); err != nil {
			t.Fatal(err)
		}
		got, err := cand.Run(s.Params, s.RulesetPath(), pcap)
		if err != nil {
			got = &scenario.Golden{LoadError: "nftgo failed: " + err.Error()}
		}
		if want.LoadError != "" && got.LoadError != "" {
			loadErrBoth++
			if *showAll {
				t.Logf("%s: both reject the ruleset", name)
			}
			continue
		}
		d := scenario.Diff(want, got, scenario.DiffOptions{Candidate: true})
		if len(d) == 0 {
			if *showAll {
				t.Logf("%s: same", name)
			}
			continue
		}
		// reproducible kernel side?
		g, _, rerr := scenario.Regenerate(s, 3)
		if rerr != nil {
			flaky++
			t.Logf("%s: mismatch, but the kernel is not reproducible (not counted): %v", name, firstLine(rerr.Error()))
			if *out != "" {
				if keep, err := c.Write(*out, "flaky-"+name); err == nil {
					os.WriteFile(filepath.Join(keep, "flaky.txt"), []byte(rerr.Error()), 0o644)
				}
			}
			continue
		}
		if dd := scenario.Diff(want, g, scenario.DiffOptions{}); len(dd) > 0 {
			flaky++
			t.Logf("%s: mismatch, but the kernel differs from its first run (not counted)", name)
			continue
		}
		mismatched++
		var aspects []string
		for a := range d {
			aspects = append(aspects, a)
			byAspect[a]++
		}
		sort.Strings(aspects)
		if *out != "" {
			keep, err := c.Write(*out, name)
			if err == nil {
				os.WriteFile(filepath.Join(keep, "kernel.golden"), g.Marshal(), 0o644)
				writePcap(keep)
				os.WriteFile(filepath.Join(keep, "diff.txt"), []byte(scenario.FormatDiff(d)), 0o644)
				if got.LoadError != "" {
					os.WriteFile(filepath.Join(keep, "nftgo-error.txt"), []byte(got.LoadError), 0o644)
				}
			}
		}
		t.Errorf("%s: nftgo differs from the kernel in %s (kept in %s)", name, strings.Join(aspects, ", "), filepath.Join(*out, name))
	}
	t.Logf("difffuzz: %d scenarios run (seeds %d..%d), %d rejected by both, %d mismatched (reproducible), %d not reproducible in the kernel; by aspect %v; %v",
		ran, *seed, *seed+int64(*n)-1, loadErrBoth, mismatched, flaky, byAspect, time.Since(start).Round(time.Second))
}

// TestRecheck replays every kept mismatch below -difffuzz.recheck through
// the current nftgo and reports which still differ from their recorded
// kernel result, so fixes can be checked without root.
func TestRecheck(t *testing.T) {
	if *recheck == "" {
		t.Skip("SKIP: set -difffuzz.recheck DIR to compare nftgo with kept mismatches")
	}
	cand := candidate(t)
	scs, err := scenario.LoadAll(*recheck)
	if err != nil {
		t.Fatal(err)
	}
	still := 0
	for _, s := range scs {
		want, err := scenario.ReadGolden(s.GoldenPath())
		if err != nil {
			// a hand-made variant without a golden: record it (root)
			if kernel.Missing() != "" {
				t.Logf("%s: no kernel.golden and no kernel to record one", s.Name)
				continue
			}
			g, _, rerr := scenario.Regenerate(s, 3)
			if rerr != nil {
				t.Errorf("%s: kernel not reproducible: %v", s.Name, rerr)
				continue
			}
			os.WriteFile(s.GoldenPath(), g.Marshal(), 0o644)
			want = g
		}
		if err := writePcap(s.Dir); err != nil {
			t.Fatal(err)
		}
		got, err := cand.Run(s.Params, s.RulesetPath(), s.PcapPath())
		if err != nil {
			got = &scenario.Golden{LoadError: "nftgo failed: " + err.Error()}
		}
		if d := scenario.Diff(want, got, scenario.DiffOptions{Candidate: true}); len(d) > 0 {
			still++
			var aspects []string
			for a := range d {
				aspects = append(aspects, a)
			}
			sort.Strings(aspects)
			t.Errorf("%s: still differs in %s", s.Name, strings.Join(aspects, ", "))
			os.WriteFile(filepath.Join(s.Dir, "diff-now.txt"), []byte(scenario.FormatDiff(d)), 0o644)
		} else {
			t.Logf("%s: now matches the kernel", s.Name)
		}
	}
	t.Logf("recheck: %d of %d kept mismatches still differ", still, len(scs))
}

// writePcap writes the scenario in dir's traffic to dir/packets.pcap, for
// `nftgo --replay` while reducing a mismatch.
func writePcap(dir string) error {
	s, err := scenario.Load(dir)
	if err != nil {
		return err
	}
	return s.WritePcap(s.PcapPath())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// candidate is the nftgo under test: $NFTGO_BIN, or ./cmd/nftgo built now.
func candidate(t *testing.T) scenario.Binary {
	t.Helper()
	bin := os.Getenv("NFTGO_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "nftgo")
		if o, err := exec.Command("go", "build", "-o", bin, "../../cmd/nftgo").CombinedOutput(); err != nil {
			t.Fatalf("cmd/nftgo does not build: %v\n%s", err, o)
		}
	}
	return scenario.Binary{Path: bin}
}
