package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Golden is kernel.golden: what the kernel did with a scenario, normalised.
// The same form holds nftgo's result for the comparison.
type Golden struct {
	Format    int    `json:"format"`
	Mode      string `json:"mode"`
	LoadError string `json:"load_error,omitempty"`
	// Verdicts: one per input packet.
	Verdicts []Verdict `json:"verdicts"`
	// Counters: every rule with a counter (first counter of the rule) and
	// every named counter.
	Counters []Counter `json:"counters"`
	// Sets: "FAMILY TABLE NAME" -> elements as `nft -j list ruleset` gives
	// them, "expires" removed, canonical JSON (sorted keys), sorted.
	Sets map[string][]json.RawMessage `json:"sets"`
	// Conntrack: entries sorted by canonical JSON.
	Conntrack      []CTEntry `json:"conntrack"`
	ConntrackCount int       `json:"conntrack_count"`
	// TableFull: "nf_conntrack: table full" was logged for the namespace.
	TableFull bool `json:"dmesg_table_full"`
}

// Verdict is one packet's fate.
type Verdict struct {
	Index     int      `json:"index"`
	Verdict   string   `json:"verdict"` // accept | drop
	DecidedBy *Decided `json:"decided_by"`
}

// Decided names the last terminal verdict the packet met in user tables:
// a rule (RuleIndex = its position in its chain, 0-based, every rule
// counts; Handle is informational), a base chain policy, or a drop outside
// nf_tables (Kernel = "prerouting" for conntrack, "routing", ...).
type Decided struct {
	Kernel    string `json:"kernel,omitempty"`
	Family    string `json:"family,omitempty"`
	Table     string `json:"table,omitempty"`
	Chain     string `json:"chain,omitempty"`
	Policy    bool   `json:"policy,omitempty"`
	Handle    int    `json:"handle,omitempty"`
	RuleIndex *int   `json:"rule_index,omitempty"`
}

// Counter is one rule's (or named counter's) packet and byte count. Rule and
// Handle are informational; rules are matched by (family, table, chain,
// index).
type Counter struct {
	Family  string `json:"family"`
	Table   string `json:"table"`
	Chain   string `json:"chain,omitempty"`
	Index   int    `json:"index"`
	Object  string `json:"object,omitempty"`
	Handle  int    `json:"handle,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// CTEntry is one conntrack entry. Timeout is the remaining time rounded to
// the nearest multiple of 10 s (x5 rounds up); nil when left out.
type CTEntry struct {
	L3      string   `json:"l3"`
	Proto   string   `json:"proto"`
	State   string   `json:"state,omitempty"`
	Orig    Tuple    `json:"orig"`
	Reply   Tuple    `json:"reply"`
	Flags   []string `json:"flags"`
	Mark    uint32   `json:"mark"`
	Zone    int      `json:"zone,omitempty"`
	Timeout *int     `json:"timeout,omitempty"`
}

// Tuple is one direction of a conntrack entry.
type Tuple struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Sport int    `json:"sport,omitempty"`
	Dport int    `json:"dport,omitempty"`
	Type  *int   `json:"type,omitempty"`
	Code  *int   `json:"code,omitempty"`
	ID    *int   `json:"id,omitempty"`
}

// canon is canonical JSON: sorted keys, no spaces.
func canon(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var x any
	if json.Unmarshal(b, &x) != nil {
		return string(b)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

// Marshal writes g in a stable, diff-friendly layout: one list item per line.
func (g *Golden) Marshal() []byte {
	var b bytes.Buffer
	one := func(v any) string { return canon(v) }
	list := func(name string, n int, item func(i int) string, last bool) {
		if n == 0 {
			fmt.Fprintf(&b, " %q: []", name)
		} else {
			fmt.Fprintf(&b, " %q: [\n", name)
			for i := 0; i < n; i++ {
				sep := ","
				if i == n-1 {
					sep = ""
				}
				fmt.Fprintf(&b, "  %s%s\n", item(i), sep)
			}
			b.WriteString(" ]")
		}
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("{\n")
	fmt.Fprintf(&b, " \"format\": %d,\n \"mode\": %q,\n", g.Format, g.Mode)
	if g.LoadError != "" {
		fmt.Fprintf(&b, " \"load_error\": %s,\n", one(g.LoadError))
	}
	list("verdicts", len(g.Verdicts), func(i int) string { return one(g.Verdicts[i]) }, false)
	list("counters", len(g.Counters), func(i int) string { return one(g.Counters[i]) }, false)
	names := make([]string, 0, len(g.Sets))
	for k := range g.Sets {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) == 0 {
		b.WriteString(" \"sets\": {},\n")
	} else {
		b.WriteString(" \"sets\": {\n")
		for i, k := range names {
			el := g.Sets[k]
			sep := ","
			if i == len(names)-1 {
				sep = ""
			}
			if len(el) == 0 {
				fmt.Fprintf(&b, "  %q: []%s\n", k, sep)
				continue
			}
			fmt.Fprintf(&b, "  %q: [\n", k)
			for j, e := range el {
				s2 := ","
				if j == len(el)-1 {
					s2 = ""
				}
				fmt.Fprintf(&b, "   %s%s\n", canon(e), s2)
			}
			fmt.Fprintf(&b, "  ]%s\n", sep)
		}
		b.WriteString(" },\n")
	}
	list("conntrack", len(g.Conntrack), func(i int) string { return one(g.Conntrack[i]) }, false)
	fmt.Fprintf(&b, " \"conntrack_count\": %d,\n \"dmesg_table_full\": %v\n}\n", g.ConntrackCount, g.TableFull)
	return b.Bytes()
}

// ReadGolden reads a kernel.golden file.
func ReadGolden(path string) (*Golden, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var g Golden
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for k, el := range g.Sets {
		for i, e := range el {
			el[i] = json.RawMessage(canon(e))
		}
		g.Sets[k] = el
	}
	if g.Sets == nil {
		g.Sets = map[string][]json.RawMessage{}
	}
	return &g, nil
}
