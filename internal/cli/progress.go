package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a byte-counting progress bar on stdout, drawn only when stdout
// is a terminal and neither --json, --quiet nor -v asked for other output. A
// nil *progress is valid and draws nothing.
type progress struct {
	mu  sync.Mutex // Clear is not safe against a concurrent Add
	bar *progressbar.ProgressBar
}

// newProgress returns a bar for size bytes (-1: unknown, a spinner), or nil
// when no bar should be drawn.
func newProgress(e *Env, o *common, size int64, desc string) *progress {
	if !e.StdoutTerminal || o.json || o.quiet || o.verbose {
		return nil
	}
	w := e.Stdout
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return &progress{bar: bar}
}

// Write counts p's bytes (it never fails), so a bar can sit in an io.MultiWriter.
func (p *progress) Write(b []byte) (int, error) {
	p.add(int64(len(b)))
	return len(b), nil
}

// add counts n bytes done without writing them (resumed or skipped bytes).
func (p *progress) add(n int64) {
	if p != nil {
		p.mu.Lock()
		p.bar.Add64(n)
		p.mu.Unlock()
	}
}

// finish draws the bar at 100% and ends its line.
func (p *progress) finish() {
	if p != nil {
		p.mu.Lock()
		p.bar.Finish()
		p.mu.Unlock()
	}
}

// abandon ends the bar's line without pretending it completed.
func (p *progress) abandon() {
	if p != nil {
		p.mu.Lock()
		if !p.bar.IsFinished() {
			p.bar.Exit() // ends the line through OptionOnCompletion
		}
		p.mu.Unlock()
	}
}

// clear wipes the bar from the line so that other output can be printed.
func (p *progress) clear() {
	if p != nil {
		p.mu.Lock()
		if !p.bar.IsFinished() {
			p.bar.Clear()
		}
		p.mu.Unlock()
	}
}

// writer returns p as an io.Writer, or io.Discard for no bar.
func (p *progress) writer() io.Writer {
	if p == nil {
		return io.Discard
	}
	return p
}
