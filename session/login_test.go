package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// exchange is one server reply and the client lines it must cause.
type exchange struct {
	reply string
	sends []string
}

func TestLoginFlows(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		steps []exchange
		code  int // 0: the login succeeds
		verb  string
	}{
		{name: "220 USER 230 without PASS", steps: []exchange{
			{"220 ready", []string{"USER anonymous"}},
			{"230 no password needed", nil},
		}},
		{name: "220 USER 202", steps: []exchange{
			{"220 ready", []string{"USER anonymous"}},
			{"202 already logged in", nil},
		}},
		{name: "331 then 230", cfg: Config{User: "alice", Password: "s3cret"}, steps: []exchange{
			{"220 ready", []string{"USER alice"}},
			{"331 password please", []string{"PASS s3cret"}},
			{"230 welcome", nil},
		}},
		{name: "anonymous password", cfg: Config{User: "ftp"}, steps: []exchange{
			{"220 ready", []string{"USER ftp"}},
			{"331 password please", []string{"PASS anonymous@"}},
			{"230 welcome", nil},
		}},
		{name: "332 after PASS with an account", cfg: Config{User: "bob", Password: "pw", Account: "acct-7"}, steps: []exchange{
			{"220 ready", []string{"USER bob"}},
			{"331 password please", []string{"PASS pw"}},
			{"332 need account", []string{"ACCT acct-7"}},
			{"230 welcome", nil},
		}},
		{name: "332 after USER with an account", cfg: Config{User: "bob", Account: "acct-7"}, steps: []exchange{
			{"220 ready", []string{"USER bob"}},
			{"332 need account", []string{"ACCT acct-7"}},
			{"202 fine", nil},
		}},
		{name: "120 then 220", steps: []exchange{
			{"120 ready in 2 minutes", nil},
			{"220 ready now", []string{"USER anonymous"}},
			{"331 password please", []string{"PASS anonymous@"}},
			{"230 welcome", nil},
		}},
		{name: "multi-line greeting and welcome", steps: []exchange{
			{"220-Welcome\r\n220-to the\r\n220 server", []string{"USER anonymous"}},
			{"331 password please", []string{"PASS anonymous@"}},
			{"230-Welcome, archive user\r\n230-\r\n230 Access granted", nil},
		}},
		{name: "421 greeting", steps: []exchange{{"421 too many users", nil}}, code: 421},
		{name: "120 then 421", steps: []exchange{{"120 wait", nil}, {"421 gave up", nil}}, code: 421},
		{name: "500 greeting", steps: []exchange{{"500 go away", nil}}, code: 500},
		{name: "530 on USER", steps: []exchange{
			{"220 ready", []string{"USER anonymous"}},
			{"530 no anonymous logins", nil},
		}, code: 530, verb: "USER"},
		{name: "530 on PASS", cfg: Config{User: "alice", Password: "wrong-pw"}, steps: []exchange{
			{"220 ready", []string{"USER alice"}},
			{"331 password please", []string{"PASS wrong-pw"}},
			{"530 Login incorrect", nil},
		}, code: 530, verb: "PASS"},
		{name: "332 without an account", cfg: Config{User: "bob", Password: "pw"}, steps: []exchange{
			{"220 ready", []string{"USER bob"}},
			{"331 password please", []string{"PASS pw"}},
			{"332 need account", nil},
		}, code: 332, verb: "PASS"},
		{name: "332 on USER without an account", steps: []exchange{
			{"220 ready", []string{"USER anonymous"}},
			{"332 need account", nil},
		}, code: 332, verb: "USER"},
		{name: "530 on ACCT", cfg: Config{User: "bob", Account: "a"}, steps: []exchange{
			{"220 ready", []string{"USER bob"}},
			{"332 need account", []string{"ACCT a"}},
			{"530 bad account", nil},
		}, code: 530, verb: "ACCT"},
		{name: "421 after USER", steps: []exchange{
			{"220 ready", []string{"USER anonymous"}},
			{"421 shutting down", nil},
		}, code: 421, verb: "USER"},
		{name: "421 after PASS", steps: []exchange{
			{"220 ready", []string{"USER anonymous"}},
			{"331 password please", []string{"PASS anonymous@"}},
			{"421 shutting down", nil},
		}, code: 421, verb: "PASS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			r := newRig(t, &cfg)
			for _, st := range c.steps {
				r.recv(st.reply)
				r.sent(st.sends...)
			}
			res := r.login.once(t)
			if c.code == 0 {
				r.state(states.Ready)
				if res.Err != nil || r.s.Err() != nil {
					t.Fatalf("login error %v, session error %v", res.Err, r.s.Err())
				}
				if r.d.closed != 0 {
					t.Fatal("driver closed after a good login")
				}
				return
			}
			err := r.ended(states.Failed)
			fe := replyError(t, err, c.code)
			if fe.Verb != c.verb {
				t.Errorf("error answers %q, want %q", fe.Verb, c.verb)
			}
			if res.Err != err {
				t.Errorf("login result %v, session error %v", res.Err, err)
			}
			if strings.Contains(err.Error(), "wrong-pw") {
				t.Errorf("error %q shows the password", err)
			}
			// Nothing more is sent, and late input changes nothing.
			r.recv("230 too late")
			r.sent()
			r.state(states.Failed)
		})
	}
}

