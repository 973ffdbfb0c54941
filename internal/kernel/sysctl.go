package kernel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// StateDir holds the saved values of global sysctls while a run has them
// changed (sysctl.<pid>.json) so a later run can put them back after a crash
// or kill -9, and the lock that serialises runs touching global state.
var StateDir = "/run/nftgo-kernel"

// globalSysctls can only be written in the initial namespace and affect every
// namespace on the host while changed.
var globalSysctls = map[string]bool{
	"net.netfilter.nf_conntrack_max":     true,
	"net.nf_conntrack_max":               true,
	"net.netfilter.nf_conntrack_buckets": true,
}

// IsGlobalSysctl reports whether name is one of the host-wide sysctls a run
// saves and restores.
func IsGlobalSysctl(name string) bool { return globalSysctls[name] }

type savedSysctl struct {
	Name, Value string
}

type globalState struct {
	path  string
	saved []savedSysctl
	lock  *os.File
}

// setGlobals saves then changes the global sysctls of cfg. The caller must
// call restore (it is idempotent). Every run holds the lock file: shared
// when it leaves global sysctls alone, exclusive when it changes them, so a
// run of another process (e.g. another package's tests under `go test ./...`)
// never sees a neighbour's nf_conntrack_max=7.
func setGlobals(sys map[string]string) (*globalState, error) {
	g := &globalState{}
	var names []string
	for k := range sys {
		if globalSysctls[k] {
			names = append(names, k)
		}
	}
	if err := os.MkdirAll(StateDir, 0o700); err != nil {
		return g, err
	}
	lk, err := os.OpenFile(filepath.Join(StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return g, err
	}
	how := syscall.LOCK_SH
	if len(names) > 0 {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(lk.Fd()), how); err != nil {
		lk.Close()
		return g, err
	}
	g.lock = lk
	if len(names) == 0 {
		return g, nil
	}
	// Buckets first: the table is resized, then max applies to it.
	order := []string{"net.netfilter.nf_conntrack_buckets", "net.netfilter.nf_conntrack_max", "net.nf_conntrack_max"}
	for _, n := range order {
		if _, ok := sys[n]; !ok {
			continue
		}
		v, err := readSysctl(n)
		if err != nil {
			return g, err
		}
		g.saved = append(g.saved, savedSysctl{n, v})
	}
	g.path = filepath.Join(StateDir, fmt.Sprintf("sysctl.%d.json", os.Getpid()))
	b, _ := json.Marshal(g.saved)
	if err := os.WriteFile(g.path, b, 0o600); err != nil {
		return g, err
	}
	for _, s := range g.saved {
		if err := writeSysctl(s.Name, sys[s.Name]); err != nil {
			return g, err
		}
	}
	return g, nil
}

// restore writes the saved values back (in reverse order) and reports any
// value that did not stick.
func (g *globalState) restore() []string {
	var errs []string
	for i := len(g.saved) - 1; i >= 0; i-- {
		s := g.saved[i]
		if err := writeSysctl(s.Name, s.Value); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if now, _ := readSysctl(s.Name); now != s.Value {
			errs = append(errs, fmt.Sprintf("sysctl %s not restored: %s, want %s", s.Name, now, s.Value))
		}
	}
	if len(errs) == 0 && g.path != "" {
		os.Remove(g.path)
	}
	g.saved = nil
	if g.lock != nil {
		g.lock.Close()
		g.lock = nil
	}
	return errs
}

// Recover restores global sysctls saved by runs whose process is gone and
// deletes their namespaces. Run calls it first; `nftgo diff-kernel` and the
// regeneration command do too.
func Recover() []string {
	var msgs []string
	ents, _ := os.ReadDir(StateDir)
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "sysctl.") || !strings.HasSuffix(n, ".json") {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "sysctl."), ".json"))
		if err != nil || processAlive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(StateDir, n))
		if err != nil {
			continue
		}
		var saved []savedSysctl
		if json.Unmarshal(b, &saved) != nil {
			continue
		}
		g := &globalState{path: filepath.Join(StateDir, n), saved: saved}
		msgs = append(msgs, fmt.Sprintf("restored global sysctls left by dead run %d: %v", pid, saved))
		msgs = append(msgs, g.restore()...)
	}
	nss, _ := os.ReadDir("/run/netns")
	for _, e := range nss {
		var pid, seq int
		if _, err := fmt.Sscanf(e.Name(), "nftgo-k%d-%d", &pid, &seq); err != nil || processAlive(pid) {
			continue
		}
		if _, err := run("", "ip", "netns", "del", e.Name()); err == nil {
			msgs = append(msgs, "deleted stale namespace "+e.Name())
		}
	}
	return msgs
}

// processAlive: a zombie (killed, not yet reaped) counts as dead.
func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z' && b[i+2] != 'X'
	}
	return true
}
