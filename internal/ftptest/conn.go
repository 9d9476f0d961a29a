package ftptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Conn is one control connection as the script sees it, with its data
// listener and data connections. Steps, and Func's function, run in the
// connection's own goroutine; a Conn must not be used from any other.
type Conn struct {
	srv     *Server
	n       int
	timeout time.Duration // how long steps wait for the client

	raw    *net.TCPConn // the control connection's TCP socket
	ctrl   net.Conn     // raw, or the *tls.Conn over it after StartTLS
	r      *bufio.Reader
	tlsCfg *tls.Config // the StartTLS config, the default for DataAcceptTLS

	ln         *net.TCPListener // current data listener, or nil
	refuseNext bool             // DataRefuse ran with no listener open
	data       []*dataConn      // data connections, the last one is current
	lastPort   string           // the most recent PORT or EPRT command
	split      bool             // SplitWrites: every later write goes out a byte at a time

	mu      sync.Mutex
	closers []io.Closer // raw sockets and listeners to close on abort
	aborted bool
}

type dataConn struct {
	c   net.Conn     // raw, or a *tls.Conn over it
	raw *net.TCPConn // the TCP socket
	tap *tapConn     // under the *tls.Conn, if TLS (tlsfaults.go)
}

// Sentinel errors that end a script without an error being reported.
var (
	errHangUp = errors.New("ftptest: script ended by Close")  // drain until the client closes
	errStall  = errors.New("ftptest: script ended by Stall")  // drain, no FIN
	errGone   = errors.New("ftptest: script ended by Reset")  // nothing more to do
	errClosed = errors.New("ftptest: server is being closed") // Close interrupted a step
)

func newConn(s *Server, n int, raw *net.TCPConn) *Conn {
	c := &Conn{srv: s, n: n, timeout: s.cfg.timeout, raw: raw, ctrl: raw, r: bufio.NewReader(raw)}
	c.closers = append(c.closers, raw)
	return c
}

// serve plays the connection's script; it runs in the connection's goroutine.
func (c *Conn) serve() {
	defer c.srv.connEnded(c)
	defer c.closeAll()
	script := c.srv.scriptFor(c.n)
	for i, st := range script {
		err := st.do(c)
		if err == nil {
			continue
		}
		terminal := errors.Is(err, errHangUp) || errors.Is(err, errStall) || errors.Is(err, errGone)
		switch {
		case terminal && i < len(script)-1:
			c.srv.t.Errorf("ftptest: conn %d: script[%d] %s ends the script, but %d step(s) follow it", c.n, i, st.name, len(script)-1-i)
		case terminal: // Close, Stall or Reset: the script's own end
		case c.srv.isClosed(): // interrupted by Server.Close: nobody's fault
		default:
			c.srv.t.Errorf("ftptest: conn %d: script[%d] %s: %v", c.n, i, st.name, err)
		}
		if errors.Is(err, errHangUp) || errors.Is(err, errStall) {
			c.drain()
		}
		return
	}
	c.hangUp()
	c.drain()
}

// drain reads and records lines until the client closes the connection or the
// server is closed.
func (c *Conn) drain() {
	c.ctrl.SetReadDeadline(time.Time{})
	for {
		if _, _, err := c.readLine(false); err != nil {
			return
		}
	}
}

// hangUp sends the client an orderly end of the control connection: a TLS
// close_notify alert if TLS is on, then a TCP FIN. Reading stays open.
func (c *Conn) hangUp() {
	if tc, ok := c.ctrl.(*tls.Conn); ok {
		tc.SetWriteDeadline(time.Now().Add(c.timeout))
		tc.CloseWrite()
	}
	c.raw.CloseWrite()
}

// track registers a socket or listener to be closed when the server is
// closed; it closes it at once and fails if that has already happened.
func (c *Conn) track(cl io.Closer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		cl.Close()
		return errClosed
	}
	c.closers = append(c.closers, cl)
	return nil
}

// abort closes everything the connection has open; Server.Close calls it
// from another goroutine to interrupt whatever the script is waiting for.
func (c *Conn) abort() {
	c.mu.Lock()
	c.aborted = true
	closers := c.closers
	c.closers = nil
	c.mu.Unlock()
	for _, cl := range closers {
		cl.Close()
	}
}

// closeAll ends the connection at the end of its goroutine: it closes the
// control connection, the data listener and the data connections still open,
// at the TCP level (no TLS close_notify).
func (c *Conn) closeAll() { c.abort() }

// N returns the connection's number: the server's n-th accepted control
// connection, counting from 1.
func (c *Conn) N() int { return c.n }

// Timeout returns how long steps on this connection wait for the client.
func (c *Conn) Timeout() time.Duration { return c.timeout }

// Done returns a channel that is closed when Server.Close is called. Func
// code that waits for something should also wait for it.
func (c *Conn) Done() <-chan struct{} { return c.srv.done }

// NetConn returns the control connection: the TCP connection, or the
// *tls.Conn over it after StartTLS.
func (c *Conn) NetConn() net.Conn { return c.ctrl }

// DataListener returns the data listener opened by the last Passive step or
// ListenData, or nil if there is none (or it was closed by DataRefuse).
func (c *Conn) DataListener() net.Listener {
	if c.ln == nil {
		return nil
	}
	return c.ln
}

