package vm_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/vm"
)

// TestSetGCSeesConntrackAtItsTick checks the order of the timers: a set
// collects at its gc tick, which can lie before the time Advance is given,
// so it must judge the element's connections as they were at that tick.
// The UDP entry below expires at 30.5 s; the gc tick at 30 s still sees it
// alive and keeps the element, the tick at 31 s removes it — even when the
// first Advance after 30 s is at 30.9 s, past the expiry.
func TestSetGCSeesConntrackAtItsTick(t *testing.T) {
	const src = `table inet t {
	set cl {
		type ipv4_addr
		flags dynamic
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state new add @cl { ip saddr ct count over 5 }
	}
}
`
	c, err := compiler.CompileSource("gc.nft", []byte(src), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	host := vm.Host{
		Ifaces: []vm.Iface{
			{Name: "wan", Prefix: []netip.Prefix{netip.MustParsePrefix("198.51.100.254/24")}},
			{Name: "lan", Prefix: []netip.Prefix{netip.MustParsePrefix("203.0.113.254/24")}},
		},
		Routes: []vm.Route{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Iface: "wan"}},
	}
	m, err := vm.New(c.Ruleset, vm.Config{Host: host, CT: ct.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	sec := func(s float64) int64 { return int64(s * float64(time.Second)) }
	m.Advance(0)
	var p packet.Packet
	if err := p.Decode(packet.LinkRaw, testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "udp", Sport: 1000, Dport: 53})); err != nil {
		t.Fatal(err)
	}
	m.Advance(sec(0.5))
	if res := m.Receive(&p, "wan", sec(0.5)); res.Verdict != 1 {
		t.Fatalf("verdict %v, want accept", res.Verdict)
	}
	elems := func(now int64) int {
		for _, tb := range m.Snapshot(now).Tables {
			for _, s := range tb.Sets {
				if s.Name == "cl" {
					return len(s.Elements)
				}
			}
		}
		t.Fatal("set cl missing from the snapshot")
		return 0
	}
	for _, step := range []struct {
		at   float64
		want int
	}{{29.9, 1}, {30.9, 1}, {31.2, 0}} {
		m.Advance(sec(step.at))
		if got := elems(sec(step.at)); got != step.want {
			t.Errorf("at %.1fs: %d elements, want %d", step.at, got, step.want)
		}
	}
}
