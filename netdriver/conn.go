package netdriver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/session"
)

// Options configure one session on this driver.
type Options struct {
	// ConnectTimeout bounds each TCP dial, and for implicit FTPS the handshake
	// that follows it (default 10s). Every other wait is bounded by the
	// session's own timeouts.
	ConnectTimeout time.Duration
	// TLS says how the server is authenticated when Config.TLS is not
	// session.TLSNone.
	TLS TLSOptions
	// ID is the session id shown in transcripts; 0 takes the next of a
	// process-wide counter.
	ID uint64
	// Dial, if set, makes the control connection and every passive data
	// connection instead of net.Dialer: a SOCKS5 or HTTP CONNECT proxy
	// (golang.org/x/net/proxy's ContextDialer has this shape), an SSH
	// tunnel, an in-memory pipe. This is what netdriver serves that the
	// engine cannot: gnet carries only sockets it can poll itself. Active
	// mode still listens on a local socket.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// dial makes a connection with Options.Dial, or net.Dialer.
func (o *Options) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if o.Dial != nil {
		return o.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// ids numbers sessions whose Options.ID is 0.
var ids atomic.Uint64

// Open starts a session to addr (host:port) and returns at once; the login
// result arrives on the returned channel, exactly once. The session dials on a
// goroutine of its own, runs the implicit TLS handshake if cfg.TLS asks for
// it, reads the greeting, secures the connection with AUTH TLS if asked, logs
// in, and for TLS sends PBSZ 0 and PROT. Work queued with Conn.Do before the
// login has finished waits for it. Give up with Conn.Abort or Conn.Close.
//
// The login result comes with the 230: for TLS, PBSZ and PROT follow it, ahead
// of anything queued, and if the server refuses them the session fails and so
// does every queued request (ftp.ErrUnsupported); nothing runs unprotected.
// Configuration errors (credentials with CR/LF, a contradictory TLSOptions)
// are returned at once.
func Open(addr string, cfg *session.Config, opts Options) (*Conn, <-chan session.Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	ct := &ctrl{cfg: cfg, opts: opts, addr: addr, login: make(chan session.Result, 1), live: 1}
	if cfg.TLS != session.TLSNone {
		st, err := opts.TLS.Setup(addr)
		if err != nil {
			return nil, nil, err
		}
		ct.tls = st
	}
	id := opts.ID
	if id == 0 {
		id = ids.Add(1)
	}
	ct.s = session.New(id, cfg, ct)
	ct.ctx, ct.cancel = context.WithCancel(context.Background())
	ct.exec = newExecutor()
	go ct.control()
	return &Conn{ct: ct}, ct.login, nil
}

// Conn is a session on this driver, for use from any goroutine. It provides
// what client.Runner needs, so client.NewFromRunner can wrap it.
type Conn struct{ ct *ctrl }

// ID returns the session id.
func (c *Conn) ID() uint64 { return c.ct.s.ID() }

// Do queues a request. req.Done runs on the session's goroutine and must not
// block; it may call Do again.
func (c *Conn) Do(req *session.Request) { c.Run(func(s *session.Session) { s.Do(req) }) }

// Run runs f with the session on the session's goroutine, after everything
// submitted before it. Called from inside a callback, it runs after that
// callback returns. Once the session has ended and its goroutines are gone, f
// runs on the calling goroutine (still never alongside another f).
func (c *Conn) Run(f func(*session.Session)) {
	s := c.ct.s
	c.ct.exec.submit(func() { f(s) })
}

// Abort ends the session at once with err.
func (c *Conn) Abort(err error) { c.Run(func(s *session.Session) { s.Abort(err) }) }

// Close ends the session at once, without QUIT.
func (c *Conn) Close() { c.Run(func(s *session.Session) { s.Close() }) }

// Done is closed once the session has ended and every goroutine of the driver
// has returned: its sockets are closed then. A data transfer blocked in the
// caller's own io.Writer or io.Reader holds it open until that call returns.
func (c *Conn) Done() <-chan struct{} { return c.ct.exec.done }

// ctrl is a session's control connection and its session.Driver. Its fields
// below the line belong to the executor's goroutine.
type ctrl struct {
	cfg    *session.Config
	opts   Options
	addr   string
	tls    *ftptls.Setup // nil for plain FTP
	s      *session.Session
	exec   *executor
	login  chan session.Result
	ctx    context.Context // cancelled by Close: aborts dials and handshakes
	cancel context.CancelFunc

	// ---- owned by the executor ----
	raw       net.Conn // the TCP connection, once dialled
	w         *writer
	timer     *time.Timer
	data      *dataConn
	live      int  // goroutines (control, writer, data) that have not ended
	closed    bool // Close ran
	loginSent bool
	inReceive bool // Receive is running
	upgrade   bool // StartTLS was asked during that Receive
}

// ---- the control goroutine ----

// control dials, reads the control connection and feeds the session until the
// connection ends.
func (ct *ctrl) control() {
	defer ct.exec.submit(ct.goroutineEnded)
	raw, conn, err := ct.connect()
	if err != nil {
		ct.exec.submit(func() { ct.connectFailed(err) })
		return
	}
	var ok bool
	ct.exec.call(func() { ok = ct.connected(raw, conn) })
	if !ok {
		return
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			var upgrade bool
			ct.exec.call(func() { upgrade = ct.receive(buf[:n]) })
			if upgrade {
				// The session took the 234 to AUTH TLS and dropped whatever
				// followed it in that read. Nothing else is read in clear: the
				// handshake reads the socket from here on.
				tc := tls.Client(raw, ct.tls.Config)
				herr := tc.HandshakeContext(ct.ctx)
				if herr != nil {
					herr = ct.tls.HandshakeError(ct.addr, herr) // Secured says "TLS handshake"
				}
				ct.exec.call(func() { ct.secured(tc, herr) })
				if herr != nil {
					return
				}
				conn = tc
				continue
			}
		}
		if err != nil {
			ct.exec.submit(func() { ct.s.ControlClosed(err) })
			return
		}
	}
}

// connect dials addr and, for implicit FTPS, runs the handshake.
func (ct *ctrl) connect() (raw, conn net.Conn, err error) {
	ctx, cancel := context.WithTimeout(ct.ctx, ct.opts.ConnectTimeout)
	defer cancel()
	raw, err = ct.opts.dial(ctx, "tcp", ct.addr)
	if err != nil {
		return nil, nil, dialError(ct.addr, err)
	}
	if ct.cfg.TLS != session.TLSImplicit {
		return raw, raw, nil
	}
	tc := tls.Client(raw, ct.tls.Config)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("%w: %w", &ftp.TimeoutError{Op: "TLS handshake with " + ct.addr}, err)
		}
		return nil, nil, fmt.Errorf("ftp: implicit TLS handshake: %w", ct.tls.HandshakeError(ct.addr, err))
	}
	return raw, tc, nil
}

