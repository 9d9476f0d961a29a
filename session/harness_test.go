package session

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// fakeDriver is a session.Driver with no sockets: it records every request
// the session makes. It checks that each Write is exactly one CRLF line.
type fakeDriver struct {
	t          testing.TB
	out        []string // control lines written, CRLF removed, not yet checked
	all        []string // every control line written
	opens      []*DataRequest
	listens    []*DataRequest // active mode: Listen calls
	closedData []*DataRequest
	tls        int
	closed     int
	next       time.Time // the last Reschedule
}

func (d *fakeDriver) Write(p []byte) {
	line, ok := strings.CutSuffix(string(p), "\r\n")
	if !ok || strings.ContainsAny(line, "\r\n\x00") {
		d.t.Errorf("Write(%q) is not one CRLF-terminated line", p)
	}
	if d.closed > 0 {
		d.t.Errorf("Write(%q) after Close", p)
	}
	d.out = append(d.out, line)
	d.all = append(d.all, line)
}
func (d *fakeDriver) OpenData(req *DataRequest)  { d.opens = append(d.opens, req) }
func (d *fakeDriver) CloseData(req *DataRequest) { d.closedData = append(d.closedData, req) }
func (d *fakeDriver) StartTLS()                  { d.tls++ }
func (d *fakeDriver) Close()                     { d.closed++ }
func (d *fakeDriver) Reschedule(t time.Time)     { d.next = t }
func (d *fakeDriver) Listen(req *DataRequest)    { d.listens = append(d.listens, req) }

// rawSink keeps transcript entries exactly as the session gives them (no
// masking of its own), so tests see what the session itself lets out.
type rawSink struct{ entries []transcript.Entry }

func (r *rawSink) Record(e transcript.Entry) { r.entries = append(r.entries, e) }

func (r *rawSink) text() string {
	var b strings.Builder
	for _, e := range r.entries {
		b.WriteString(e.Dir.String() + ": " + e.Line + "\n")
	}
	return b.String()
}

// outcome collects the Done calls of one request.
type outcome struct {
	calls int
	res   Result
}

func (o *outcome) done(r Result) { o.calls++; o.res = r }

// rig drives one Session through a fakeDriver with a fake clock.
type rig struct {
	t     *testing.T
	d     *fakeDriver
	s     *Session
	cfg   *Config
	now   time.Time
	login outcome
	trace rawSink
	moves []string // every state change, "from -event-> to"
}

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newRig makes a session with cfg (nil: anonymous defaults) and connects it.
func newRig(t *testing.T, cfg *Config) *rig {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	r := &rig{t: t, d: &fakeDriver{t: t}, cfg: cfg, now: epoch}
	cfg.Now = func() time.Time { return r.now }
	if cfg.Transcript == nil {
		cfg.Transcript = &r.trace
	}
	cfg.OnState = func(id uint64, from, to, event string) {
		r.moves = append(r.moves, from+" -"+event+"-> "+to)
	}
	r.s = New(7, cfg, r.d)
	if r.s.State() != states.Connecting {
		t.Fatalf("new session in %q", r.s.State())
	}
	r.s.Connected("127.0.0.1:21", "127.0.0.1:50000", r.login.done)
	r.state(states.Greeting)
	return r
}

// recv feeds lines, each with CRLF, in one Receive call.
func (r *rig) recv(lines ...string) {
	r.t.Helper()
	r.s.Receive([]byte(strings.Join(lines, "\r\n") + "\r\n"))
}

// sent checks the lines written since the last call.
func (r *rig) sent(want ...string) {
	r.t.Helper()
	got := r.d.out
	r.d.out = nil
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		r.t.Fatalf("session wrote %q, want %q", got, want)
	}
}

func (r *rig) state(want string) {
	r.t.Helper()
	if got := r.s.State(); got != want {
		r.t.Fatalf("state %q, want %q (moves %q)", got, want, r.moves)
	}
}

// advance moves the clock on by d and runs Tick as a driver would: when the
// time the session asked for has come.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.now = r.now.Add(d)
	for i := 0; i < 10 && !r.d.next.IsZero() && !r.now.Before(r.d.next); i++ {
		r.d.next = time.Time{}
		r.s.Tick(r.now)
	}
}

// loggedIn runs the anonymous login 220, USER, 331, PASS, 230.
func (r *rig) loggedIn() {
	r.t.Helper()
	r.recv("220 Service ready")
	r.sent("USER " + r.cfg.user())
	r.recv("331 Password required")
	r.sent("PASS " + r.cfg.password())
	r.recv("230 Logged in")
	r.sent()
	r.state(states.Ready)
	if r.login.calls != 1 || r.login.res.Err != nil {
		r.t.Fatalf("login: %d calls, %v", r.login.calls, r.login.res.Err)
	}
}

// do queues a request and returns its outcome.
func (r *rig) do(cmd ftp.Command, data *Data) *outcome {
	o := &outcome{}
	r.s.Do(&Request{Cmd: cmd, Data: data, Done: o.done})
	return o
}

// failed checks that the session ended in Failed with an error matching
// target, that the driver was told to close once, and that no deadline or
// request is left.
func (r *rig) failed(target error) error {
	r.t.Helper()
	err := r.ended(states.Failed)
	if !errors.Is(err, target) {
		r.t.Fatalf("session error %v (%T), want one matching %v", err, err, target)
	}
	return err
}

// ended checks that the session is in the terminal state want, that the
// driver was told to close once, and that no deadline or request is left. It
// returns the session's error.
func (r *rig) ended(want string) error {
	r.t.Helper()
	r.state(want)
	err := r.s.Err()
	if r.d.closed != 1 {
		r.t.Fatalf("driver closed %d times, want 1", r.d.closed)
	}
	if !r.d.next.IsZero() || !r.s.Deadline().IsZero() {
		r.t.Fatalf("a deadline is left after the end: %v", r.d.next)
	}
	if r.s.Busy() {
		r.t.Fatal("requests left after the end")
	}
	return err
}

// once checks that the request finished exactly once and returns its result.
func (o *outcome) once(t *testing.T) Result {
	t.Helper()
	if o.calls != 1 {
		t.Fatalf("Done called %d times, want 1", o.calls)
	}
	return o.res
}

// replyError checks that err unpacks to an *ftp.Error with code.
func replyError(t *testing.T, err error, code int) *ftp.Error {
	t.Helper()
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("error %v (%T), want an *ftp.Error with code %d", err, err, code)
	}
	return fe
}
