package vm

import (
	"runtime"
	"syscall"
	"testing"
)

// threadCPU is the calling thread's CPU time (RUSAGE_THREAD): on a shared,
// noisy machine it measures the work, not the wait for a core.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuTimer reports cpu-ns/op beside the wall-clock ns/op.
type cpuTimer struct {
	b     *testing.B
	start int64
}

func startCPU(b *testing.B) cpuTimer {
	runtime.LockOSThread()
	b.ResetTimer()
	return cpuTimer{b, threadCPU()}
}

func (c cpuTimer) stop() {
	d := threadCPU() - c.start
	c.b.StopTimer()
	runtime.UnlockOSThread()
	c.b.ReportMetric(float64(d)/float64(c.b.N), "cpu-ns/op")
}
