package nfttest

import (
	"fmt"
	"os"
	"strings"
)

// Update rewrites the expectations of f that did not hold (or that a step
// left out) with what happened, keeping every other line, comment and
// indentation as it was, and returns the new text. Cases that could not
// run are left alone. A pcap's `#N` lines are rewritten as a block.
func Update(f *File, results []*CaseResult) (string, int) {
	repl := map[int][]string{} // line number -> replacement lines (nil: delete)
	changed := 0
	for _, r := range results {
		if r.Err != nil || r.File != f {
			continue
		}
		// group packet results by step
		bySteps := map[*Step][]*PacketResult{}
		for i := range r.Packets {
			p := &r.Packets[i]
			bySteps[p.Step] = append(bySteps[p.Step], p)
		}
		for si, st := range r.Case.Steps {
			switch st.Kind {
			case StepPackets:
				ps := bySteps[st]
				if len(st.Expect) > 0 && allOK(ps) {
					continue
				}
				repl[st.Line] = []string{withExpect(f.Lines[st.Line-1], expectText(st, ps))}
				changed++
			case StepPcap:
				// the records: those without a #N line are in bySteps[st],
				// the others under their #N step.
				var all []*PacketResult
				ok := len(bySteps[st]) == 0
				for _, x := range r.Case.Steps[si+1:] {
					if x.Kind != StepRecord {
						break
					}
					all = append(all, bySteps[x]...)
					ok = ok && allOK(bySteps[x])
					repl[x.Line] = nil
				}
				if ok {
					for _, x := range r.Case.Steps[si+1:] {
						if x.Kind != StepRecord {
							break
						}
						delete(repl, x.Line)
					}
					continue
				}
				all = append(all, bySteps[st]...)
				sortByIndex(all)
				indent := leadingSpace(f.Lines[st.Line-1])
				lines := []string{f.Lines[st.Line-1]}
				for _, p := range all {
					lines = append(lines, fmt.Sprintf("%s#%d %s => %s", indent, p.Index, p.Got.Packet, outcomeText(p.Got, p.Want)))
				}
				repl[st.Line] = lines
				changed++
			}
		}
		for _, e := range r.Ends {
			if e.OK {
				continue
			}
			raw := f.Lines[e.End.Line-1]
			_, comment := splitComment(raw)
			repl[e.End.Line] = []string{leadingSpace(raw) + e.Got + comment}
			changed++
		}
	}
	var b strings.Builder
	for i, ln := range f.Lines {
		r, ok := repl[i+1]
		if !ok {
			b.WriteString(ln)
			b.WriteByte('\n')
			continue
		}
		for _, x := range r {
			b.WriteString(x)
			b.WriteByte('\n')
		}
	}
	return b.String(), changed
}

// UpdateFile rewrites the file on disk when anything changed.
func UpdateFile(f *File, results []*CaseResult) (int, error) {
	text, n := Update(f, results)
	if n == 0 {
		return 0, nil
	}
	return n, os.WriteFile(f.Path, []byte(text), 0o644)
}

func allOK(ps []*PacketResult) bool {
	for _, p := range ps {
		if !p.OK || p.Want == nil {
			return false
		}
	}
	return true
}

func sortByIndex(ps []*PacketResult) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Index < ps[j-1].Index; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// outcomeText is what happened in the expectation's form: the decision by
// rule position (by handle when the old expectation used handles), the ct
// state when the old expectation checked it.
func outcomeText(g Outcome, old *Expect) string {
	e := g.Expect
	if e.By == "none" {
		e.By = ""
	}
	if old != nil && strings.Contains(old.By, " handle ") && g.HandleBy != "" {
		e.By = g.HandleBy
	}
	if old == nil || old.CT == "" {
		e.CT = ""
	}
	return e.String()
}

// expectText is the expectation of a step: one for all its packets when
// they agree, one per packet of a repetition when every repetition of an
// `Nx` line agrees, else one per packet.
func expectText(st *Step, ps []*PacketResult) string {
	var parts []string
	for i, p := range ps {
		parts = append(parts, outcomeText(p.Got, st.want(i)))
	}
	if len(parts) == 0 {
		return ""
	}
	for _, period := range []int{1, st.Per} {
		if period < 1 || len(parts)%period != 0 {
			continue
		}
		same := true
		for i, x := range parts {
			same = same && x == parts[i%period]
		}
		if same {
			return strings.Join(parts[:period], ", ")
		}
	}
	return strings.Join(parts, ", ")
}

// withExpect replaces (or adds) the "=> …" part of a traffic line.
func withExpect(raw, exp string) string {
	code, comment := splitComment(raw)
	text, _, _ := strings.Cut(code, "=>")
	return strings.TrimRight(text, " \t") + " => " + exp + comment
}

// splitComment splits a line into its code and its trailing comment
// (with the white space before it).
func splitComment(raw string) (code, comment string) {
	c := stripComment(raw)
	if c == "" {
		return raw, ""
	}
	i := strings.Index(raw, c)
	end := i + len(c)
	return raw[:end], raw[end:]
}

func leadingSpace(s string) string {
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}