func TestGreetingTimeout(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{Greeting: 2 * time.Second}})
	q := r.do(ftp.Cmd("NOOP"), nil) // queued behind the login
	r.advance(1999 * time.Millisecond)
	r.state(states.Greeting)
	r.advance(time.Millisecond)
	err := r.failed(ftp.ErrTimeout)
	var te *ftp.TimeoutError
	if !errors.As(err, &te) || te.Op != "greeting" {
		t.Fatalf("error %v, want a greeting timeout", err)
	}
	if res := r.login.once(t); res.Err != err {
		t.Errorf("login result %v", res.Err)
	}
	if res := q.once(t); res.Err != err {
		t.Errorf("queued request got %v", res.Err)
	}
	r.sent()
}

func TestGreetingTimeoutDefault(t *testing.T) {
	r := newRig(t, nil)
	if want := epoch.Add(15 * time.Second); !r.d.next.Equal(want) {
		t.Fatalf("greeting deadline %v, want %v", r.d.next, want)
	}
	r.advance(15 * time.Second)
	r.failed(ftp.ErrTimeout)
}

// TestSlowGreetingWithinTimeout: bytes trickling in do not extend the
// greeting deadline, but a greeting complete in time is fine.
func TestSlowGreeting(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{Greeting: time.Second}})
	for _, b := range []byte("220 slow\r\n") {
		r.advance(50 * time.Millisecond)
		r.s.Receive([]byte{b})
	}
	r.sent("USER anonymous")
	r.state(states.UserSent)

	r = newRig(t, &Config{Timeouts: Timeouts{Greeting: time.Second}})
	for _, b := range []byte("220 slower than allowed\r\n") {
		r.advance(100 * time.Millisecond)
		r.s.Receive([]byte{b})
	}
	r.failed(ftp.ErrTimeout)
	r.sent()
}

func TestQueuedBeforeLogin(t *testing.T) {
	r := newRig(t, nil)
	a := r.do(ftp.Cmd("PWD"), nil)
	b := r.do(ftp.Cmd("CWD", "/pub"), nil)
	c := r.do(ftp.Cmd("SYST"), nil)
	if !r.s.Busy() {
		t.Fatal("not busy with three queued requests")
	}
	r.recv("220 ready")
	r.sent("USER anonymous")
	r.recv("230 ok")
	r.sent("PWD") // only the first: one command in flight
	r.state(states.Command)
	r.recv(`257 "/" is cwd`)
	r.sent("CWD /pub")
	r.recv("250 ok")
	r.sent("SYST")
	r.recv("215 UNIX Type: L8")
	r.sent()
	r.state(states.Ready)
	if a.once(t).Value != "/" || b.once(t).Err != nil || c.once(t).Value != "UNIX Type: L8" {
		t.Fatalf("results %+v %+v %+v", a.res, b.res, c.res)
	}
	if r.s.Busy() {
		t.Fatal("busy after all requests finished")
	}
}

// TestLoginFailureFailsQueue: requests queued behind a failed login finish
// with the login's error.
func TestLoginFailureFailsQueue(t *testing.T) {
	r := newRig(t, nil)
	a := r.do(ftp.Cmd("PWD"), nil)
	r.recv("220 ready")
	r.sent("USER anonymous")
	r.recv("530 not today")
	err := r.ended(states.Failed)
	replyError(t, a.once(t).Err, 530)
	if a.res.Err != err {
		t.Errorf("queued request got %v, session %v", a.res.Err, err)
	}
	// A request after the end fails at once with the same error.
	b := r.do(ftp.Cmd("NOOP"), nil)
	if b.once(t).Err != err {
		t.Errorf("late request got %v", b.res.Err)
	}
	r.sent()
}
