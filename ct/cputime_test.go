package ct

import (
	"runtime"
	"syscall"
	"testing"
)

// cpuTimer reports a benchmark's on-CPU nanoseconds per op (RUSAGE_THREAD
// of the locked benchmark thread) next to ns/op: on a shared, overloaded
// machine wall time mostly measures waiting for a CPU.
type cpuTimer struct {
	b     *testing.B
	start int64
}

func startCPU(b *testing.B) *cpuTimer {
	runtime.LockOSThread()
	return &cpuTimer{b, threadCPU()}
}

func (c *cpuTimer) stop() {
	d := threadCPU() - c.start
	runtime.UnlockOSThread()
	c.b.ReportMetric(float64(d)/float64(c.b.N), "cpu-ns/op")
}

func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
