package scenario

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Listing and conntrack lines below are verbatim output of nft 1.0.6 and
// conntrack-tools 1.4.7 on Linux 6.18.

func TestRuleTexts(t *testing.T) {
	listing := `table inet filter { # handle 1
	set cl { # handle 2
		type ipv4_addr
		size 65535
		flags dynamic
	}

	chain forward { # handle 1
		type filter hook forward priority filter; policy accept;
		ct state new add @cl { ip saddr ct count over 2 } counter packets 0 bytes 0 drop # handle 3
		counter packets 12 bytes 480 # handle 4
	}
}
`
	got := ruleTexts(listing)
	want := map[ruleKey]string{
		{chainKey{"inet", "filter", "forward"}, 3}: "ct state new add @cl { ip saddr ct count over 2 } counter drop",
		{chainKey{"inet", "filter", "forward"}, 4}: "counter",
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(ruleKey{}, chainKey{})); d != "" {
		t.Errorf("ruleTexts (-want +got):\n%s", d)
	}
}

func TestParseConntrack(t *testing.T) {
	text := `tcp      6 119 SYN_SENT src=198.51.100.2 dst=203.0.113.10 sport=1006 dport=80 [UNREPLIED] src=203.0.113.10 dst=198.51.100.2 sport=80 dport=1006 mark=0 use=1
icmp     1 26 src=198.51.100.2 dst=203.0.113.10 type=8 code=0 id=7 src=203.0.113.10 dst=198.51.100.2 type=0 code=0 id=7 mark=42 use=1
conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.
`
	got, err := ParseConntrack(text, true)
	if err != nil {
		t.Fatal(err)
	}
	i := func(n int) *int { return &n }
	// sorted by canonical JSON: flags ["UNREPLIED"] before []
	want := []CTEntry{
		{L3: "ipv4", Proto: "tcp", State: "SYN_SENT", Orig: Tuple{Src: "198.51.100.2", Dst: "203.0.113.10", Sport: 1006, Dport: 80},
			Reply: Tuple{Src: "203.0.113.10", Dst: "198.51.100.2", Sport: 80, Dport: 1006}, Flags: []string{"UNREPLIED"}, Timeout: i(120)},
		{L3: "ipv4", Proto: "icmp", Orig: Tuple{Src: "198.51.100.2", Dst: "203.0.113.10", Type: i(8), Code: i(0), ID: i(7)},
			Reply: Tuple{Src: "203.0.113.10", Dst: "198.51.100.2", Type: i(0), Code: i(0), ID: i(7)}, Flags: []string{}, Mark: 42, Timeout: i(30)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseConntrack (-want +got):\n%s", d)
	}
}

func TestParseTraffic(t *testing.T) {
	tests := []struct {
		spec  string
		n     int
		err   bool
		gapNS int64 // time from first to last packet
	}{
		{"syn 198.51.100.2:1000 > 203.0.113.10:80 count=10", 10, false, 90e6},
		{"handshake 198.51.100.2:1000 > 203.0.113.10:80 data=10 reply=5 close=fin", 10, false, 90e6},
		{"handshake [2001:db8:1::2]:1000 > [2001:db8:2::10]:80 close=rst", 4, false, 30e6},
		{"udp 198.51.100.2:5000 > 203.0.113.10:53\n+2s\nudp 203.0.113.10:53 > 198.51.100.2:5000", 2, false, 2010e6},
		{"gap 1ms\nicmp 198.51.100.2 > 203.0.113.10 count=3", 3, false, 2e6},
		{"icmperr 198.51.100.1 > 203.0.113.10 type=11 inner icmp 203.0.113.10 > 198.51.100.30 id=9", 1, false, 0},
		{"syn 198.51.100.2 > 203.0.113.10:80", 0, true, 0},
		{"udp 198.51.100.2:1 > [2001:db8::1]:2", 0, true, 0},
		{"tcp 198.51.100.2:1 > 203.0.113.10:2 bogus=1", 0, true, 0},
		{"frobnicate", 0, true, 0},
	}
	for _, tc := range tests {
		recs, err := ParseTraffic(tc.spec)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.spec, err, tc.err)
			continue
		}
		if len(recs) != tc.n {
			t.Errorf("%q: %d packets, want %d", tc.spec, len(recs), tc.n)
			continue
		}
		if tc.n > 0 {
			if d := recs[len(recs)-1].Time.Sub(recs[0].Time).Nanoseconds(); d != tc.gapNS {
				t.Errorf("%q: span %d ns, want %d", tc.spec, d, tc.gapNS)
			}
		}
	}
}

// TestHandshakeSequence checks the seq/ack arithmetic of the generated
// handshake: each segment acknowledges exactly what the peer sent.
func TestHandshakeSequence(t *testing.T) {
	recs, err := ParseTraffic("handshake 198.51.100.2:1000 > 203.0.113.10:80 data=10 close=fin")
	if err != nil {
		t.Fatal(err)
	}
	type seg struct {
		flags    string
		seq, ack uint32
	}
	want := []seg{{"S", 1000, 0}, {"SA", 1000000, 1001}, {"A", 1001, 1000001}, {"PA", 1001, 1000001},
		{"A", 1000001, 1011}, {"FA", 1011, 1000001}, {"FA", 1000001, 1012}, {"A", 1012, 1000002}}
	if len(recs) != len(want) {
		t.Fatalf("%d packets, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		b := r.Data[20:]
		seq := uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
		ack := uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
		fl := ""
		for _, f := range []struct {
			bit  byte
			name string
		}{{0x02, "S"}, {0x01, "F"}, {0x04, "R"}, {0x08, "P"}, {0x10, "A"}} {
			if b[13]&f.bit != 0 {
				fl += f.name
			}
		}
		if fl != want[i].flags || seq != want[i].seq || ack != want[i].ack {
			t.Errorf("packet %d: %s seq %d ack %d, want %+v", i, fl, seq, ack, want[i])
		}
	}
}
