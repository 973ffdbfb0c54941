package scenario

import (
	"encoding/json"
	"os"
	"sort"
	"testing"
)

func golden() *Golden {
	zero, two := 0, 2
	return &Golden{Format: 1, Mode: "forward",
		Verdicts: []Verdict{
			{Index: 0, Verdict: "accept", DecidedBy: &Decided{Family: "inet", Table: "t", Chain: "forward", Handle: 6, RuleIndex: &zero}},
			{Index: 1, Verdict: "drop", DecidedBy: &Decided{Kernel: "prerouting"}},
		},
		Counters:  []Counter{{Family: "inet", Table: "t", Chain: "forward", Index: 0, Handle: 6, Rule: "counter", Packets: 1, Bytes: 40}},
		Sets:      map[string][]json.RawMessage{"inet t s": {json.RawMessage(`"198.51.100.2"`)}},
		Conntrack: []CTEntry{{L3: "ipv4", Proto: "tcp", State: "SYN_SENT", Flags: []string{"UNREPLIED"}, Timeout: &two}},
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		change    func(g *Golden)
		candidate bool
		want      []string // aspects that must differ
	}{
		{"identical", func(g *Golden) {}, false, nil},
		{"other rule decides", func(g *Golden) { one := 1; g.Verdicts[0].DecidedBy.RuleIndex = &one }, true, []string{"verdicts"}},
		{"handle only differs, candidate", func(g *Golden) { g.Verdicts[0].DecidedBy.Handle = 99 }, true, nil},
		{"handle differs, kernel vs kernel", func(g *Golden) { g.Verdicts[0].DecidedBy.Handle = 99 }, false, []string{"verdicts"}},
		{"kernel stage named differently, candidate", func(g *Golden) { g.Verdicts[1].DecidedBy.Kernel = "conntrack" }, true, nil},
		{"kernel drop vs policy drop", func(g *Golden) {
			g.Verdicts[1].DecidedBy = &Decided{Family: "inet", Table: "t", Chain: "forward", Policy: true}
		}, true, []string{"verdicts"}},
		{"counter", func(g *Golden) { g.Counters[0].Packets = 2 }, true, []string{"counters"}},
		{"rule text only, candidate", func(g *Golden) { g.Counters[0].Rule = "" }, true, nil},
		{"set element", func(g *Golden) { g.Sets["inet t s"] = nil }, true, []string{"sets"}},
		{"timeout bucket", func(g *Golden) { x := 120; g.Conntrack[0].Timeout = &x }, true, []string{"conntrack"}},
		{"table full, kernel vs kernel", func(g *Golden) { g.TableFull = true }, false, []string{"table_full"}},
		{"table full, candidate has no channel", func(g *Golden) { g.TableFull = true }, true, nil},
		{"load error", func(g *Golden) { g.LoadError = "Error: syntax error" }, true, []string{"load_error"}},
	}
	for _, tc := range tests {
		want, got := golden(), golden()
		tc.change(got)
		d := Diff(want, got, DiffOptions{Candidate: tc.candidate})
		var aspects []string
		for a := range d {
			aspects = append(aspects, a)
		}
		sort.Strings(aspects)
		if len(aspects) != len(tc.want) || (len(aspects) > 0 && aspects[0] != tc.want[0]) {
			t.Errorf("%s: differing aspects %v, want %v", tc.name, aspects, tc.want)
		}
	}
}

// TestGoldenRoundTrip: what Marshal writes, ReadGolden reads back unchanged.
func TestGoldenRoundTrip(t *testing.T) {
	g := golden()
	path := t.TempDir() + "/kernel.golden"
	if err := writeFile(path, g.Marshal()); err != nil {
		t.Fatal(err)
	}
	back, err := ReadGolden(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(g, back, DiffOptions{}); len(d) > 0 {
		t.Errorf("round trip changed the golden:\n%s", FormatDiff(d))
	}
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
