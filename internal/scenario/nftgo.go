package scenario

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Candidate is what the goldens are compared with. It is an interface so the
// comparison does not depend on how nftgo is run (a built binary today; the
// replay API in-process later).
type Candidate interface {
	// Run replays the capture at pcap through ruleset on the host p
	// describes and returns the result in golden form.
	Run(p Params, ruleset, pcap string) (*Golden, error)
}

// ErrCandidate wraps failures of the candidate itself (it does not build,
// crashes, or exits non-zero), as opposed to results that differ.
var ErrCandidate = errors.New("nftgo did not produce a result")

// Binary runs an nftgo executable with the command line of
// ../shared/scenarios/run-nftgo: the host flags, `-j list ruleset` to
// stdout, --verdicts and --conntrack files.
type Binary struct {
	Path    string
	Timeout time.Duration
}

// HostArgs are nftgo's host flags for p.
func HostArgs(p Params) []string {
	var a []string
	if p.Mode == "local" {
		for _, l := range p.Local {
			a = append(a, "--local", l)
		}
	} else {
		a = append(a, "--iface", "wan=198.51.100.254/24,2001:db8:1::fffe/64",
			"--iface", "lan=203.0.113.254/24,2001:db8:2::fffe/64", "--route", "default@wan")
		for _, n := range p.LanNets {
			a = append(a, "--route", n+"@lan")
		}
	}
	keys := make([]string, 0, len(p.Sysctl))
	for k := range p.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "--sysctl", k+"="+p.Sysctl[k])
	}
	return a
}

// Run implements Candidate.
func (b Binary) Run(p Params, ruleset, pcap string) (*Golden, error) {
	dir, err := os.MkdirTemp("", "nftgo-cand")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	vf, cf := filepath.Join(dir, "verdicts.jsonl"), filepath.Join(dir, "conntrack.txt")
	args := append([]string{"-f", ruleset, "--replay", pcap}, HostArgs(p)...)
	args = append(args, "-j", "list", "ruleset", "--verdicts", vf, "--conntrack", cf)
	cmd := exec.Command(b.Path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCandidate, err)
	}
	to := b.Timeout
	if to == 0 {
		to = 2 * time.Minute
	}
	timer := time.AfterFunc(to, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if i := strings.Index(msg, "\n"); i >= 0 && strings.HasPrefix(msg, "panic:") {
			msg = msg[:i]
		}
		if len(msg) > 400 {
			msg = msg[:400] + "…"
		}
		if strings.HasPrefix(msg, "nftgo: ") || !strings.HasPrefix(msg, "panic:") {
			// a load error is a result the kernel may share
			if le := loadError(msg); le != "" {
				return &Golden{Format: 1, Mode: p.Mode, LoadError: le}, nil
			}
		}
		return nil, fmt.Errorf("%w: %v: %s", ErrCandidate, err, msg)
	}
	vb, err := os.ReadFile(vf)
	if err != nil {
		return nil, fmt.Errorf("%w: verdicts: %v", ErrCandidate, err)
	}
	cb, err := os.ReadFile(cf)
	if err != nil {
		return nil, fmt.Errorf("%w: conntrack: %v", ErrCandidate, err)
	}
	return FromCandidate(p, out.Bytes(), vb, string(cb))
}

// loadError recognises nft-style "Error:" reports on a failed load.
func loadError(stderr string) string {
	if strings.Contains(stderr, "Error:") {
		return stderr
	}
	return ""
}

// candidateVerdict is one line of nftgo's --verdicts file (the format of
// ../shared/scenarios/compare.py --help).
type candidateVerdict struct {
	Index     int             `json:"index"`
	Verdict   string          `json:"verdict"`
	Family    string          `json:"family"`
	Table     string          `json:"table"`
	Chain     string          `json:"chain"`
	Handle    json.RawMessage `json:"handle"`
	Policy    bool            `json:"policy"`
	RuleIndex *int            `json:"rule_index"`
	Kernel    string          `json:"kernel"`
	Stage     string          `json:"stage"`
}

// FromCandidate normalises nftgo's outputs like a kernel run.
func FromCandidate(p Params, rulesetJSON, verdicts []byte, conntrack string) (*Golden, error) {
	g := &Golden{Format: 1, Mode: p.Mode, Verdicts: []Verdict{}, Conntrack: []CTEntry{}}
	doc, err := parseRuleset(rulesetJSON)
	if err != nil {
		return nil, err
	}
	idx := doc.ruleIndex()
	sc := bufio.NewScanner(bytes.NewReader(verdicts))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		ln := strings.TrimSpace(sc.Text())
		if ln == "" {
			continue
		}
		var cv candidateVerdict
		if err := json.Unmarshal([]byte(ln), &cv); err != nil {
			return nil, fmt.Errorf("verdict line %q: %w", ln, err)
		}
		v := Verdict{Index: cv.Index, Verdict: strings.ToLower(cv.Verdict)}
		if v.Verdict == "stolen" {
			// The oracle sees a stolen packet (synproxy, fwd) as one that
			// never left: internal/kernel records it as a drop.
			v.Verdict = "drop"
		}
		switch {
		case cv.Kernel != "" || cv.Stage != "":
			st := cv.Stage
			if st == "" {
				st = cv.Kernel
			}
			v.DecidedBy = &Decided{Kernel: st}
		case cv.Table == "" && cv.Chain == "":
			if v.Verdict == "drop" {
				v.DecidedBy = &Decided{Kernel: "unknown"}
			}
		default:
			d := &Decided{Family: cv.Family, Table: cv.Table, Chain: cv.Chain}
			h := strings.Trim(string(cv.Handle), `"`)
			if cv.Policy || h == "policy" {
				d.Policy = true
			} else {
				fmt.Sscan(h, &d.Handle)
				d.RuleIndex = cv.RuleIndex
				if d.RuleIndex == nil {
					if i, ok := idx[ruleKey{chainKey{d.Family, d.Table, d.Chain}, d.Handle}]; ok {
						d.RuleIndex = &i
					}
				}
			}
			v.DecidedBy = d
		}
		g.Verdicts = append(g.Verdicts, v)
	}
	g.Counters = doc.counters(nil)
	g.Sets = doc.sets()
	if g.Conntrack, err = ParseConntrack(conntrack, !p.NoConntrackTimeout); err != nil {
		return nil, err
	}
	g.ConntrackCount = len(g.Conntrack)
	return g, nil
}
