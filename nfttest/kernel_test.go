package nfttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedScenarios holds the public kernel-recorded scenarios.
const sharedScenarios = "../../shared/scenarios"

// kernelJSON is the part of a scenario's kernel.json the test files
// express: per-packet verdicts, rule counters, the conntrack count.
type kernelJSON struct {
	Verdicts []struct {
		Index     int             `json:"index"`
		Verdict   string          `json:"verdict"`
		DecidedBy *kernelDecision `json:"decided_by"`
	} `json:"verdicts"`
	Counters []struct {
		Family, Table, Chain string
		Index                int
		Packets, Bytes       uint64
	} `json:"counters"`
	ConntrackCount int `json:"conntrack_count"`
}

type kernelDecision struct {
	Kernel    string          `json:"kernel"`
	Family    string          `json:"family"`
	Table     string          `json:"table"`
	Chain     string          `json:"chain"`
	Handle    json.RawMessage `json:"handle"`
	RuleIndex *int            `json:"rule_index"`
}

// by is the decision in the test language.
func (d *kernelDecision) by() string {
	switch {
	case d == nil:
		return ""
	case d.Kernel == "prerouting":
		return "kernel conntrack" // nf_conntrack_in's drop, as replay names it
	case d.Kernel != "":
		return "kernel " + d.Kernel
	case strings.Trim(string(d.Handle), `"`) == "policy":
		return fmt.Sprintf("%s %s %s policy", d.Family, d.Table, d.Chain)
	case d.RuleIndex != nil:
		return fmt.Sprintf("%s %s %s rule %d", d.Family, d.Table, d.Chain, *d.RuleIndex)
	}
	return "?"
}

// TestKernelScenarios checks that the test files under testdata/kernel —
// public scenarios of ../shared/scenarios written as test files, their
// expectations produced by `nftgo test -update` — pass, and that every
// expectation in them is what Linux did according to the scenario's
// kernel.json: each packet's verdict and deciding rule, every rule
// counter, the number of conntrack entries.
func TestKernelScenarios(t *testing.T) {
	if _, err := os.Stat(sharedScenarios); err != nil {
		t.Skipf("%s is absent (%v): the kernel recordings are not here", sharedScenarios, err)
	}
	if *update {
		updateFiles(t, "testdata/kernel")
	}
	files, err := filepath.Glob("testdata/kernel/*" + Ext)
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 scenario test files, have %d (%v)", len(files), err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), Ext)
		t.Run(name, func(t *testing.T) {
			f, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range RunFile(f, Options{}) {
				if r.Failed() {
					var b strings.Builder
					WriteFailure(&b, r)
					t.Errorf("nftgo no longer agrees with the file:\n%s", b.String())
				}
			}
			b, err := os.ReadFile(filepath.Join(sharedScenarios, name, "kernel.json"))
			if err != nil {
				t.Fatal(err)
			}
			var k kernelJSON
			if err := json.Unmarshal(b, &k); err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			counters := 0
			for _, c := range f.Cases {
				for _, st := range c.Steps {
					if st.Kind != StepRecord {
						continue
					}
					if st.Index >= len(k.Verdicts) {
						t.Errorf("line %d: #%d: the kernel saw %d packets", st.Line, st.Index, len(k.Verdicts))
						continue
					}
					seen[st.Index] = true
					kv := k.Verdicts[st.Index]
					want := Expect{Verdict: kv.Verdict, By: kv.DecidedBy.by()}
					got := st.Expect[0]
					if want.By == "" {
						want.By = got.By // accepted with no user chain: the file says nothing either
						if got.By != "" && got.By != "none" {
							want.By = "none"
						}
					}
					if got.Verdict != want.Verdict || got.By != want.By {
						t.Errorf("line %d: #%d: file says %q, Linux did %q", st.Line, st.Index, got, want)
					}
				}
				for _, e := range c.Ends {
					switch e.Kind {
					case EndCounter:
						found := false
						for _, kc := range k.Counters {
							if kc.Family == e.Family && kc.Table == e.Table && kc.Chain == e.Chain && kc.Index == e.Rule {
								found = true
								if kc.Packets != e.Packets || (e.HasBytes && kc.Bytes != e.Bytes) {
									t.Errorf("line %d: counter: file says %d packets %d bytes, Linux counted %d packets %d bytes",
										e.Line, e.Packets, e.Bytes, kc.Packets, kc.Bytes)
								}
							}
						}
						if !found {
							t.Errorf("line %d: no such counter in kernel.json", e.Line)
						}
						counters++
					case EndCTCount:
						if e.Count != k.ConntrackCount {
							t.Errorf("line %d: file says %d conntrack entries, Linux had %d", e.Line, e.Count, k.ConntrackCount)
						}
					}
				}
			}
			if len(seen) != len(k.Verdicts) {
				t.Errorf("the file has expectations for %d of the %d packets Linux saw", len(seen), len(k.Verdicts))
			}
			ruleCounters := 0
			for _, kc := range k.Counters {
				if kc.Chain != "" {
					ruleCounters++
				}
			}
			if counters != ruleCounters {
				t.Errorf("the file checks %d of the %d rule counters of kernel.json", counters, ruleCounters)
			}
			t.Logf("%d packets, %d counters agree with Linux", len(seen), counters)
		})
	}
}
