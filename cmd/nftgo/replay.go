package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/replay"
	"github.com/nftgo/nftgo/vm"
)

// runReplay is `nftgo -f RULESET --replay CAPTURE …`: per-packet results to
// --verdicts (JSON lines) or, without it, human-readable lines and a summary
// on stdout; then the COMMAND words over the machine's snapshot and the
// conntrack table to --conntrack.
func runReplay(o *options, c *compiler.Compiled, stdout *bufio.Writer, rawStdout io.Writer, stderr io.Writer) int {
	devNull := isDevNull(rawStdout)
	fail := func(err error) int {
		stdout.Flush()
		fmt.Fprintf(stderr, "nftgo: %v\n", err)
		return 1
	}
	host, err := hostOf(o)
	if err != nil {
		return fail(err)
	}
	ctc := ct.DefaultConfig()
	for _, kv := range o.sysctls {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fail(fmt.Errorf("--sysctl %q: want KEY=VALUE", kv))
		}
		if err := ctc.SetSysctl(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return fail(fmt.Errorf("--sysctl %s: %v", kv, err))
		}
	}
	var first *int64
	// Kernel log lines go between the per-packet lines they belong to in
	// the human-readable output, and to stderr when stdout carries JSON.
	logw := stderr
	if o.verdicts == "" {
		logw = stdout
	}
	ctc.Log = func(now int64, msg string) {
		// dmesg's shape, on the replay clock from the first packet
		rel := now
		if first != nil {
			rel -= *first
		}
		fmt.Fprintf(logw, "kernel: [%5d.%06d] %s\n", rel/1e9, rel%1e9/1e3, msg)
	}

	capf, err := replay.Open(o.replay)
	if err != nil {
		return fail(err)
	}
	defer capf.Close()

	cfg := replay.Config{Host: host, CT: ctc, Trace: o.trace}
	var vfile *os.File
	var vw *bufio.Writer
	switch o.verdicts {
	case "":
		if !devNull {
			cfg.Text = stdout
		}
	case "-":
		cfg.Verdicts = stdout
	default:
		if vfile, err = os.Create(o.verdicts); err != nil {
			return fail(err)
		}
		defer vfile.Close()
		vw = bufio.NewWriterSize(vfile, 64<<10)
		cfg.Verdicts = vw
	}
	var outs []*pcapOut
	for _, o := range []struct {
		path string
		dst  **replay.PcapWriter
	}{{o.writeAccepted, &cfg.Accepted}, {o.writeDropped, &cfg.Dropped}} {
		if o.path == "" {
			continue
		}
		po, err := createPcap(o.path, capf.LinkType())
		if err != nil {
			return fail(err)
		}
		defer po.f.Close()
		outs = append(outs, po)
		*o.dst = po.w
	}
	_, size := capf.Progress()
	// No bar between per-packet lines on the same terminal.
	var bar *progress
	linesOnStdout := o.verdicts == "-" || o.verdicts == "" && !devNull
	if f, ok := rawStdout.(*os.File); !linesOnStdout || !ok || !isTerminal(f) {
		bar = newProgress(stderr, o.replay, size)
	}
	if bar != nil {
		cfg.Progress = bar.update
	}
	r, err := replay.New(c.Ruleset, cfg)
	if err != nil {
		if kerr := placeLoadError(c, err); kerr != nil {
			// The kernel's refusal, where nft prints it.
			stdout.Flush()
			msg := kerr.Error()
			if !strings.HasSuffix(msg, "\n") {
				msg += "\n"
			}
			io.WriteString(stderr, msg)
			return 1
		}
		return fail(err)
	}
	for _, n := range r.M.Notes() {
		fmt.Fprintf(stderr, "nftgo: note: %s\n", n)
	}
	first = &r.Stats.First
	workers := 1
	switch o.workers {
	case "":
	case "all":
		workers = runtime.NumCPU()
	default:
		if workers, err = strconv.Atoi(o.workers); err != nil || workers < 1 || workers > 1024 {
			return fail(fmt.Errorf("--workers %q: want a number of workers from 1 to 1024, or all", o.workers))
		}
	}
	opened := false
	open := func() (*replay.Capture, error) {
		if !opened {
			opened = true
			return capf, nil
		}
		return replay.Open(o.replay)
	}
	t0 := time.Now()
	cpu0 := processCPU()
	used, why, err := r.RunWorkers(open, workers)
	elapsed := time.Since(t0)
	cpu := processCPU() - cpu0
	if workers > 1 && why != "" {
		fmt.Fprintf(stderr, "nftgo: --workers %d: replayed on one machine: %s (docs/compatibility.md)\n", workers, why)
	}
	bar.done()
	if err != nil {
		return fail(err)
	}
	for _, po := range outs {
		if err := po.close(); err != nil {
			return fail(err)
		}
		if n := po.w.Skipped; n > 0 {
			fmt.Fprintf(stderr, "nftgo: %s: %d frames of another link type than %d left out\n", po.path, n, po.w.Link)
		}
	}
	if o.stats {
		pps := float64(r.Stats.Packets) / elapsed.Seconds()
		n := float64(max(r.Stats.Packets, 1))
		fmt.Fprintf(stderr, "nftgo: replayed %d packets in %.3f s on %d worker(s): %.0f packets/s, %.1f ns/packet wall, %.1f ns/packet CPU (reading and output included)\n",
			r.Stats.Packets, elapsed.Seconds(), used, pps, float64(elapsed.Nanoseconds())/n, float64(cpu)/n)
		if rd, ws := r.ThreadCPU(); len(ws) > 0 {
			b := fmt.Sprintf("nftgo: thread CPU: reader+merge %.1f ns/packet", float64(rd)/n)
			for i, w := range ws {
				b += fmt.Sprintf(", worker %d %.1f", i, float64(w)/n)
			}
			fmt.Fprintln(stderr, b)
		}
	}
	if vw != nil {
		if err := vw.Flush(); err != nil {
			return fail(err)
		}
	}
	now := r.Now()
	if o.verdicts == "" {
		if err := r.WriteSummary(stdout); err != nil {
			return fail(err)
		}
	}
	if st := r.Stats.Stopped; st != nil {
		stdout.Flush()
		fmt.Fprintf(stderr, "nftgo: %s: %v; the results above cover the records before it\n", o.replay, st)
	}
	if len(o.cmd) > 0 {
		if o.verdicts == "" {
			fmt.Fprintln(stdout)
		}
		if err := command(stdout, o, r.Snapshot(now)); err != nil {
			stdout.Flush()
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if o.conntrack != "" {
		if err := writeConntrack(o.conntrack, r, now, stdout, o.verdicts == ""); err != nil {
			return fail(err)
		}
	}
	return 0
}

// pcapOut is one --write-accepted/--write-dropped file.
type pcapOut struct {
	path string
	f    *os.File
	w    *replay.PcapWriter
}

func createPcap(path string, lt packet.LinkType) (*pcapOut, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := replay.NewPcapWriter(f, lt)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &pcapOut{path: path, f: f, w: w}, nil
}

func (p *pcapOut) close() error {
	if err := p.w.Flush(); err != nil {
		return err
	}
	return p.f.Close()
}

func writeConntrack(path string, t *replay.Replay, now int64, stdout *bufio.Writer, human bool) error {
	if path == "-" {
		if human {
			fmt.Fprintln(stdout)
		}
		return t.WriteConntrack(stdout, now)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := t.WriteConntrack(w, now); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hostOf builds the host model from --iface/--route (forward mode) and
// --local (local mode).
func hostOf(o *options) (vm.Host, error) {
	var h vm.Host
	for _, s := range o.ifaces {
		ifc, err := replay.ParseIface(s)
		if err != nil {
			return h, err
		}
		h.Ifaces = append(h.Ifaces, ifc)
	}
	for _, s := range o.routes {
		rts, err := replay.ParseRoute(s)
		if err != nil {
			return h, err
		}
		h.Routes = append(h.Routes, rts...)
	}
	for _, s := range o.locals {
		a, err := replay.ParseLocal(s)
		if err != nil {
			return h, err
		}
		h.Local = append(h.Local, a)
	}
	return h, nil
}

// processCPU is the process's CPU time (all threads, GC included): the
// --stats figure that a shared, busy machine disturbs least.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
