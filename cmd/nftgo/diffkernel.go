package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nftgo/nftgo/internal/kernel"
	"github.com/nftgo/nftgo/internal/scenario"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/replay"
)

const diffKernelUsage = `usage: nftgo diff-kernel -f RULESET --replay CAPTURE [--local ADDR]... [--sysctl KEY=VALUE]...
                         [--iface NAME=ADDR/PLEN,...]... [--route PREFIX@NAME]...

Runs RULESET and the IP packets of CAPTURE through the running kernel (nf_tables and
nf_conntrack in a throwaway network namespace, root only) and through nftgo, and prints
where they disagree: packet by packet (verdict and deciding rule), then rule counters,
set elements and the conntrack table (timeouts rounded to 10 s).

Host: with --local the kernel is a host owning those addresses (packets to them are
received, packets from them are sent); otherwise it is the test router: wan
198.51.100.254/24 + 2001:db8:1::fffe/64 with the default routes, lan 203.0.113.254/24 +
2001:db8:2::fffe/64 (--route PREFIX@lan adds prefixes behind lan). Each packet enters on
its source's side, so the capture should hold both directions of every flow. Packets
follow the capture's timestamps. net.netfilter.nf_conntrack_max/_buckets are host-wide:
they are changed for the run and restored.

Exit status: 0 same result, 1 differences, 2 cannot run (not root, missing tools, bad
arguments).
`

// geteuid is replaceable so tests can play an unprivileged user.
var geteuid = os.Geteuid

// runDiffKernel is `nftgo diff-kernel`.
func runDiffKernel(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %v\n%s", err, diffKernelUsage)
		return 2
	}
	if o.help {
		fmt.Fprint(stdout, diffKernelUsage)
		return 0
	}
	if geteuid() != 0 {
		fmt.Fprintln(stderr, "nftgo diff-kernel: needs root: it loads the ruleset into the kernel inside a network namespace")
		return 2
	}
	if m := kernel.Missing(); m != "" {
		fmt.Fprintf(stderr, "nftgo diff-kernel: cannot run the kernel side here, missing: %s\n", m)
		return 2
	}
	if o.file == "" || o.replay == "" || len(o.cmd) > 0 {
		fmt.Fprint(stderr, diffKernelUsage)
		return 2
	}
	p, err := diffKernelParams(o)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %v\n", err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "nftgo-diffkernel")
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %v\n", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	// Both sides get the same raw-IP packets: frames without IP are left
	// out so that packet numbers agree.
	pkts, skipped, err := readIPPackets(o.replay)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %s: %v\n", o.replay, err)
		return 2
	}
	if skipped > 0 {
		fmt.Fprintf(stdout, "note: %d frames without an IP packet left out; packet numbers count IP packets only\n", skipped)
	}
	pcap := filepath.Join(tmp, "packets.pcap")
	if err := writeRaw(pcap, pkts); err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %v\n", err)
		return 2
	}
	rs, err := filepath.Abs(o.file)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %v\n", err)
		return 2
	}

	cfg := kernel.Config{Mode: kernel.Mode(p.Mode), Sysctl: p.Sysctl, Ruleset: rs, Packets: pkts}
	for _, a := range p.Local {
		cfg.Local = append(cfg.Local, netip.MustParseAddr(a))
	}
	for _, n := range p.LanNets {
		cfg.LanNets = append(cfg.LanNets, netip.MustParsePrefix(n))
	}
	kres, err := kernel.Run(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: kernel run: %v\n", err)
		return 2
	}
	for _, m := range kres.Recovered {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %s\n", m)
	}
	for _, e := range kres.Errors {
		fmt.Fprintf(stderr, "nftgo diff-kernel: kernel harness: %s\n", e)
	}
	want, err := scenario.FromKernel(p.Mode, p, kres)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: kernel result: %v\n", err)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "nftgo diff-kernel: %v\n", err)
		return 2
	}
	got, err := scenario.Binary{Path: self}.Run(p, rs, pcap)
	if err != nil {
		fmt.Fprintf(stdout, "kernel: %d packets in %v\n", len(want.Verdicts), kres.Wall.Round(time.Millisecond))
		fmt.Fprintf(stderr, "nftgo diff-kernel: nftgo replay: %v\n", err)
		if errors.Is(err, scenario.ErrCandidate) {
			return 1
		}
		return 2
	}
	return printDiffKernel(stdout, want, got, kres.Wall)
}

