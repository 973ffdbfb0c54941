package ct

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/packet"
)

// TestTCPRandomAgainstKernel replays random TCP conversations (3 flows,
// random flags among valid and invalid combinations, sequence numbers in
// and out of window, zero windows) that kernel 6.18 processed through the
// oracle: testdata/kernel-random/NAME.pcap with NAME.kernel holding the
// sysctls, each packet's ct state as the kernel classified it (a forward
// chain matching `ct state invalid drop`, `new accept`, …) and the kernel's
// final `conntrack -L`. Every packet's state and the final table must
// match (timeouts to the nearest 10 s: the kernel was dumped a few hundred
// ms after the last packet).
func TestRandomAgainstKernel(t *testing.T) {
	files, _ := filepath.Glob("testdata/kernel-random/*.kernel")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, kf := range files {
		name := strings.TrimSuffix(filepath.Base(kf), ".kernel")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(kf)
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			var classes, want []string
			for _, l := range lines(string(b)) {
				f := strings.Fields(l)
				switch {
				case len(f) == 2 && f[0] == "sysctl":
					k, v, _ := strings.Cut(f[1], "=")
					if err := cfg.SetSysctl(k, v); err != nil {
						t.Fatal(err)
					}
				case len(f) == 3 && f[0] == "packet":
					classes = append(classes, f[2])
				case len(f) > 1 && f[0] == "conntrack":
					want = append(want, roundTimeout(strings.Join(f[1:], " ")))
				}
			}
			recs, err := records2(strings.TrimSuffix(kf, ".kernel") + ".pcap")
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(classes) {
				t.Fatalf("%d packets, %d kernel classes", len(recs), len(classes))
			}
			tab := NewTable(cfg)
			var last int64
			for i, r := range recs {
				var p packet.Packet
				if err := p.Decode(packet.LinkRaw, r.Data); err != nil {
					t.Fatal(err)
				}
				now := r.Time.UnixNano()
				last = now
				tab.Expire(now)
				c, info, drop := tab.In(&p, HookPrerouting, now)
				got := "invalid"
				switch {
				case drop:
					got = "kernel-drop"
				case c == nil && info == Untracked:
					got = "untracked"
				case c == nil:
				case info == New:
					got = "new"
				case info == Established || info == EstablishedReply:
					got = "established"
				default:
					got = "related"
				}
				if got != classes[i] {
					t.Errorf("packet %d: %s, kernel %s", i, got, classes[i])
				}
				if c != nil {
					tab.Confirm(c, info, now)
				}
			}
			var got []string
			for _, l := range lines(list(t, tab, last)) {
				f := strings.Fields(strings.ReplaceAll(l, " use=1", ""))
				got = append(got, roundTimeout(strings.Join(f, " ")))
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("conntrack:\n%s\nkernel:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// roundTimeout rounds the timeout field of a listing line like kjson.py.
func roundTimeout(l string) string {
	f := strings.Fields(l)
	if n, err := strconv.Atoi(f[2]); err == nil {
		f[2] = strconv.Itoa((n + 5) / 10 * 10)
	}
	return strings.Join(f, " ")
}
