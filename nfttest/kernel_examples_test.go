package nfttest

import (
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/kernel"
)

var live = flag.Bool("kernel", false, "also run the examples through the running kernel (root, nft, conntrack)")

// kernelHost maps a test file's host onto the kernel harness's two
// topologies; ok is false when the file's host is neither.
func kernelHost(f *File) (cfg kernel.Config, ok bool) {
	if len(f.Host.Ifaces) == 0 {
		return kernel.Config{Mode: kernel.Local, Local: f.Host.Local}, len(f.Host.Local) > 0
	}
	want := map[string]string{"wan": "198.51.100.254/24", "lan": "203.0.113.254/24"}
	if len(f.Host.Ifaces) != 2 {
		return cfg, false
	}
	for _, ifc := range f.Host.Ifaces {
		if w, found := want[ifc.Name]; !found || len(ifc.Prefix) == 0 || ifc.Prefix[0].String() != w {
			return cfg, false
		}
	}
	cfg.Mode = kernel.Forward
	for _, r := range f.Host.Routes {
		switch {
		case r.Prefix.Bits() == 0 && r.Iface == "wan":
		case r.Iface == "lan":
			cfg.LanNets = append(cfg.LanNets, r.Prefix)
		default:
			return cfg, false
		}
	}
	return cfg, true
}

// kernelBy is a kernel decision in the test language (by handle).
func kernelBy(v kernel.Verdict) string {
	switch d := v.Decided; {
	case v.Kernel == "prerouting":
		return "kernel conntrack"
	case v.Kernel != "":
		return "kernel " + v.Kernel
	case d == nil:
		return "none"
	case d.Policy:
		return fmt.Sprintf("%s %s %s policy", d.Family, d.Table, d.Chain)
	default:
		return fmt.Sprintf("%s %s %s handle %d", d.Family, d.Table, d.Chain, d.Handle)
	}
}

// TestExamplesKernel runs every case of the examples through the running
// kernel in a throwaway namespace (internal/kernel) and checks that Linux
// gives every packet the verdict and deciding rule nftgo gives it — the
// answers the examples' expectations were written from. Opt in with
// -kernel; it needs root, nft and conntrack.
func TestExamplesKernel(t *testing.T) {
	if !*live {
		t.Skip("pass -kernel to run the examples through the running kernel")
	}
	if m := kernel.Missing(); m != "" {
		t.Skip(m)
	}
	files, err := Find([]string{"../testdata/examples"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		f, err := ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		base, ok := kernelHost(f)
		if !ok {
			t.Logf("%s: its host is not one the kernel harness models; skipped", path)
			continue
		}
		rs, err := filepath.Abs(f.RulesetPath())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range f.Cases {
			t.Run(caseName(f, c), func(t *testing.T) {
				r := RunCase(f, c)
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				cfg := base
				cfg.Ruleset = rs
				cfg.Sysctl = map[string]string{}
				for _, s := range f.Sysctls {
					cfg.Sysctl[s.Key] = s.Value
				}
				for _, p := range r.Packets {
					cfg.Packets = append(cfg.Packets, kernel.Packet{Time: time.Unix(0, p.Time), Data: p.Frame})
				}
				kr, err := kernel.Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if kr.LoadError != "" || len(kr.Errors) > 0 {
					t.Fatalf("kernel run: load error %q, harness errors %q", kr.LoadError, kr.Errors)
				}
				if len(kr.Verdicts) != len(r.Packets) {
					t.Fatalf("kernel gave %d verdicts for %d packets", len(kr.Verdicts), len(r.Packets))
				}
				for i, p := range r.Packets {
					kv := kr.Verdicts[i]
					nb := p.Got.By
					if p.Got.HandleBy != "" {
						nb = p.Got.HandleBy
					}
					if kv.Verdict != p.Got.Verdict || kernelBy(kv) != nb {
						t.Errorf("%s:%d: %s: nftgo %s by %s, Linux %s by %s", f.Path, p.Step.Line, p.Got.Packet,
							p.Got.Verdict, nb, kv.Verdict, kernelBy(kv))
					}
				}
				for _, e := range r.Ends {
					if e.End.Kind == EndCTCount && kr.ConntrackCount != e.End.Count {
						t.Errorf("%s:%d: conntrack count: file %d, Linux %d", f.Path, e.End.Line, e.End.Count, kr.ConntrackCount)
					}
				}
				t.Logf("%d packets agree with Linux", len(r.Packets))
			})
		}
	}
}
