package scenario

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/internal/kernel"
)

// chainKey names a chain; ruleKey a rule by handle.
type chainKey struct{ family, table, chain string }
type ruleKey struct {
	chainKey
	handle int
}

// rulesetDoc is `nft -j list ruleset`, kept generic: nftgo and the kernel
// must agree on it only where the golden looks.
type rulesetDoc struct {
	Nftables []map[string]json.RawMessage `json:"nftables"`
}

type jsonRule struct {
	Family string            `json:"family"`
	Table  string            `json:"table"`
	Chain  string            `json:"chain"`
	Handle int               `json:"handle"`
	Expr   []json.RawMessage `json:"expr"`
}

func parseRuleset(js []byte) (*rulesetDoc, error) {
	var d rulesetDoc
	if len(strings.TrimSpace(string(js))) == 0 {
		return &d, nil
	}
	if err := json.Unmarshal(js, &d); err != nil {
		return nil, fmt.Errorf("ruleset JSON: %w", err)
	}
	return &d, nil
}

// ruleIndex maps each rule handle to its position in its chain.
func (d *rulesetDoc) ruleIndex() map[ruleKey]int {
	pos := map[chainKey]int{}
	m := map[ruleKey]int{}
	for _, o := range d.Nftables {
		raw, ok := o["rule"]
		if !ok {
			continue
		}
		var r jsonRule
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		k := chainKey{r.Family, r.Table, r.Chain}
		m[ruleKey{k, r.Handle}] = pos[k]
		pos[k]++
	}
	return m
}

// countersIn finds counter statements in a rule's expressions, skipping the
// per-element statements of dynset updates ("add @s { ip saddr counter }").
func countersIn(exprs []json.RawMessage) [][2]uint64 {
	var out [][2]uint64
	var walk func(x any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "counter" {
					if cm, ok := c.(map[string]any); ok {
						if p, ok := cm["packets"].(float64); ok {
							b, _ := cm["bytes"].(float64)
							out = append(out, [2]uint64{uint64(p), uint64(b)})
							continue
						}
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, e := range exprs {
		var x any
		if json.Unmarshal(e, &x) != nil {
			continue
		}
		if m, ok := x.(map[string]any); ok {
			if s, ok := m["set"].(map[string]any); ok {
				if _, ok := s["stmt"]; ok {
					continue
				}
			}
		}
		walk(x)
	}
	return out
}

// counters lists rule and named counters; texts gives rule texts by handle.
func (d *rulesetDoc) counters(texts map[ruleKey]string) []Counter {
	var out []Counter
	pos := map[chainKey]int{}
	for _, o := range d.Nftables {
		if raw, ok := o["rule"]; ok {
			var r jsonRule
			if json.Unmarshal(raw, &r) != nil {
				continue
			}
			k := chainKey{r.Family, r.Table, r.Chain}
			i := pos[k]
			pos[k]++
			cs := countersIn(r.Expr)
			if len(cs) == 0 {
				continue
			}
			out = append(out, Counter{Family: r.Family, Table: r.Table, Chain: r.Chain, Index: i, Handle: r.Handle,
				Rule: texts[ruleKey{k, r.Handle}], Packets: cs[0][0], Bytes: cs[0][1]})
		}
		if raw, ok := o["counter"]; ok {
			var c struct {
				Family, Table, Name string
				Packets, Bytes      uint64
			}
			if json.Unmarshal(raw, &c) == nil {
				out = append(out, Counter{Family: c.Family, Table: c.Table, Object: c.Name, Packets: c.Packets, Bytes: c.Bytes})
			}
		}
	}
	return out
}

func stripExpires(x any) any {
	switch v := x.(type) {
	case map[string]any:
		o := map[string]any{}
		for k, c := range v {
			if k != "expires" {
				o[k] = stripExpires(c)
			}
		}
		return o
	case []any:
		o := make([]any, len(v))
		for i, c := range v {
			o[i] = stripExpires(c)
		}
		return o
	}
	return x
}

// sets lists set, map and meter elements.
func (d *rulesetDoc) sets() map[string][]json.RawMessage {
	out := map[string][]json.RawMessage{}
	for _, o := range d.Nftables {
		for _, kind := range []string{"set", "map", "meter"} {
			raw, ok := o[kind]
			if !ok {
				continue
			}
			var s struct {
				Family, Table, Name string
				Elem                []any `json:"elem"`
			}
			if json.Unmarshal(raw, &s) != nil {
				continue
			}
			el := make([]json.RawMessage, 0, len(s.Elem))
			for _, e := range s.Elem {
				el = append(el, json.RawMessage(canon(stripExpires(e))))
			}
			sort.Slice(el, func(i, j int) bool { return string(el[i]) < string(el[j]) })
			out[s.Family+" "+s.Table+" "+s.Name] = el
		}
	}
	return out
}

var (
	ctrRE    = regexp.MustCompile(`\bcounter packets \d+ bytes \d+`)
	handleRE = regexp.MustCompile(`^(.*) # handle (\d+)$`)
)

// ruleTexts parses `nft -a list ruleset` into rule texts with counter
// values removed. Blocks are tracked by their braces, so multi-line set
// elements do not end a chain early.
func ruleTexts(text string) map[ruleKey]string {
	out := map[ruleKey]string{}
	var fam, tab, ch string
	var stack []string // kinds of the open blocks: table, chain, other
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		opens, closes := strings.Count(s, "{"), strings.Count(s, "}")
		f := strings.Fields(s)
		inChain := len(stack) == 2 && stack[1] == "chain"
		switch {
		case len(stack) == 0 && len(f) >= 3 && f[0] == "table" && opens > closes:
			fam, tab = f[1], f[2]
			stack = append(stack, "table")
			continue
		case len(stack) == 1 && len(f) >= 2 && f[0] == "chain" && opens > closes:
			ch = f[1]
			stack = append(stack, "chain")
			continue
		}
		if inChain && opens == closes {
			if m := handleRE.FindStringSubmatch(s); m != nil && !strings.HasPrefix(s, "type ") {
				h, _ := strconv.Atoi(m[2])
				out[ruleKey{chainKey{fam, tab, ch}, h}] = ctrRE.ReplaceAllString(m[1], "counter")
			}
		}
		for i := 0; i < opens-closes; i++ {
			stack = append(stack, "other")
		}
		for i := 0; i < closes-opens && len(stack) > 0; i++ {
			stack = stack[:len(stack)-1]
		}
	}
	return out
}

// ParseConntrack parses `conntrack -L` text (also with -o extended).
func ParseConntrack(text string, keepTimeout bool) ([]CTEntry, error) {
	var out []CTEntry
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" || strings.HasPrefix(ln, "conntrack v") || strings.Contains(ln, "flow entries have been shown") {
			continue
		}
		t := strings.Fields(ln)
		i := 0
		e := CTEntry{Flags: []string{}}
		if t[0] == "ipv4" || t[0] == "ipv6" {
			e.L3 = t[0]
			i = 2
		}
		if len(t) < i+3 {
			return nil, fmt.Errorf("conntrack line %q: too short", ln)
		}
		e.Proto = t[i]
		to, err := strconv.Atoi(t[i+2])
		if err != nil {
			return nil, fmt.Errorf("conntrack line %q: timeout: %w", ln, err)
		}
		if keepTimeout {
			b := (to + 5) / 10 * 10
			e.Timeout = &b
		}
		i += 3
		if i < len(t) && !strings.Contains(t[i], "=") && !strings.HasPrefix(t[i], "[") {
			e.State = t[i]
			i++
		}
		var tuples []*Tuple
		var cur *Tuple
		for _, tok := range t[i:] {
			if strings.HasPrefix(tok, "[") {
				f := strings.Trim(tok, "[]")
				if f != "CONFIRMED" {
					e.Flags = append(e.Flags, f)
				}
				continue
			}
			k, v, ok := strings.Cut(tok, "=")
			if !ok {
				continue
			}
			if k == "src" && len(tuples) < 2 {
				cur = &Tuple{}
				tuples = append(tuples, cur)
			}
			n, nerr := strconv.Atoi(v)
			switch {
			case cur != nil && k == "src" && cur.Src == "":
				cur.Src = normAddr(v)
			case cur != nil && k == "dst" && cur.Dst == "":
				cur.Dst = normAddr(v)
			case cur != nil && k == "sport" && nerr == nil:
				cur.Sport = n
			case cur != nil && k == "dport" && nerr == nil:
				cur.Dport = n
			case cur != nil && k == "type" && nerr == nil:
				cur.Type = &n
			case cur != nil && k == "code" && nerr == nil:
				cur.Code = &n
			case cur != nil && k == "id" && nerr == nil:
				cur.ID = &n
			case k == "mark":
				m, _ := strconv.ParseUint(v, 0, 32)
				e.Mark = uint32(m)
				cur = nil
			case k == "zone":
				e.Zone = n
				cur = nil
			default:
				cur = nil
			}
		}
		if len(tuples) > 0 {
			e.Orig = *tuples[0]
		}
		if len(tuples) > 1 {
			e.Reply = *tuples[1]
		}
		if e.L3 == "" {
			e.L3 = "ipv4"
			if strings.Contains(e.Orig.Src, ":") {
				e.L3 = "ipv6"
			}
		}
		sort.Strings(e.Flags)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return canon(out[i]) < canon(out[j]) })
	return out, nil
}

func normAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

// decided turns a kernel verdict into its golden form.
func decided(v kernel.Verdict, idx map[ruleKey]int) *Decided {
	if v.Kernel != "" {
		return &Decided{Kernel: v.Kernel}
	}
	d := v.Decided
	if d == nil {
		return nil
	}
	o := &Decided{Family: d.Family, Table: d.Table, Chain: d.Chain}
	if d.Policy {
		o.Policy = true
		return o
	}
	o.Handle = d.Handle
	if i, ok := idx[ruleKey{chainKey{d.Family, d.Table, d.Chain}, d.Handle}]; ok {
		o.RuleIndex = &i
	}
	return o
}

// FromKernel normalises a kernel run into a golden.
func FromKernel(mode string, p Params, r *kernel.Result) (*Golden, error) {
	g := &Golden{Format: 1, Mode: mode, Sets: map[string][]json.RawMessage{}, Verdicts: []Verdict{}, Counters: []Counter{}, Conntrack: []CTEntry{}}
	if r.LoadError != "" {
		g.LoadError = loadErrRE.ReplaceAllString(r.LoadError, "<file>:")
		return g, nil
	}
	doc, err := parseRuleset(r.RulesetJSON)
	if err != nil {
		return nil, err
	}
	idx := doc.ruleIndex()
	for _, v := range r.Verdicts {
		g.Verdicts = append(g.Verdicts, Verdict{Index: v.Index, Verdict: v.Verdict, DecidedBy: decided(v, idx)})
	}
	if c := doc.counters(ruleTexts(r.RulesetText)); c != nil {
		g.Counters = c
	}
	g.Sets = doc.sets()
	if g.Conntrack, err = ParseConntrack(r.Conntrack, !p.NoConntrackTimeout); err != nil {
		return nil, err
	}
	if g.Conntrack == nil {
		g.Conntrack = []CTEntry{}
	}
	g.ConntrackCount = r.ConntrackCount
	g.TableFull = r.TableFull
	return g, nil
}

var loadErrRE = regexp.MustCompile(`(?m)^\S+/ruleset\.nft:`)
