package nfttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/replay"
	"github.com/nftgo/nftgo/vm"
)

// Options select and shape a run.
type Options struct {
	// Run, when set, selects the cases whose "FILE/CASE" name it matches
	// (FILE is the test file's base name without the extension).
	Run *regexp.Regexp
	// Verbose adds every packet's line to the case's output.
	Verbose bool
}

// Outcome is one packet's result in the test language.
type Outcome struct {
	Expect // what happened, in the expectation's form
	// Packet is the packet as the output prints it.
	Packet string
	// Trace is the rule trace and path replay printed for the packet.
	Trace string
	// HandleBy is the decision by handle ("… handle N"), which an
	// expectation may name instead of the rule's position.
	HandleBy string
}

// PacketResult pairs one packet with its expectation.
type PacketResult struct {
	Step  *Step
	Index int // position within the step (record number for pcap records)
	Got   Outcome
	Want  *Expect // nil when the step carries none
	OK    bool
	// Frame is the packet as it was sent (raw IP unless from a pcap of
	// another link type) and Time its replay clock in ns: what a kernel
	// run of the same case is given.
	Frame []byte
	Time  int64
}

// EndResult is one end expectation and what the state was.
type EndResult struct {
	End *End
	Got string // the line's form with the actual values
	OK  bool
}

// CaseResult is what running one case gave.
type CaseResult struct {
	File    *File
	Case    *Case
	Packets []PacketResult
	Ends    []EndResult
	// Err is a failure to run (a ruleset that does not compile, an
	// unreadable pcap); it fails the case.
	Err     error
	Elapsed time.Duration
}

// Failed reports whether anything did not match.
func (r *CaseResult) Failed() bool {
	if r.Err != nil {
		return true
	}
	for i := range r.Packets {
		if !r.Packets[i].OK {
			return true
		}
	}
	for i := range r.Ends {
		if !r.Ends[i].OK {
			return true
		}
	}
	return false
}

// FullName is "FILE/CASE", the name -run matches.
func (r *CaseResult) FullName() string { return caseName(r.File, r.Case) }

func caseName(f *File, c *Case) string {
	return strings.TrimSuffix(filepath.Base(f.Path), Ext) + "/" + c.Name
}

// RunFile runs every selected case of f, each in a fresh machine.
func RunFile(f *File, opt Options) []*CaseResult {
	var out []*CaseResult
	for _, c := range f.Cases {
		if opt.Run != nil && !opt.Run.MatchString(caseName(f, c)) {
			continue
		}
		out = append(out, RunCase(f, c))
	}
	return out
}

// verdictLine is one line replay writes to Config.Verdicts.
type verdictLine struct {
	Verdict   string          `json:"verdict"`
	Family    string          `json:"family"`
	Table     string          `json:"table"`
	Chain     string          `json:"chain"`
	Handle    json.RawMessage `json:"handle"`
	RuleIndex *int            `json:"rule_index"`
	Kernel    string          `json:"kernel"`
}

// lineWriter keeps the last Write: replay writes each packet's output in
// one call.
type lineWriter struct{ last []byte }

func (w *lineWriter) Write(b []byte) (int, error) {
	w.last = append(w.last[:0], b...)
	return len(b), nil
}

