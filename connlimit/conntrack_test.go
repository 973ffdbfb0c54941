package connlimit

import (
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// flowTable drives the real conntrack table the way the VM does for a
// forwarded packet: In at prerouting, then Confirm if the packet survives
// or Release if the rule dropped it.
type flowTable struct {
	t *testing.T
	*ct.Table
}

func (f flowTable) packet(s testpkt.Spec, now int64, accept bool) (ct.Tuple, bool) {
	f.t.Helper()
	var p packet.Packet
	if err := p.Decode(packet.LinkRaw, testpkt.MustBuild(s)); err != nil {
		f.t.Fatal(err)
	}
	c, info, drop := f.In(&p, ct.HookPrerouting, now)
	if drop || c == nil {
		f.t.Fatalf("%+v: no conntrack entry (drop %v)", s, drop)
	}
	tup := c.Orig()
	if accept {
		f.Confirm(c, info, now)
	} else {
		f.Release(c)
	}
	return tup, accept
}

func syn(sport uint16) testpkt.Spec {
	return testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: sport, Dport: 22, Flags: testpkt.SYN, Seq: 1000}
}

func reply(sport uint16, flags string, seq, ack uint32) testpkt.Spec {
	return testpkt.Spec{Src: "203.0.113.10", Dst: "198.51.100.2", Proto: "tcp", Sport: 22, Dport: sport, Flags: flags, Seq: seq, Ack: ack}
}

func orig(sport uint16, flags string, seq, ack uint32) testpkt.Spec {
	s := syn(sport)
	s.Flags, s.Seq, s.Ack = flags, seq, ack
	return s
}

// TestWithConntrack runs nf_conncount against the real table: connections
// count while they live, a SYN whose packet was dropped (never confirmed)
// is evicted by the next add, RST (CLOSE) and FIN (TIME_WAIT) connections
// stop counting, and expired entries leave an empty list for the GC.
func TestWithConntrack(t *testing.T) {
	cfg := ct.DefaultConfig()
	f := flowTable{t, ct.NewTable(cfg)}
	var l List
	const ms = int64(1e6)
	now := int64(1000 * ms)
	add := func(tup ct.Tuple, want uint32) {
		t.Helper()
		if n, ok := l.Add(f.Table, tup, 0, now); !ok || n != want {
			t.Fatalf("at %dms: Add = %d, %v; want %d", now/ms, n, ok, want)
		}
	}

	// Three connections; a retransmitted SYN of the first is no new entry.
	for i, sp := range []uint16{30000, 30001, 30002} {
		tup, _ := f.packet(syn(sp), now, true)
		add(tup, uint32(i+1))
		now += 10 * ms
	}
	tup, _ := f.packet(syn(30000), now, true)
	add(tup, 3)

	// The fourth SYN is added (count 4), then dropped by the rule: its
	// conntrack entry is released, so the next add evicts it.
	now += 10 * ms
	tup, _ = f.packet(syn(30003), now, false)
	add(tup, 4)
	now += 10 * ms
	tup, _ = f.packet(syn(30004), now, true)
	add(tup, 4)

	// RST from the server: CLOSE. A packet of that very connection still
	// finds itself first (duplicate before closed); another tuple's add
	// evicts it.
	now += 10 * ms
	f.packet(reply(30001, testpkt.SYNACK, 5000, 1001), now, true)
	now += 10 * ms
	f.packet(orig(30001, testpkt.RST, 1001, 0), now, true)
	if c := f.Find(syn30001(), 0, now); c == nil || !c.Closed() {
		t.Fatalf("30001 after RST: %v, want a CLOSE entry", c)
	}
	now += 10 * ms
	tup, _ = f.packet(syn(30000), now, true)
	add(tup, 4) // 30000 is found before the scan reaches 30001
	tup, _ = f.packet(syn(30005), now, true)
	add(tup, 4) // evicts 30001, adds 30005

	// FIN handshake on 30002 → TIME_WAIT: the GC drops it.
	now += 10 * ms
	f.packet(reply(30002, testpkt.SYNACK, 7000, 1001), now, true)
	f.packet(orig(30002, testpkt.ACK, 1001, 7001), now, true)
	f.packet(orig(30002, testpkt.FINACK, 1001, 7001), now, true)
	f.packet(reply(30002, testpkt.FINACK, 7001, 1002), now, true)
	f.packet(orig(30002, testpkt.ACK, 1002, 7002), now, true)
	if l.GC(f.Table, now) || l.Count() != 3 {
		t.Fatalf("GC after TIME_WAIT: count %d, want 3", l.Count())
	}

	// SYN_SENT entries time out after 120 s: the list empties.
	now += 121 * 1000 * ms
	f.Expire(now)
	if !l.GC(f.Table, now) || l.Count() != 0 {
		t.Fatalf("GC after the timeouts: count %d, want 0", l.Count())
	}
}

func syn30001() ct.Tuple {
	var p packet.Packet
	p.Decode(packet.LinkRaw, testpkt.MustBuild(syn(30001)))
	tup, _ := ct.TupleOf(&p)
	return tup
}
