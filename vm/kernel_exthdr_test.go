package vm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/internal/kernel"
	"github.com/nftgo/nftgo/ruleset"
)

// exthdrPackets are the hand-built packets of TestExthdrKernel: TCP
// options, IPv6 extension headers (hop-by-hop, destination options,
// first and later fragments) and SCTP chunks, lan → wan.
func exthdrPackets() [][]byte {
	v6 := func(next byte, ext []byte) []byte {
		b := []byte{0x60, 0, 0, 0, 0, 0, next, 64,
			0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
			0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
		b = append(b, ext...)
		b[4], b[5] = byte((len(b)-40)>>8), byte(len(b)-40)
		return b
	}
	udp := []byte{0x03, 0xe8, 0, 53, 0, 8, 0, 0}
	tsOpt := []byte{0x9c, 0x41, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x90, 0x02, 0xff, 0xff, 0, 0, 0, 0,
		2, 4, 0x05, 0x14, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}
	return [][]byte{
		synWithOptions(),
		ip4(6, nil, tsOpt),
		// hbh (→ dst opts) + dst opts (→ frag) + frag offset 0 M=1 (→ UDP)
		v6(0, append([]byte{60, 0, 1, 4, 0, 0, 0, 0, 44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 9}, udp...)),
		// frag offset 8 (a later fragment) carrying a destination options header's worth of bytes
		v6(44, []byte{60, 0, 0, 8, 0, 0, 0, 9, 17, 0, 1, 4, 0, 0, 0, 0}),
		// plain UDP
		v6(17, udp),
		ip4(132, nil, []byte{0x03, 0xe8, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0,
			1, 0, 0, 20, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0xff, 0xff, 0, 1, 0, 1, 0, 0, 0, 0}),
		ip4(132, nil, []byte{0x03, 0xe8, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 3, 0, 17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0, 0}),
	}
}

// TestExthdrKernel runs testdata/exthdr.nft on Linux (NFTGO_LIVE=1, root)
// and on the vm with the same packets and compares every rule counter.
func TestExthdrKernel(t *testing.T) {
	if os.Getenv("NFTGO_LIVE") == "" {
		t.Skip("kernel comparison: set NFTGO_LIVE=1 (root, nft, /dev/net/tun)")
	}
	if m := kernel.Missing(); m != "" {
		t.Skip("kernel run needs " + m)
	}
	path, err := filepath.Abs("testdata/exthdr.nft")
	if err != nil {
		t.Fatal(err)
	}
	comp, err := compiler.CompileFile(path, compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkts := exthdrPackets()
	cfg := kernel.Config{Mode: kernel.Forward, Ruleset: path}
	t0 := time.Unix(1_700_000_000, 0)
	for i, b := range pkts {
		cfg.Packets = append(cfg.Packets, kernel.Packet{Time: t0.Add(time.Duration(i) * 10 * time.Millisecond), Data: b})
	}
	kr, err := kernel.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if kr.LoadError != "" || len(kr.Errors) > 0 {
		t.Fatalf("kernel run: load error %q, harness errors %q", kr.LoadError, kr.Errors)
	}
	want := kernelCounters(t, kr.RulesetJSON)

	m, err := New(comp.Ruleset, Config{Host: routerHost()})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range pkts {
		m.Receive(rawPacket(t, b), "", t0.UnixNano()+int64(i)*1e7)
	}
	got := map[string]uint64{}
	for _, tb := range m.Snapshot(t0.UnixNano()).Tables {
		for _, c := range tb.Chains {
			for i, r := range c.Rules {
				for _, e := range r.Exprs {
					if x, ok := e.(*ruleset.Counter); ok {
						got[c.Name+"/"+itoa(i)] = x.Packets
					}
				}
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("no kernel counters")
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("rule %s: vm %d packets, Linux %d", k, got[k], w)
		}
	}
	t.Logf("%d counters agree with Linux: %v", len(want), want)
}

// kernelCounters reads `nft -j list ruleset`: chain/index → packets.
func kernelCounters(t *testing.T, js []byte) map[string]uint64 {
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Table, Chain string
				Expr         []map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	idx := map[string]int{}
	for _, o := range doc.Nftables {
		if o.Rule == nil || o.Rule.Table != "t" {
			continue
		}
		i := idx[o.Rule.Chain]
		idx[o.Rule.Chain]++
		for _, e := range o.Rule.Expr {
			if c, ok := e["counter"]; ok {
				var v struct{ Packets uint64 }
				if err := json.Unmarshal(c, &v); err != nil {
					t.Fatal(err)
				}
				out[o.Rule.Chain+"/"+itoa(i)] = v.Packets
			}
		}
	}
	return out
}
