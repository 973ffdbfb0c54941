package kernel

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// nsThread runs functions on one OS thread that has joined the test
// namespace. Sockets, tun devices and /proc/sys/net files opened there belong
// to the namespace; the thread is never returned to the Go scheduler (the
// goroutine exits while locked, so the runtime discards the thread).
type nsThread struct {
	work chan func()
	done chan struct{}
}

func newNSThread(nsPath string) (*nsThread, error) {
	t := &nsThread{work: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(t.done)
		fd, err := syscall.Open(nsPath, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		e := unix.Setns(fd, unix.CLONE_NEWNET)
		syscall.Close(fd)
		if e != nil {
			errc <- fmt.Errorf("setns %s: %w", nsPath, e)
			return
		}
		errc <- nil
		for f := range t.work {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return t, nil
}

// do runs f inside the namespace and waits for it.
func (t *nsThread) do(f func() error) error {
	var err error
	ch := make(chan struct{})
	t.work <- func() { err = f(); close(ch) }
	<-ch
	return err
}

func (t *nsThread) stop() {
	close(t.work)
	<-t.done
}

// writeSysctl writes a dotted sysctl below /proc/sys; called on the namespace
// thread it sets the namespace's copy.
func writeSysctl(name, val string) error {
	p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if err := os.WriteFile(p, []byte(val), 0); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, val, err)
	}
	return nil
}

func readSysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	return strings.TrimSpace(string(b)), err
}

// run executes a command (already prefixed with `ip netns exec` where it
// must run in the namespace) and returns stdout, or an error with stderr.
func run(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// tunOpen creates a non-persistent tun device (IFF_TUN|IFF_NO_PI) in the
// calling thread's namespace; it disappears when the file is closed.
func tunOpen(name string) (*os.File, error) {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req [40]byte // struct ifreq: name[16], flags u16
	copy(req[:15], name)
	const iffTun, iffNoPI = 0x0001, 0x1000
	flags := uint16(iffTun | iffNoPI)
	req[16], req[17] = byte(flags), byte(flags>>8)
	const tunSetIff = 0x400454ca
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafePointer(&req))); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, e)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}