// RunCase runs one case through the replay loop on a machine of its own:
// nothing carries over between cases.
func RunCase(f *File, c *Case) (res *CaseResult) {
	start := time.Now()
	res = &CaseResult{File: f, Case: c}
	defer func() {
		if r := recover(); r != nil {
			res.Err = fmt.Errorf("nftgo failed on this case (a bug): %v", r)
		}
		res.Elapsed = time.Since(start)
	}()
	comp, err := compiler.CompileFile(f.RulesetPath(), compiler.Options{})
	if err != nil {
		res.Err = err
		return res
	}
	ctc := ct.DefaultConfig()
	for _, s := range f.Sysctls {
		if err := ctc.SetSysctl(s.Key, s.Value); err != nil {
			res.Err = &Error{Path: f.Path, Line: s.Line, Msg: fmt.Sprintf("sysctl %s=%s: %v", s.Key, s.Value, err)}
			return res
		}
	}
	vw, tw := &lineWriter{}, &lineWriter{}
	var lastCt string
	var rp *replay.Replay
	onPacket := func(ev *replay.Event) {
		if ev.Result != nil {
			lastCt = ctStateName(ev.Result.CtState, rp.M.ConntrackInUse())
		}
	}
	rp, err = replay.New(comp.Ruleset, replay.Config{Host: f.Host, CT: ctc, Verdicts: vw, Text: tw, Trace: true, OnPacket: onPacket})
	if err != nil {
		res.Err = err
		return res
	}
	clock := testpkt.Epoch.UnixNano()
	first := true
	var pause int64
	gap := int64(10 * time.Millisecond)

	// one runs a single frame and records its outcome; the ct state is
	// what the vm's conntrack gave the packet (Result.CtState).
	one := func(st *Step, idx int, data []byte, lt packet.LinkType, ts int64, text string) error {
		frame := append([]byte(nil), data...)
		lastCt = ""
		if err := rp.Packet(lt, data, ts); err != nil {
			return err
		}
		got, err := outcome(vw.last, tw.last)
		if err != nil {
			return err
		}
		if text == "" {
			text = got.Packet
		}
		got.Packet = text
		got.CT = lastCt
		pr := PacketResult{Step: st, Index: idx, Got: got, OK: true, Frame: frame, Time: ts}
		if w := st.want(idx); w != nil {
			pr.Want = w
		}
		if pr.Want != nil {
			pr.OK = matches(*pr.Want, got)
		}
		res.Packets = append(res.Packets, pr)
		return nil
	}
	for si, st := range c.Steps {
		switch st.Kind {
		case StepGap:
			gap = int64(st.Dur)
		case StepPause:
			pause += int64(st.Dur)
		case StepPackets:
			for i, s := range st.Specs {
				data, err := testpkt.Build(s)
				if err != nil {
					res.Err = &Error{Path: f.Path, Line: st.Line, Msg: err.Error()}
					return res
				}
				if !first {
					clock += gap
				}
				first = false
				clock += pause
				pause = 0
				text := ""
				if len(st.Specs) == 1 && !st.Conv {
					text = st.Text
				}
				if err := one(st, i, data, packet.LinkRaw, clock, text); err != nil {
					res.Err = err
					return res
				}
			}
		case StepPcap:
			path := st.Pcap
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(f.Path), path)
			}
			recs, err := readPcap(path)
			if err != nil {
				res.Err = &Error{Path: f.Path, Line: st.Line, Msg: err.Error()}
				return res
			}
			// Record expectations are the #N lines right after the pcap.
			want := map[int]*Step{}
			for _, r := range c.Steps[si+1:] {
				if r.Kind != StepRecord {
					break
				}
				want[r.Index] = r
			}
			var base int64
			for i, r := range recs {
				if i == 0 {
					if !first {
						clock += gap
					}
					base = r.ts
				}
				first = false
				ts := clock + pause + (r.ts - base)
				host := st
				if w := want[i]; w != nil {
					host = w
				}
				if err := one(host, i, r.data, r.lt, ts, ""); err != nil {
					res.Err = err
					return res
				}
				pr := &res.Packets[len(res.Packets)-1]
				if host == st {
					pr.Want = nil
					pr.OK = true
				}
				pr.Index = i
				if i == len(recs)-1 {
					clock = ts
					pause = 0
				}
			}
			for idx, w := range want {
				if idx >= len(recs) {
					res.Err = &Error{Path: f.Path, Line: w.Line, Msg: fmt.Sprintf("#%d: the pcap has %d records", idx, len(recs))}
					return res
				}
			}
		}
	}
	now := rp.Now()
	for _, e := range c.Ends {
		got, ok, err := checkEnd(rp, e, now)
		if err != nil {
			res.Err = &Error{Path: f.Path, Line: e.Line, Msg: err.Error()}
			return res
		}
		res.Ends = append(res.Ends, EndResult{End: e, Got: got, OK: ok})
	}
	return res
}

type record struct {
	data []byte
	ts   int64
	lt   packet.LinkType
}

func readPcap(path string) ([]record, error) {
	c, err := replay.Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []record
	for {
		data, ts, lt, err := c.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, record{data: append([]byte(nil), data...), ts: ts, lt: lt})
	}
}

// outcome reads the packet's verdict line and text line as replay wrote
// them.
func outcome(vline, tline []byte) (Outcome, error) {
	var v verdictLine
	if err := json.Unmarshal(vline, &v); err != nil {
		return Outcome{}, fmt.Errorf("reading replay's verdict %q: %v", vline, err)
	}
	o := Outcome{}
	o.Verdict = v.Verdict
	switch {
	case v.Kernel != "":
		o.By = "kernel " + v.Kernel
	case v.Table != "":
		h := strings.Trim(string(v.Handle), `"`)
		if h == "policy" {
			o.By = fmt.Sprintf("%s %s %s policy", v.Family, v.Table, v.Chain)
		} else if v.RuleIndex != nil {
			o.By = fmt.Sprintf("%s %s %s rule %d", v.Family, v.Table, v.Chain, *v.RuleIndex)
		}
	default:
		o.By = "none"
	}
	t := string(tline)
	// "#N SUMMARY  VERDICT  by …\n        trace…": keep the summary and
	// the trace lines.
	head, trace, _ := strings.Cut(strings.TrimRight(t, "\n"), "\n")
	if _, rest, ok := strings.Cut(head, " "); ok {
		if i := strings.Index(rest, "  "); i >= 0 {
			rest = rest[:i]
		}
		o.Packet = rest
	}
	o.Trace = trace
	o.HandleBy = handleBy(v)
	return o, nil
}

