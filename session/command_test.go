package session

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/states"
)

func TestPwd(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("PWD"), nil)
	r.sent("PWD")
	r.state(states.Command)
	r.recv(`257 "/dir with ""quotes""" is the current directory`)
	res := o.once(t)
	if res.Err != nil || res.Value != `/dir with "quotes"` || res.Reply.Code != 257 {
		t.Fatalf("PWD result %+v", res)
	}
	r.state(states.Ready)

	// A 257 without a quoted path is a protocol error for that request only.
	o = r.do(ftp.Cmd("PWD"), nil)
	r.sent("PWD")
	r.recv("257 somewhere")
	if err := o.once(t).Err; !errors.Is(err, ftp.ErrProtocol) {
		t.Fatalf("PWD without quotes: %v", err)
	}
	r.state(states.Ready)
}

func TestCwdFailureIsNotFatal(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("CWD", "/missing"), nil)
	r.sent("CWD /missing")
	r.recv("550 No such directory")
	fe := replyError(t, o.once(t).Err, 550)
	if fe.Verb != "CWD" || fe.Temporary() {
		t.Errorf("error %#v", fe)
	}
	r.state(states.Ready)
	if r.s.Err() != nil || r.d.closed != 0 {
		t.Fatal("a 550 ended the session")
	}
	o = r.do(ftp.Cmd("CWD", "/pub"), nil)
	r.sent("CWD /pub")
	r.recv("250 ok")
	if o.once(t).Err != nil {
		t.Fatal(o.res.Err)
	}
}

func TestDoRefusesInjection(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	busy := r.do(ftp.Cmd("NOOP"), nil)
	r.sent("NOOP")
	for _, cmd := range []ftp.Command{
		ftp.Cmd("CWD", "a\r\nDELE b"),
		ftp.Cmd("RETR", "x\ny"),
		ftp.Cmd("SITE", "CHMOD 777 x\x00"),
		ftp.Cmd("PASS", "pw\r\n"),
		{Verb: "NO OP"},
		{Verb: "NOOP\r\nDELE x"},
		{},
	} {
		o := r.do(cmd, &Data{Sink: io.Discard})
		err := o.once(t).Err
		var ae *ftp.ArgumentError
		if !errors.As(err, &ae) || !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("Do(%q) = %v, want an *ftp.ArgumentError", cmd.Verb+" "+cmd.Arg, err)
		}
		if strings.Contains(err.Error(), "pw\r") {
			t.Errorf("error %q shows the password", err)
		}
	}
	r.sent() // nothing went out, not even EPSV
	if len(r.d.opens) != 0 {
		t.Fatal("a refused transfer asked for a data connection")
	}
	r.state(states.Command)
	r.recv("200 ok")
	if busy.once(t).Err != nil {
		t.Fatal(busy.res.Err)
	}
	r.state(states.Ready)
	r.sent()
}

func TestUnsolicitedReplyWhileIdle(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	r.recv("200 surprise")
	err := r.failed(ftp.ErrProtocol)
	var pe *ftp.ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "unsolicited") {
		t.Fatalf("error %v", err)
	}
	r.sent()
}

// TestRepliesBeyondTheAnswer: a server that answers a command twice breaks
// the protocol; the extra reply in the same read ends the session.
func TestRepliesBeyondTheAnswer(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("NOOP"), nil)
	r.sent("NOOP")
	r.recv("200 ok", "200 again")
	if o.once(t).Err != nil {
		t.Fatal(o.res.Err)
	}
	r.failed(ftp.ErrProtocol)
}

func TestReplyBeforeAnyCommand(t *testing.T) {
	// Data arriving before the greeting handler has anything to answer: the
	// first line is the greeting, whatever it says.
	r := newRig(t, nil)
	r.recv("230 already in")
	err := r.ended(states.Failed)
	replyError(t, err, 230)
}

