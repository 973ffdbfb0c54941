package ct

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

var update = flag.Bool("update", false, "rewrite golden files")

// t0 is the replay time of the first packet of every test.
var t0 = testpkt.Epoch.UnixNano()

func sec(s float64) int64 { return t0 + int64(s*float64(time.Second)) }

// pkt builds and decodes a raw IP packet.
func pkt(tb testing.TB, s testpkt.Spec) *packet.Packet {
	tb.Helper()
	b, err := testpkt.Build(s)
	if err != nil {
		tb.Fatal(err)
	}
	p := new(packet.Packet)
	if err := p.Decode(packet.LinkRaw, b); err != nil {
		tb.Fatal(err)
	}
	return p
}

// pass runs p through conntrack as a packet that survives every hook:
// In at prerouting, Confirm at the end.
func pass(tb testing.TB, tab *Table, p *packet.Packet, now int64) (*Conn, Info, bool) {
	tb.Helper()
	tab.Expire(now)
	c, info, drop := tab.In(p, HookPrerouting, now)
	if drop {
		return nil, info, true
	}
	if tab.Confirm(c, info, now) {
		return nil, info, true
	}
	return c, info, false
}

func list(tb testing.TB, tab *Table, now int64) string {
	tb.Helper()
	var b bytes.Buffer
	if err := tab.WriteList(&b, now); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newTable(tb testing.TB, kv ...string) *Table {
	tb.Helper()
	cfg := DefaultConfig()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := cfg.SetSysctl(kv[i], kv[i+1]); err != nil {
			tb.Fatal(err)
		}
	}
	return NewTable(cfg)
}

// tcp is a TCP segment spec between a client and a server.
func tcp(src, dst string, sport, dport uint16, flags string, seq, ack uint32, payload int) testpkt.Spec {
	return testpkt.Spec{Src: src, Dst: dst, Proto: "tcp", Sport: sport, Dport: dport, Flags: flags,
		Seq: seq, Ack: ack, Payload: make([]byte, payload)}
}