// diffKernelParams maps nftgo's host flags onto the kernel harness's two
// host shapes, refusing what it cannot build.
func diffKernelParams(o *options) (scenario.Params, error) {
	p := scenario.Params{Mode: "forward", Sysctl: map[string]string{}}
	for _, kv := range o.sysctls {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, fmt.Errorf("--sysctl %q: want KEY=VALUE", kv)
		}
		p.Sysctl[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(o.locals) > 0 {
		if len(o.ifaces) > 0 || len(o.routes) > 0 {
			return p, errors.New("--local cannot be combined with --iface/--route: the kernel side is either a host (--local) or the test router")
		}
		p.Mode = "local"
		for _, l := range o.locals {
			a, err := replay.ParseLocal(l)
			if err != nil {
				return p, err
			}
			p.Local = append(p.Local, a.String())
		}
		return p, nil
	}
	std := map[string]string{"wan": "198.51.100.254/24,2001:db8:1::fffe/64", "lan": "203.0.113.254/24,2001:db8:2::fffe/64"}
	for _, s := range o.ifaces {
		name, addrs, _ := strings.Cut(s, "=")
		if want, ok := std[name]; !ok || !sameSet(addrs, want) {
			return p, fmt.Errorf("--iface %s: the kernel side models only the test router (--iface wan=%s --iface lan=%s)", s, std["wan"], std["lan"])
		}
	}
	for _, r := range o.routes {
		pfx, dev, ok := strings.Cut(r, "@")
		switch {
		case ok && pfx == "default" && dev == "wan":
		case ok && dev == "lan":
			if _, err := netip.ParsePrefix(pfx); err != nil {
				return p, fmt.Errorf("--route %s: %v", r, err)
			}
			p.LanNets = append(p.LanNets, pfx)
		default:
			return p, fmt.Errorf("--route %s: the test router has default@wan; only PREFIX@lan can be added", r)
		}
	}
	return p, nil
}

func sameSet(a, b string) bool {
	x, y := strings.Split(a, ","), strings.Split(b, ",")
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

// readIPPackets returns the network-layer bytes of every IP frame.
func readIPPackets(path string) ([]kernel.Packet, int, error) {
	c, err := replay.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	var out []kernel.Packet
	skipped := 0
	var p packet.Packet
	for {
		data, ts, lt, err := c.Next()
		if err == io.EOF {
			return out, skipped, nil
		}
		var st *replay.Stopped
		if errors.As(err, &st) {
			return out, skipped, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if !replay.Supported(lt) || p.Decode(lt, data) != nil {
			skipped++
			continue
		}
		out = append(out, kernel.Packet{Time: time.Unix(0, ts).UTC(), Data: append([]byte(nil), p.Network()...)})
	}
}

func writeRaw(path string, pkts []kernel.Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	recs := make([]testpkt.Record, len(pkts))
	for i, p := range pkts {
		recs[i] = testpkt.Record{Time: p.Time, Data: p.Data}
	}
	if err := testpkt.WritePcap(f, recs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func describe(d *scenario.Decided) string {
	switch {
	case d == nil:
		return "(no user chain decided)"
	case d.Kernel != "":
		return "by the kernel outside nf_tables (" + d.Kernel + ")"
	case d.Policy:
		return fmt.Sprintf("by %s %s %s policy", d.Family, d.Table, d.Chain)
	}
	idx := "?"
	if d.RuleIndex != nil {
		idx = fmt.Sprint(*d.RuleIndex)
	}
	return fmt.Sprintf("by %s %s %s rule %s (handle %d)", d.Family, d.Table, d.Chain, idx, d.Handle)
}

func printDiffKernel(w io.Writer, want, got *scenario.Golden, wall time.Duration) int {
	fmt.Fprintf(w, "kernel: %d packets in %v\n", len(want.Verdicts), wall.Round(time.Millisecond))
	d := scenario.Diff(want, got, scenario.DiffOptions{Candidate: true})
	if len(d) == 0 {
		fmt.Fprintln(w, "nftgo and the kernel agree: verdicts, counters, sets, conntrack")
		return 0
	}
	if _, ok := d["load_error"]; ok {
		fmt.Fprintf(w, "ruleset load differs:\n  kernel: %s\n  nftgo:  %s\n", orNone(want.LoadError), orNone(got.LoadError))
		return 1
	}
	if _, ok := d["verdicts"]; ok {
		n := len(want.Verdicts)
		if len(got.Verdicts) > n {
			n = len(got.Verdicts)
		}
		for i := 0; i < n; i++ {
			var k, g *scenario.Verdict
			if i < len(want.Verdicts) {
				k = &want.Verdicts[i]
			}
			if i < len(got.Verdicts) {
				g = &got.Verdicts[i]
			}
			if k != nil && g != nil && len(scenario.Diff(&scenario.Golden{Verdicts: []scenario.Verdict{*k}},
				&scenario.Golden{Verdicts: []scenario.Verdict{*g}}, scenario.DiffOptions{Candidate: true})) == 0 {
				continue
			}
			fmt.Fprintf(w, "packet %d:\n  kernel: %s\n  nftgo:  %s\n", i, verdictText(k), verdictText(g))
		}
		delete(d, "verdicts")
	}
	fmt.Fprint(w, scenario.FormatDiff(d))
	return 1
}

func verdictText(v *scenario.Verdict) string {
	if v == nil {
		return "(no result)"
	}
	return v.Verdict + " " + describe(v.DecidedBy)
}

func orNone(s string) string {
	if s == "" {
		return "loaded"
	}
	return strings.TrimSpace(s)
}