func Test421AtAnyPoint(t *testing.T) {
	type phase struct {
		name  string
		setup func(r *rig) *outcome
	}
	phases := []phase{
		{"greeting", func(r *rig) *outcome { return nil }},
		{"after USER", func(r *rig) *outcome { r.recv("220 hi"); return nil }},
		{"idle", func(r *rig) *outcome { r.loggedIn(); return nil }},
		{"command in flight", func(r *rig) *outcome { r.loggedIn(); return r.do(ftp.Cmd("NOOP"), nil) }},
		{"EPSV in flight", func(r *rig) *outcome {
			r.loggedIn()
			return r.do(ftp.Cmd("RETR", "f"), &Data{Sink: io.Discard})
		}},
		{"data opening", func(r *rig) *outcome {
			r.loggedIn()
			o := r.do(ftp.Cmd("RETR", "f"), &Data{Sink: io.Discard})
			r.recv("229 Entering Extended Passive Mode (|||2121|)")
			return o
		}},
		{"transferring", func(r *rig) *outcome {
			r.loggedIn()
			o := r.do(ftp.Cmd("RETR", "f"), &Data{Sink: io.Discard})
			r.recv("229 Entering Extended Passive Mode (|||2121|)")
			r.s.DataOpened(r.d.opens[0])
			r.recv("150 here it comes")
			if err := r.s.DataIn(r.d.opens[0], []byte("partial")); err != nil {
				r.t.Fatal(err)
			}
			return o
		}},
	}
	for _, p := range phases {
		t.Run(p.name, func(t *testing.T) {
			r := newRig(t, nil)
			o := p.setup(r)
			r.recv("421 Service not available, closing control connection")
			err := r.ended(states.Failed)
			replyError(t, err, 421)
			if o != nil {
				res := o.once(t)
				replyError(t, res.Err, 421)
				if len(r.d.opens) > 0 {
					if !errors.Is(res.Err, ftp.ErrIncomplete) {
						t.Errorf("transfer error %v does not say it is incomplete", res.Err)
					}
					if len(r.d.closedData) != 1 || r.d.closedData[0] != r.d.opens[0] {
						t.Errorf("data connection not dropped: %v", r.d.closedData)
					}
				}
			}
			if p.name == "greeting" || p.name == "after USER" {
				replyError(t, r.login.once(t).Err, 421)
			}
		})
	}
}

func TestReplyTimeout(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{Reply: 3 * time.Second}})
	r.loggedIn()
	r.advance(time.Hour) // idle: no deadline without Timeouts.Idle
	r.state(states.Ready)
	o := r.do(ftp.Cmd("NOOP"), nil)
	r.sent("NOOP")
	r.advance(2999 * time.Millisecond)
	r.state(states.Command)
	r.advance(time.Millisecond)
	err := r.failed(ftp.ErrTimeout)
	var te *ftp.TimeoutError
	if !errors.As(err, &te) || te.Op != "reply to NOOP" {
		t.Fatalf("error %v", err)
	}
	if o.once(t).Err != err {
		t.Errorf("request got %v", o.res.Err)
	}
	// A late reply is ignored.
	r.recv("200 late")
	r.state(states.Failed)
}

func TestIdleTimeout(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{Idle: time.Minute}})
	r.loggedIn()
	r.advance(59 * time.Second)
	o := r.do(ftp.Cmd("NOOP"), nil) // activity resets the idle clock
	r.sent("NOOP")
	r.advance(29 * time.Second) // within the default reply timeout of 30s
	r.recv("200 ok")
	o.once(t)
	r.advance(59 * time.Second)
	r.state(states.Ready)
	r.advance(time.Second)
	err := r.failed(ftp.ErrTimeout)
	var te *ftp.TimeoutError
	if !errors.As(err, &te) || te.Op != "idle" {
		t.Fatalf("error %v", err)
	}
}

func TestControlClosed(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("NOOP"), nil)
	r.sent("NOOP")
	r.s.ControlClosed(io.EOF)
	err := r.failed(ftp.ErrClosed)
	var ce *ftp.ClosedError
	if !errors.As(err, &ce) || ce.Err != nil || !strings.Contains(ce.During, "NOOP") {
		t.Fatalf("error %#v", err)
	}
	if !errors.Is(o.once(t).Err, ftp.ErrClosed) {
		t.Errorf("request got %v", o.res.Err)
	}

	reset := errors.New("connection reset by peer")
	r = newRig(t, nil)
	r.recv("220-partial")
	r.s.ControlClosed(reset)
	err = r.failed(ftp.ErrClosed)
	if !errors.Is(err, reset) {
		t.Fatalf("error %v does not wrap the cause", err)
	}
	r.login.once(t)
}

