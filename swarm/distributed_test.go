package swarm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/internal/rlimit"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

// timings collects the durations of the successful sessions and the job
// indices of every session, from OnResult.
type timings struct {
	mu                    sync.Mutex
	connect, login, total []time.Duration
	seen                  map[int]int
}

func newTimings() *timings { return &timings{seen: map[int]int{}} }

func (t *timings) add(r swarm.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen[r.Index]++
	if r.Err == nil {
		t.connect = append(t.connect, r.Connect)
		t.login = append(t.login, r.Login)
		t.total = append(t.total, r.Total)
	}
}

// faultyJobs builds n jobs running the lifecycle script, of which every 20th
// is refused a connection and every 20th (shifted by 7) is refused its login.
func faultyJobs(t *testing.T, srv *leanserver.Server, n int) []swarm.Job {
	good := &session.Config{User: "bench", Password: "secret"}
	bad := &session.Config{User: "fail", Password: "secret"}
	refused := ftptest.RefusedAddr(t)
	script := lifecycle()
	jobs := make([]swarm.Job, n)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: good, Script: script}
		switch i % 20 {
		case 3:
			jobs[i].Addr = refused
		case 10:
			jobs[i].Config = bad
		}
	}
	return jobs
}

// runSegment runs one segment of jobs on an engine of its own, as a separate
// process would, and returns its statistics after a trip through JSON.
func runSegment(t *testing.T, jobs []swarm.Job, opts swarm.Options, tm *timings) swarm.Stats {
	t.Helper()
	e, err := engine.New(engine.Options{Loops: 1})
	if err != nil {
		t.Error(err)
		return swarm.Stats{}
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts.OnResult = tm.add
	sw, err := swarm.Start(ctx, e, jobs, opts)
	if err != nil {
		t.Error(err)
		return swarm.Stats{}
	}
	st := sw.Wait()
	if ctx.Err() != nil {
		t.Errorf("segment %v did not finish in time", opts.Segment)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Error(err)
		return swarm.Stats{}
	}
	var back swarm.Stats
	if err := json.Unmarshal(b, &back); err != nil {
		t.Errorf("segment %v: JSON does not read back: %v", opts.Segment, err)
	}
	return back
}

// withinPrecision checks a histogram's percentile against the exact one: the
// histogram answers the upper end of the bucket that holds the exact value (in
// whole microseconds), and a bucket is at most a thousandth of its values wide.
func withinPrecision(t *testing.T, what string, got time.Duration, all []time.Duration, p float64) {
	t.Helper()
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	exact := swarm.Percentile(sorted, p).Truncate(time.Microsecond)
	if got < exact || got-exact > exact/1000 {
		t.Errorf("%s p%v: histogram %v, exact %v (of %d durations): off by more than 0.1%%", what, p, got, exact, len(all))
	}
}

// TestFourSegmentsMakeOneRun runs a swarm whole, then the same run as four
// segments side by side against the same server, merges the four results (read
// back from JSON) and checks that they add up to the whole run: sessions, ok,
// errors by kind, bytes, and percentiles equal to those of every duration of
// the four segments together, within the histograms' precision.
func TestFourSegmentsMakeOneRun(t *testing.T) {
	const n = 600
	if _, err := rlimit.Ensure(rlimit.Estimate(6*n, 0)); err != nil {
		t.Fatal(err)
	}
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	jobs := faultyJobs(t, srv, n)
	opts := swarm.Options{Concurrency: 60, Rate: 3000, RunID: "test-four"}

	whole := runSegment(t, jobs, opts, newTimings())
	if whole.Sessions != n || whole.Jobs != n || whole.Segment != swarm.Whole {
		t.Fatalf("whole run: %+v", whole)
	}

	tm := newTimings()
	parts := make([]swarm.Stats, 4)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts
			o.Segment = swarm.Segment{I: i, N: 4}
			parts[i] = runSegment(t, jobs, o, tm)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, p := range parts {
		if p.Sessions != n/4 || p.Segment != (swarm.Segment{I: i, N: 4}) || p.Run != whole.Run {
			t.Errorf("segment %d: %d sessions, segment %v, run %s (whole run %s)", i, p.Sessions, p.Segment, p.Run, whole.Run)
		}
	}
	for i := 0; i < n; i++ {
		if tm.seen[i] != 1 {
			t.Fatalf("job %d ran %d times over the four segments", i, tm.seen[i])
		}
	}
	// Scrambled order: Merge does not care.
	m, err := swarm.Merge(parts[2], parts[0], parts[3], parts[1])
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := map[string]int{"refused": n / 20, "reply-530": n / 20}
	if m.Sessions != whole.Sessions || m.OK != whole.OK || m.Failed != whole.Failed || m.Bytes != whole.Bytes ||
		!mapsEqual(m.Errors, whole.Errors) || !mapsEqual(m.Errors, wantErrs) {
		t.Fatalf("merged %d sessions, %d ok, %d failed, %d bytes, errors %v; whole run %d, %d, %d, %d, %v; want errors %v",
			m.Sessions, m.OK, m.Failed, m.Bytes, m.Errors, whole.Sessions, whole.OK, whole.Failed, whole.Bytes, whole.Errors, wantErrs)
	}
	if want := int64(n-n/10) * (int64(len(leanserver.Listing)) + 1024); m.Bytes != want {
		t.Fatalf("merged bytes %d, want %d", m.Bytes, want)
	}
	if m.Segment != swarm.Whole || m.Run != whole.Run || m.Jobs != n {
		t.Fatalf("merged run %s segment %v jobs %d", m.Run, m.Segment, m.Jobs)
	}
	for _, c := range []struct {
		name string
		l    swarm.Latency
		all  []time.Duration
	}{{"connect", m.Connect, tm.connect}, {"login", m.Login, tm.login}, {"total", m.Total, tm.total}} {
		if c.l.Count != int64(m.OK) || len(c.all) != m.OK {
			t.Fatalf("%s: %d timed in the histogram, %d delivered, %d ok", c.name, c.l.Count, len(c.all), m.OK)
		}
		withinPrecision(t, c.name, c.l.P50, c.all, 50)
		withinPrecision(t, c.name, c.l.P90, c.all, 90)
		withinPrecision(t, c.name, c.l.P99, c.all, 99)
		withinPrecision(t, c.name, c.l.P999, c.all, 99.9)
		withinPrecision(t, c.name, c.l.Hist.Percentile(75), c.all, 75)
		if c.l.Max != slices.Max(c.all) {
			t.Errorf("%s max %v, want the exact %v", c.name, c.l.Max, slices.Max(c.all))
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSegmentShares: for every total and number of segments, the shares add up
// and every index belongs to exactly one segment, the one Contains names.
func TestSegmentShares(t *testing.T) {
	for total := 0; total <= 40; total++ {
		for n := 1; n <= 13; n++ {
			sum := 0
			owner := make([]int, total)
			for i := range owner {
				owner[i] = -1
			}
			for k := 0; k < n; k++ {
				s := swarm.Segment{I: k, N: n}
				sum += s.Share(total)
				idx := s.Jobs(total)
				if len(idx) != s.Share(total) {
					t.Fatalf("%d of %d: %d jobs listed, share %d", k, n, len(idx), s.Share(total))
				}
				for _, i := range idx {
					if owner[i] != -1 || !s.Contains(i) {
						t.Fatalf("total %d, %d segments: job %d in segment %d and %d", total, n, i, owner[i], k)
					}
					owner[i] = k
				}
			}
			if sum != total || slices.Contains(owner, -1) {
				t.Fatalf("total %d over %d segments: shares add up to %d, owners %v", total, n, sum, owner)
			}
		}
	}
	for _, bad := range []string{"4/4", "-1/3", "1", "a/b", "0/0", "1/-2"} {
		if _, err := swarm.ParseSegment(bad); !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("ParseSegment(%q): %v", bad, err)
		}
	}
	if s, err := swarm.ParseSegment("2/5"); err != nil || s != (swarm.Segment{I: 2, N: 5}) || s.String() != "2/5" {
		t.Errorf("ParseSegment(2/5) = %v, %v", s, err)
	}
}

// TestAwkwardSplits runs real segmented swarms whose numbers do not divide:
// more segments than sessions, rates and concurrency that do not split evenly.
// Every session runs once, the segments keep the whole run's timetable, and
// the parts merge.
func TestAwkwardSplits(t *testing.T) {
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	cfg := &session.Config{User: "u", Password: "p"}
	for _, c := range []struct {
		jobs, segs, conc int
		rate             float64
	}{
		{jobs: 3, segs: 5, conc: 0, rate: 0},
		{jobs: 3, segs: 5, conc: 3, rate: 7},
		{jobs: 10, segs: 3, conc: 4, rate: 7},
		{jobs: 11, segs: 4, conc: 0, rate: 13.5},
		{jobs: 1, segs: 2, conc: 1, rate: 0},
	} {
		t.Run(fmt.Sprintf("%d-jobs-%d-ways-c%d-rate%v", c.jobs, c.segs, c.conc, c.rate), func(t *testing.T) {
			jobs := make([]swarm.Job, c.jobs)
			for i := range jobs {
				jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg, Script: []swarm.Step{{Cmd: ftp.Cmd("NOOP")}}}
			}
			tm := newTimings()
			parts := make([]swarm.Stats, c.segs)
			var wg sync.WaitGroup
			for k := range parts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					seg := swarm.Segment{I: k, N: c.segs}
					parts[k] = runSegment(t, jobs, swarm.Options{Concurrency: c.conc, Rate: c.rate, Segment: seg}, tm)
					// Job i may not start before i/rate, whichever segment runs it.
					if idx := seg.Jobs(c.jobs); c.rate > 0 && len(idx) > 0 {
						last := idx[len(idx)-1]
						if min := time.Duration(float64(last) / c.rate * float64(time.Second)); parts[k].Wall < min-2*time.Millisecond {
							t.Errorf("segment %v ended after %v, before its job %d was due (%v)", seg, parts[k].Wall, last, min)
						}
					}
				}()
			}
			wg.Wait()
			for i := 0; i < c.jobs; i++ {
				if tm.seen[i] != 1 {
					t.Fatalf("job %d ran %d times", i, tm.seen[i])
				}
			}
			if len(tm.seen) != c.jobs {
				t.Fatalf("%d distinct jobs ran, want %d", len(tm.seen), c.jobs)
			}
			m, err := swarm.Merge(parts...)
			if err != nil {
				t.Fatal(err)
			}
			if m.Sessions != c.jobs || m.OK != c.jobs || m.Total.Count != int64(c.jobs) {
				t.Fatalf("merged %+v", m)
			}
		})
	}
}

