package fsm_test

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// fltLoginCase is one login flow against the scripted server.
type fltLoginCase struct {
	name     string
	user     string
	password session.Secret
	account  string
	script   []ftptest.Step // up to the login's end
	code     int            // 0: the login succeeds
	commands []string       // what the server must have read
}

var fltLoginCases = []fltLoginCase{
	{name: "220 USER 230 without PASS", script: []ftptest.Step{
		ftptest.Reply("220 ready"), ftptest.Expect("USER anonymous"), ftptest.Reply("230 no password needed"),
	}, commands: []string{"USER anonymous"}},
	{name: "331 then 230", user: "alice", password: "s3cret", script: []ftptest.Step{
		ftptest.Reply("220 ready"), ftptest.Expect("USER alice"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS s3cret"), ftptest.Reply("230 welcome"),
	}, commands: []string{"USER alice", "PASS s3cret"}},
	{name: "332 with an account", user: "bob", password: "pw", account: "acct-7", script: []ftptest.Step{
		ftptest.Reply("220 ready"), ftptest.Expect("USER bob"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS pw"), ftptest.Reply("332 account please"),
		ftptest.Expect("ACCT acct-7"), ftptest.Reply("230 welcome"),
	}, commands: []string{"USER bob", "PASS pw", "ACCT acct-7"}},
	{name: "120 then 220", script: []ftptest.Step{
		ftptest.Reply("120 ready in a moment"), ftptest.Reply("220 ready now"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 welcome"),
	}, commands: []string{"USER anonymous", "PASS anonymous@"}},
	{name: "multi-line greeting split byte by byte", script: []ftptest.Step{
		ftptest.SendSlowly("220-Welcome\r\n220-  220 inner line\r\n220 ready\r\n", 0),
		ftptest.Expect("USER anonymous"), ftptest.Reply("230 welcome"),
	}, commands: []string{"USER anonymous"}},
	{name: "421 greeting", script: []ftptest.Step{ftptest.Reply("421 too many connections")}, code: 421},
	{name: "530 on USER", script: []ftptest.Step{
		ftptest.Reply("220 ready"), ftptest.Expect("USER anonymous"), ftptest.Reply("530 no anonymous logins"),
	}, code: 530, commands: []string{"USER anonymous"}},
	{name: "530 on PASS", user: "alice", password: "wrong", script: []ftptest.Step{
		ftptest.Reply("220 ready"), ftptest.Expect("USER alice"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS wrong"), ftptest.Reply("530 Login incorrect"),
	}, code: 530, commands: []string{"USER alice", "PASS wrong"}},
	{name: "332 without an account", user: "bob", password: "pw", script: []ftptest.Step{
		ftptest.Reply("220 ready"), ftptest.Expect("USER bob"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS pw"), ftptest.Reply("332 account please"),
	}, code: 332, commands: []string{"USER bob", "PASS pw"}},
}

// TestLoginScriptedEngine runs each login flow through engine.Open on real
// sockets and checks the result, the final state and the server's view.
func TestLoginScriptedEngine(t *testing.T) {
	for _, c := range fltLoginCases {
		t.Run(c.name, func(t *testing.T) {
			lk := fltBegin(t)
			sc := c.script
			if c.code == 0 {
				sc = fltSteps(sc, []ftptest.Step{ftptest.Expect("QUIT"), ftptest.Reply("221 bye")})
			}
			srv := fltServer(t, sc...)
			e := fltEngine(t)
			w := fltNewWatch()
			cfg := fltConfig(w, nil)
			cfg.User, cfg.Password, cfg.Account = c.user, c.password, session.Secret(c.account)
			conn, res := fltOpen(t, e, srv.Addr, &cfg)
			want := c.commands
			if c.code == 0 {
				if res.Err != nil {
					t.Fatalf("login: %v", res.Err)
				}
				if st := fltState(t, conn); st != states.Ready {
					t.Fatalf("state %q after login", st)
				}
				quit := make(chan session.Result, 1)
				conn.Do(&session.Request{Cmd: ftp.Cmd("QUIT"), Done: func(r session.Result) { quit <- r }})
				if r := <-quit; r.Err != nil || r.Reply.Code != 221 {
					t.Fatalf("QUIT: %+v", r)
				}
				w.ended(t, states.Closed)
				want = append(slices.Clone(want), "QUIT")
			} else {
				fltReplyErr(t, res.Err, c.code)
				w.ended(t, states.Failed)
			}
			srv.Wait()
			if got := srv.Commands(); !slices.Equal(got, want) {
				t.Errorf("server read %q, want %q", got, want)
			}
			lk.end(t, func() { e.Close() }, srv.Close)
		})
	}
}

// TestLoginScriptedClient runs the same flows through client.Dial, which adds
// TYPE I after the login.
func TestLoginScriptedClient(t *testing.T) {
	for _, c := range fltLoginCases {
		t.Run(c.name, func(t *testing.T) {
			lk := fltBegin(t)
			sc := c.script
			if c.code == 0 {
				sc = fltSteps(sc, []ftptest.Step{
					ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
					ftptest.Expect("PWD"), ftptest.Reply(`257 "/" is cwd`),
					ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
				})
			}
			srv := fltServer(t, sc...)
			e := fltEngine(t)
			w := fltNewWatch()
			cfg := fltConfig(w, nil)
			cfg.User, cfg.Password, cfg.Account = c.user, c.password, session.Secret(c.account)
			cl, err := fltDial(t, e, srv.Addr, cfg, true)
			if c.code == 0 {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if st := cl.State(); st != states.Ready {
					t.Fatalf("state %q", st)
				}
				if p, err := cl.Pwd(fltCtx(t)); err != nil || p != "/" {
					t.Fatalf("Pwd: %q, %v", p, err)
				}
				if err := cl.Quit(fltCtx(t)); err != nil {
					t.Fatalf("Quit: %v", err)
				}
				w.ended(t, states.Closed)
			} else {
				if cl != nil {
					t.Fatal("Dial returned a client with an error")
				}
				fltReplyErr(t, err, c.code)
				w.ended(t, states.Failed)
			}
			srv.Wait()
			lk.end(t, func() { e.Close() }, srv.Close)
		})
	}
}

func TestLoginEmbedded(t *testing.T) {
	cases := []struct {
		name, user string
		password   session.Secret
		code       int
	}{
		{"anonymous", "", "", 0},
		{"anonymous named ftp", "ftp", "me@example.org", 0},
		{"user", embedserver.DefaultUser, embedserver.DefaultPassword, 0},
		{"wrong password", embedserver.DefaultUser, "not-the-password", 530},
		{"unknown user", "mallory", "x", 530},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lk := fltBegin(t)
			srv, err := embedserver.Start(embedserver.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			e := fltEngine(t)

			// Through the engine: the login result and the final state.
			w := fltNewWatch()
			var mem transcript.Memory
			cfg := fltConfig(w, &mem)
			cfg.User, cfg.Password = c.user, c.password
			cfg.Timeouts.Reply = fltBound // goftp is slow to refuse a password
			conn, res := fltOpen(t, e, srv.Addr, &cfg)
			if c.code != 0 {
				fe := fltReplyErr(t, res.Err, c.code)
				if fe.Verb != "PASS" {
					t.Errorf("530 answers %q", fe.Verb)
				}
				w.ended(t, states.Failed)
			} else {
				if res.Err != nil {
					t.Fatalf("login: %v", res.Err)
				}
				if st := fltState(t, conn); st != states.Ready {
					t.Fatalf("state %q", st)
				}
				conn.Close()
				w.ended(t, states.Closed)
			}
			if c.password != "" && strings.Contains(strings.Join(mem.Lines(), "\n"), c.password.Reveal()) {
				t.Error("password in the transcript")
			}

			// Through the client.
			w2 := fltNewWatch()
			cfg2 := fltConfig(w2, nil)
			cfg2.User, cfg2.Password = c.user, c.password
			cfg2.Timeouts.Reply = fltBound
			cl, err := fltDial(t, e, srv.Addr, cfg2, false)
			if c.code != 0 {
				fltReplyErr(t, err, c.code)
				w2.ended(t, states.Failed)
			} else {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if p, err := cl.Pwd(fltCtx(t)); err != nil || p != "/" {
					t.Fatalf("Pwd: %q, %v", p, err)
				}
				if err := cl.Quit(fltCtx(t)); err != nil {
					t.Fatal(err)
				}
				w2.ended(t, states.Closed)
			}
			lk.end(t, func() { e.Close() }, func() { srv.Close() })
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	addr := fltRefusedAddr(t) // its socket is held until the test's cleanup, so before the count
	lk := fltBegin(t)
	e := fltEngine(t)
	w := fltNewWatch()
	cfg := fltConfig(w, nil)
	_, res := fltOpen(t, e, addr, &cfg)
	fltIs(t, res.Err, ftp.ErrClosed)
	var ce *ftp.ClosedError
	if !errors.As(res.Err, &ce) || !errors.Is(res.Err, syscall.ECONNREFUSED) {
		t.Fatalf("error %v, want a ClosedError for ECONNREFUSED", res.Err)
	}
	w.ended(t, states.Failed)

	// The blocking client says the same.
	cl, err := fltDial(t, e, addr, fltConfig(fltNewWatch(), nil), true)
	if cl != nil || !errors.Is(err, ftp.ErrClosed) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial: %v", err)
	}
	lk.end(t, func() { e.Close() })
}

func TestServerClosesAtOnce(t *testing.T) {
	lk := fltBegin(t)
	srv := fltServer(t, ftptest.Close())
	e := fltEngine(t)
	w := fltNewWatch()
	cfg := fltConfig(w, nil)
	_, res := fltOpen(t, e, srv.Addr, &cfg)
	var ce *ftp.ClosedError
	if !errors.As(res.Err, &ce) || !errors.Is(res.Err, ftp.ErrClosed) {
		t.Fatalf("error %v, want a ClosedError", res.Err)
	}
	w.ended(t, states.Failed)
	srv.Wait()
	lk.end(t, func() { e.Close() }, srv.Close)
}

func TestServerNeverGreets(t *testing.T) {
	lk := fltBegin(t)
	srv := fltServer(t, ftptest.Stall())
	e := fltEngine(t)
	w := fltNewWatch()
	cfg := fltConfig(w, nil)
	cfg.Timeouts.Greeting = 150 * time.Millisecond
	_, res := fltOpen(t, e, srv.Addr, &cfg)
	var te *ftp.TimeoutError
	if !errors.As(res.Err, &te) || te.Op != "greeting" || !errors.Is(res.Err, ftp.ErrTimeout) {
		t.Fatalf("error %v, want a greeting timeout", res.Err)
	}
	w.ended(t, states.Failed)
	srv.Wait() // the client closed the connection: the stalled script ends
	lk.end(t, func() { e.Close() }, srv.Close)
}
