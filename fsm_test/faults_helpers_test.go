package fsm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// Helpers of login_test.go, faults_test.go and leak_test.go. Names start with
// "flt" so they stay apart from the other helpers of this package.

// fltShort are the timeouts of the fault tests: short enough for a quick
// suite, long enough for a loaded machine running -race.
var fltShort = session.Timeouts{
	Greeting:    2 * time.Second,
	Reply:       2 * time.Second,
	DataConnect: 2 * time.Second,
	DataIdle:    2 * time.Second,
}

// fltFast makes every timeout short, for the tests whose fault is a wait
// that only a deadline ends.
func fltFast(cfg *session.Config) {
	cfg.Timeouts = session.Timeouts{
		Greeting:    250 * time.Millisecond,
		Reply:       250 * time.Millisecond,
		DataConnect: 250 * time.Millisecond,
		DataIdle:    250 * time.Millisecond,
	}
}

// fltBound bounds every wait of a test for the client.
const fltBound = 10 * time.Second

var fltWarm sync.Once

// fltLeaks is the goroutine and file descriptor baseline of one test.
type fltLeaks struct {
	goroutines goleak.Option
	fds        int
}

// fltBegin records the baseline. It first warms up the runtime's network
// poller, whose descriptors live as long as the process.
func fltBegin(t *testing.T) *fltLeaks {
	t.Helper()
	fltWarm.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		ln.Close()
	})
	return &fltLeaks{goroutines: goleak.IgnoreCurrent(), fds: fltFDs(t)}
}

// fltFDs counts the process's open file descriptors.
func fltFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count fds: %v", err)
	}
	return len(ents)
}

// fltFDList names the open descriptors, for a failure message.
func fltFDList() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s→%s ", e.Name(), target)
	}
	return b.String()
}

// end closes what the test opened (engine and servers first, in the order
// given) and checks that goroutines and descriptors are back to the baseline.
func (l *fltLeaks) end(t *testing.T, closers ...func()) {
	t.Helper()
	for _, c := range closers {
		c()
	}
	goleak.VerifyNone(t, l.goroutines,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
	// Closing is synchronous for every descriptor we own. Fewer than before
	// is fine: something an earlier test left behind may have closed since.
	if n := fltFDs(t); n > l.fds {
		t.Errorf("%d file descriptors open, %d before the test: %s", n, l.fds, fltFDList())
	}
}

// fltWatch records a session's state changes (Config.OnState) and reports
// its terminal state.
type fltWatch struct {
	mu    sync.Mutex
	moves []string
	end   chan string
}

func fltNewWatch() *fltWatch { return &fltWatch{end: make(chan string, 1)} }

func (w *fltWatch) onState(_ uint64, from, to, event string) {
	w.mu.Lock()
	w.moves = append(w.moves, from+" -"+event+"-> "+to)
	w.mu.Unlock()
	if states.Terminal(to) {
		select {
		case w.end <- to:
		default:
		}
	}
}

// final waits for the session to reach a terminal state and returns it.
func (w *fltWatch) final(t *testing.T) string {
	t.Helper()
	select {
	case st := <-w.end:
		w.end <- st // keep it for a later call
		return st
	case <-time.After(fltBound):
		t.Fatalf("session never ended; moves %q", w.history())
		return ""
	}
}

// ended checks the session ended in want.
func (w *fltWatch) ended(t *testing.T, want string) {
	t.Helper()
	if got := w.final(t); got != want {
		t.Fatalf("session ended in %q, want %q; moves %q", got, want, w.history())
	}
}

// last returns the most recent state, "" before any move.
func (w *fltWatch) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.moves) == 0 {
		return ""
	}
	m := w.moves[len(w.moves)-1]
	return m[strings.LastIndex(m, "> ")+2:]
}

func (w *fltWatch) history() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.moves...)
}

