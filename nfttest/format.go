package nfttest

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/replay"
	"github.com/nftgo/nftgo/vm"
)

// Ext is the extension `nftgo test` looks for when it searches a directory.
const Ext = ".nfttest"

// File is one parsed test file: the ruleset and host every case shares,
// and the cases. Lines keeps the source so -update can rewrite only the
// expectations and leave comments and layout alone.
type File struct {
	Path    string
	Lines   []string
	Ruleset string // as written (relative to the file's directory)
	// RulesetLine is the line of the ruleset statement.
	RulesetLine int
	Host        vm.Host
	Sysctls     []Sysctl
	Cases       []*Case
}

// Sysctl is one `sysctl KEY=VALUE` line.
type Sysctl struct {
	Key, Value string
	Line       int
}

// RulesetPath is the ruleset's path as the process opens it.
func (f *File) RulesetPath() string {
	if filepath.IsAbs(f.Ruleset) {
		return f.Ruleset
	}
	return filepath.Join(filepath.Dir(f.Path), f.Ruleset)
}

// Case is one `case NAME` block: traffic steps with their expectations,
// then expectations on the state at the end.
type Case struct {
	Name  string
	Line  int
	Steps []*Step
	Ends  []*End
	// Gap is the time between two packets unless a step says otherwise.
	Gap time.Duration
}

// StepKind tells what a step does.
type StepKind uint8

const (
	StepPackets StepKind = iota // packets built from text
	StepPause                   // +DURATION
	StepGap                     // gap DURATION
	StepPcap                    // pcap FILE
	StepRecord                  // #N … => EXPECT: the expectation of one pcap record
)

// Step is one line of traffic.
type Step struct {
	Kind StepKind
	Line int
	// Text is the traffic part as written (left of "=>").
	Text  string
	Specs []testpkt.Spec
	Dur   time.Duration
	Pcap  string // StepPcap: path as written
	Index int    // StepRecord: record number in the preceding pcap
	// Expect holds one expectation for every packet of the step, or one
	// per packet; nil when the line carries none.
	Expect []Expect
	// Per is the number of packets of one repetition of an `Nx` line: a
	// list of Per expectations applies to every repetition.
	Per int
	// Conv marks conversation steps (handshake, data, close) whose packets
	// are printed by their summary rather than by the step's text.
	Conv bool
}

// Expect is what should happen to one packet.
type Expect struct {
	Verdict string // accept | drop
	// By is empty (not checked) or one of: "FAMILY TABLE CHAIN rule N",
	// "FAMILY TABLE CHAIN handle N", "FAMILY TABLE CHAIN policy",
	// "kernel STAGE", "none" (no base chain decided).
	By string
	// CT is the expected ct state (new, established, related, invalid,
	// untracked) or empty when not checked.
	CT string
}

func (e Expect) String() string {
	s := e.Verdict
	if e.By != "" {
		s += " by " + e.By
	}
	if e.CT != "" {
		s += " ct state " + e.CT
	}
	return s
}

// EndKind tells what an end expectation looks at.
type EndKind uint8

const (
	EndCounter EndKind = iota
	EndSet
	EndCTCount
	EndCTEntry
)

// End is an `expect …` line: the state after the case's traffic.
type End struct {
	Kind EndKind
	Line int
	// Counter: Family Table Chain Rule; Set: Family Table Name.
	Family, Table, Chain, Name string
	Rule                       int
	Packets, Bytes             uint64
	HasBytes                   bool
	Elements                   []string // set elements as `nft list set` prints them
	Count                      int
	// CT entry: the original tuple as text ("tcp A:P > B:P") and the state
	// with flags ("ESTABLISHED [ASSURED]", "[UNREPLIED]", or "none").
	Tuple, State string
}