func TestQuit(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("QUIT"), nil)
	r.sent("QUIT")
	r.state(states.Quitting)
	r.recv("221 Goodbye")
	if res := o.once(t); res.Err != nil || res.Reply.Code != 221 {
		t.Fatalf("QUIT result %+v", res)
	}
	if r.ended(states.Closed) != nil {
		t.Fatalf("clean end with error %v", r.s.Err())
	}
	r.s.ControlClosed(nil) // the server's FIN after 221 changes nothing
	r.state(states.Closed)

	// A server that just closes after QUIT is fine too.
	r = newRig(t, nil)
	r.loggedIn()
	o = r.do(ftp.Cmd("QUIT"), nil)
	r.sent("QUIT")
	r.s.ControlClosed(nil)
	if res := o.once(t); res.Err != nil {
		t.Fatalf("QUIT result %+v", res)
	}
	r.ended(states.Closed)
}

func TestCloseAndAbort(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	a := r.do(ftp.Cmd("NOOP"), nil)
	b := r.do(ftp.Cmd("PWD"), nil)
	r.sent("NOOP")
	r.s.Close()
	err := r.ended(states.Closed)
	if !errors.Is(err, ftp.ErrCanceled) || !errors.Is(a.once(t).Err, ftp.ErrCanceled) || !errors.Is(b.once(t).Err, ftp.ErrCanceled) {
		t.Fatalf("close: %v, %v, %v", err, a.res.Err, b.res.Err)
	}
	r.s.Close() // twice is fine
	r.s.Abort(errors.New("late"))
	r.state(states.Closed)
	if r.d.closed != 1 {
		t.Fatalf("driver closed %d times", r.d.closed)
	}

	cause := errors.New("caller gave up")
	r = newRig(t, nil)
	r.s.Abort(cause)
	if !errors.Is(r.failed(cause), cause) || r.login.once(t).Err != cause {
		t.Fatal("abort did not report its cause")
	}
}

// TestDoneMayQueueMore: a completion callback queues the next request, as
// the article's command list does.
func TestDoneMayQueueMore(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	var second *outcome
	r.s.Do(&Request{Cmd: ftp.Cmd("PWD"), Done: func(res Result) {
		second = r.do(ftp.Cmd("CWD", res.Value.(string)+"sub"), nil)
	}})
	r.sent("PWD")
	r.recv(`257 "/home/"`)
	r.sent("CWD /home/sub")
	r.recv("250 ok")
	if second.once(t).Err != nil {
		t.Fatal(second.res.Err)
	}
	r.state(states.Ready)
}

// TestCustomHandlerFollowUp: a request's own handler sends a follow-up
// command and reads its reply, without the engine knowing either.
func TestCustomHandlerFollowUp(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	var h2 handlers.Handler = func(x handlers.Exchange, rep ftp.Reply) error {
		x.SetResult(rep.Last())
		return nil
	}
	o := &outcome{}
	r.s.Do(&Request{Cmd: ftp.Cmd("SITE", "ONE"), Handler: func(x handlers.Exchange, rep ftp.Reply) error {
		if rep.Code != 200 {
			return rep.Err(x.Command())
		}
		return x.Send(ftp.Cmd("SITE", "TWO"), h2)
	}, Done: o.done})
	r.sent("SITE ONE")
	r.recv("200 one")
	r.sent("SITE TWO")
	r.state(states.Command)
	r.recv("200 two")
	if res := o.once(t); res.Err != nil || res.Value != "two" {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
}

// TestHandlerMayNotFireIllegalEvents: a handler that fires an event the table
// does not allow fails its request.
func TestHandlerMayNotFireIllegalEvents(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := &outcome{}
	r.s.Do(&Request{Cmd: ftp.Cmd("NOOP"), Handler: func(x handlers.Exchange, rep ftp.Reply) error {
		return x.Fire(states.LoggedIn)
	}, Done: o.done})
	r.sent("NOOP")
	r.recv("200 ok")
	if err := o.once(t).Err; !errors.Is(err, ftp.ErrProtocol) {
		t.Fatalf("illegal event: %v", err)
	}
	r.state(states.Ready)
}

// TestQuitRefused is a regression test found by FuzzSession: a failure reply
// to QUIT used to fail the session with an "illegal move" protocol error.
func TestQuitRefused(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("QUIT"), nil)
	r.sent("QUIT")
	r.recv("500 QUIT not understood")
	replyError(t, o.once(t).Err, 500)
	if err := r.ended(states.Closed); err != nil {
		t.Fatalf("session error %v", err)
	}
}
