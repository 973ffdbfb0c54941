package scenario

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nftgo/nftgo/internal/kernel"
	"github.com/nftgo/nftgo/internal/testpkt"
)

// lastTableFull is when the previous run that may log "table full" ended:
// the message is rate limited by net_ratelimit (10 per 5 s, host-wide), so
// such runs are spaced out or the log line would depend on what ran before.
var lastTableFull time.Time

// RunKernel runs the scenario once in the kernel and normalises the result.
func RunKernel(s *Scenario) (*Golden, *kernel.Result, error) {
	cfg, err := s.KernelConfig()
	if err != nil {
		return nil, nil, err
	}
	_, ctMax := s.Params.Sysctl["net.netfilter.nf_conntrack_max"]
	if ctMax {
		if d := 5500*time.Millisecond - time.Since(lastTableFull); d > 0 {
			time.Sleep(d)
		}
		defer func() { lastTableFull = time.Now() }()
	}
	res, err := kernel.Run(cfg)
	if err != nil {
		return nil, res, err
	}
	if len(res.Errors) > 0 {
		return nil, res, fmt.Errorf("%s: harness problems: %v", s.Name, res.Errors)
	}
	g, err := FromKernel(s.Params.Mode, s.Params, res)
	return g, res, err
}

// Regenerate runs the scenario runs times; when every run gives the same
// golden it returns it, otherwise an error holding the first difference
// (the scenario is flagged and its golden must not be kept).
func Regenerate(s *Scenario, runs int) (*Golden, []time.Duration, error) {
	var first *Golden
	var walls []time.Duration
	for i := 0; i < runs; i++ {
		g, res, err := RunKernel(s)
		if res != nil {
			walls = append(walls, res.Wall)
		}
		if err != nil {
			return nil, walls, err
		}
		if first == nil {
			first = g
			continue
		}
		if d := Diff(first, g, DiffOptions{}); len(d) > 0 {
			return nil, walls, fmt.Errorf("%s: kernel result differs between run 1 and run %d:\n%s", s.Name, i+1, FormatDiff(d))
		}
		if !bytes.Equal(first.Marshal(), g.Marshal()) {
			return nil, walls, fmt.Errorf("%s: kernel golden text differs between run 1 and run %d", s.Name, i+1)
		}
	}
	return first, walls, nil
}

// WritePcap writes the scenario's traffic to path (LINKTYPE_RAW).
func (s *Scenario) WritePcap(path string) error {
	recs, err := ParseTrafficIn(s.Traffic, s.Dir)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := testpkt.WritePcap(&b, recs); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// PcapPath is where -update stores the generated capture, for use with
// `nftgo diff-kernel` and ../shared/scenarios/compare.py.
func (s *Scenario) PcapPath() string { return filepath.Join(s.Dir, "packets.pcap") }