// Error is a problem in a test file, at file:line.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// ParseFile reads and parses a test file.
func ParseFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse parses the test file src named path.
func Parse(path string, src []byte) (*File, error) {
	f := &File{Path: path, Lines: strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")}
	var cur *Case
	var conv convState
	var lastPcap bool
	for i, raw := range f.Lines {
		ln := i + 1
		bad := func(format string, a ...any) error {
			return &Error{Path: path, Line: ln, Msg: fmt.Sprintf(format, a...)}
		}
		line := stripComment(raw)
		if line == "" {
			continue
		}
		w := strings.Fields(line)
		switch w[0] {
		case "ruleset":
			if cur != nil {
				return nil, bad("ruleset must come before the first case")
			}
			if len(w) != 2 {
				return nil, bad("want: ruleset PATH")
			}
			f.Ruleset, f.RulesetLine = w[1], ln
			continue
		case "iface", "route", "local", "sysctl":
			if cur != nil {
				return nil, bad("%s must come before the first case (the host is shared by every case of a file)", w[0])
			}
			if err := f.hostLine(w); err != nil {
				return nil, bad("%v", err)
			}
			if w[0] == "sysctl" {
				f.Sysctls[len(f.Sysctls)-1].Line = ln
			}
			continue
		case "case":
			name := strings.TrimSpace(strings.TrimPrefix(line, "case"))
			if name == "" {
				return nil, bad("want: case NAME")
			}
			for _, c := range f.Cases {
				if c.Name == name {
					return nil, bad("case %q already defined at line %d", name, c.Line)
				}
			}
			cur = &Case{Name: name, Line: ln, Gap: 10 * time.Millisecond}
			f.Cases = append(f.Cases, cur)
			conv = convState{}
			lastPcap = false
			continue
		}
		if cur == nil {
			return nil, bad("%q outside a case: start one with `case NAME`", w[0])
		}
		if w[0] == "expect" {
			e, err := parseEnd(w[1:], line)
			if err != nil {
				return nil, bad("%v", err)
			}
			e.Line = ln
			cur.Ends = append(cur.Ends, e)
			continue
		}
		if len(cur.Ends) > 0 {
			return nil, bad("traffic after `expect`: end expectations close a case")
		}
		st, err := parseStep(line, &conv)
		if err != nil {
			return nil, bad("%v", err)
		}
		st.Line = ln
		switch st.Kind {
		case StepPcap:
			lastPcap = true
		case StepRecord:
			if !lastPcap {
				return nil, bad("#%d: a record expectation must follow a pcap line", st.Index)
			}
		default:
			lastPcap = false
		}
		if st.Kind == StepGap {
			cur.Gap = st.Dur
		}
		cur.Steps = append(cur.Steps, st)
	}
	if f.Ruleset == "" {
		return nil, &Error{Path: path, Line: 1, Msg: "no `ruleset PATH` line"}
	}
	if len(f.Cases) == 0 {
		return nil, &Error{Path: path, Line: len(f.Lines), Msg: "no cases: add `case NAME` and traffic"}
	}
	return f, nil
}

// stripComment removes a comment: a line starting with '#', or '#' after
// white space. A `#N` record line is not a comment.
func stripComment(s string) string {
	t := strings.TrimSpace(s)
	if isRecordLine(t) {
		if j := strings.IndexAny(t[1:], "#"); j >= 0 && j > 0 && (t[j] == ' ' || t[j] == '\t') {
			return strings.TrimSpace(t[:j+1])
		}
		return t
	}
	if strings.HasPrefix(t, "#") {
		return ""
	}
	for i := 1; i < len(t); i++ {
		if t[i] == '#' && (t[i-1] == ' ' || t[i-1] == '\t') {
			return strings.TrimSpace(t[:i])
		}
	}
	return t
}

// isRecordLine reports a `#N …` pcap record expectation, which starts with
// '#' but is not a comment.
func isRecordLine(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) > 1 && s[0] == '#' && s[1] >= '0' && s[1] <= '9'
}

func (f *File) hostLine(w []string) error {
	switch w[0] {
	case "iface":
		// iface NAME ADDR/PLEN [ADDR/PLEN…]
		if len(w) < 3 {
			return fmt.Errorf("want: iface NAME ADDR/PLEN [ADDR/PLEN...]")
		}
		ifc, err := replay.ParseIface(w[1] + "=" + strings.Join(w[2:], ","))
		if err != nil {
			return err
		}
		f.Host.Ifaces = append(f.Host.Ifaces, ifc)
	case "route":
		// route PREFIX|default IFACE
		if len(w) != 3 {
			return fmt.Errorf("want: route PREFIX|default IFACE")
		}
		rts, err := replay.ParseRoute(w[1] + "@" + w[2])
		if err != nil {
			return err
		}
		f.Host.Routes = append(f.Host.Routes, rts...)
	case "local":
		if len(w) < 2 {
			return fmt.Errorf("want: local ADDR [ADDR...]")
		}
		for _, s := range w[1:] {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("local %q: not an address", s)
			}
			f.Host.Local = append(f.Host.Local, a)
		}
	case "sysctl":
		if len(w) != 2 || !strings.Contains(w[1], "=") {
			return fmt.Errorf("want: sysctl KEY=VALUE")
		}
		k, v, _ := strings.Cut(w[1], "=")
		f.Sysctls = append(f.Sysctls, Sysctl{Key: k, Value: v})
	}
	return nil
}