func dialError(addr string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", &ftp.TimeoutError{Op: "connect to " + addr}, err)
	}
	return &ftp.ClosedError{During: "connect to " + addr, Err: err}
}

// ---- on the executor ----

func (ct *ctrl) connected(raw, conn net.Conn) bool {
	if ct.closed { // ended while dialling
		raw.Close()
		ct.reportLogin(session.Result{Err: ct.deadErr()})
		return false
	}
	ct.raw = raw
	ct.w = newWriter(conn)
	ct.live++
	go ct.w.run(ct.writeFailed, func() { ct.exec.submit(ct.goroutineEnded) })
	remote := raw.RemoteAddr().String()
	if ct.opts.Dial != nil {
		// Through a proxy or tunnel the connection's own peer is the proxy;
		// the server, whose host passive data connections go to, is the
		// address the session was opened for.
		remote = ct.addr
	}
	ct.s.Connected(remote, raw.LocalAddr().String(), ct.reportLogin)
	if tc, ok := conn.(*tls.Conn); ok {
		ct.noteTLS(tc.ConnectionState())
	}
	return true
}

func (ct *ctrl) connectFailed(err error) {
	if ct.s.Terminal() { // ended while dialling: that is the story, not the aborted dial
		ct.reportLogin(session.Result{Err: ct.deadErr()})
		return
	}
	ct.s.Abort(err)
	ct.reportLogin(session.Result{Err: err})
}

func (ct *ctrl) receive(p []byte) (upgrade bool) {
	ct.inReceive = true
	ct.s.Receive(p)
	ct.inReceive = false
	upgrade, ct.upgrade = ct.upgrade && !ct.closed, false
	return upgrade
}

func (ct *ctrl) secured(tc *tls.Conn, err error) {
	if err == nil && !ct.closed {
		ct.w.setConn(tc) // before Secured: the session writes USER from inside it
		ct.noteTLS(tc.ConnectionState())
	}
	ct.s.Secured(err)
}

func (ct *ctrl) noteTLS(cs tls.ConnectionState) {
	ct.s.Note(ct.tls.Describe(cs))
	ct.s.Note(ct.tls.Verify)
}

