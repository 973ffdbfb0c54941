// Package scenario holds the kernel-differential scenarios under
// testdata/scenarios/NAME/: a ruleset, a traffic spec turned into a capture
// with internal/testpkt, the host parameters, and kernel.golden — what Linux
// did with them, normalised so that it is identical from run to run and can
// be compared aspect by aspect with what nftgo does.
//
// Regenerate every golden from the running kernel (root; each scenario runs
// 3 times and is flagged, not written, when the runs differ):
//
//	go test ./internal/scenario -run TestScenarios -update
//
// Compare the stored goldens with nftgo (no root needed), and with -live
// also re-run the kernel and compare it with the stored golden:
//
//	go test ./internal/scenario [-live]
package scenario

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/nftgo/nftgo/internal/kernel"
)

// Params is params.json: how the host is set up.
type Params struct {
	Mode  string   `json:"mode"`            // "forward" or "local"
	Local []string `json:"local,omitempty"` // local addresses (local mode)
	// Sysctl holds dotted names; nf_conntrack_max/_buckets are global and
	// restored after the run.
	Sysctl  map[string]string `json:"sysctl,omitempty"`
	LanNets []string          `json:"lan_nets,omitempty"` // extra prefixes behind lan (forward mode)
	Notes   string            `json:"notes"`
	// NoConntrackTimeout leaves timeouts out of the golden (for scenarios
	// whose remaining timeouts depend on wall-clock jitter).
	NoConntrackTimeout bool `json:"no_conntrack_timeout,omitempty"`
	// RealCapture: the traffic comes from a capture in ../shared (see
	// pcapStatement); its derived packets.pcap is not stored in the
	// repository.
	RealCapture bool `json:"real_capture,omitempty"`
}

// Scenario is one directory under testdata/scenarios.
type Scenario struct {
	Name    string
	Dir     string
	Params  Params
	Traffic string // the traffic spec text
}

// Load reads the scenario in dir.
func Load(dir string) (*Scenario, error) {
	s := &Scenario{Name: filepath.Base(dir), Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "params.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s.Params); err != nil {
		return nil, fmt.Errorf("%s: params.json: %w", s.Name, err)
	}
	if s.Params.Mode != "forward" && s.Params.Mode != "local" {
		return nil, fmt.Errorf("%s: mode %q: want forward or local", s.Name, s.Params.Mode)
	}
	t, err := os.ReadFile(filepath.Join(dir, "traffic"))
	if err != nil {
		return nil, err
	}
	s.Traffic = string(t)
	return s, nil
}

// LoadAll loads every scenario below root, sorted by name.
func LoadAll(root string) ([]*Scenario, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, err := Load(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RulesetPath is the scenario's ruleset.nft.
func (s *Scenario) RulesetPath() string { return filepath.Join(s.Dir, "ruleset.nft") }

// GoldenPath is the scenario's kernel.golden.
func (s *Scenario) GoldenPath() string { return filepath.Join(s.Dir, "kernel.golden") }

// Packets builds the scenario's traffic.
func (s *Scenario) Packets() ([]kernel.Packet, error) {
	recs, err := ParseTrafficIn(s.Traffic, s.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: traffic: %w", s.Name, err)
	}
	out := make([]kernel.Packet, len(recs))
	for i, r := range recs {
		out[i] = kernel.Packet{Time: r.Time, Data: r.Data}
	}
	return out, nil
}

// KernelConfig is the kernel run for the scenario.
func (s *Scenario) KernelConfig() (kernel.Config, error) {
	pk, err := s.Packets()
	if err != nil {
		return kernel.Config{}, err
	}
	cfg := kernel.Config{Mode: kernel.Mode(s.Params.Mode), Sysctl: s.Params.Sysctl, Ruleset: s.RulesetPath(), Packets: pk}
	for _, a := range s.Params.Local {
		ad, err := netip.ParseAddr(a)
		if err != nil {
			return cfg, fmt.Errorf("%s: local %q: %w", s.Name, a, err)
		}
		cfg.Local = append(cfg.Local, ad)
	}
	for _, p := range s.Params.LanNets {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return cfg, fmt.Errorf("%s: lan_nets %q: %w", s.Name, p, err)
		}
		cfg.LanNets = append(cfg.LanNets, pf)
	}
	return cfg, nil
}