// handleBy is the "by … handle N" form of a rule decision.
func handleBy(v verdictLine) string {
	h := strings.Trim(string(v.Handle), `"`)
	if v.Table == "" || h == "policy" || h == "" {
		return ""
	}
	return fmt.Sprintf("%s %s %s handle %s", v.Family, v.Table, v.Chain, h)
}

// want is the expectation of the step's idx-th packet, nil when none.
func (st *Step) want(idx int) *Expect {
	switch n := len(st.Expect); {
	case n == 1:
		return &st.Expect[0]
	case st.Kind != StepPackets:
	case n == len(st.Specs) && idx < n:
		return &st.Expect[idx]
	case n == st.Per && n > 0:
		return &st.Expect[idx%n]
	}
	return nil
}

// matches compares an expectation with what happened; what the expectation
// leaves out is not checked.
func matches(want Expect, got Outcome) bool {
	if want.Verdict != got.Verdict {
		return false
	}
	if want.By != "" && want.By != got.By && want.By != got.HandleBy {
		return false
	}
	if want.CT != "" && want.CT != got.CT {
		return false
	}
	return true
}

// ctStateName names the `ct state` bit the packet carried. A ruleset that
// never uses conntrack tracks nothing; its packets read "untracked" here
// rather than the "invalid" nft would read, since no rule can ask.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval (NFT_CT_STATE)
func ctStateName(bits uint32, inUse bool) string {
	if !inUse {
		return "untracked"
	}
	switch {
	case bits&vm.CtStateUntracked != 0:
		return "untracked"
	case bits&vm.CtStateNew != 0:
		return "new"
	case bits&vm.CtStateRelated != 0:
		return "related"
	case bits&vm.CtStateEstablished != 0:
		return "established"
	}
	return "invalid"
}

var errNoMatch = errors.New("no match")

// checkEnd evaluates one end expectation against the machine's state.
func checkEnd(rp *replay.Replay, e *End, now int64) (got string, ok bool, err error) {
	switch e.Kind {
	case EndCounter:
		rs := rp.M.Snapshot(now)
		for _, t := range rs.Tables {
			if t.Family.String() != e.Family || t.Name != e.Table {
				continue
			}
			for _, c := range t.Chains {
				if c.Name != e.Chain {
					continue
				}
				if e.Rule < 0 || e.Rule >= len(c.Rules) {
					return "", false, fmt.Errorf("chain %s %s %s has %d rules, no rule %d", e.Family, e.Table, e.Chain, len(c.Rules), e.Rule)
				}
				for _, x := range c.Rules[e.Rule].Exprs {
					if cnt, isCounter := x.(interface{ Name() string }); isCounter && cnt.Name() == "counter" {
						p, b := counterValues(x)
						got = fmt.Sprintf("expect counter %s %s %s rule %d packets %d", e.Family, e.Table, e.Chain, e.Rule, p)
						ok = p == e.Packets
						if e.HasBytes {
							got += " bytes " + strconv.FormatUint(b, 10)
							ok = ok && b == e.Bytes
						}
						return got, ok, nil
					}
				}
				return "", false, fmt.Errorf("rule %d of %s %s %s has no counter", e.Rule, e.Family, e.Table, e.Chain)
			}
		}
		return "", false, fmt.Errorf("no chain %s %s %s in the ruleset", e.Family, e.Table, e.Chain)
	case EndSet:
		els, err := setElements(rp, e, now)
		if err != nil {
			return "", false, err
		}
		got = fmt.Sprintf("expect set %s %s %s { %s }", e.Family, e.Table, e.Name, strings.Join(els, ", "))
		if len(els) == 0 {
			got = fmt.Sprintf("expect set %s %s %s { }", e.Family, e.Table, e.Name)
		}
		return got, sameSet(els, e.Elements), nil
	case EndCTCount:
		n := len(rp.M.Conntrack().Entries(now))
		return fmt.Sprintf("expect conntrack count %d", n), n == e.Count, nil
	case EndCTEntry:
		st := ctEntryState(rp.M.Conntrack(), e.Tuple, now)
		return "expect conntrack " + e.Tuple + " " + st, st == e.State, nil
	}
	return "", false, errNoMatch
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		if m[x] == 0 {
			return false
		}
		m[x]--
	}
	return true
}

// Output helpers shared by the command and the library.

func writeIndented(w io.Writer, prefix, s string) {
	for _, ln := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, strings.TrimLeft(ln, " "))
	}
}
