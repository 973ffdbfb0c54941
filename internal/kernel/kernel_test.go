package kernel

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
)

func TestParseTraceLine(t *testing.T) {
	tests := []struct {
		line string
		want traceEvent
	}{
		{"trace id 8a1b2c3d inet t forward rule ct state new counter packets 0 bytes 0 accept # handle 6 (verdict accept)",
			traceEvent{id: "8a1b2c3d", family: "inet", table: "t", chain: "forward", kind: "rule",
				text: "ct state new counter packets 0 bytes 0 accept", handle: 6, verdict: "accept"}},
		{"trace id 1 ip nat post policy accept ",
			traceEvent{id: "1", family: "ip", table: "nat", chain: "post", kind: "policy", verdict: "accept"}},
		{"trace id 1 inet filter dns verdict continue",
			traceEvent{id: "1", family: "inet", table: "filter", chain: "dns", kind: "verdict", verdict: "continue"}},
	}
	for _, tc := range tests {
		got, ok := parseTraceLine(tc.line)
		if !ok || got != tc.want {
			t.Errorf("parseTraceLine(%q) = %+v, %v; want %+v", tc.line, got, ok, tc.want)
		}
	}
}

func TestMarkerChecksums(t *testing.T) {
	for _, seq := range []int{0, 1, 65535, 65536, helloSeq} {
		b := markerPacket(seq)
		if csum(b[:20], 0) != 0xffff {
			t.Errorf("seq %d: bad IPv4 header checksum", seq)
		}
		var ph uint32
		ph = csumAdd(ph, b[12:20])
		ph += 17 + 8
		if csum(b[20:], ph) != 0xffff {
			t.Errorf("seq %d: bad UDP checksum", seq)
		}
	}
}

// TestLiveTableFull runs the seed experiment against the real kernel:
// nf_conntrack_max=7 and 10 SYNs; the last three die in conntrack.
func TestLiveTableFull(t *testing.T) {
	if m := Missing(); m != "" {
		t.Skipf("kernel run impossible here, missing: %s", m)
	}
	dir := t.TempDir()
	rs := filepath.Join(dir, "r.nft")
	os.WriteFile(rs, []byte(`table inet t {
  chain raw {
    type filter hook prerouting priority raw; policy accept;
    counter
  }
  chain mangle {
    type filter hook prerouting priority mangle; policy accept;
    counter
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state new counter accept
  }
}
`), 0o644)
	var pk []Packet
	for i := 0; i < 10; i++ {
		b := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: uint16(1000 + i), Dport: 80, Flags: "S", Seq: 1000})
		pk = append(pk, Packet{Time: testpkt.Epoch.Add(time.Duration(i) * time.Millisecond), Data: b})
	}
	before, _ := readSysctl("net.netfilter.nf_conntrack_max")
	res, err := Run(Config{Mode: Forward, Ruleset: rs, Packets: pk, Sysctl: map[string]string{"net.netfilter.nf_conntrack_max": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := readSysctl("net.netfilter.nf_conntrack_max"); after != before {
		t.Errorf("nf_conntrack_max not restored: %s, was %s", after, before)
	}
	t.Logf("load: %s errors: %v\nverdicts: %+v\nct: %s\ncount %d tablefull %v egress %d wall %v", res.LoadError, res.Errors, res.Verdicts, res.Conntrack, res.ConntrackCount, res.TableFull, res.Egress, res.Wall)
	if res.LoadError != "" {
		t.Fatalf("ruleset did not load: %s", res.LoadError)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors: %v", res.Errors)
	}
	for i, v := range res.Verdicts {
		wantK := ""
		if i >= 7 {
			wantK = "prerouting"
		}
		if v.Kernel != wantK {
			t.Errorf("packet %d: kernel drop %q, want %q", i, v.Kernel, wantK)
		}
	}
	if res.ConntrackCount != 7 {
		t.Errorf("conntrack count %d, want 7", res.ConntrackCount)
	}
}
