package replay

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// statefulRuleset exercises conntrack, a dynamic set with per-element
// connlimit and counters on every hook a forwarded or delivered packet
// crosses.
const statefulRuleset = `table inet t {
	set seen {
		type ipv4_addr
		size 65535
		flags dynamic
	}
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		counter
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related counter accept
		ct state invalid counter drop
		ct state new add @seen { ip saddr ct count over 50 } counter drop
		tcp dport { 22, 80, 443 } counter accept
		udp dport 53 counter accept
		counter
	}
	chain in {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		meta l4proto icmp accept
	}
}
`

func compileStateful(t testing.TB) *compiler.Compiled {
	t.Helper()
	defer func() {
		if e := recover(); e != nil {
			t.Fatalf("compiler panicked: %v", e)
		}
	}()
	c, err := compiler.CompileSource("stateful.nft", []byte(statefulRuleset), compiler.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return c
}

// TestReplaySharedCaptures replays every real and malformed capture of
// ../shared/data/pcaps through a stateful ruleset on the oracle's router:
// each gives per-packet results or a clear error, never a panic, and every
// record read gets exactly one verdict line.
func TestReplaySharedCaptures(t *testing.T) {
	files := sharedCaptureFiles(t)
	c := compileStateful(t)
	var replayed, refused, stopped, packets int
	for _, f := range files {
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Errorf("%s: panic: %v", f, e)
				}
			}()
			capf, err := Open(f)
			if err != nil {
				refused++
				if strings.Contains(f, "/real/") && strings.Contains(f, ".pcap") {
					t.Errorf("%s: %v", f, err)
				}
				return
			}
			defer capf.Close()
			var verdicts bytes.Buffer
			cfg := Config{Host: forwardHost(t), CT: ct.DefaultConfig(), Verdicts: &verdicts, Text: io.Discard, Trace: true}
			r, err := New(c.Ruleset, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(capf); err != nil {
				t.Errorf("%s: %v", f, err)
				return
			}
			replayed++
			packets += r.Stats.Packets
			if r.Stats.Stopped != nil {
				stopped++
			}
			if n := bytes.Count(verdicts.Bytes(), []byte("\n")); n != r.Stats.Packets {
				t.Errorf("%s: %d verdict lines for %d packets", f, n, r.Stats.Packets)
			}
			if r.Stats.Accepted+r.Stats.Dropped != r.Stats.Packets {
				t.Errorf("%s: %d accepted + %d dropped != %d packets", f, r.Stats.Accepted, r.Stats.Dropped, r.Stats.Packets)
			}
			r.M.Snapshot(r.Now())
			r.M.Conntrack().WriteList(io.Discard, r.Now())
		}()
	}
	t.Logf("%d files: %d replayed (%d packets, %d stopped at a corrupt record), %d refused", len(files), replayed, packets, stopped, refused)
}

// steadyFlows are packets of established flows, replayed again and again
// in TestNoAllocs after a first pass created their conntrack entries.
func steadyFlows(t testing.TB) [][]byte {
	var s []step
	f := newFlow(&s, "198.51.100.2", 40000, "203.0.113.10", 80)
	f.handshake()
	f.add(true, testpkt.PSHACK)
	s = append(s,
		step{spec: testpkt.Spec{Src: "198.51.100.3", Dst: "203.0.113.10", Proto: "udp", Sport: 5353, Dport: 53, Payload: []byte("q")}},
		step{spec: testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "tcp", Sport: 40000, Dport: 443, Flags: testpkt.SYN, Seq: 7}},
		step{spec: testpkt.Spec{Src: "198.51.100.4", Dst: "203.0.113.10", Proto: "icmp", Type: 8, ID: 1}},
	)
	recs, err := records(s)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.Data
	}
	return out
}

// TestNoAllocs checks that replaying a packet of a known flow allocates
// nothing: decode, host routing, the vm and both output formats.
func TestNoAllocs(t *testing.T) {
	c := compileStateful(t)
	seen := 0
	cfg := Config{Host: forwardHost(t), CT: ct.DefaultConfig(), Verdicts: io.Discard, Text: io.Discard, Trace: true,
		OnPacket: func(ev *Event) {
			if ev.Result != nil && ev.DecodeErr == nil {
				seen++
			}
		}}
	r, err := New(c.Ruleset, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pkts := steadyFlows(t)
	buf := make([]byte, 2048)
	now := testpkt.Epoch.UnixNano()
	for _, p := range pkts {
		r.Packet(packet.LinkRaw, append(buf[:0], p...), now)
	}
	if seen != len(pkts) {
		t.Errorf("OnPacket saw %d packets, want %d", seen, len(pkts))
	}
	for i, p := range pkts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			n := testing.AllocsPerRun(100, func() {
				now += int64(time.Millisecond)
				// the vm decrements the TTL in place: start from a fresh copy
				if err := r.Packet(packet.LinkRaw, append(buf[:0], p...), now); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				var p2 packet.Packet
				p2.Decode(packet.LinkRaw, p)
				t.Errorf("%s: %.1f allocations per packet, want 0", AppendSummary(nil, &p2), n)
			}
		})
	}
}

// BenchmarkReplay is the replay loop over a capture in memory: record
// reading, decode, routing, the vm and verdict lines.
func BenchmarkReplay(b *testing.B) {
	c := compileStateful(b)
	var s []step
	for i := 0; i < 100; i++ {
		f := newFlow(&s, fmt.Sprintf("198.51.100.%d", 1+i%200), uint16(10000+i), "203.0.113.10", 443)
		f.handshake()
		for j := 0; j < 7; j++ {
			f.add(true, testpkt.PSHACK)
		}
	}
	recs, err := records(s)
	if err != nil {
		b.Fatal(err)
	}
	var capb bytes.Buffer
	if err := testpkt.WritePcap(&capb, recs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	pkts := 0
	for i := 0; i < b.N; i++ {
		capf, err := NewCapture(bytes.NewReader(capb.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		r, err := New(c.Ruleset, Config{Host: forwardHost(b), CT: ct.DefaultConfig(), Verdicts: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Run(capf); err != nil {
			b.Fatal(err)
		}
		pkts += r.Stats.Packets
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}
