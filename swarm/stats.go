package swarm

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// Stats aggregate a swarm's results. Their memory does not grow with the
// number of sessions: timings are kept in histograms, errors as counts by kind.
// Stats of the segments of one run add up to the whole run's with [Merge]; in
// JSON they carry what Merge needs (Run, Segment, Jobs and the histograms).
type Stats struct {
	// Run identifies the run: a fingerprint of Options.RunID, the jobs and the
	// caps, the same in every segment of one run (see [Fingerprint]).
	Run string
	// Segment is the slice of the run these statistics cover; Whole for a
	// whole run and for merged statistics.
	Segment Segment
	Jobs    int // jobs in the whole run, every segment counted

	Sessions int            // jobs this swarm (segment) ran
	OK       int            // sessions that ran their script and quit cleanly
	Failed   int            // the others
	Errors   map[string]int // failures by Kind
	Bytes    int64          // data bytes moved by every session
	// Wall runs from Start to the last result; merged, it is the longest of
	// the segments' (they run side by side).
	Wall time.Duration

	// Latencies of the successful sessions, from Open.
	Connect, Login, Total Latency
}

// Latency summarises one timing over the successful sessions: percentiles read
// from its histogram (within 10^-HistogramDigits), and the exact maximum.
type Latency struct {
	Count int64         // sessions timed
	P50   time.Duration // median
	P90   time.Duration
	P99   time.Duration
	P999  time.Duration // 99.9th percentile
	Max   time.Duration // the slowest, exact
	Hist  Histogram     // every timing, for merging and for other percentiles
}

func (l *Latency) record(d time.Duration) {
	l.Hist.Record(d)
	if d > l.Max {
		l.Max = d
	}
}

// summarise fills the percentiles in from the histogram.
func (l *Latency) summarise() {
	l.Count = l.Hist.Count()
	if l.Count == 0 {
		return
	}
	// A bucket's upper end may pass the slowest timing: no percentile is
	// reported above the exact maximum.
	p := func(q float64) time.Duration { return min(l.Hist.Percentile(q), l.Max) }
	l.P50, l.P90, l.P99, l.P999 = p(50), p(90), p(99), p(99.9)
}

// Kind names the class of a session's error, for counting: "timeout", "refused"
// (the TCP connection could not be made), "closed" (the server hung up),
// "reply-NNN" (the server answered NNN), "transfer", "protocol", "canceled",
// "argument", or "other".
func Kind(err error) string {
	var (
		re *ftp.Error
		te *ftp.TransferError
		ce *ftp.ClosedError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ftp.ErrTimeout):
		return "timeout"
	case errors.As(err, &te):
		return "transfer"
	case errors.As(err, &re):
		return "reply-" + strconv.Itoa(re.Code)
	case errors.As(err, &ce):
		if strings.HasPrefix(ce.During, "connect") {
			return "refused"
		}
		return "closed"
	case errors.Is(err, ftp.ErrProtocol):
		return "protocol"
	case errors.Is(err, ftp.ErrCanceled):
		return "canceled"
	case errors.Is(err, ftp.ErrInvalidArgument):
		return "argument"
	}
	return "other"
}

// accumulator folds results into Stats as they come, in constant memory.
type accumulator struct {
	n  int
	st Stats
}

func newAccumulator(n int) *accumulator {
	return &accumulator{st: Stats{Sessions: n, Errors: map[string]int{}}}
}

func (a *accumulator) add(r Result) {
	a.n++
	a.st.Bytes += r.Bytes
	if r.Err != nil {
		a.st.Failed++
		a.st.Errors[Kind(r.Err)]++
		return
	}
	a.st.OK++
	a.st.Connect.record(r.Connect)
	a.st.Login.record(r.Login)
	a.st.Total.record(r.Total)
}

func (a *accumulator) stats(wall time.Duration) Stats {
	a.st.Wall = wall
	a.st.Connect.summarise()
	a.st.Login.summarise()
	a.st.Total.summarise()
	return a.st
}

// Percentile returns the p-th percentile (nearest rank) of sorted durations:
// the exact figure that a histogram's [Histogram.Percentile] approximates.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}