// parseStep parses one traffic line: TRAFFIC [=> EXPECT[, EXPECT…]].
func parseStep(line string, conv *convState) (*Step, error) {
	text, exp, hasExp := strings.Cut(line, "=>")
	text = strings.TrimSpace(text)
	st := &Step{Text: text}
	if hasExp {
		for _, part := range strings.Split(exp, ",") {
			e, err := ParseExpect(strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			st.Expect = append(st.Expect, e)
		}
	}
	w := strings.Fields(text)
	if len(w) == 0 {
		return nil, fmt.Errorf("expectation without traffic")
	}
	switch {
	case isRecordLine(text):
		n, err := strconv.Atoi(w[0][1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: want #N (the record's position in the pcap, from 0)", w[0])
		}
		if !hasExp {
			return nil, fmt.Errorf("#%d: a record line needs `=> EXPECT`", n)
		}
		st.Kind, st.Index = StepRecord, n
		return st, nil
	case strings.HasPrefix(w[0], "+"):
		d, err := time.ParseDuration(w[0][1:])
		if err != nil || len(w) != 1 || d < 0 {
			return nil, fmt.Errorf("%q: want a pause such as +2s or +150ms", text)
		}
		if hasExp {
			return nil, fmt.Errorf("a pause has no expectation")
		}
		st.Kind, st.Dur = StepPause, d
		return st, nil
	case w[0] == "gap":
		if len(w) != 2 {
			return nil, fmt.Errorf("want: gap DURATION")
		}
		d, err := time.ParseDuration(w[1])
		if err != nil || d < 0 {
			return nil, fmt.Errorf("gap %q: want a duration such as 10ms", w[1])
		}
		st.Kind, st.Dur = StepGap, d
		return st, nil
	case w[0] == "pcap":
		if len(w) != 2 {
			return nil, fmt.Errorf("want: pcap FILE")
		}
		if hasExp {
			return nil, fmt.Errorf("expectations of a pcap go on its `#N` lines")
		}
		st.Kind, st.Pcap = StepPcap, w[1]
		return st, nil
	}
	specs, rep, isConv, err := parsePackets(w, conv)
	if err != nil {
		return nil, err
	}
	st.Specs, st.Conv, st.Per = specs, isConv, len(specs)/rep
	if n := len(st.Expect); n > 1 && n != len(specs) && n != st.Per {
		if rep > 1 {
			return nil, fmt.Errorf("%d expectations for %d packets: give one for all, one per packet of one repetition (%d) or one per packet", n, len(specs), st.Per)
		}
		return nil, fmt.Errorf("%d expectations for %d packets: give one for all or one per packet", n, len(specs))
	}
	return st, nil
}

// ParseExpect parses one packet expectation:
//
//	accept|drop [by FAMILY TABLE CHAIN rule N|handle N|policy | by kernel STAGE | by none] [ct state STATE]
func ParseExpect(s string) (Expect, error) {
	w := strings.Fields(s)
	var e Expect
	if len(w) == 0 {
		return e, fmt.Errorf("empty expectation: want accept or drop")
	}
	switch w[0] {
	case "accept", "drop":
		e.Verdict = w[0]
	default:
		return e, fmt.Errorf("expectation %q: want accept or drop first", s)
	}
	w = w[1:]
	if len(w) > 0 && w[0] == "by" {
		var by []string
		w = w[1:]
		for len(w) > 0 && w[0] != "ct" {
			by = append(by, w[0])
			w = w[1:]
		}
		ok := false
		switch {
		case len(by) == 1 && by[0] == "none":
			ok = true
		case len(by) == 2 && by[0] == "kernel":
			ok = true
		case len(by) == 4 && by[3] == "policy":
			ok = true
		case len(by) == 5 && (by[3] == "rule" || by[3] == "handle"):
			_, err := strconv.ParseUint(by[4], 10, 32)
			ok = err == nil
		}
		if !ok {
			return e, fmt.Errorf("by %q: want FAMILY TABLE CHAIN rule N | handle N | policy, kernel STAGE, or none", strings.Join(by, " "))
		}
		e.By = strings.Join(by, " ")
	}
	if len(w) > 0 {
		if len(w) != 3 || w[0] != "ct" || w[1] != "state" {
			return e, fmt.Errorf("%q: want ct state STATE after the verdict", strings.Join(w, " "))
		}
		switch w[2] {
		case "new", "established", "related", "invalid", "untracked":
			e.CT = w[2]
		default:
			return e, fmt.Errorf("ct state %q: want new, established, related, invalid or untracked", w[2])
		}
	}
	return e, nil
}

// parseEnd parses the words after `expect`.
func parseEnd(w []string, line string) (*End, error) {
	if len(w) == 0 {
		return nil, fmt.Errorf("want: expect counter|set|conntrack ...")
	}
	e := &End{}
	switch w[0] {
	case "counter":
		// counter FAMILY TABLE CHAIN rule N packets P [bytes B]
		if (len(w) != 8 && len(w) != 10) || w[4] != "rule" || w[6] != "packets" || (len(w) == 10 && w[8] != "bytes") {
			return nil, fmt.Errorf("want: expect counter FAMILY TABLE CHAIN rule N packets P [bytes B]")
		}
		e.Kind, e.Family, e.Table, e.Chain = EndCounter, w[1], w[2], w[3]
		var err error
		if e.Rule, err = strconv.Atoi(w[5]); err != nil {
			return nil, fmt.Errorf("rule %q: want a number", w[5])
		}
		if e.Packets, err = strconv.ParseUint(w[7], 10, 64); err != nil {
			return nil, fmt.Errorf("packets %q: want a number", w[7])
		}
		if len(w) == 10 {
			e.HasBytes = true
			if e.Bytes, err = strconv.ParseUint(w[9], 10, 64); err != nil {
				return nil, fmt.Errorf("bytes %q: want a number", w[9])
			}
		}
	case "set":
		// set FAMILY TABLE NAME { ELEM, ELEM }
		_, rest, ok := strings.Cut(line, "{")
		if len(w) < 5 || w[4] != "{" && !strings.HasPrefix(w[4], "{") || !ok || !strings.HasSuffix(strings.TrimSpace(rest), "}") {
			return nil, fmt.Errorf("want: expect set FAMILY TABLE NAME { ELEMENT, ... }")
		}
		e.Kind, e.Family, e.Table, e.Name = EndSet, w[1], w[2], w[3]
		rest = strings.TrimSuffix(strings.TrimSpace(rest), "}")
		e.Elements = splitElements(rest)
	case "conntrack":
		if len(w) == 3 && w[1] == "count" {
			n, err := strconv.Atoi(w[2])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("conntrack count %q: want a number", w[2])
			}
			e.Kind, e.Count = EndCTCount, n
			return e, nil
		}
		// conntrack PROTO SRC > DST STATE [FLAGS]
		if len(w) < 6 || w[3] != ">" {
			return nil, fmt.Errorf("want: expect conntrack count N, or expect conntrack PROTO SRC > DST STATE|none")
		}
		tup, err := canonTuple(w[1:5])
		if err != nil {
			return nil, err
		}
		e.Kind = EndCTEntry
		e.Tuple = tup
		e.State = strings.Join(w[5:], " ")
	default:
		return nil, fmt.Errorf("expect %s: want counter, set or conntrack", w[0])
	}
	return e, nil
}

// splitElements splits `a, b ct count over 2, c` at top-level commas.
func splitElements(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '{', '(', '[':
				depth++
				continue
			case '}', ')', ']':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if el := strings.Join(strings.Fields(s[start:i]), " "); el != "" {
			out = append(out, el)
		}
		start = i + 1
	}
	return out
}