func (ct *ctrl) writeFailed(err error) {
	ct.exec.submit(func() { ct.s.ControlClosed(err) })
}

func (ct *ctrl) reportLogin(r session.Result) {
	if ct.loginSent {
		return
	}
	ct.loginSent = true
	ct.login <- r
}

func (ct *ctrl) deadErr() error {
	if err := ct.s.Err(); err != nil {
		return err
	}
	return ftp.ErrClosed
}

// goroutineEnded is the last thing each I/O goroutine submits.
func (ct *ctrl) goroutineEnded() {
	ct.live--
	ct.maybeStop()
}

// maybeStop lets the executor go once the session has ended and nothing can
// submit to it any more (the timer aside, whose late Tick finds the session
// ended).
func (ct *ctrl) maybeStop() {
	if ct.closed && ct.live == 0 {
		ct.reportLogin(session.Result{Err: ct.deadErr()})
		ct.exec.stop()
	}
}

// ---- session.Driver ----

// Write implements session.Driver.
func (ct *ctrl) Write(p []byte) {
	if ct.w != nil && !ct.closed {
		ct.w.write(p)
	}
}

// OpenData implements session.Driver.
func (ct *ctrl) OpenData(req *session.DataRequest) {
	if ct.closed {
		ct.s.DataClosed(req, 0, ftp.ErrClosed)
		return
	}
	if old := ct.data; old != nil {
		old.close() // an upload's socket left open for the server to close
	}
	d := &dataConn{ct: ct, req: req}
	ct.data = d
	ct.live++
	go d.run()
}

// CloseData implements session.Driver.
func (ct *ctrl) CloseData(req *session.DataRequest) {
	if d := ct.data; d != nil && d.req == req {
		d.close()
	}
}

// StartTLS implements session.Driver: the control goroutine runs the
// handshake as soon as the Receive that asked for it returns.
func (ct *ctrl) StartTLS() {
	switch {
	case ct.tls == nil:
		ct.exec.submit(func() { ct.s.Secured(fmt.Errorf("%w: TLS asked of a plain session", ftp.ErrUnsupported)) })
	case !ct.inReceive:
		// Only a reply (234 to AUTH TLS) can start TLS: the control goroutine
		// must be between two reads to take the socket over.
		ct.exec.submit(func() { ct.s.Secured(errors.New("netdriver: StartTLS outside a reply")) })
	default:
		ct.upgrade = true
	}
}

// Close implements session.Driver.
func (ct *ctrl) Close() {
	if ct.closed {
		return
	}
	ct.closed = true
	ct.cancel()
	if ct.timer != nil {
		ct.timer.Stop()
	}
	if ct.raw != nil {
		ct.raw.Close()
	}
	if ct.w != nil {
		ct.w.close()
	}
	if ct.data != nil {
		ct.data.close()
	}
	ct.maybeStop()
}

// Reschedule implements session.Driver with one timer, re-armed as needed.
func (ct *ctrl) Reschedule(t time.Time) {
	if t.IsZero() || ct.closed {
		if ct.timer != nil {
			ct.timer.Stop()
		}
		return
	}
	d := t.Sub(ct.now())
	if ct.timer == nil {
		ct.timer = time.AfterFunc(d, ct.tick)
		return
	}
	ct.timer.Reset(d)
}

// tick runs on the timer's goroutine.
func (ct *ctrl) tick() { ct.exec.submit(func() { ct.s.Tick(ct.now()) }) }

func (ct *ctrl) now() time.Time {
	if ct.cfg.Now != nil {
		return ct.cfg.Now()
	}
	return time.Now()
}

// ---- the writer goroutine ----

// writer writes the control connection's outgoing bytes on a goroutine of its
// own, so that the session's Write never blocks.
type writer struct {
	mu     sync.Mutex
	conn   net.Conn // the TCP connection, then the *tls.Conn over it
	buf    []byte
	closed bool
	wake   chan struct{}
}

func newWriter(conn net.Conn) *writer { return &writer{conn: conn, wake: make(chan struct{}, 1)} }

func (w *writer) write(p []byte) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	w.signal()
}

func (w *writer) setConn(c net.Conn) {
	w.mu.Lock()
	w.conn = c
	w.mu.Unlock()
}

func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
}

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *writer) run(failed func(error), ended func()) {
	defer ended()
	var out []byte
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		if len(w.buf) == 0 {
			w.mu.Unlock()
			<-w.wake
			continue
		}
		out, w.buf = w.buf, out[:0]
		conn := w.conn
		w.mu.Unlock()
		if _, err := conn.Write(out); err != nil {
			failed(err)
			return
		}
	}
}
