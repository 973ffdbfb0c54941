package ct

import (
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
)

func udp(src, dst string, sport, dport uint16) testpkt.Spec {
	return testpkt.Spec{Src: src, Dst: dst, Proto: "udp", Sport: sport, Dport: dport, Payload: []byte("q")}
}

// The UDP stream rule as the oracle showed it (doc §7): query t=0, reply
// t=3 → 30 s, not ASSURED; next query t=3.2 → 120 s, ASSURED. A fast
// query/answer stays 30 s.
func TestUDP(t *testing.T) {
	q := udp("10.0.0.1", "10.0.0.53", 5353, 53)
	a := udp("10.0.0.53", "10.0.0.1", 53, 5353)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"fast query/answer", []step{
			{q, 0, New, "-", 30, "[UNREPLIED]"},
			{a, 0.01, EstablishedReply, "-", 30, ""},
			{q, 0.02, Established, "-", 30, ""},
		}},
		{"stream after 2 s", []step{
			{q, 0, New, "-", 30, "[UNREPLIED]"},
			{a, 3, EstablishedReply, "-", 30, ""},
			{q, 3.2, Established, "-", 120, "[ASSURED]"},
		}},
		{"unreplied repeats are new", []step{
			{q, 0, New, "-", 30, "[UNREPLIED]"},
			{q, 5, New, "-", 30, "[UNREPLIED]"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { runLines(t, newTable(t), tc.steps) })
	}
}

// runLines is runSteps for protocols without a state column: state "-"
// means an entry must exist.
func runLines(t *testing.T, tab *Table, steps []step) {
	t.Helper()
	for i, s := range steps {
		now := sec(s.at)
		c, info, drop := pass(t, tab, pkt(t, s.spec), now)
		if drop || info != s.info || (c == nil) != (s.info == NoInfo) {
			t.Fatalf("step %d: info %d ct %v drop %v, want %d", i, info, c != nil, drop, s.info)
		}
		ls := lines(list(t, tab, now))
		if s.state == "" {
			if len(ls) != 0 {
				t.Fatalf("step %d: entries %q", i, ls)
			}
			continue
		}
		if len(ls) != 1 {
			t.Fatalf("step %d: %d entries", i, len(ls))
		}
		f := strings.Fields(ls[0])
		if f[2] != itoa(s.timeout) {
			t.Errorf("step %d: timeout %s, want %d", i, f[2], s.timeout)
		}
		for _, fl := range []string{"[UNREPLIED]", "[ASSURED]"} {
			if strings.Contains(ls[0], fl) != (fl == s.flags) {
				t.Errorf("step %d: %q, want flag %q", i, ls[0], s.flags)
			}
		}
	}
}

func icmp(src, dst string, typ, code uint8, id uint16) testpkt.Spec {
	return testpkt.Spec{Src: src, Dst: dst, Proto: "icmp", Type: typ, Code: code, ID: id}
}

func icmp6(src, dst string, typ, code uint8, id uint16) testpkt.Spec {
	return testpkt.Spec{Src: src, Dst: dst, Proto: "icmpv6", Type: typ, Code: code, ID: id}
}

