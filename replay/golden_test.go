package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/compiler/list"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/scenario"
	"github.com/nftgo/nftgo/vm"
)

// caseParams is a case's params.json, in the scenario format the kernel
// oracle reads.
type caseParams struct {
	Mode   string            `json:"mode"`
	Local  []string          `json:"local"`
	Sysctl map[string]string `json:"sysctl"`
}

// forwardHost is the oracle's router: wan with the default route, lan.
func forwardHost(t testing.TB) vm.Host {
	var h vm.Host
	for _, s := range []string{"wan=198.51.100.254/24,2001:db8:1::fffe/64", "lan=203.0.113.254/24,2001:db8:2::fffe/64"} {
		ifc, err := ParseIface(s)
		if err != nil {
			t.Fatal(err)
		}
		h.Ifaces = append(h.Ifaces, ifc)
	}
	rts, err := ParseRoute("default@wan")
	if err != nil {
		t.Fatal(err)
	}
	h.Routes = rts
	return h
}

func (p caseParams) config(t *testing.T) Config {
	var cfg Config
	if p.Mode == "forward" {
		cfg.Host = forwardHost(t)
	} else {
		for _, a := range p.Local {
			addr, err := ParseLocal(a)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Host.Local = append(cfg.Host.Local, addr)
		}
	}
	cfg.CT = ct.DefaultConfig()
	for k, v := range p.Sysctl {
		if err := cfg.CT.SetSysctl(k, v); err != nil {
			t.Fatalf("sysctl %s=%s: %v", k, v, err)
		}
	}
	return cfg
}

// caseOutput is everything a replay of one case produced.
type caseOutput struct {
	text, verdicts, listing, listJSON, conntrack string
}

func replayCase(t *testing.T, dir string) (_ caseParams, _ caseOutput) {
	t.Helper()
	defer func() {
		// A package whose contract is still a stub panics; report it as
		// this case's failure instead of aborting every test.
		if e := recover(); e != nil {
			t.Fatalf("replay panicked: %v", e)
		}
	}()
	var p caseParams
	b, err := os.ReadFile(filepath.Join(dir, "params.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	c, err := compiler.CompileFile(filepath.Join(dir, "ruleset.nft"), compiler.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	cfg := p.config(t)
	var text, verdicts bytes.Buffer
	cfg.Text, cfg.Verdicts = &text, &verdicts
	r, err := New(c.Ruleset, cfg)
	if err != nil {
		t.Fatal(err)
	}
	capf, err := Open(filepath.Join(dir, "traffic.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer capf.Close()
	if err := r.Run(capf); err != nil {
		t.Fatal(err)
	}
	if r.Stats.Stopped != nil {
		t.Fatalf("replay stopped: %v", r.Stats.Stopped)
	}
	if err := r.WriteSummary(&text); err != nil {
		t.Fatal(err)
	}
	snap := r.M.Snapshot(r.Now())
	var listing, listJSON, ctl bytes.Buffer
	if err := list.Text(&listing, snap, list.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := list.JSON(&listJSON, snap, list.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := r.M.Conntrack().WriteList(&ctl, r.Now()); err != nil {
		t.Fatal(err)
	}
	return p, caseOutput{text.String(), verdicts.String(), listing.String(), listJSON.String(), ctl.String()}
}

// TestGolden replays every case and checks nftgo's results against what
// Linux did with the same ruleset and capture (kernel.json, recorded by
// record-kernel.sh), then compares the full human-readable output with
// expected.txt, which -update rewrites.
func TestGolden(t *testing.T) {
	for _, tc := range replayCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, tc.name)
			p, out := replayCase(t, dir)

			kern, err := readKernelJSON(filepath.Join(dir, "kernel.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := scenario.FromCandidate(scenario.Params{Mode: p.Mode, Local: p.Local}, []byte(out.listJSON), []byte(out.verdicts), out.conntrack)
			if err != nil {
				t.Fatalf("normalising nftgo's output: %v", err)
			}
			if d := scenario.Diff(kern, got, scenario.DiffOptions{Candidate: true}); len(d) > 0 {
				t.Errorf("nftgo disagrees with the kernel (kernel.json):\n%s", scenario.FormatDiff(d))
			}

			// The kernel lists conntrack entries in hash-bucket order, which
			// depends on a random seed: the golden keeps them sorted.
			ctLines := strings.SplitAfter(out.conntrack, "\n")
			sort.Strings(ctLines)
			full := out.text + "\n# list ruleset\n" + out.listing + "\n# conntrack -L (sorted)\n" + strings.Join(ctLines, "")
			path := filepath.Join(dir, "expected.txt")
			if *update {
				if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./replay -update)", err)
			}
			if string(want) != full {
				t.Errorf("output differs from %s (go test ./replay -update rewrites it):\n%s", path, lineDiff(string(want), full))
			}
		})
	}
}

// readKernelJSON reads kernel.json into the scenario package's Golden: the
// Golden layout TestKernel -record writes, and also the older layout whose
// decided_by spells a policy as "handle": "policy".
func readKernelJSON(path string) (*scenario.Golden, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%v (record it with testdata/replay/record-kernel.sh)", err)
	}
	var raw struct {
		Mode     string `json:"mode"`
		Verdicts []struct {
			Index     int    `json:"index"`
			Verdict   string `json:"verdict"`
			DecidedBy *struct {
				Kernel    string          `json:"kernel"`
				Family    string          `json:"family"`
				Table     string          `json:"table"`
				Chain     string          `json:"chain"`
				Handle    json.RawMessage `json:"handle"`
				Policy    bool            `json:"policy"`
				RuleIndex *int            `json:"rule_index"`
			} `json:"decided_by"`
		} `json:"verdicts"`
		Counters  []scenario.Counter           `json:"counters"`
		Sets      map[string][]json.RawMessage `json:"sets"`
		Conntrack []scenario.CTEntry           `json:"conntrack"`
		Count     int                          `json:"conntrack_count"`
		TableFull bool                         `json:"dmesg_table_full"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g := &scenario.Golden{Format: 1, Mode: raw.Mode, Counters: raw.Counters, Conntrack: raw.Conntrack, ConntrackCount: raw.Count, TableFull: raw.TableFull, Sets: map[string][]json.RawMessage{}}
	for _, v := range raw.Verdicts {
		sv := scenario.Verdict{Index: v.Index, Verdict: v.Verdict}
		if d := v.DecidedBy; d != nil {
			sd := &scenario.Decided{Kernel: d.Kernel, Family: d.Family, Table: d.Table, Chain: d.Chain, RuleIndex: d.RuleIndex}
			if d.Policy || string(d.Handle) == `"policy"` {
				sd.Policy = true
			} else if len(d.Handle) > 0 {
				json.Unmarshal(d.Handle, &sd.Handle)
			}
			sv.DecidedBy = sd
		}
		g.Verdicts = append(g.Verdicts, sv)
	}
	for k, els := range raw.Sets {
		out := make([]json.RawMessage, 0, len(els))
		for _, e := range els {
			var x any
			if err := json.Unmarshal(e, &x); err != nil {
				return nil, err
			}
			c, _ := json.Marshal(x) // canonical: sorted keys
			out = append(out, c)
		}
		g.Sets[k] = out
	}
	return g, nil
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
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
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
			if n++; n == 10 {
				break
			}
		}
	}
	return b.String()
}
