package swarm

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// Stats aggregate a swarm's results.
type Stats struct {
	Sessions int            // jobs
	OK       int            // sessions that ran their script and quit cleanly
	Failed   int            // the others
	Errors   map[string]int // failures by Kind
	Bytes    int64          // data bytes moved by every session
	Wall     time.Duration  // from Start to the last result

	// Latencies of the successful sessions, from Open.
	Connect, Login, Total Latency
}

// Latency summarises one timing over the successful sessions.
type Latency struct {
	P50, P99, Max time.Duration // median, 99th percentile and slowest
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

type accumulator struct {
	n                     int
	st                    Stats
	connect, login, total []time.Duration
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
	a.connect = append(a.connect, r.Connect)
	a.login = append(a.login, r.Login)
	a.total = append(a.total, r.Total)
}

func (a *accumulator) stats(wall time.Duration) Stats {
	a.st.Wall = wall
	a.st.Connect = summarise(a.connect)
	a.st.Login = summarise(a.login)
	a.st.Total = summarise(a.total)
	return a.st
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return Latency{P50: Percentile(d, 50), P99: Percentile(d, 99), Max: d[len(d)-1]}
}

// Percentile returns the p-th percentile (nearest rank) of sorted durations.
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
