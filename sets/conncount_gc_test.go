package sets

import (
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// TestGCConnlimitConntrack runs the per-source connlimit set of the
// nftables wiki (`add @cl { ip saddr ct count over 2 }`, flags dynamic)
// against the real conntrack table: a source whose only connection is
// reset leaves the set at the first GC run after the RST, which comes one
// gc-interval after the previous run; a source with a live connection
// stays; one whose connection times out goes once conntrack forgets it.
func TestGCConnlimitConntrack(t *testing.T) {
	const ms = int64(1e6)
	tab := ct.NewTable(ct.DefaultConfig())
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetEval, Size: 65535})
	tmpl := []ruleset.Expr{&ruleset.Connlimit{Count: 2, Flags: ruleset.ConnlimitInvert}}
	// pkt is one packet through conntrack, after the timers run as the
	// VM runs them before each packet.
	pkt := func(spec testpkt.Spec, now int64) *ct.Conn {
		tab.Expire(now)
		s.GC(tab, now)
		var p packet.Packet
		if err := p.Decode(packet.LinkRaw, testpkt.MustBuild(spec)); err != nil {
			t.Fatal(err)
		}
		c, info, drop := tab.In(&p, ct.HookPrerouting, now)
		if drop || c == nil {
			t.Fatalf("no conntrack entry for %+v", spec)
		}
		tab.Confirm(c, info, now)
		return c
	}
	tcp := func(src string, sport uint16, flags string, seq, ack uint32) testpkt.Spec {
		return testpkt.Spec{Src: src, Dst: "203.0.113.10", Proto: "tcp", Sport: sport, Dport: 80, Flags: flags, Seq: seq, Ack: ack}
	}
	server := func(dst string, dport uint16, flags string, seq, ack uint32) testpkt.Spec {
		return testpkt.Spec{Src: "203.0.113.10", Dst: dst, Proto: "tcp", Sport: 80, Dport: dport, Flags: flags, Seq: seq, Ack: ack}
	}
	// The VM's dynset: Update, then the element's connlimit on the packet.
	add := func(src string, c *ct.Conn, now int64) uint32 {
		e, _ := s.Update(ip4(src), nil, tmpl, 0, false, now)
		if e == nil {
			t.Fatalf("%s: set full", src)
		}
		e.Exprs[0].Connlimit(tab, c.Orig(), 0, now)
		return e.Exprs[0].Conns.Count()
	}

	now := 100 * ms
	s.GC(tab, now) // the GC schedule starts here: runs at 1.1s, 2.1s, …
	a := pkt(tcp("198.51.100.2", 30000, testpkt.SYN, 1000, 0), now)
	add("198.51.100.2", a, now)
	b := pkt(tcp("198.51.100.3", 31000, testpkt.SYN, 1000, 0), now)
	add("198.51.100.3", b, now)
	c := pkt(testpkt.Spec{Src: "198.51.100.4", Dst: "203.0.113.10", Proto: "udp", Sport: 5000, Dport: 53}, now)
	add("198.51.100.4", c, now)

	// A's connection is answered, then reset by A at 1.2 s.
	now = 200 * ms
	pkt(server("198.51.100.2", 30000, testpkt.SYNACK, 5000, 1001), now)
	now = 1200 * ms
	pkt(tcp("198.51.100.2", 30000, testpkt.RST, 1001, 0), now)

	present := func(src string, at int64) bool { return s.Lookup(ip4(src), at) != nil }
	steps := []struct {
		at      int64
		a, b, c bool
		wantLen int
		comment string
	}{
		{1300 * ms, true, true, true, 3, "RST at 1.2 s; the 1.1 s run came before it (run at the RST's arrival)"},
		{2099 * ms, true, true, true, 3, "next run not due yet"},
		{2100 * ms, false, true, true, 2, "2.1 s run: A's list empties, A goes"},
		// UDP unreplied: 30 s; TCP SYN_SENT: 120 s.
		{30 * 1000 * ms, false, true, true, 2, "UDP entry still within 30 s of its packet"},
		{30*1000*ms + 100*ms, false, true, false, 1, "UDP entry gone at 30.1 s"},
		{120*1000*ms + 100*ms, false, false, false, 0, "SYN_SENT gone at 120.1 s"},
	}
	for _, st := range steps {
		tab.Expire(st.at)
		s.GC(tab, st.at)
		if present("198.51.100.2", st.at) != st.a || present("198.51.100.3", st.at) != st.b ||
			present("198.51.100.4", st.at) != st.c || s.Len() != st.wantLen {
			t.Fatalf("at %d ms (%s): A %v B %v C %v len %d; want %v %v %v %d", st.at/ms, st.comment,
				present("198.51.100.2", st.at), present("198.51.100.3", st.at), present("198.51.100.4", st.at), s.Len(),
				st.a, st.b, st.c, st.wantLen)
		}
	}
}