// fltEngine starts an engine with a fine tick.
func fltEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{Tick: 10 * time.Millisecond, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// fltConfig is a session config with short timeouts, the watch and a
// transcript.
func fltConfig(w *fltWatch, mem *transcript.Memory) session.Config {
	cfg := session.Config{Timeouts: fltShort, OnState: w.onState}
	if mem != nil {
		cfg.Transcript = mem
	}
	return cfg
}

// fltOpen opens a session on e and waits for its login result.
func fltOpen(t *testing.T, e *engine.Engine, addr string, cfg *session.Config) (*engine.Conn, session.Result) {
	t.Helper()
	login := make(chan session.Result, 1)
	conn, err := e.Open(addr, cfg, func(_ *engine.Conn, r session.Result) { login <- r })
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	select {
	case r := <-login:
		return conn, r
	case <-time.After(fltBound):
		t.Fatal("no login result")
		return nil, session.Result{}
	}
}

// fltState reads the session's state on its loop.
func fltState(t *testing.T, conn *engine.Conn) string {
	t.Helper()
	ch := make(chan string, 1)
	conn.Run(func(s *session.Session) { ch <- s.State() })
	select {
	case st := <-ch:
		return st
	case <-time.After(fltBound):
		t.Fatal("Run never ran")
		return ""
	}
}

// fltDial logs in with the blocking client on e.
func fltDial(t *testing.T, e *engine.Engine, addr string, cfg session.Config, skipSize bool) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fltBound)
	defer cancel()
	c, err := client.Dial(ctx, addr, &client.Options{Engine: e, Config: cfg, SkipSize: skipSize})
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// fltCtx bounds one call of the test.
func fltCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), fltBound)
	t.Cleanup(cancel)
	return ctx
}

// fltServer starts a scripted server whose steps wait at most 3s for the
// client.
func fltServer(t *testing.T, sc ...ftptest.Step) *ftptest.Server {
	t.Helper()
	return ftptest.NewServer(t, ftptest.Script(sc), ftptest.WithTimeout(3*time.Second))
}

// fltLogin is the anonymous login and TYPE I that client.Dial makes.
func fltLogin() []ftptest.Step {
	return []ftptest.Step{
		ftptest.Reply("220 fault server ready"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
	}
}

// fltSteps joins steps.
func fltSteps(parts ...[]ftptest.Step) []ftptest.Step {
	var all []ftptest.Step
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// fltTrickle writes s one byte every perByte for as long as the client
// listens; unlike SendSlowly it ends quietly when the client hangs up, which
// is what a client that times out does.
func fltTrickle(s string, perByte time.Duration) ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		for i := 0; i < len(s); i++ {
			select {
			case <-time.After(perByte):
			case <-c.Done():
				return nil
			}
			if _, err := c.NetConn().Write([]byte{s[i]}); err != nil {
				if fltPeerGone(err) {
					return nil
				}
				return err
			}
		}
		return nil
	})
}

// fltPeerGone tells a write error caused by the client leaving.
func fltPeerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// fltPASV answers PASV with the data listener's port written by numbers,
// a function of the port's two bytes: the defensive parser must recover the
// port from values over 255 or negative.
func fltPASV(numbers func(hi, lo int) string) ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		port, err := c.ListenData()
		if err != nil {
			return err
		}
		return c.WriteLine("227 Entering Passive Mode (127,0,0,1," + numbers(port>>8, port&0xff) + ")")
	})
}

// fltNoSecondData fails unless nobody connects to the data listener again
// within wait: one transfer, one data connection.
func fltNoSecondData(wait time.Duration) ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		ln, ok := c.DataListener().(*net.TCPListener)
		if !ok || ln == nil {
			return errors.New("no data listener")
		}
		ln.SetDeadline(time.Now().Add(wait))
		conn, err := ln.Accept()
		if err == nil {
			conn.Close()
			return errors.New("the client opened a second data connection")
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		return nil
	})
}

// fltReplyErr checks err unpacks to an *ftp.Error with code.
func fltReplyErr(t *testing.T, err error, code int) *ftp.Error {
	t.Helper()
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("error %v (%T), want an *ftp.Error with code %d", err, err, code)
	}
	return fe
}

// fltIs checks errors.Is(err, target).
func fltIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v (%T) does not match %v", err, err, target)
	}
}

// fltRefusedAddr returns a loopback address that refuses connections while
// the test runs.
func fltRefusedAddr(t *testing.T) string {
	t.Helper()
	return ftptest.RefusedAddr(t)
}
