package fsm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
)

// TestLeakManySessions runs sessions that end in every way, one after the
// other and some at once, on one engine, and checks that nothing is left.
func TestLeakManySessions(t *testing.T) {
	lk := fltBegin(t)
	scripts := []ftptest.Script{
		fltSteps(fltLogin(), fltNoopQuit()),                                                  // clean
		{ftptest.Reply("220 hi"), ftptest.Expect("USER anonymous"), ftptest.Reply("530 no")}, // refused
		{ftptest.Stall()}, // greeting timeout
		{ftptest.RawSend("220-x\r\n"), ftptest.Reset()}, // reset
		{ftptest.Close()}, // closed at once
		fltSteps(fltLogin(), []ftptest.Step{ // transfer that works
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
			ftptest.Expect("RETR f.bin"), ftptest.Reply("150 go"), ftptest.DataSend(fltBody), ftptest.DataClose(),
			ftptest.Reply("226 ok"), ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
		}),
		fltSteps(fltLogin(), []ftptest.Step{ // transfer cut by 421
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
			ftptest.Expect("RETR f.bin"), ftptest.Reply("150 go"), ftptest.DataSend(fltBody[:5]),
			ftptest.Reply("421 bye"),
		}),
	}
	const rounds = 3
	srv := ftptest.NewServerFunc(t, func(n int) ftptest.Script { return scripts[(n-1)%len(scripts)] },
		ftptest.WithTimeout(3*time.Second), ftptest.WithoutLog())
	e := fltEngine(t)
	ends := map[string]int{}
	for round := 0; round < rounds; round++ {
		for i := range scripts {
			// One at a time, so that connection n plays script n: the server
			// numbers connections in the order it accepts them.
			w := fltNewWatch()
			cfg := fltConfig(w, nil)
			fltFast(&cfg) // one script stalls before the greeting
			cl, err := fltDial(t, e, srv.Addr, cfg, true)
			if err == nil {
				ctx := fltCtx(t)
				if i == 0 {
					_ = cl.Noop(ctx)
				} else {
					_, _ = cl.Retr(ctx, "f.bin", io.Discard)
				}
				_ = cl.Quit(ctx)
				cl.Close()
			}
			ends[w.final(t)]++
		}
	}
	if ends[states.Closed] != 2*rounds || ends[states.Failed] != (len(scripts)-2)*rounds {
		t.Errorf("sessions ended %v", ends)
	}
	if n := e.Active(); n != 0 {
		t.Errorf("engine counts %d active sessions", n)
	}
	lk.end(t, func() { e.Close() }, srv.Wait, srv.Close)
}

// TestLeakEmbeddedSessions runs concurrent sessions against goftp with
// listings and downloads, then checks for leaks.
func TestLeakEmbeddedSessions(t *testing.T) {
	lk := fltBegin(t)
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := fltEngine(t)
	var file embedserver.File
	for _, f := range srv.Files() {
		if !f.Dir && f.Size > 0 && f.Size < 100000 {
			file = f
			break
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), fltBound)
			defer cancel()
			cfg := session.Config{Timeouts: session.Timeouts{Reply: 5 * time.Second}}
			cl, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: e, Config: cfg, OnLoop: i%2 == 0})
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			if _, err := cl.List(ctx, ""); err != nil {
				errs <- err
			}
			var buf bytes.Buffer
			if n, err := cl.Retr(ctx, file.Path, &buf); err != nil || n != file.Size {
				errs <- errors.Join(err, errors.New("short download"))
			}
			if err := cl.Quit(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	lk.end(t, func() { e.Close() }, func() { srv.Close() })
}

