package ct

import (
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
)

// TestEvents expects the `conntrack -E` lines kernel 6.18 printed for the
// same conversations over loopback in a network namespace (ruleset: an
// output chain with `ct state new counter` and `tcp dport 8080 ct mark set
// 5`): a connection closed by the server after one byte, a UDP datagram,
// and a SYN refused by RST.
func TestEvents(t *testing.T) {
	const lo = "127.0.0.1"
	var got []string
	cfg := DefaultConfig()
	cfg.Event = func(_ int64, l string) { got = append(got, l) }
	tab := NewTable(cfg)
	cl := func(f string, seq, ack uint32, n int) testpkt.Spec { return tcp(lo, lo, 33022, 8080, f, seq, ack, n) }
	sv := func(f string, seq, ack uint32, n int) testpkt.Spec { return tcp(lo, lo, 8080, 33022, f, seq, ack, n) }
	for i, s := range []testpkt.Spec{
		cl("S", 100, 0, 0), sv("SA", 900, 101, 0), cl("A", 101, 901, 0),
		cl("PA", 101, 901, 1), sv("A", 901, 102, 0),
		sv("FA", 901, 102, 0), cl("A", 102, 902, 0), cl("FA", 102, 902, 0), sv("A", 902, 103, 0),
		udp(lo, lo, 41532, 5353),
		tcp(lo, lo, 56326, 9, "S", 7, 0, 0), tcp(lo, lo, 9, 56326, "RA", 0, 8, 0),
	} {
		now := sec(float64(i) * 0.001)
		c, info, _ := tab.In(pkt(t, s), HookOutput, now)
		if c != nil && s.Dport == 8080 {
			c.SetMark(5)
		}
		tab.Confirm(c, info, now)
	}
	want := []string{
		"    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 mark=5",
		" [UPDATE] tcp      6 60 SYN_RECV src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 mark=5",
		" [UPDATE] tcp      6 432000 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 [ASSURED] mark=5",
		" [UPDATE] tcp      6 120 FIN_WAIT src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 [ASSURED] mark=5",
		" [UPDATE] tcp      6 60 CLOSE_WAIT src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 [ASSURED] mark=5",
		" [UPDATE] tcp      6 30 LAST_ACK src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 [ASSURED] mark=5",
		" [UPDATE] tcp      6 120 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=33022 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=33022 [ASSURED] mark=5",
		"    [NEW] udp      17 30 src=127.0.0.1 dst=127.0.0.1 sport=41532 dport=5353 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=5353 dport=41532",
		"    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=56326 dport=9 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9 dport=56326",
		"[DESTROY] tcp      6 120 CLOSE src=127.0.0.1 dst=127.0.0.1 sport=56326 dport=9 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9 dport=56326",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEventMask: `ct event set` lines conntrack -E printed on kernel 6.18
// over loopback (output chain: dport 8080 new,destroy; 8081 assured; 8082
// 0): a delivery happens only when one cached event is in the mask, and
// then shows all of them (the NEW line keeps its state); a masked-out
// DESTROY is not reported.
func TestEventMask(t *testing.T) {
	const lo = "127.0.0.1"
	var got []string
	cfg := DefaultConfig()
	cfg.Event = func(_ int64, l string) { got = append(got, l) }
	tab := NewTable(cfg)
	masks := map[uint16]uint32{8080: evNew | evDestroy, 8081: evAssured, 8082: 0}
	n := 0
	for _, port := range []uint16{8080, 8081, 8082} {
		cp := uint16(35000) + port - 8080
		cl := func(f string, seq, ack uint32, n int) testpkt.Spec { return tcp(lo, lo, cp, port, f, seq, ack, n) }
		sv := func(f string, seq, ack uint32, n int) testpkt.Spec { return tcp(lo, lo, port, cp, f, seq, ack, n) }
		for _, s := range []testpkt.Spec{
			cl("S", 100, 0, 0), sv("SA", 900, 101, 0), cl("A", 101, 901, 0),
			cl("PA", 101, 901, 1), sv("A", 901, 102, 0),
			sv("FA", 901, 102, 0), cl("A", 102, 902, 0), cl("FA", 102, 902, 0), sv("A", 902, 103, 0),
		} {
			now := sec(float64(n) * 0.001)
			n++
			c, info, _ := tab.In(pkt(t, s), HookOutput, now)
			if s.Dport == port {
				tab.SetEventMask(c, masks[port])
			}
			tab.Confirm(c, info, now)
		}
	}
	tab.Expire(sec(1000))
	want := []string{
		"    [NEW] tcp      6 120 SYN_SENT src=127.0.0.1 dst=127.0.0.1 sport=35000 dport=8080 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=35000",
		" [UPDATE] tcp      6 432000 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=35001 dport=8081 src=127.0.0.1 dst=127.0.0.1 sport=8081 dport=35001 [ASSURED]",
		"[DESTROY] tcp      6 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=35000 dport=8080 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=35000 [ASSURED]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
