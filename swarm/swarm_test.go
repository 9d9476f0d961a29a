package swarm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/internal/rlimit"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

// leakCheck verifies at the end of the test that no goroutine and no file
// descriptor outlived it. gnet hands dials to a shared worker pool (ants) whose
// idle workers linger for a while by design; they are not ours.
func leakCheck(t *testing.T) {
	t.Helper()
	warmNetpoll(t)
	opt := goleak.IgnoreCurrent()
	before := countFDs(t)
	t.Cleanup(func() {
		goleak.VerifyNone(t, opt, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
		// Closed sockets leave the table at once, but give the runtime a
		// moment to finish closing what it was asked to close.
		var after int
		for i := 0; i < 50; i++ {
			if after = countFDs(t); after <= before {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("file descriptors: %d before, %d after", before, after)
	})
}

// warmNetpoll makes the runtime open its netpoller descriptors before counting.
func warmNetpoll(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func newEngine(t *testing.T, loops int) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{Loops: loops})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func startServer(t *testing.T) *leanserver.Server {
	t.Helper()
	srv, err := leanserver.Start(leanserver.Options{BigSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// lifecycle is the benchmark's script: PWD, TYPE I, LIST, RETR of 1 KiB.
func lifecycle() []swarm.Step {
	return []swarm.Step{
		{Cmd: ftp.Cmd("PWD")},
		{Cmd: ftp.Cmd("TYPE", "I")},
		{Cmd: ftp.Cmd("LIST"), Data: &session.Data{Sink: io.Discard}, Check: wantBytes(int64(len(leanserver.Listing)))},
		{Cmd: ftp.Cmd("RETR", leanserver.SmallName), Data: &session.Data{Sink: io.Discard}, Check: wantBytes(1024)},
	}
}

func wantBytes(n int64) func(session.Result) error {
	return func(r session.Result) error {
		if r.Bytes != n {
			return fmt.Errorf("got %d bytes, want %d", r.Bytes, n)
		}
		return nil
	}
}

// TestTwoThousandHeld logs 2,000 sessions in at once on one loop, holds them
// all, then quits them all, and checks that nothing leaked.
func TestTwoThousandHeld(t *testing.T) {
	const n = 2000
	if _, err := rlimit.Ensure(rlimit.Estimate(3*n, 0)); err != nil { // both ends live here
		t.Fatal(err)
	}
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	e := newEngine(t, 1)
	defer e.Close()

	cfg := &session.Config{User: "bench", Password: "secret"}
	jobs := make([]swarm.Job, n)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg}
	}
	var mu sync.Mutex
	var failed []swarm.Result
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sw, err := swarm.Start(ctx, e, jobs, swarm.Options{Hold: true, OnResult: func(r swarm.Result) {
		if r.Err != nil {
			mu.Lock()
			failed = append(failed, r)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sw.Held():
	case <-ctx.Done():
		t.Fatalf("not all sessions logged in: %d held", sw.HeldCount())
	}
	if got := sw.HeldCount(); got != n {
		t.Fatalf("held %d sessions, want %d (failures: %v)", got, n, failed)
	}
	if st := srv.Stats(); st.Active != n || st.LoggedIn != n {
		t.Fatalf("server sees %d open and %d logged in, want %d", st.Active, st.LoggedIn, n)
	}
	if got := e.Active(); got != n {
		t.Fatalf("engine has %d active sessions, want %d", got, n)
	}
	sw.Release()
	st := sw.Wait()
	if st.OK != n || st.Failed != 0 {
		t.Fatalf("ok %d failed %d (%v), want %d ok; first failures %v", st.OK, st.Failed, st.Errors, n, first(failed, 3))
	}
	if q := srv.Stats().Quits; q != n {
		t.Fatalf("server answered %d QUITs, want %d", q, n)
	}
	if st.Login.P50 <= 0 || st.Total.Max < st.Login.Max {
		t.Fatalf("implausible timings %+v", st)
	}
	if got := e.Active(); got != 0 {
		t.Fatalf("engine still has %d active sessions", got)
	}
}

func first(r []swarm.Result, n int) []swarm.Result {
	if len(r) > n {
		return r[:n]
	}
	return r
}

// TestFaultsStayContained runs a swarm in which a tenth of the sessions meet a
// fault: refused connections, 530 to PASS, a server that stalls after USER and
// one that hangs up. The others run the whole lifecycle script and succeed.
func TestFaultsStayContained(t *testing.T) {
	const n = 400
	if _, err := rlimit.Ensure(rlimit.Estimate(6*n, 0)); err != nil {
		t.Fatal(err)
	}
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	e := newEngine(t, 2)
	defer e.Close()

	good := &session.Config{User: "bench", Password: "secret"}
	bad := &session.Config{User: "fail", Password: "secret"}
	stall := &session.Config{User: "stall", Password: "x", Timeouts: session.Timeouts{Reply: 300 * time.Millisecond}}
	drop := &session.Config{User: "drop", Password: "x"}
	refused := ftptest.RefusedAddr(t)
	script := lifecycle()

	kinds := map[int]string{}
	jobs := make([]swarm.Job, n)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: good, Script: script}
		if i%10 != 3 {
			continue
		}
		switch (i / 10) % 4 {
		case 0:
			jobs[i].Addr, kinds[i] = refused, "refused"
		case 1:
			jobs[i].Config, kinds[i] = bad, "reply-530"
		case 2:
			jobs[i].Config, kinds[i] = stall, "timeout"
		case 3:
			jobs[i].Config, kinds[i] = drop, "closed"
		}
	}
	var mu sync.Mutex
	results := make([]*swarm.Result, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sw, err := swarm.Start(ctx, e, jobs, swarm.Options{Concurrency: 100, OnResult: func(r swarm.Result) {
		mu.Lock()
		defer mu.Unlock()
		if results[r.Index] != nil {
			t.Errorf("job %d reported twice", r.Index)
		}
		results[r.Index] = &r
	}})
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	var dump strings.Builder
	select {
	case <-sw.Done():
	case <-time.After(50 * time.Second):
		live = swarm.DebugLive(sw)
		_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
	}
	st := sw.Wait()
	if ctx.Err() != nil || live != nil {
		// Say which sessions never finished and where every goroutine
		// stands, so that a hang can be diagnosed from the log alone.
		mu.Lock()
		var missing []string
		for i, r := range results {
			if r == nil {
				missing = append(missing, fmt.Sprintf("%d(%s)", i, kinds[i]))
			}
		}
		mu.Unlock()
		t.Fatalf("swarm did not finish in time; no result for %d jobs: %v\nopen sessions:\n%s\n%s", len(missing), missing, strings.Join(live, "\n"), dump.String())
	}
	for i, r := range results {
		if r == nil {
			t.Fatalf("job %d: no result", i)
		}
		want := kinds[i]
		got := swarm.Kind(r.Err)
		if got != want {
			t.Errorf("job %d: kind %q (%v), want %q", i, got, r.Err, want)
			continue
		}
		switch want {
		case "":
			if r.Bytes != int64(len(leanserver.Listing))+1024 || r.Step != len(script) || r.Login <= 0 {
				t.Errorf("job %d: %+v", i, r)
			}
		case "reply-530":
			var fe *ftp.Error
			if !errors.As(r.Err, &fe) || fe.Code != 530 || r.Step != -1 {
				t.Errorf("job %d: %v step %d", i, r.Err, r.Step)
			}
		case "refused":
			if !errors.Is(r.Err, ftp.ErrClosed) || r.Connect != 0 {
				t.Errorf("job %d: %v connect %v", i, r.Err, r.Connect)
			}
		case "timeout":
			if !errors.Is(r.Err, ftp.ErrTimeout) {
				t.Errorf("job %d: %v", i, r.Err)
			}
		}
	}
	faulty := len(kinds)
	if st.OK != n-faulty || st.Failed != faulty {
		t.Fatalf("ok %d failed %d, want %d and %d: %v", st.OK, st.Failed, n-faulty, faulty, st.Errors)
	}
	if st.Bytes != int64(n-faulty)*(int64(len(leanserver.Listing))+1024) {
		t.Fatalf("bytes %d", st.Bytes)
	}
}

// TestStepRefusedQuitsCleanly: a step the server refuses fails the session
// with the reply, after a proper QUIT.
func TestStepRefusedQuitsCleanly(t *testing.T) {
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	e := newEngine(t, 1)
	defer e.Close()
	cfg := &session.Config{User: "u", Password: "p"}
	jobs := []swarm.Job{{Addr: srv.Addr, Config: cfg, Script: []swarm.Step{
		{Cmd: ftp.Cmd("PWD")},
		{Cmd: ftp.Cmd("RETR", "missing"), Data: &session.Data{Sink: io.Discard}},
		{Cmd: ftp.Cmd("PWD")},
	}}}
	var got swarm.Result
	sw, err := swarm.Start(context.Background(), e, jobs, swarm.Options{OnResult: func(r swarm.Result) { got = r }})
	if err != nil {
		t.Fatal(err)
	}
	if st := sw.Wait(); st.Failed != 1 || st.Errors["reply-550"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	var fe *ftp.Error
	if !errors.As(got.Err, &fe) || fe.Code != 550 || got.Step != 1 {
		t.Fatalf("result %+v", got)
	}
	if q := srv.Stats().Quits; q != 1 {
		t.Fatalf("server saw %d QUITs, want 1", q)
	}
}

// TestStop ends a held swarm early: every session reports ErrStopped.
func TestStop(t *testing.T) {
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	e := newEngine(t, 1)
	defer e.Close()
	cfg := &session.Config{User: "u", Password: "p"}
	jobs := make([]swarm.Job, 50)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sw, err := swarm.Start(ctx, e, jobs, swarm.Options{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	<-sw.Held()
	cancel()
	st := sw.Wait()
	if st.Failed != len(jobs) || st.Errors["canceled"] != len(jobs) {
		t.Fatalf("stats %+v", st)
	}
}

// TestRateAndConcurrency checks that the caps hold: never more sessions open
// than allowed, and no faster than the rate.
func TestRateAndConcurrency(t *testing.T) {
	leakCheck(t)
	srv := startServer(t)
	defer srv.Close()
	e := newEngine(t, 1)
	defer e.Close()
	cfg := &session.Config{User: "u", Password: "p"}
	jobs := make([]swarm.Job, 40)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg, Script: []swarm.Step{{Cmd: ftp.Cmd("NOOP")}}}
	}
	peak := 0
	stopWatch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(time.Millisecond):
				if a := e.Active(); a > peak {
					peak = a
				}
			}
		}
	}()
	start := time.Now()
	sw, err := swarm.Start(context.Background(), e, jobs, swarm.Options{Concurrency: 3, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	st := sw.Wait()
	elapsed := time.Since(start)
	close(stopWatch)
	wg.Wait()
	if st.OK != len(jobs) {
		t.Fatalf("stats %+v", st)
	}
	if peak > 3 {
		t.Fatalf("%d sessions open at once, cap 3", peak)
	}
	// 40 connections at 200/s cannot start in less than 39 intervals.
	if min := 39 * time.Second / 200; elapsed < min {
		t.Fatalf("40 sessions took %v, faster than the rate allows (%v)", elapsed, min)
	}
}

func TestHoldNeedsRoom(t *testing.T) {
	jobs := make([]swarm.Job, 3)
	_, err := swarm.Start(context.Background(), nil, jobs, swarm.Options{Hold: true, Concurrency: 2})
	if !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Fatalf("err %v", err)
	}
}
