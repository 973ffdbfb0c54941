package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressMin is the capture size from which a replay shows a progress bar
// (when stderr is a terminal): smaller ones finish in well under a second.
const progressMin = 32 << 20

// progress draws a one-line bar on a terminal, at most 10 times a second.
type progress struct {
	w     io.Writer
	name  string
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(stderr io.Writer, name string, size int64) *progress {
	f, ok := stderr.(*os.File)
	if !ok || size < progressMin || !isTerminal(f) {
		return nil
	}
	now := time.Now()
	return &progress{w: stderr, name: name, start: now, last: now}
}

func (p *progress) update(read, size int64) {
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond || size <= 0 {
		return
	}
	p.last = now
	frac := float64(read) / float64(size)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	el := now.Sub(p.start)
	eta := "?"
	if frac > 0 {
		eta = (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %s left ", p.name, strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, eta)
	p.drawn = true
}

// done clears the bar so later messages start on a clean line.
func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
