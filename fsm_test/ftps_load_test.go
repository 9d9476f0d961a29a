package fsm_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/internal/rlimit"
	"github.com/asyncftp/asyncftp/session"
)

// FTPS at scale on one event loop (issue #15): handshakes stay off the loop,
// so a stalled one and hundreds of full ones leave another session's NOOPs
// answered; a thousand idle FTPS sessions hold no goroutine each.

// TestFTPSHandshakesBesideNoops: on one loop, a few control handshakes stall
// (the server reads the ClientHello and never answers) while 500 sessions do
// full handshakes and log in to goftp over explicit FTPS, and a bystander
// session sends NOOPs back to back the whole time. Every NOOP gets its 200,
// all 500 log in, the stalled ones are still waiting at the end (each holds
// a handshake worker, not the loop). The NOOP latency is logged: a figure
// for the notes, not an assertion.
func TestFTPSHandshakesBesideNoops(t *testing.T) {
	const (
		sessions = 500
		parallel = 16 // sessions logging in at once
		stalled  = 4
	)
	if _, err := rlimit.Ensure(rlimit.Estimate(2*(parallel+stalled+1), 0)); err != nil {
		t.Fatal(err)
	}
	lk := fltBegin(t)
	srv, pool := ftpsEmbed(t, false)
	stall := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 stalling FTPS"),
		ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
		readHello(), ftptest.Stall(),
	}, ftptest.WithTimeout(30*time.Second), ftptest.WithoutLog())
	e, err := engine.New(engine.Options{Loops: 1, HandshakeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	tlsOpts := ftptls.Options{RootCAs: pool}
	login := session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: session.TLSExplicit}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	by, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: e, Config: login, TLS: tlsOpts})
	if err != nil {
		t.Fatalf("bystander Dial: %v", err)
	}

	// The stalled handshakes first: they hold workers for the whole run.
	stallRes := make(chan error, stalled)
	for i := 0; i < stalled; i++ {
		cfg := session.Config{TLS: session.TLSExplicit}
		if _, err := e.OpenWith(stall.Addr, &cfg, engine.OpenOptions{TLS: &tlsOpts, Observer: loginObserverFunc(func(r session.Result) { stallRes <- r.Err })}); err != nil {
			t.Fatal(err)
		}
	}
	waitConns(t, stall, stalled)

	// The same NOOPs on a quiet loop first, for comparison.
	var quiet []time.Duration
	for i := 0; i < 200; i++ {
		t0 := time.Now()
		if err := by.Noop(ctx); err != nil {
			t.Fatalf("bystander NOOP on a quiet loop: %v", err)
		}
		quiet = append(quiet, time.Since(t0))
	}
	slices.Sort(quiet)

	// The bystander's NOOPs, back to back, until the 500 are done.
	var (
		done     atomic.Bool
		lat      []time.Duration
		noopErrs []error
	)
	noops := make(chan struct{})
	go func() {
		defer close(noops)
		for i := 0; i < 1_000_000 && !done.Load(); i++ {
			t0 := time.Now()
			err := by.Noop(ctx)
			lat = append(lat, time.Since(t0))
			if err != nil {
				noopErrs = append(noopErrs, err)
				return
			}
		}
	}()

	start := time.Now()
	var loggedIn atomic.Int64
	var mu sync.Mutex
	var failures []error
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= sessions {
				c, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: e, Config: login, TLS: tlsOpts})
				if err == nil {
					loggedIn.Add(1)
					err = c.Quit(ctx)
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	done.Store(true)
	<-noops

	if n := loggedIn.Load(); n != sessions || len(failures) > 0 {
		t.Errorf("%d of %d sessions logged in; %d failures, first %v", n, sessions, len(failures), first(failures))
	}
	if len(noopErrs) > 0 {
		t.Errorf("bystander NOOP failed: %v", noopErrs[0])
	}
	if len(lat) < 2 {
		t.Errorf("only %d NOOPs answered during %v of handshakes", len(lat), took)
	}
	select {
	case err := <-stallRes:
		t.Errorf("a stalled handshake ended during the run: %v", err)
	default:
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		t.Logf("%d full FTPS logins in %v on one loop (%d at a time, %d handshakes stalled); bystander: %d NOOPs, latency p50 %v, p99 %v, max %v",
			sessions, took.Round(time.Millisecond), parallel, stalled, len(lat),
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
		t.Logf("the same bystander on the quiet loop before: %d NOOPs, p50 %v, p99 %v, max %v", len(quiet),
			quiet[len(quiet)/2].Round(time.Microsecond), quiet[len(quiet)*99/100].Round(time.Microsecond), quiet[len(quiet)-1].Round(time.Microsecond))
	}
	if err := by.Quit(ctx); err != nil {
		t.Errorf("bystander QUIT: %v", err)
	}
	e.Close()
	for i := 0; i < stalled; i++ {
		if err := <-stallRes; !errors.Is(err, ftp.ErrClosed) {
			t.Errorf("stalled handshake after engine Close: %v, want ErrClosed", err)
		}
	}
	lk.end(t, stall.Close, func() { srv.Close() })
}

// TestFTPSThousandIdle: 1,000 FTPS sessions, logged in over explicit TLS and
// idle, on one loop. While they idle the client holds no goroutine per
// session (the count stays within a few of the baseline: no reader, no
// handshake worker, no dialer left), and once they quit goroutines and
// descriptors are back to the baseline.
func TestFTPSThousandIdle(t *testing.T) {
	const (
		sessions = 1000
		parallel = 16
	)
	if _, err := rlimit.Ensure(rlimit.Estimate(2*sessions, 0)); err != nil { // both ends live here
		t.Fatal(err)
	}
	lk := fltBegin(t)
	base, _ := clientGoroutines()
	baseAll := runtime.NumGoroutine()
	srv, pool := ftpsEmbed(t, false)
	e, err := engine.New(engine.Options{Loops: 1, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	login := session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: session.TLSExplicit}

	clients := make([]*client.Client, sessions)
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, sessions)
	start := time.Now()
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= sessions {
					return
				}
				c, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: e, Config: login, TLS: ftptls.Options{RootCAs: pool}})
				if err != nil {
					errs <- err
					continue
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Dial: %v", err)
	}
	t.Logf("%d FTPS sessions logged in on one loop in %v", sessions, time.Since(start).Round(time.Millisecond))
	if n := e.Active(); n != sessions {
		t.Errorf("engine counts %d active sessions, want %d", n, sessions)
	}

	// Idle. Dialers linger for idleTicks engine ticks after the last dial
	// (by design: a burst reuses them); wait for them to go, bounded. Then
	// what is left is the engine's own few (its loop, gnet's ticker), never
	// one per session.
	idle, stack := clientGoroutines()
	for deadline := time.Now().Add(10 * time.Second); strings.Contains(stack, "engine.(*dialers).loop") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		idle, stack = clientGoroutines()
	}
	t.Logf("client goroutines: %d before the engine, %d with %d idle FTPS sessions", base, idle, sessions)
	if idle >= base+10 {
		t.Errorf("%d client goroutines with %d idle sessions, %d before: more than the engine's own\n%s", idle, sessions, base, stack)
	}
	// Every session is alive: a NOOP on a sample, spread over the set.
	for i := 0; i < sessions; i += 97 {
		if err := clients[i].Noop(ctx); err != nil {
			t.Errorf("session %d NOOP: %v", i, err)
		}
	}

	wg = sync.WaitGroup{}
	next.Store(0)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= sessions {
					return
				}
				if err := clients[i].Quit(ctx); err != nil {
					t.Errorf("session %d QUIT: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	lk.end(t, func() { e.Close() }, func() { srv.Close() })
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > baseAll && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > baseAll {
		t.Errorf("%d goroutines after the run, %d before", n, baseAll)
	}
}

// clientGoroutines counts the process's goroutines that are not the
// in-process goftp server's (its connections hold several each), and
// returns their stacks.
func clientGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "goftp.io/") && !strings.Contains(g, "/internal/embedserver.") {
			ours = append(ours, g)
		}
	}
	return len(ours), strings.Join(ours, "\n\n")
}

// waitConns waits until srv has accepted n connections.
func waitConns(t *testing.T, srv *ftptest.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(fltBound); srv.Connections() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections reached the server", srv.Connections(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loginObserverFunc is an engine.Observer that hands the login's result to f.
type loginObserverFunc func(session.Result)

func (loginObserverFunc) Connected(*engine.Conn)                      {}
func (loginObserverFunc) Ended(*engine.Conn, error)                   {}
func (f loginObserverFunc) LoggedIn(_ *engine.Conn, r session.Result) { f(r) }

func first(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
