// Package ftptest runs a scripted FTP server on loopback for the client's tests.
// Each connection plays a Script of expected commands and replies, and can misbehave as a broken or hostile server would.
//
// A test builds a Script from Steps (Reply, Expect, PassiveEPSV, DataAccept,
// DataSend, Reset, Stall, ...) and starts a Server with NewServer. Every
// control connection the server accepts plays the script from the start, one
// step after the other, in a goroutine of its own. A step that finds the
// client doing something else than the script says (another command, no
// command within the timeout, a closed connection) reports the difference
// with the test's Errorf and ends that connection.
//
// When a script runs out, the server closes its side of the control connection
// as the Close step does, then keeps reading, and recording, whatever the
// client still sends until the client closes too. The server only ever listens
// on and connects to loopback addresses.
package ftptest

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// DefaultTimeout is how long a step waits for the client (a command line, a
// data connection, a TLS handshake, the client reading what the server writes)
// before it reports an error, unless WithTimeout or SetTimeout say otherwise.
const DefaultTimeout = 5 * time.Second

// TB is the part of testing.TB that the server uses; *testing.T, *testing.B
// and testing.TB satisfy it. Errorf is called from the server's goroutines.
type TB interface {
	Helper()                           // as testing.TB.Helper
	Cleanup(func())                    // stops the server when the test ends
	Errorf(format string, args ...any) // reports a script step the client broke
	Fatalf(format string, args ...any) // reports a server that cannot start
	Logf(format string, args ...any)   // logs what the server saw
}

// An Option changes how NewServer and NewServerFunc set up the server.
type Option func(*config)

type config struct {
	timeout time.Duration
	log     bool
}

// WithTimeout sets how long a step waits for the client before it reports an
// error (DefaultTimeout if not given or d <= 0).
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithoutLog stops the server from logging the control connection's
// transcript with t.Logf (it logs it by default; go test shows it for failed
// tests and with -v).
func WithoutLog() Option {
	return func(c *config) { c.log = false }
}

// Server is a scripted FTP server listening on 127.0.0.1. Create it with
// NewServer or NewServerFunc; its methods are safe for concurrent use.
type Server struct {
	// Addr is the control listener's address, "127.0.0.1:port".
	Addr string

	t         TB
	cfg       config
	ln        net.Listener
	scriptFor func(n int) Script

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // the accept loop and every connection's goroutine

	mu       sync.Mutex
	conns    map[*Conn]struct{} // connections whose goroutine still runs
	exited   chan struct{}      // closed and replaced whenever a connection ends
	accepted int
	commands []command
	received [][]byte
}

type command struct {
	n    int
	line string
}

// NewServer starts a server on 127.0.0.1 whose every control connection plays
// script from its first step. It registers t.Cleanup(srv.Close).
func NewServer(t TB, script Script, opts ...Option) *Server {
	t.Helper()
	return NewServerFunc(t, func(int) Script { return script }, opts...)
}

// NewServerFunc starts a server on 127.0.0.1 whose n-th control connection
// (counting from 1) plays scriptFor(n). scriptFor is called from each
// connection's goroutine, so possibly from several at once. It registers
// t.Cleanup(srv.Close).
func NewServerFunc(t TB, scriptFor func(n int) Script, opts ...Option) *Server {
	t.Helper()
	cfg := config{timeout: DefaultTimeout, log: true}
	for _, o := range opts {
		o(&cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ftptest: listen: %v", err)
		return nil
	}
	s := &Server{
		Addr:      ln.Addr().String(),
		t:         t,
		cfg:       cfg,
		ln:        ln,
		scriptFor: scriptFor,
		done:      make(chan struct{}),
		conns:     make(map[*Conn]struct{}),
		exited:    make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.Close)
	return s
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !s.isClosed() {
				s.t.Errorf("ftptest: accept: %v", err)
			}
			return
		}
		s.mu.Lock()
		if s.isClosed() {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.accepted++
		c := newConn(s, s.accepted, nc.(*net.TCPConn))
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Close stops the server: it closes the listener, every control and data
// connection and every data listener, and waits until all of the server's
// goroutines have returned (so a Stall ends here). Errors the scripts run
// into because of Close are not reported. Close may be called more than once,
// but not from a script's step, which would wait for itself.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		conns := make([]*Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		s.ln.Close()
		for _, c := range conns {
			c.abort()
		}
	})
	s.wg.Wait()
}

// Wait blocks until every control connection accepted so far has ended: its
// script has run out or stopped and the client has closed the connection. It
// reports an error with t.Errorf if that takes longer than four times the
// server's timeout, or 10s if that is more. Call it before reading Commands or Received to be sure
// that the server has read all that the client sent. Wait knows only the
// connections the server has accepted: a client that has just dialed and
// not yet read anything may not be among them.
func (s *Server) Wait() {
	s.t.Helper()
	limit := max(4*s.cfg.timeout, 10*time.Second)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		s.mu.Lock()
		open := len(s.conns)
		exited := s.exited
		s.mu.Unlock()
		if open == 0 {
			return
		}
		select {
		case <-exited:
		case <-s.done:
			s.wg.Wait()
			return
		case <-timer.C:
			s.t.Errorf("ftptest: Wait: %d connection(s) still open after %v", open, limit)
			return
		}
	}
}

// Connections returns how many control connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Commands returns every line the clients sent on control connections, in the
// order the server read them and without the line end; a last line cut short
// by the client closing is included as it came. It holds lines read by the
// script's steps and lines read after the script ended or stalled.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.commands))
	for _, c := range s.commands {
		out = append(out, c.line)
	}
	return out
}

// CommandsOf is like Commands for the n-th control connection only (counting
// from 1).
func (s *Server) CommandsOf(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.commands {
		if c.n == n {
			out = append(out, c.line)
		}
	}
	return out
}

// Received returns what each DataReceive step has read, one entry per step
// that finished, in the order they finished.
func (s *Server) Received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.received))
	copy(out, s.received)
	return out
}

func (s *Server) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Server) record(n int, line string) {
	s.mu.Lock()
	s.commands = append(s.commands, command{n, line})
	s.mu.Unlock()
}

func (s *Server) addReceived(b []byte) {
	s.mu.Lock()
	s.received = append(s.received, b)
	s.mu.Unlock()
}

// connEnded is called by a connection's goroutine as it returns.
func (s *Server) connEnded(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	close(s.exited)
	s.exited = make(chan struct{})
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) logf(n int, format string, args ...any) {
	if s.cfg.log {
		s.t.Logf("ftptest[%d] %s", n, fmt.Sprintf(format, args...))
	}
}
