package scenario

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/kernel"
)

var (
	update = flag.Bool("update", false, "rewrite golden files: run every scenario in the kernel -runs times, keep only reproducible results")
	live   = flag.Bool("live", false, "also run every scenario in the kernel now and compare with the stored golden")
	runs   = flag.Int("runs", 3, "kernel runs per scenario with -update")
	only   = flag.String("only", "", "run only scenarios whose name contains this")
)

const root = "../../testdata/scenarios"

// candidate is nftgo, built once for the whole test; candErr says why it
// cannot run.
var (
	candidate Candidate
	candErr   error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if bin := os.Getenv("NFTGO_BIN"); bin != "" {
		candidate = Binary{Path: bin}
	} else {
		dir, err := os.MkdirTemp("", "nftgo-bin")
		if err == nil {
			bin := filepath.Join(dir, "nftgo")
			out, err := exec.Command("go", "build", "-o", bin, "../../cmd/nftgo").CombinedOutput()
			if err != nil {
				candErr = fmt.Errorf("%w: cmd/nftgo does not build: %s", ErrCandidate, firstLines(string(out), 3))
			} else {
				candidate = Binary{Path: bin}
			}
			defer os.RemoveAll(dir)
		} else {
			candErr = err
		}
	}
	code := m.Run()
	os.Exit(code)
}

func firstLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = append(l[:n], "…")
	}
	return strings.Join(l, " | ")
}

// readXFail reads testdata/scenarios/XFAIL: "NAME cause" per line; NAME * is
// every scenario. A listed scenario whose nftgo comparison fails is skipped
// with the cause and the failure; one that passes fails the test, so the
// list only shrinks.
func readXFail(t *testing.T) map[string]string {
	f, err := os.Open(filepath.Join(root, "XFAIL"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ln := strings.TrimSpace(sc.Text())
		if ln == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		name, cause, _ := strings.Cut(ln, " ")
		m[name] = strings.TrimSpace(cause)
	}
	return m
}

// liveMode is -live or NFTGO_LIVE=1 (for `go test ./...`, where a flag would
// reach packages that do not define it).
func liveMode() bool { return *live || os.Getenv("NFTGO_LIVE") == "1" }

func TestScenarios(t *testing.T) {
	scs, err := LoadAll(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) == 0 {
		t.Fatal("no scenarios")
	}
	missing := kernel.Missing()
	if !*update && !liveMode() {
		t.Log("kernel side not run: the stored kernel.golden files are compared with nftgo (-live or NFTGO_LIVE=1 re-runs the kernel, -update regenerates)")
	}
	xfail := readXFail(t)
	start := time.Now()
	var kernelWall time.Duration
	for _, s := range scs {
		if *only != "" && !strings.Contains(s.Name, *only) {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			if _, err := s.Packets(); err != nil {
				if errors.Is(err, ErrNoSource) {
					t.Skipf("SKIP: %v (set NFTGO_SHARED to the reference directory)", err)
				}
				t.Fatal(err)
			}
			if *update || liveMode() {
				t.Run("kernel", func(t *testing.T) {
					if missing != "" {
						t.Skipf("SKIP kernel run: this machine lacks %s", missing)
					}
					t0 := time.Now()
					defer func() { kernelWall += time.Since(t0) }()
					if *update {
						g, walls, err := Regenerate(s, *runs)
						if err != nil {
							t.Fatalf("FLAGGED, golden not written: %v", err)
						}
						if err := os.WriteFile(s.GoldenPath(), g.Marshal(), 0o644); err != nil {
							t.Fatal(err)
						}
						if !s.Params.RealCapture {
							if err := s.WritePcap(s.PcapPath()); err != nil {
								t.Fatal(err)
							}
						}
						t.Logf("%d identical kernel runs, walls %v", *runs, walls)
						return
					}
					want, err := ReadGolden(s.GoldenPath())
					if err != nil {
						t.Fatalf("no golden (regenerate with -update as root): %v", err)
					}
					got, _, err := RunKernel(s)
					if err != nil {
						t.Fatalf("live kernel run: %v", err)
					}
					if d := Diff(want, got, DiffOptions{}); len(d) > 0 {
						t.Errorf("the kernel today differs from kernel.golden:\n%s", FormatDiff(d))
					}
				})
			}
			t.Run("nftgo", func(t *testing.T) {
				want, err := ReadGolden(s.GoldenPath())
				if err != nil {
					t.Fatalf("no golden (regenerate with -update as root): %v", err)
				}
				compareNftgo(t, s, want, xfail)
			})
		})
	}
	if *update || liveMode() {
		t.Logf("kernel runs: %v wall (whole test %v)", kernelWall.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
}

func compareNftgo(t *testing.T, s *Scenario, want *Golden, xfail map[string]string) {
	t.Helper()
	cause, named := xfail[s.Name]
	listed := named
	if !listed {
		cause, listed = xfail["*"]
	}
	var problem string
	if candErr != nil {
		problem = candErr.Error()
	} else {
		dir := t.TempDir()
		pcap := filepath.Join(dir, "packets.pcap")
		if err := s.WritePcap(pcap); err != nil {
			t.Fatal(err)
		}
		got, err := candidate.Run(s.Params, s.RulesetPath(), pcap)
		switch {
		case err != nil && errors.Is(err, ErrCandidate):
			problem = err.Error()
		case err != nil:
			t.Fatalf("nftgo output unreadable: %v", err)
		default:
			if d := Diff(want, got, DiffOptions{Candidate: true}); len(d) > 0 {
				problem = "nftgo differs from the kernel:\n" + FormatDiff(d)
			}
		}
	}
	switch {
	case problem != "" && listed:
		t.Skipf("XFAIL (%s): %s", cause, problem)
	case problem != "":
		t.Error(problem)
	case named:
		t.Errorf("nftgo now matches the kernel: remove %q from testdata/scenarios/XFAIL", s.Name)
	}
}
