package ct

import (
	"sort"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
)

// TestListLines replays the traffic of an oracle run (kernel 6.18, forward
// mode, every packet accepted; packets 1 ms apart, table dumped 0.31 s after
// the first) and expects the lines `conntrack -L -o extended` printed there,
// without the l3 prefix that -o extended adds. Line order follows the hash,
// so both sides are sorted.
func TestListLines(t *testing.T) {
	const a, b = "198.51.100.2", "203.0.113.10"
	specs := []testpkt.Spec{
		tcp(a, b, 40000, 80, "S", 1000, 0, 0),
		tcp(b, a, 80, 40000, "SA", 1000000, 1001, 0),
		tcp(a, b, 40000, 80, "A", 1001, 1000001, 0),
		tcp(a, b, 40000, 80, "PA", 1001, 1000001, 10),
		tcp(b, a, 80, 40000, "A", 1000001, 1011, 0),
		tcp("198.51.100.3", b, 1000, 22, "S", 1000, 0, 0),
		{Src: "198.51.100.4", Dst: b, Proto: "udp", Sport: 5000, Dport: 53, Payload: make([]byte, 4)},
		{Src: b, Dst: "198.51.100.4", Proto: "udp", Sport: 53, Dport: 5000, Payload: make([]byte, 4)},
		{Src: "198.51.100.5", Dst: b, Proto: "icmp", Type: 8, ID: 77, EchoSeq: 1},
		tcp("2001:db8:1::5", "2001:db8:2::7", 3333, 443, "A", 5, 9, 0),
		{Src: "2001:db8:1::5", Dst: "2001:db8:2::7", Proto: "icmpv6", Type: 128, ID: 9, EchoSeq: 1},
	}
	want := []string{
		"icmp     1 29 src=198.51.100.5 dst=203.0.113.10 type=8 code=0 id=77 [UNREPLIED] src=203.0.113.10 dst=198.51.100.5 type=0 code=0 id=77 mark=0 use=1",
		"tcp      6 119 SYN_SENT src=198.51.100.3 dst=203.0.113.10 sport=1000 dport=22 [UNREPLIED] src=203.0.113.10 dst=198.51.100.3 sport=22 dport=1000 mark=0 use=1",
		"tcp      6 431999 ESTABLISHED src=198.51.100.2 dst=203.0.113.10 sport=40000 dport=80 src=203.0.113.10 dst=198.51.100.2 sport=80 dport=40000 [ASSURED] mark=0 use=1",
		"udp      17 29 src=198.51.100.4 dst=203.0.113.10 sport=5000 dport=53 src=203.0.113.10 dst=198.51.100.4 sport=53 dport=5000 mark=0 use=1",
		"icmpv6   58 29 src=2001:db8:1::5 dst=2001:db8:2::7 type=128 code=0 id=9 [UNREPLIED] src=2001:db8:2::7 dst=2001:db8:1::5 type=129 code=0 id=9 mark=0 use=1",
		"tcp      6 299 ESTABLISHED src=2001:db8:1::5 dst=2001:db8:2::7 sport=3333 dport=443 [UNREPLIED] src=2001:db8:2::7 dst=2001:db8:1::5 sport=443 dport=3333 mark=0 use=1",
	}
	tab := newTable(t)
	for i, s := range specs {
		if c, _, drop := pass(t, tab, pkt(t, s), sec(float64(i)*0.001)); c == nil || drop {
			t.Fatalf("packet %d not tracked", i)
		}
	}
	got := lines(list(t, tab, sec(0.31)))
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("conntrack -L:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// With nf_conntrack_acct=1 each tuple is followed by its counters.
func TestListCounters(t *testing.T) {
	tab := newTable(t, "net.netfilter.nf_conntrack_acct", "1")
	q := udp("10.0.0.1", "10.0.0.2", 1, 2)
	r := udp("10.0.0.2", "10.0.0.1", 2, 1)
	pass(t, tab, pkt(t, q), sec(0))
	pass(t, tab, pkt(t, q), sec(0))
	c, info, _ := pass(t, tab, pkt(t, r), sec(0))
	want := "udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 packets=2 bytes=58 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 packets=1 bytes=29 mark=0 use=1\n"
	if got := list(t, tab, sec(0)); got != want {
		t.Errorf("got  %swant %s", got, want)
	}
	if p, by, ok := tab.Counters(c, Direction(info)); !ok || p != 1 || by != 29 {
		t.Errorf("reply counters %d %d %v", p, by, ok)
	}
}

// GRE: version 0 has no keys and becomes an ASSURED 180 s stream on the
// first packet after a reply; PPTP's GRE v1 keys the tuple by call id.
// Lines as kernel 6.18 listed them in an oracle run (packets 1 ms apart,
// dumped at once).
func TestListGRE(t *testing.T) {
	gre0 := []byte{0x00, 0x00, 0x08, 0x00}
	gre0 = append(gre0, make([]byte, 20)...)
	pptp := []byte{0x20, 0x01, 0x88, 0x0b, 0x00, 0x04, 0x00, 0x07, 0, 0, 0, 0}
	specs := []testpkt.Spec{
		{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "47", Payload: gre0},
		{Src: "203.0.113.10", Dst: "198.51.100.2", Proto: "47", Payload: gre0},
		{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "47", Payload: gre0},
		{Src: "198.51.100.3", Dst: "203.0.113.10", Proto: "47", Payload: pptp},
	}
	tab := newTable(t)
	for i, s := range specs {
		pass(t, tab, pkt(t, s), sec(float64(i)*0.001))
	}
	want := []string{
		"gre      47 179 src=198.51.100.2 dst=203.0.113.10 srckey=0x0 dstkey=0x0 src=203.0.113.10 dst=198.51.100.2 srckey=0x0 dstkey=0x0 [ASSURED] mark=0 use=1",
		"gre      47 29 src=198.51.100.3 dst=203.0.113.10 srckey=0x0 dstkey=0x7 [UNREPLIED] src=203.0.113.10 dst=198.51.100.3 srckey=0x7 dstkey=0x0 mark=0 use=1",
	}
	got := lines(list(t, tab, sec(0.5)))
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