// TestConcurrencyTooSmallToSplit: two slots cannot serve four segments that
// all have jobs.
func TestConcurrencyTooSmallToSplit(t *testing.T) {
	jobs := make([]swarm.Job, 10)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: "127.0.0.1:1", Config: &session.Config{}}
	}
	_, err := swarm.Start(context.Background(), nil, jobs, swarm.Options{Concurrency: 2, Segment: swarm.Segment{I: 3, N: 4}})
	if !errors.Is(err, ftp.ErrInvalidArgument) || !strings.Contains(err.Error(), "no slot") {
		t.Fatalf("err %v", err)
	}
	_, err = swarm.Start(context.Background(), nil, jobs, swarm.Options{Segment: swarm.Segment{I: 4, N: 4}})
	if !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Fatalf("segment 4/4: err %v", err)
	}
}

// TestMergeRefuses gives Merge parts that do not make one run: of another run,
// of another split, twice the same segment, a segment missing, a part that lost
// sessions. Each is refused with its own error, naming the part.
func TestMergeRefuses(t *testing.T) {
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	cfg := &session.Config{User: "u", Password: "p"}
	jobs := make([]swarm.Job, 7)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg}
	}
	seg := func(id string, i, n int) swarm.Stats {
		return runSegment(t, jobs, swarm.Options{RunID: id, Segment: swarm.Segment{I: i, N: n}}, newTimings())
	}
	a0, a1, a2 := seg("a", 0, 3), seg("a", 1, 3), seg("a", 2, 3)
	b1 := seg("b", 1, 3)
	h1 := seg("a", 1, 2)
	otherJobs := runSegment(t, jobs[:6], swarm.Options{RunID: "a", Segment: swarm.Segment{I: 1, N: 3}}, newTimings())
	otherCaps := runSegment(t, jobs, swarm.Options{RunID: "a", Concurrency: 5, Segment: swarm.Segment{I: 1, N: 3}}, newTimings())
	if t.Failed() {
		t.FailNow()
	}
	if _, err := swarm.Merge(a0, a1, a2); err != nil {
		t.Fatalf("the three parts of run a: %v", err)
	}
	short := a1
	short.Sessions--
	short.OK--
	for _, c := range []struct {
		name  string
		parts []swarm.Stats
		want  error
		part  int
		words string
	}{
		{"another run id", []swarm.Stats{a0, b1, a2}, swarm.ErrOtherRun, 1, "different runs"},
		{"other jobs", []swarm.Stats{a0, otherJobs, a2}, swarm.ErrOtherRun, 1, "of 6 jobs"},
		{"other caps", []swarm.Stats{a0, otherCaps, a2}, swarm.ErrOtherRun, 1, "different runs"},
		{"other split", []swarm.Stats{a0, h1, a2}, swarm.ErrOtherSplit, 1, "segment 1/2"},
		{"overlap", []swarm.Stats{a0, a1, a1, a2}, swarm.ErrOverlap, 2, "segment 1/3 is also part 1"},
		{"missing", []swarm.Stats{a0, a2}, swarm.ErrMissing, -1, "no results for 1/3"},
		{"lost sessions", []swarm.Stats{a0, short, a2}, swarm.ErrMissing, 1, "should hold 2 sessions, holds 1"},
		{"nothing", nil, swarm.ErrMissing, -1, "nothing to merge"},
	} {
		_, err := swarm.Merge(c.parts...)
		var me *swarm.MergeError
		if !errors.Is(err, c.want) || !errors.Is(err, ftp.ErrInvalidArgument) || !errors.As(err, &me) || me.Part != c.part || !strings.Contains(err.Error(), c.words) {
			t.Errorf("%s: err %v, want %v in part %d saying %q", c.name, err, c.want, c.part, c.words)
		}
	}
}