// Data returns the current data connection (the one accepted or dialed last,
// a *tls.Conn if it was set up with TLS), or nil if there is none.
func (c *Conn) Data() net.Conn {
	if d := c.currentData(); d != nil {
		return d.c
	}
	return nil
}

func (c *Conn) currentData() *dataConn {
	if len(c.data) == 0 {
		return nil
	}
	return c.data[len(c.data)-1]
}

// Run plays steps on the connection, in order, stopping at the first error,
// which it returns; Func code uses it to choose steps as it goes.
func (c *Conn) Run(steps ...Step) error {
	for _, st := range steps {
		if err := st.do(c); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// ReadLine reads one line from the control connection, waiting at most the
// server's timeout, records it in Server.Commands and returns it without its
// line end ("\r\n" or a bare "\n").
func (c *Conn) ReadLine() (string, error) {
	line, _, err := c.readLine(true)
	return line, err
}

// readLine reads and records one command line. It reports whether the line
// ended with CRLF. A line cut short by the end of the stream is recorded and
// returned along with an error.
func (c *Conn) readLine(withTimeout bool) (line string, crlf bool, err error) {
	if withTimeout {
		c.ctrl.SetReadDeadline(time.Now().Add(c.timeout))
	}
	s, err := c.r.ReadString('\n')
	if err != nil {
		if s != "" {
			c.srv.record(c.n, s)
			c.srv.logf(c.n, "C: %q (cut short)", abbrev(s))
		}
		return s, false, c.readErr(err, s)
	}
	crlf = strings.HasSuffix(s, "\r\n")
	line = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	c.srv.record(c.n, line)
	if len(line) > 5 && (strings.EqualFold(line[:5], "PORT ") || strings.EqualFold(line[:5], "EPRT ")) {
		c.lastPort = line
	}
	if crlf {
		c.srv.logf(c.n, "C: %s", line)
	} else {
		c.srv.logf(c.n, "C: %q", abbrev(s))
	}
	return line, crlf, nil
}

// readErr turns a read error into one that says what happened.
func (c *Conn) readErr(err error, partial string) error {
	switch {
	case c.srv.isClosed():
		return errClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		if partial != "" {
			return fmt.Errorf("client sent %q but no line end within %v", partial, c.timeout)
		}
		return fmt.Errorf("nothing from the client within %v", c.timeout)
	case isPeerGone(err):
		if partial != "" {
			return fmt.Errorf("client sent %q without a line end, then closed the connection: %w", partial, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("client closed the connection: %w", err)
	}
	return err
}

// isPeerGone tells whether err means the other side closed or reset the
// connection.
func isPeerGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF)
}

// WriteLine writes line and CRLF to the control connection in one write.
func (c *Conn) WriteLine(line string) error {
	if err := c.write([]byte(line + "\r\n")); err != nil {
		return err
	}
	c.srv.logf(c.n, "S: %s", line)
	return nil
}

// Write writes p to the control connection as it is, waiting at most the
// server's timeout for the client to take it.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.write(p); err != nil {
		return 0, err
	}
	c.srv.logf(c.n, "S: %q", abbrev(string(p)))
	return len(p), nil
}

func (c *Conn) write(p []byte) error {
	c.ctrl.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.ctrl.Write(p)
	return c.writeErr(err)
}

func (c *Conn) writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case c.srv.isClosed():
		return errClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("client did not read within %v", c.timeout)
	}
	return err
}

// ListenData opens a new data listener on 127.0.0.1 and returns its port;
// it closes the previous data listener, if any. Passive steps use it.
func (c *Conn) ListenData() (port int, err error) {
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	if err := c.track(ln); err != nil {
		return 0, err
	}
	port = ln.Addr().(*net.TCPAddr).Port
	if c.refuseNext {
		c.refuseNext = false
		ln.Close()
		c.srv.logf(c.n, "data: port %d closed at once (DataRefuse)", port)
		return port, nil
	}
	c.ln = ln
	return port, nil
}

// addData makes conn the current data connection, first doing the server's
// side of a TLS handshake over it if cfg is not nil.
func (c *Conn) addData(raw *net.TCPConn, cfg *tls.Config) error {
	if err := c.track(raw); err != nil {
		return err
	}
	d := &dataConn{c: raw, raw: raw}
	c.data = append(c.data, d)
	if cfg == nil {
		if c.split {
			d.c = &tapConn{Conn: raw, split: true}
		}
		return nil
	}
	d.tap = &tapConn{Conn: raw, split: c.split}
	tc := tls.Server(d.tap, cfg)
	d.c = tc
	raw.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		if c.srv.isClosed() {
			return errClosed
		}
		return fmt.Errorf("TLS handshake on the data connection: %w", err)
	}
	raw.SetDeadline(time.Time{})
	return nil
}

// dataOrErr returns the current data connection or an error saying that a
// step needs one.
func (c *Conn) dataOrErr() (*dataConn, error) {
	d := c.currentData()
	if d == nil {
		return nil, errors.New("no data connection (missing DataAccept or DataConnect?)")
	}
	return d, nil
}

// readerConn is a net.Conn whose reads come from r, so that bytes already
// buffered by the control reader are not lost when TLS starts.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (rc readerConn) Read(p []byte) (int, error) { return rc.r.Read(p) }
