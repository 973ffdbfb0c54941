package replay

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
)

// TestWorkersFlowtable: a flowtable keeps its state per flow (an entry per
// offloaded connection, gc on the replay clock's whole seconds), so a
// replay sharded by address pair prints what one machine prints, with the
// workers asked for, over flows that are offloaded, exchange data across
// several gc runs and close.
func TestWorkersFlowtable(t *testing.T) {
	const rs = `table inet f {
	flowtable ft {
		hook ingress priority filter
		devices = { wan, lan }
	}
	chain forward { type filter hook forward priority filter; policy drop;
		meta l4proto { tcp, udp } flow add @ft
		ct state established,related counter accept
		ct state new counter accept
	}
}
`
	const nflows, active = 120, 30
	flow := func(i int) []testpkt.Spec {
		cli := fmt.Sprintf("203.0.113.%d", 1+i%50)
		srv := fmt.Sprintf("198.51.100.%d", 1+i%9)
		port := uint16(30000 + i)
		c2s := func(flags string, seq, ack uint32, n int) testpkt.Spec {
			return testpkt.Spec{Src: cli, Dst: srv, Proto: "tcp", Sport: port, Dport: 443, Flags: flags, Seq: seq, Ack: ack, Window: 64000, Payload: make([]byte, n)}
		}
		s2c := func(flags string, seq, ack uint32, n int) testpkt.Spec {
			return testpkt.Spec{Src: srv, Dst: cli, Proto: "tcp", Sport: 443, Dport: port, Flags: flags, Seq: seq, Ack: ack, Window: 64000, Payload: make([]byte, n)}
		}
		out := []testpkt.Spec{
			c2s(testpkt.SYN, 100, 0, 0), s2c("SA", 500, 101, 0), c2s("A", 101, 501, 0),
			c2s("PA", 101, 501, 10), s2c("PA", 501, 111, 20), c2s("PA", 111, 521, 10), s2c("PA", 521, 121, 20),
			c2s("FA", 121, 541, 0), s2c("FA", 541, 122, 0), c2s("A", 122, 542, 0),
		}
		if i%4 == 0 {
			out = append(out, testpkt.Spec{Src: cli, Dst: srv, Proto: "udp", Sport: port, Dport: 53, Payload: []byte("q")},
				testpkt.Spec{Src: srv, Dst: cli, Proto: "udp", Sport: 53, Dport: port, Payload: []byte("a")})
		}
		return out
	}
	// Flows start in waves of `active` and their packets interleave, so a
	// flow lives for over a second of the 25 ms replay step.
	var specs []testpkt.Spec
	for w := 0; w < nflows; w += active {
		fs := make([][]testpkt.Spec, active)
		for i := range fs {
			fs[i] = flow(w + i)
		}
		for k := 0; ; k++ {
			any := false
			for i := range fs {
				if k < len(fs[i]) {
					specs = append(specs, fs[i][k])
					any = true
				}
			}
			if !any {
				break
			}
		}
	}
	recs, err := testpkt.Sequence(25*time.Millisecond, specs...)
	if err != nil {
		t.Fatal(err)
	}
	var pcap bytes.Buffer
	if err := testpkt.WritePcap(&pcap, recs); err != nil {
		t.Fatal(err)
	}
	p := caseParams{Mode: "forward", Sysctl: map[string]string{}}
	one, _, _ := shardOutput(t, []byte(rs), pcap.Bytes(), p, 1)
	if !strings.Contains(one, "(no base chain decided)") {
		t.Fatal("no packet took the flowtable path: the test shows nothing")
	}
	for _, n := range []int{2, 3} {
		got, used, why := shardOutput(t, []byte(rs), pcap.Bytes(), p, n)
		if used != n {
			t.Errorf("%d workers asked, %d used: %s", n, used, why)
		}
		if got != one {
			t.Errorf("%d workers differ from one:\n%s", n, lineDiff(one, got))
		}
	}
}