// TestTwoSourceAddresses spreads a swarm over 127.0.0.2 and 127.0.0.3: the
// server sees control connections from both, half each, and every data
// connection from its control connection's address.
func TestTwoSourceAddresses(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	ctrlFrom := map[string]int{}
	var mismatched []string
	dataConns := 0
	host := func(c net.Conn) string { return c.RemoteAddr().(*net.TCPAddr).IP.String() }
	srv, err := leanserver.Start(leanserver.Options{Accepted: func(ctrl, data net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if data == nil {
			ctrlFrom[host(ctrl)]++
			return
		}
		dataConns++
		if host(data) != host(ctrl) {
			mismatched = append(mismatched, host(ctrl)+" → "+host(data))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e, err := engine.New(engine.Options{LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const n = 40
	cfg := &session.Config{User: "u", Password: "p"}
	script := []swarm.Step{
		{Cmd: ftp.Cmd("LIST"), Data: &session.Data{Sink: io.Discard}, Check: wantBytes(int64(len(leanserver.Listing)))},
		{Cmd: ftp.Cmd("RETR", leanserver.SmallName), Data: &session.Data{Sink: io.Discard}, Check: wantBytes(1024)},
	}
	jobs := make([]swarm.Job, n)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg, Script: script}
	}
	sw, err := swarm.Start(context.Background(), e, jobs, swarm.Options{Concurrency: 10})
	if err != nil {
		t.Fatal(err)
	}
	if st := sw.Wait(); st.OK != n {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if ctrlFrom["127.0.0.2"] != n/2 || ctrlFrom["127.0.0.3"] != n/2 || len(ctrlFrom) != 2 {
		t.Fatalf("control connections from %v, want %d from each of 127.0.0.2 and 127.0.0.3", ctrlFrom, n/2)
	}
	if dataConns != 2*n || len(mismatched) > 0 {
		t.Fatalf("%d data connections, %d from another address than their control connection: %v", dataConns, len(mismatched), mismatched[:min(len(mismatched), 5)])
	}
}

// An engine refuses a source address that is not one.
func TestLocalAddrsValidated(t *testing.T) {
	_, err := engine.New(engine.Options{LocalAddrs: []netip.Addr{{}}})
	if !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Fatalf("err %v", err)
	}
}

// TestStartAt: two segments whose processes start 150 ms apart share one
// timetable: no connection before StartAt, and the server's i-th connection
// no earlier than StartAt + i/Rate.
func TestStartAt(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	var accepted []time.Time
	srv, err := leanserver.Start(leanserver.Options{Accepted: func(ctrl, data net.Conn) {
		if data == nil {
			mu.Lock()
			accepted = append(accepted, time.Now())
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := &session.Config{User: "u", Password: "p"}
	jobs := make([]swarm.Job, 8)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg}
	}
	const rate = 20
	at := time.Now().Add(300 * time.Millisecond)
	parts := make([]swarm.Stats, 2)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(k) * 150 * time.Millisecond) // the second process is late
			parts[k] = runSegment(t, jobs, swarm.Options{Rate: rate, StartAt: at, Segment: swarm.Segment{I: k, N: 2}}, newTimings())
		}()
	}
	wg.Wait()
	m, err := swarm.Merge(parts...)
	if err != nil || m.OK != len(jobs) {
		t.Fatalf("merge: %v %+v", err, m)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) != len(jobs) {
		t.Fatalf("%d connections, want %d", len(accepted), len(jobs))
	}
	slices.SortFunc(accepted, func(a, b time.Time) int { return a.Compare(b) })
	for i, a := range accepted {
		if due := at.Add(time.Duration(i) * time.Second / rate); a.Before(due) {
			t.Errorf("connection %d at %v, before its time in the run's timetable (%v)", i, a.Sub(at), due.Sub(at))
		}
	}
}
