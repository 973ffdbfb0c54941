package scenario

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Aspects are compared independently so one difference does not hide
// another.
var Aspects = []string{"load_error", "verdicts", "counters", "sets", "conntrack", "conntrack_count", "table_full"}

// DiffOptions tune a comparison.
type DiffOptions struct {
	// Candidate: got comes from nftgo, not from the kernel. Handles and rule
	// texts are then ignored (rules are matched by position) and a drop
	// outside nf_tables matches any kernel stage; conntrack_count and
	// table_full are compared only when the candidate reports them.
	Candidate bool
}

// Diff compares want (the golden) with got aspect by aspect and returns the
// differences keyed by aspect; empty when they agree.
func Diff(want, got *Golden, o DiffOptions) map[string]string {
	out := map[string]string{}
	add := func(aspect string, d string) {
		if d != "" {
			out[aspect] = d
		}
	}
	add("load_error", cmp.Diff(want.LoadError != "", got.LoadError != ""))
	if want.LoadError != "" || got.LoadError != "" {
		return out
	}
	var vopts []cmp.Option
	var copts []cmp.Option
	if o.Candidate {
		vopts = append(vopts, cmpopts.IgnoreFields(Decided{}, "Handle"),
			cmp.Transformer("kernelStage", func(d Decided) Decided {
				if d.Kernel != "" {
					return Decided{Kernel: "drop outside nf_tables"}
				}
				return d
			}))
		copts = append(copts, cmpopts.IgnoreFields(Counter{}, "Handle", "Rule"))
	}
	add("verdicts", cmp.Diff(want.Verdicts, got.Verdicts, vopts...))
	add("counters", cmp.Diff(want.Counters, got.Counters, append(copts, cmpopts.EquateEmpty())...))
	add("sets", cmp.Diff(setStrings(want.Sets), setStrings(got.Sets), cmpopts.EquateEmpty()))
	add("conntrack", cmp.Diff(want.Conntrack, got.Conntrack, cmpopts.EquateEmpty()))
	if !o.Candidate {
		add("conntrack_count", cmp.Diff(want.ConntrackCount, got.ConntrackCount))
		add("table_full", cmp.Diff(want.TableFull, got.TableFull))
	}
	return out
}

// setStrings makes set elements readable in a diff.
func setStrings(m map[string][]json.RawMessage) map[string][]string {
	out := map[string][]string{}
	for k, el := range m {
		s := make([]string, len(el))
		for i, e := range el {
			s[i] = canon(e)
		}
		out[k] = s
	}
	return out
}

// FormatDiff renders Diff's result in aspect order.
func FormatDiff(d map[string]string) string {
	var b strings.Builder
	for _, a := range Aspects {
		if s, ok := d[a]; ok {
			fmt.Fprintf(&b, "%s (-want +got):\n%s\n", a, s)
		}
	}
	return b.String()
}
