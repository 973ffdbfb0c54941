package kernel

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// helperTable is the name of the table that enables tracing and marks how
// far a packet got; it is left out of every result.
const helperTable = "__nftgo_k"

// Marker packets: UDP 192.0.2.254 -> 192.0.2.253 port 9; sequence number in
// the IPv4 id (low 16 bits) and the source port (40000 + high bits).
const (
	helloSeq = 0xffffff // the marker written until the monitor is listening
	markSrc  = "192.0.2.254"
	markDst  = "192.0.2.253"
)

var hooks = []struct{ name, abbr string }{
	{"prerouting", "pre"}, {"input", "in"}, {"forward", "fwd"}, {"output", "out"}, {"postrouting", "post"},
}

// helperRuleset is loaded BEFORE the user ruleset: hooks of equal priority
// run newest first, so conntrack's confirm hook (INT_MAX, registered when the
// user ruleset takes its conntrack reference) runs before the *_last chains,
// and in local mode in_last can consume delivered packets after they were
// confirmed.
func helperRuleset(localSink bool) string {
	var b strings.Builder
	b.WriteString("table inet " + helperTable + " {\n")
	for _, h := range hooks {
		b.WriteString("  chain " + h.abbr + "_first {\n    type filter hook " + h.name + " priority -2147483648; policy accept;\n")
		if h.name == "output" {
			// tun devices are NOARP; MLD/ND is timer-driven noise.
			b.WriteString("    icmpv6 type { mld-listener-report, mld2-listener-report, mld-listener-done, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } drop\n")
		}
		b.WriteString("    meta nftrace set 1\n")
		if h.name == "prerouting" {
			b.WriteString("    ip saddr " + markSrc + " ip daddr " + markDst + " udp dport 9 drop\n")
		}
		b.WriteString("  }\n")
		last := ""
		if h.name == "input" && localSink {
			last = "    drop\n"
		}
		b.WriteString("  chain " + h.abbr + "_last {\n    type filter hook " + h.name + " priority 2147483647; policy accept;\n" + last + "  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// traceEvent is one line of `nft -a monitor trace`.
type traceEvent struct {
	id, family, table, chain string
	kind                     string // packet, rule, policy, verdict, other
	text                     string // packet summary or rule text
	handle                   int
	verdict                  string
}

var (
	traceRE = regexp.MustCompile(`^trace id (\S+) (\S+) (\S+) (\S+) (.*)$`)
	ruleRE  = regexp.MustCompile(`^rule (.*?)(?: # handle (\d+))? \(verdict (.*)\)$`)
	markRE  = regexp.MustCompile(`ip saddr ` + regexp.QuoteMeta(markSrc) + ` .*ip id (\d+) .*udp sport (\d+)`)
)

func parseTraceLine(ln string) (traceEvent, bool) {
	m := traceRE.FindStringSubmatch(strings.TrimRight(ln, "\r\n"))
	if m == nil {
		return traceEvent{}, false
	}
	e := traceEvent{id: m[1], family: m[2], table: m[3], chain: m[4]}
	rest := strings.TrimSpace(m[5])
	switch {
	case strings.HasPrefix(rest, "packet: "):
		e.kind, e.text = "packet", rest[len("packet: "):]
	case strings.HasPrefix(rest, "rule "):
		e.kind = "rule"
		if r := ruleRE.FindStringSubmatch(rest); r != nil {
			e.text, e.verdict = r[1], r[3]
			e.handle, _ = strconv.Atoi(r[2])
		} else {
			e.text = rest[len("rule "):]
		}
	case strings.HasPrefix(rest, "policy "):
		e.kind, e.verdict = "policy", strings.TrimSpace(rest[len("policy "):])
	case strings.HasPrefix(rest, "verdict "):
		e.kind, e.verdict = "verdict", strings.TrimSpace(rest[len("verdict "):])
	default:
		e.kind, e.text = "other", rest
	}
	return e, true
}

// markerSeq returns the sequence number of a marker's prerouting packet line.
func markerSeq(e traceEvent) (int, bool) {
	if e.table != helperTable || e.kind != "packet" || e.chain != "pre_first" {
		return 0, false
	}
	m := markRE.FindStringSubmatch(e.text)
	if m == nil {
		return 0, false
	}
	id, _ := strconv.Atoi(m[1])
	sp, _ := strconv.Atoi(m[2])
	return id + (sp-40000)<<16, true
}

// tracer reads the monitor's output, cutting it into one segment per marker.
type tracer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	segs     map[int][]traceEvent
	cur      int
	last     int
	skipID   string
	eof      bool
	hello    bool
	rawLines []string
}

func newTracer(r io.Reader) *tracer {
	t := &tracer{segs: map[int][]traceEvent{}, cur: -2, last: -2}
	t.cond = sync.NewCond(&t.mu)
	go t.read(r)
	return t
}

func (t *tracer) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		ln := sc.Text()
		e, ok := parseTraceLine(ln)
		t.mu.Lock()
		t.rawLines = append(t.rawLines, ln)
		if ok {
			if seq, isMark := markerSeq(e); isMark {
				t.cur, t.skipID = seq, e.id
				if seq == helloSeq {
					t.hello = true
				} else if seq > t.last {
					t.last = seq
				}
				t.cond.Broadcast()
			} else if e.id == t.skipID && e.table == helperTable {
				// the marker's own rule/verdict lines
			} else {
				t.skipID = ""
				t.segs[t.cur] = append(t.segs[t.cur], e)
			}
		}
		t.mu.Unlock()
	}
	t.mu.Lock()
	t.eof = true
	t.cond.Broadcast()
	t.mu.Unlock()
}

