package kernel

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Missing names what this machine lacks to run the kernel side (not root, no
// nft/conntrack/ip/stdbuf, no tun, no netns), or "" when everything is there.
func Missing() string {
	var m []string
	if os.Geteuid() != 0 {
		m = append(m, "root")
	}
	for _, b := range []string{"nft", "conntrack", "ip", "stdbuf"} {
		if _, err := exec.LookPath(b); err != nil {
			m = append(m, b)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		m = append(m, "/dev/net/tun")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		m = append(m, "network namespaces")
	}
	return strings.Join(m, ", ")
}

var (
	runMu  sync.Mutex // one run at a time per process: globals and dmesg are shared
	nsSeq  atomic.Int64
	v4Wan  = netip.MustParsePrefix("198.51.100.254/24")
	v6Wan  = netip.MustParsePrefix("2001:db8:1::fffe/64")
	v4Lan  = netip.MustParsePrefix("203.0.113.254/24")
	v6Lan  = netip.MustParsePrefix("2001:db8:2::fffe/64")
	lanNet = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:2::/64")}
)

// run state; cleanup is idempotent and also runs on SIGINT/SIGTERM.
type runner struct {
	cfg     Config
	ns      string
	th      *nsThread
	globals *globalState
	tuns    map[string]*os.File
	raw4    int
	raw6    int
	monitor *exec.Cmd
	once    sync.Once
	res     *Result
	egress  atomic.Int64
	wg      sync.WaitGroup
}

// Run executes cfg in a fresh namespace. The namespace is deleted and every
// sysctl restored before Run returns, also on error and on SIGINT/SIGTERM
// (the process then exits with status 130).
func Run(cfg Config) (*Result, error) {
	if m := Missing(); m != "" {
		return nil, fmt.Errorf("kernel run needs: %s", m)
	}
	runMu.Lock()
	defer runMu.Unlock()
	start := time.Now()
	r := &runner{cfg: cfg, raw4: -1, raw6: -1, tuns: map[string]*os.File{}, res: &Result{}}
	r.res.Recovered = Recover()
	r.ns = fmt.Sprintf("nftgo-k%d-%d", os.Getpid(), nsSeq.Add(1))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	stopSig := make(chan struct{})
	go func() {
		select {
		case <-sig:
			r.cleanup()
			os.Exit(130)
		case <-stopSig:
		}
	}()
	defer func() {
		signal.Stop(sig)
		close(stopSig)
	}()
	err := r.run()
	r.cleanup()
	r.res.Wall = time.Since(start)
	if err != nil {
		return r.res, err
	}
	return r.res, nil
}

func (r *runner) errorf(format string, a ...any) {
	r.res.Errors = append(r.res.Errors, fmt.Sprintf(format, a...))
}

func (r *runner) run() error {
	cfg := r.cfg
	var err error
	r.globals, err = setGlobals(cfg.Sysctl)
	if err != nil {
		return fmt.Errorf("global sysctls: %w", err)
	}
	kmsg := openKmsg()
	if _, err := run("", "ip", "netns", "add", r.ns); err != nil {
		return err
	}
	r.th, err = newNSThread("/run/netns/" + r.ns)
	if err != nil {
		return err
	}
	if err := r.setup(); err != nil {
		return err
	}
	// Helper table first (see helperRuleset), then the user's ruleset.
	if _, err := r.nsRun(helperRuleset(cfg.Mode == Local), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("helper table: %w", err)
	}
	load := exec.Command("ip", "netns", "exec", r.ns, "nft", "-f", cfg.Ruleset)
	var stderr strings.Builder
	load.Stderr = &stderr
	if err := load.Run(); err != nil {
		r.res.LoadError = stderr.String()
		if r.res.LoadError == "" {
			r.res.LoadError = err.Error()
		}
		return nil
	}
	tr, err := r.startMonitor()
	if err != nil {
		return err
	}
	for _, f := range r.tuns {
		r.wg.Add(1)
		go r.drain(f)
	}
	if err := r.inject(tr); err != nil {
		return err
	}
	r.stopMonitor(tr)
	// Conntrack first (the global sysctls go back right after), then the
	// ruleset: nothing below changes conntrack state.
	ctText, err := r.nsRun("", "conntrack", "-L")
	if err != nil {
		r.errorf("%v", err)
	}
	r.res.Conntrack = ctText
	_ = r.th.do(func() error {
		s, err := readSysctl("net.netfilter.nf_conntrack_count")
		if err == nil {
			r.res.ConntrackCount, _ = strconv.Atoi(s)
		}
		return err
	})
	for _, e := range r.globals.restore() {
		r.errorf("%s", e)
	}
	js, err := r.nsRun("", "nft", "-j", "list", "ruleset")
	if err != nil {
		return err
	}
	r.res.RulesetJSON, err = stripHelper([]byte(js))
	if err != nil {
		return err
	}
	txt, err := r.nsRun("", "nft", "-a", "list", "ruleset")
	if err != nil {
		return err
	}
	r.res.RulesetText = txt
	r.res.Kmsg = kmsg.lines()
	if ino, err := nsInode("/run/netns/" + r.ns); err == nil {
		want := fmt.Sprintf("table full in netns %d,", ino)
		for _, l := range r.res.Kmsg {
			if strings.Contains(l, want) {
				r.res.TableFull = true
			}
		}
	}
	return nil
}

func (r *runner) nsRun(stdin string, name string, args ...string) (string, error) {
	return run(stdin, "ip", append([]string{"netns", "exec", r.ns, name}, args...)...)
}

// setup builds the host inside the namespace.
func (r *runner) setup() error {
	cfg := r.cfg
	var devs []string
	if cfg.Mode == Forward {
		devs = []string{"wan", "lan"}
	} else {
		devs = []string{"tun0"}
	}
	has6 := cfg.Mode == Forward
	for _, a := range cfg.Local {
		if a.Is6() {
			has6 = true
		}
	}
	err := r.th.do(func() error {
		for _, d := range devs {
			f, err := tunOpen(d)
			if err != nil {
				return err
			}
			r.tuns[d] = f
		}
		set := [][2]string{
			{"net.ipv4.icmp_ratelimit", "0"}, {"net.ipv6.icmp.ratelimit", "0"},
			{"net.ipv4.icmp_msgs_per_sec", "1000000"}, {"net.ipv4.icmp_msgs_burst", "1000000"},
		}
		for _, d := range append([]string{"all", "default"}, devs...) {
			set = append(set, [2]string{"net.ipv4.conf." + d + ".rp_filter", "0"},
				[2]string{"net.ipv4.conf." + d + ".send_redirects", "0"})
			if has6 {
				set = append(set, [2]string{"net.ipv6.conf." + d + ".accept_dad", "0"},
					[2]string{"net.ipv6.conf." + d + ".router_solicitations", "0"},
					[2]string{"net.ipv6.conf." + d + ".accept_ra", "0"},
					[2]string{"net.ipv6.conf." + d + ".addr_gen_mode", "1"})
			} else {
				set = append(set, [2]string{"net.ipv6.conf." + d + ".disable_ipv6", "1"})
			}
		}
		if cfg.Mode == Forward {
			set = append(set, [2]string{"net.ipv4.ip_forward", "1"}, [2]string{"net.ipv6.conf.all.forwarding", "1"})
		}
		for k, v := range cfg.Sysctl {
			if !globalSysctls[k] {
				set = append(set, [2]string{k, v})
			}
		}
		for _, kv := range set {
			if err := writeSysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if cfg.Mode == Local {
			var err error
			if r.raw4, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_RAW); err != nil {
				return fmt.Errorf("raw socket: %w", err)
			}
			if has6 {
				if r.raw6, err = syscall.Socket(syscall.AF_INET6, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_RAW); err != nil {
					return fmt.Errorf("raw6 socket: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	ipc := [][]string{{"link", "set", "lo", "up"}}
	for _, d := range devs {
		ipc = append(ipc, []string{"link", "set", d, "mtu", "65535", "txqueuelen", "10000", "up"})
	}
	if cfg.Mode == Forward {
		ipc = append(ipc,
			[]string{"addr", "add", v4Wan.String(), "dev", "wan"},
			[]string{"-6", "addr", "add", v6Wan.String(), "dev", "wan", "nodad"},
			[]string{"addr", "add", v4Lan.String(), "dev", "lan"},
			[]string{"-6", "addr", "add", v6Lan.String(), "dev", "lan", "nodad"},
			[]string{"route", "add", "default", "dev", "wan"},
			[]string{"-6", "route", "add", "default", "dev", "wan"})
		for _, p := range cfg.LanNets {
			fam := "-4"
			if p.Addr().Is6() {
				fam = "-6"
			}
			ipc = append(ipc, []string{fam, "route", "add", p.String(), "dev", "lan"})
		}
	} else {
		ipc = append(ipc, []string{"route", "add", "default", "dev", "tun0"})
		for _, a := range cfg.Local {
			if a.Is6() {
				ipc = append(ipc, []string{"-6", "addr", "add", a.String() + "/128", "dev", "tun0", "nodad"})
			} else {
				ipc = append(ipc, []string{"addr", "add", a.String() + "/32", "dev", "tun0"})
			}
		}
		if has6 {
			ipc = append(ipc, []string{"-6", "route", "add", "default", "dev", "tun0"})
		}
	}
	for _, c := range ipc {
		if _, err := run("", "ip", append([]string{"-n", r.ns}, c...)...); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) startMonitor() (*tracer, error) {
	cmd := exec.Command("ip", "netns", "exec", r.ns, "stdbuf", "-oL", "nft", "-a", "monitor", "trace")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r.monitor = cmd
	tr := newTracer(out)
	// Hello markers until the monitor is subscribed and reading.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := r.writeMarker(helloSeq); err != nil {
			return nil, err
		}
		if tr.wait(helloSeq, 50*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("nft monitor trace did not start")
		}
	}
	return tr, nil
}

// monitorDrops sums the drop counters of the monitor's netlink sockets.
func (r *runner) monitorDrops() int {
	if r.monitor == nil || r.monitor.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/netlink", r.monitor.Process.Pid))
	if err != nil {
		return 0
	}
	d := 0
	for _, ln := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(ln)
		if len(f) < 9 || f[1] != "12" {
			continue
		}
		n, _ := strconv.Atoi(f[8])
		d += n
	}
	return d
}

func (r *runner) stopMonitor(tr *tracer) {
	if d := r.monitorDrops(); d > 0 {
		r.errorf("trace netlink socket dropped %d messages: verdicts incomplete", d)
	}
	if r.monitor != nil && r.monitor.Process != nil {
		r.monitor.Process.Signal(syscall.SIGTERM)
		r.monitor.Wait()
		r.monitor = nil
	}
}

func (r *runner) writeMarker(seq int) error {
	b := markerPacket(seq)
	dev := "wan"
	if r.cfg.Mode == Local {
		dev = "tun0"
	}
	_, err := r.tuns[dev].Write(b)
	return err
}

// side picks the tun a packet enters on: lan when its source is in a lan
// prefix, wan otherwise.
func (r *runner) side(src netip.Addr) string {
	for _, p := range append(append([]netip.Prefix{}, lanNet...), r.cfg.LanNets...) {
		if p.Contains(src) {
			return "lan"
		}
	}
	return "wan"
}

func (r *runner) isLocal(a netip.Addr) bool {
	for _, l := range r.cfg.Local {
		if l == a {
			return true
		}
	}
	return false
}

func (r *runner) inject(tr *tracer) error {
	var t0 time.Time
	wall0 := time.Now()
	n := len(r.cfg.Packets)
	entries := make([]string, n)
	for i, p := range r.cfg.Packets {
		if !r.cfg.Fast {
			if i == 0 {
				t0 = p.Time
			} else if d := time.Until(wall0.Add(p.Time.Sub(t0))); d > 0 {
				time.Sleep(d)
			}
		}
		if err := r.writeMarker(i); err != nil {
			return err
		}
		if !tr.wait(i, 3*time.Second) {
			r.errorf("packet %d: marker not seen in the trace within 3 s", i)
		}
		src, dst, ok := addrs(p.Data)
		if !ok {
			return fmt.Errorf("packet %d: not an IPv4/IPv6 packet", i)
		}
		var err error
		switch {
		case r.cfg.Mode == Local && r.isLocal(src):
			entries[i] = "out_first"
			err = r.sendRaw(p.Data, dst)
		case r.cfg.Mode == Local:
			entries[i] = "pre_first"
			_, err = r.tuns["tun0"].Write(p.Data)
		default:
			entries[i] = "pre_first"
			_, err = r.tuns[r.side(src)].Write(p.Data)
		}
		if err != nil && !errors.Is(err, syscall.EPERM) {
			r.errorf("packet %d: write: %v", i, err)
		}
	}
	if err := r.writeMarker(n); err != nil {
		return err
	}
	if !tr.wait(n, 3*time.Second) {
		r.errorf("final marker not seen in the trace")
	}
	time.Sleep(20 * time.Millisecond)
	tr.mu.Lock()
	r.res.Trace = append([]string(nil), tr.rawLines...)
	tr.mu.Unlock()
	for i := range r.cfg.Packets {
		v := analyse(tr.segment(i), entries[i])
		v.Index = i
		if v.Verdict == "unknown" {
			r.errorf("packet %d: no trace", i)
		}
		r.res.Verdicts = append(r.res.Verdicts, v)
	}
	return nil
}

func (r *runner) sendRaw(b []byte, dst netip.Addr) error {
	if dst.Is4() {
		sa := &syscall.SockaddrInet4{Addr: dst.As4()}
		return syscall.Sendto(r.raw4, b, 0, sa)
	}
	if r.raw6 < 0 {
		return errors.New("no IPv6 local address")
	}
	sa := &syscall.SockaddrInet6{Addr: dst.As16()}
	return syscall.Sendto(r.raw6, b, 0, sa)
}

func (r *runner) drain(f *os.File) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		if _, err := f.Read(buf); err != nil {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF) {
				return
			}
			if errors.Is(err, syscall.EBADFD) || errors.Is(err, syscall.EBADF) {
				return
			}
			continue
		}
		r.egress.Add(1)
	}
}

func (r *runner) cleanup() {
	r.once.Do(func() {
		if r.monitor != nil && r.monitor.Process != nil {
			r.monitor.Process.Kill()
			r.monitor.Wait()
		}
		for _, f := range r.tuns {
			f.Close()
		}
		r.wg.Wait()
		r.res.Egress = int(r.egress.Load())
		for _, fd := range []int{r.raw4, r.raw6} {
			if fd >= 0 {
				syscall.Close(fd)
			}
		}
		if r.th != nil {
			r.th.stop()
		}
		if r.globals != nil {
			for _, e := range r.globals.restore() {
				r.errorf("%s", e)
			}
		}
		if r.ns != "" {
			if _, err := run("", "ip", "netns", "del", r.ns); err != nil {
				r.errorf("%v", err)
			}
		}
	})
}

func nsInode(p string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}
