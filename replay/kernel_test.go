package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/kernel"
	"github.com/nftgo/nftgo/internal/scenario"
	"github.com/nftgo/nftgo/packet"
)

var (
	record      = flag.Bool("record", false, "run every replay case in the running kernel (internal/kernel) and rewrite its kernel.json")
	kernelCheck = flag.Bool("kernel", false, "run every replay case in the running kernel and compare with its kernel.json")
	kernelRuns  = flag.Int("kernel-runs", 2, "kernel runs per case with -record; kernel.json is written only when all agree")
	kernelOnly  = flag.String("kernel-case", "", "with -record/-kernel: only the case with this name")
)

// kernelConfig is the internal/kernel run of one replay case: its ruleset,
// host parameters and the IP packets of traffic.pcap with their timestamps
// (the link layer is stripped: the harness writes raw IP into tun devices).
func kernelConfig(t *testing.T, dir string, p caseParams) kernel.Config {
	c, err := Open(filepath.Join(dir, "traffic.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := kernel.Config{Mode: kernel.Mode(p.Mode), Sysctl: p.Sysctl, Ruleset: filepath.Join(dir, "ruleset.nft")}
	sc := scenario.Params{Mode: p.Mode, Local: p.Local}
	kc, err := (&scenario.Scenario{Name: filepath.Base(dir), Dir: dir, Params: sc}).KernelConfig()
	if err == nil {
		cfg.Local = kc.Local
	}
	for {
		data, ts, lt, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("traffic.pcap: %v", err)
		}
		var pk packet.Packet
		if err := pk.Decode(lt, data); err != nil {
			t.Fatalf("traffic.pcap record %d: %v", len(cfg.Packets), err)
		}
		cfg.Packets = append(cfg.Packets, kernel.Packet{Time: time.Unix(0, ts), Data: bytes.Clone(pk.Network())})
	}
	return cfg
}

// TestKernel runs the replay cases in the running kernel through the
// project's own harness (internal/kernel, normalised by internal/scenario):
// with -kernel it compares the kernel's answer today with kernel.json, with
// -record it rewrites kernel.json when -kernel-runs runs agree. Without
// either flag it does nothing; testdata/replay/record-kernel.sh drives it.
func TestKernel(t *testing.T) {
	if !*record && !*kernelCheck {
		t.Skip("kernel side not run (-kernel compares with kernel.json, -record rewrites it; root)")
	}
	if m := kernel.Missing(); m != "" {
		t.Skipf("SKIP: this machine lacks %s", m)
	}
	var lastFull time.Time
	for _, tc := range replayCases {
		if *kernelOnly != "" && tc.name != *kernelOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, tc.name)
			var p caseParams
			b, err := os.ReadFile(filepath.Join(dir, "params.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			cfg := kernelConfig(t, dir, p)
			runs := 1
			if *record {
				runs = *kernelRuns
			}
			var first *scenario.Golden
			for i := 0; i < runs; i++ {
				// "nf_conntrack: table full" is rate limited host-wide
				// (net_ratelimit: 10 per 5 s): space out the runs that log it.
				if _, full := p.Sysctl["net.netfilter.nf_conntrack_max"]; full {
					if d := 5500*time.Millisecond - time.Since(lastFull); d > 0 {
						time.Sleep(d)
					}
				}
				res, err := kernel.Run(cfg)
				lastFull = time.Now()
				if err == nil && len(res.Errors) > 0 {
					err = errors.New("harness problems: " + joinErr(res.Errors))
				}
				if err != nil {
					t.Fatalf("kernel run %d: %v", i+1, err)
				}
				g, err := scenario.FromKernel(p.Mode, scenario.Params{Mode: p.Mode, Local: p.Local, Sysctl: p.Sysctl}, res)
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = g
					continue
				}
				if d := scenario.Diff(first, g, scenario.DiffOptions{}); len(d) > 0 {
					t.Fatalf("kernel run 1 and %d differ, kernel.json not written:\n%s", i+1, scenario.FormatDiff(d))
				}
			}
			path := filepath.Join(dir, "kernel.json")
			if *record {
				if err := os.WriteFile(path, first.Marshal(), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("recorded %s (%d identical kernel runs)", path, runs)
				return
			}
			want, err := readKernelJSON(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := scenario.Diff(want, first, scenario.DiffOptions{}); len(d) > 0 {
				t.Errorf("the kernel today differs from %s:\n%s", path, scenario.FormatDiff(d))
			}
		})
	}
}

func joinErr(s []string) string {
	var b bytes.Buffer
	for i, e := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return b.String()
}