// TestLeakEngineCloseMidFlight closes the engine under sessions that are
// dialling, waiting for a greeting, and moving data: every callback still
// runs once, with an error, and nothing is left.
func TestLeakEngineCloseMidFlight(t *testing.T) {
	lk := fltBegin(t)
	stalled := make(chan struct{}, 8)
	signal := ftptest.Func(func(c *ftptest.Conn) error { stalled <- struct{}{}; return nil })
	greetless := fltServer(t, signal, ftptest.Stall())
	xfer := fltServer(t, fltSteps(fltLogin(), []ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 go"), ftptest.DataSend(fltBody[:5]),
		signal, ftptest.Stall(),
	})...)
	e := fltEngine(t)
	long := session.Timeouts{Greeting: time.Minute, Reply: time.Minute, DataConnect: time.Minute, DataIdle: time.Minute}

	var mu sync.Mutex
	results := map[string][]error{}
	record := func(name string) func(session.Result) {
		return func(r session.Result) {
			mu.Lock()
			results[name] = append(results[name], r.Err)
			mu.Unlock()
		}
	}
	// A session whose greeting never comes, with work queued behind it.
	cfg1 := session.Config{Timeouts: long}
	c1, err := e.Open(greetless.Addr, &cfg1, func(_ *engine.Conn, r session.Result) { record("login1")(r) })
	if err != nil {
		t.Fatal(err)
	}
	c1.Do(&session.Request{Cmd: ftp.Cmd("PWD"), Done: record("pwd1")})
	// A session in the middle of a download, off the loop and on it.
	for _, off := range []bool{true, false} {
		name := "retr-onloop"
		if off {
			name = "retr-offloop"
		}
		cfg := session.Config{Timeouts: long}
		c, err := e.Open(xfer.Addr, &cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Do(&session.Request{Cmd: ftp.Cmd("TYPE", "I"), Done: record(name + "-type")})
		c.Do(&session.Request{Cmd: ftp.Cmd("RETR", "f.bin"), Data: &session.Data{Sink: io.Discard, OffLoop: off}, Done: record(name)})
	}
	for i := 0; i < 3; i++ {
		select {
		case <-stalled:
		case <-time.After(fltBound):
			t.Fatal("the sessions never got to their stalls")
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case <-closed:
	case <-time.After(fltBound):
		t.Fatal("engine.Close hangs")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"login1", "pwd1", "retr-offloop", "retr-onloop"} {
		errs := results[name]
		if len(errs) != 1 {
			t.Errorf("%s: %d results, want 1", name, len(errs))
			continue
		}
		if !errors.Is(errs[0], ftp.ErrClosed) {
			t.Errorf("%s: %v, want an error that says the engine closed", name, errs[0])
		}
	}
	for _, name := range []string{"retr-offloop", "retr-onloop"} {
		if errs := results[name]; len(errs) == 1 && !errors.Is(errs[0], ftp.ErrIncomplete) {
			t.Errorf("%s: %v does not say the download is incomplete", name, errs[0])
		}
	}
	// After Close: no new sessions, and Run still reaches the ended session.
	if _, err := e.Open(xfer.Addr, &session.Config{}, nil); !errors.Is(err, engine.ErrEngineClosed) || !errors.Is(err, ftp.ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	var st string
	c1.Run(func(s *session.Session) { st = s.State() })
	if st != states.Failed {
		t.Errorf("session state after engine Close: %q", st)
	}
	lk.end(t, greetless.Close, xfer.Close)
}

// TestLeakCanceledCall cancels a blocking call whose reply never comes.
func TestLeakCanceledCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server cancels the caller's context once it has read the command.
	cancelStep := ftptest.Func(func(*ftptest.Conn) error { cancel(); return nil })
	c := fltStartCase(t, true, func(cfg *session.Config) { cfg.Timeouts.Reply = time.Minute },
		fltSteps(fltLogin(), []ftptest.Step{ftptest.Expect("PWD"), cancelStep, ftptest.Stall()})...)
	_, err := c.loggedIn().Pwd(ctx)
	if !errors.Is(err, ftp.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Pwd: %v", err)
	}
	c.w.ended(t, states.Failed)
	c.finish()
}