func TestICMP(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"echo request/reply", []step{
			{icmp("10.0.0.1", "10.0.0.2", 8, 0, 7), 0, New, "-", 30, "[UNREPLIED]"},
			{icmp("10.0.0.2", "10.0.0.1", 0, 0, 7), 1, EstablishedReply, "-", 30, ""},
			{icmp("10.0.0.1", "10.0.0.2", 8, 0, 7), 5, Established, "-", 30, ""},
		}},
		{"unsolicited echo reply is invalid", []step{
			{icmp("10.0.0.2", "10.0.0.1", 0, 0, 7), 0, NoInfo, "", 0, ""},
		}},
		{"non-invertible type is invalid", []step{
			{icmp("10.0.0.2", "10.0.0.1", 9, 0, 0), 0, NoInfo, "", 0, ""},
		}},
		{"type above 18 is invalid", []step{
			{icmp("10.0.0.2", "10.0.0.1", 40, 0, 0), 0, NoInfo, "", 0, ""},
		}},
		{"ICMPv6 echo", []step{
			{icmp6("2001:db8::1", "2001:db8::2", 128, 0, 3), 0, New, "-", 30, "[UNREPLIED]"},
			{icmp6("2001:db8::2", "2001:db8::1", 129, 0, 3), 0, EstablishedReply, "-", 30, ""},
		}},
		{"ICMPv6 neighbour solicitation is untracked", []step{
			{icmp6("2001:db8::1", "2001:db8::2", 135, 0, 0), 0, Untracked, "", 0, ""},
		}},
		{"ICMPv6 unknown informational is invalid", []step{
			{icmp6("2001:db8::1", "2001:db8::2", 200, 0, 0), 0, NoInfo, "", 0, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable(t)
			for i, s := range tc.steps {
				if s.info == Untracked {
					c, info, _ := pass(t, tab, pkt(t, s.spec), sec(s.at))
					if c != nil || info != Untracked || tab.Count() != 0 {
						t.Fatalf("step %d: %v %v", i, c, info)
					}
					tc.steps = nil
				}
			}
			runLines(t, tab, tc.steps)
		})
	}
}

// An ICMP error quoting a live UDP flow is RELATED: port unreachable from
// the server quotes client→server, whose inverse is the reply tuple, so
// the error travels in the reply direction (RELATED_REPLY). One quoting an
// unknown flow is invalid; one whose outer destination is not the quoted
// flow's endpoint is invalid too. None creates or refreshes an entry.
func TestICMPErrorRelated(t *testing.T) {
	flow := udp("203.0.113.10", "198.51.100.53", 5353, 53)
	unreach := func(from, to string, inner testpkt.Spec) testpkt.Spec {
		s := icmp(from, to, 3, 3, 0)
		s.Inner = &inner
		return s
	}
	for _, tc := range []struct {
		name string
		err  testpkt.Spec
		info Info
	}{
		{"reply direction", unreach("198.51.100.53", "203.0.113.10", flow), RelatedReply},
		{"from a router", unreach("198.51.100.254", "203.0.113.10", flow), RelatedReply},
		{"original direction", unreach("203.0.113.10", "198.51.100.53", udp("198.51.100.53", "203.0.113.10", 53, 5353)), Related},
		{"unknown flow", unreach("198.51.100.53", "203.0.113.10", udp("203.0.113.10", "198.51.100.53", 1, 53)), NoInfo},
		{"wrong outer destination", unreach("198.51.100.53", "203.0.113.99", flow), NoInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable(t)
			live, _, _ := pass(t, tab, pkt(t, flow), sec(0))
			c, info, drop := pass(t, tab, pkt(t, tc.err), sec(10))
			if drop || info != tc.info {
				t.Fatalf("info %d drop %v, want %d", info, drop, tc.info)
			}
			if tc.info != NoInfo && c != live {
				t.Error("RELATED packet not attached to the flow's entry")
			}
			if tab.Count() != 1 {
				t.Errorf("count %d", tab.Count())
			}
			if f := strings.Fields(list(t, tab, sec(10))); f[2] != "20" {
				t.Errorf("flow timeout %s after the error, want 20 (not refreshed)", f[2])
			}
		})
	}
}

// ICMPv6 errors work the same way through the IPv6 inner header.
func TestICMPv6ErrorRelated(t *testing.T) {
	tab := newTable(t)
	flow := tcp("2001:db8:1::20", "2001:db8:2::10", 40000, 80, "S", 1, 0, 0)
	live, _, _ := pass(t, tab, pkt(t, flow), sec(0))
	e := icmp6("2001:db8:2::10", "2001:db8:1::20", 1, 4, 0)
	e.Inner = &flow
	c, info, _ := pass(t, tab, pkt(t, e), sec(0))
	if c != live || info != RelatedReply {
		t.Errorf("info %d, want RELATED_REPLY on the flow", info)
	}
}