// wait blocks until marker seq was read (true) or the timeout passed.
func (t *tracer) wait(seq int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { t.mu.Lock(); t.cond.Broadcast(); t.mu.Unlock() })
	defer timer.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	for !t.seen(seq) && !t.eof && time.Now().Before(deadline) {
		t.cond.Wait()
	}
	return t.seen(seq)
}

func (t *tracer) seen(seq int) bool {
	if seq == helloSeq {
		return t.hello
	}
	return t.last >= seq
}

func (t *tracer) segment(i int) []traceEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.segs[i]
}

// traversal is one base chain run (with the user chains it jumped to).
type traversal struct {
	family, table, chain string
	final                string // accept, drop, policy accept, ...
	by                   *traceEvent
}

// analyse derives a packet's verdict from its trace segment. The injected
// packet is the first trace id that starts in the helper's first chain of
// the hook it entered (pre_first for tun, out_first for the raw socket);
// packets the kernel generated meanwhile (reject replies) are ignored.
func analyse(seg []traceEvent, entry string) Verdict {
	mainID := ""
	for _, e := range seg {
		if e.table == helperTable && e.chain == entry {
			mainID = e.id
			break
		}
	}
	v := Verdict{Verdict: "unknown"}
	if mainID == "" {
		return v
	}
	var trs []*traversal
	var cur *traversal
	for _, e := range seg {
		if e.id != mainID {
			continue
		}
		if e.table == helperTable {
			if e.kind == "packet" {
				v.Hooks = append(v.Hooks, e.chain)
			}
			cur = nil
			continue
		}
		if e.kind == "packet" || cur == nil {
			cur = &traversal{family: e.family, table: e.table, chain: e.chain}
			trs = append(trs, cur)
			if e.kind == "packet" {
				continue
			}
		}
		switch e.kind {
		case "rule":
			w := strings.Fields(e.verdict)
			if len(w) > 0 && (w[0] == "accept" || w[0] == "drop" || w[0] == "queue" || w[0] == "stolen") {
				ev := e
				cur.final, cur.by = w[0], &ev
			}
		case "policy":
			cur.final, cur.by = "policy "+strings.Fields(e.verdict + " x")[0], nil
		}
	}
	for _, t := range trs {
		if t.final == "drop" || t.final == "policy drop" || t.final == "queue" || t.final == "stolen" {
			v.Verdict = "drop"
			v.Decided = decision(t)
			return v
		}
	}
	reached := map[string]bool{}
	for _, h := range v.Hooks {
		reached[h] = true
	}
	switch {
	case reached["in_last"] || reached["post_last"]:
		v.Verdict = "accept"
		for i := len(trs) - 1; i >= 0; i-- {
			if trs[i].final != "" {
				v.Decided = decision(trs[i])
				break
			}
		}
	case reached["out_last"]:
		v.Verdict, v.Kernel = "drop", "postrouting"
		if reached["out_first"] && !reached["post_first"] {
			v.Kernel = "routing"
		}
	case reached["fwd_last"]:
		v.Verdict, v.Kernel = "drop", "postrouting"
	case reached["pre_last"]:
		v.Verdict, v.Kernel = "drop", "routing"
	case reached["pre_first"]:
		v.Verdict, v.Kernel = "drop", "prerouting"
	case reached["out_first"]:
		v.Verdict, v.Kernel = "drop", "output"
	}
	return v
}

func decision(t *traversal) *Decision {
	d := &Decision{Family: t.family, Table: t.table, Chain: t.chain}
	if t.by == nil {
		d.Policy = true
		return d
	}
	d.Chain, d.Handle = t.by.chain, t.by.handle
	return d
}
