package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/session"
)

// Options configure an Engine.
type Options struct {
	// Loops is the number of event loops; 0 means one (swarm.Loops and the
	// command line's --loops 0 ask for one per core). Each session and its data
	// connections live on one loop; sessions are dealt to loops in turn.
	Loops int
	// ConnectTimeout bounds each TCP dial (default 10s).
	ConnectTimeout time.Duration
	// Tick is how often deadlines are swept (default 50ms): the resolution of
	// every timeout.
	Tick time.Duration
	// UploadChunk is the size of one on-loop upload read (default 64 KiB); at most
	// four chunks wait in a connection's outbound buffer.
	UploadChunk int
	// TLS says how FTPS servers are authenticated for sessions opened with
	// Open and OpenObserved (OpenWith takes its own); see package ftptls.
	TLS ftptls.Options
	// Handshakers bounds the goroutines that run TLS handshakes (default
	// 8 per CPU; see handshakers). A handshake waits on the network for most
	// of its time, so the bound is a multiple of the cores, not the cores.
	Handshakers int
	// HandshakeTimeout bounds a control connection's TLS handshake, from the
	// moment it is queued (default ConnectTimeout). A data connection's
	// handshake is bounded by the session's data timeouts instead.
	HandshakeTimeout time.Duration
	// LocalAddrs, if set, are the source addresses sessions connect from, one
	// after the other: session k's control connection is bound to
	// LocalAddrs[k mod len], and its data connections to the same address.
	// One host then opens more connections to one server than one source
	// address has ports for (on loopback, 127.0.0.2 and 127.0.0.3 beside
	// 127.0.0.1). Empty: the system picks.
	LocalAddrs []netip.Addr
}

// ErrEngineClosed is returned by Open once Close has begun.
var ErrEngineClosed = fmt.Errorf("%w: engine closed", ftp.ErrClosed)

// Engine runs FTP sessions on gnet event loops.
type Engine struct {
	opts    Options
	clis    []*gnet.Client // one per loop (see New)
	h       *handler
	loops   []*loop
	ticked  atomic.Pointer[[]*loop] // loops, published for the ticker goroutine
	anchors []*os.File              // our ends of the socket pairs that hold each loop

	mu       sync.Mutex // guards stopping and the WaitGroup's Add
	stopping bool
	wg       sync.WaitGroup // dialling and off-loop goroutines
	dialCtx  context.Context
	cancel   context.CancelFunc
	dialers  *dialers     // goroutines that run the blocking dials
	hs       *handshakers // goroutines that run TLS handshakes

	next   atomic.Uint64 // session ids
	rr     atomic.Uint64 // round robin over loops
	src    atomic.Uint64 // round robin over LocalAddrs
	active atomic.Int64  // sessions not yet ended
}

// New starts an engine.
func New(opts Options) (*Engine, error) {
	if opts.Loops <= 0 {
		opts.Loops = 1
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.Tick <= 0 {
		opts.Tick = 50 * time.Millisecond
	}
	if opts.UploadChunk <= 0 {
		opts.UploadChunk = 64 << 10
	}
	if opts.Handshakers <= 0 {
		opts.Handshakers = 8 * runtime.GOMAXPROCS(0)
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = opts.ConnectTimeout
	}
	for _, a := range opts.LocalAddrs {
		if !a.IsValid() {
			return nil, fmt.Errorf("%w: engine: a LocalAddrs entry is not an address", ftp.ErrInvalidArgument)
		}
	}
	e := &Engine{opts: opts, dialers: newDialers(), hs: newHandshakers(opts.Handshakers)}
	e.dialCtx, e.cancel = context.WithCancel(context.Background())
	e.h = &handler{e: e, anchored: make(chan *loop, opts.Loops)}
	// One gnet client of one loop per engine loop: Client.EnrollContext then
	// puts a connection on that very loop from the dialling goroutine itself,
	// where EventLoop.Enroll would hand it to gnet's worker pool first (two
	// more goroutine hand-offs, about 19 µs of CPU per connection here; see
	// bench/micro). Only the first client runs the ticker.
	for i := 0; i < opts.Loops; i++ {
		cli, err := gnet.NewClient(e.h,
			gnet.WithNumEventLoop(1),
			gnet.WithTicker(i == 0),
			// Go's dialer has set TCP_NODELAY on the socket already; TCPDelay
			// only stops gnet from setting it a second time on the duplicate.
			gnet.WithTCPNoDelay(gnet.TCPDelay),
			gnet.WithLogger(quietLogger{}),
		)
		if err != nil {
			e.Close()
			return nil, err
		}
		if err := cli.Start(); err != nil {
			e.Close()
			return nil, err
		}
		e.clis = append(e.clis, cli)
		// gnet's client hands out no handle to its loop. Enrol one end of a
		// socket pair; its OnOpen tells us the loop. The anchors stay for the
		// engine's life.
		if err := e.anchor(cli); err != nil {
			e.Close()
			return nil, err
		}
		l := <-e.h.anchored
		l.cli = cli
		e.loops = append(e.loops, l)
	}
	loops := e.loops
	e.ticked.Store(&loops)
	return e, nil
}

func (e *Engine) anchor(cli *gnet.Client) error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("engine: socketpair: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "anchor")
	theirs := os.NewFile(uintptr(fds[1]), "anchor-loop")
	defer theirs.Close()
	c, err := net.FileConn(theirs)
	if err != nil {
		ours.Close()
		return err
	}
	if _, err := cli.EnrollContext(c, anchorCtx{}); err != nil {
		ours.Close()
		return err
	}
	e.anchors = append(e.anchors, ours)
	return nil
}

// Loops returns the number of event loops.
func (e *Engine) Loops() int { return len(e.loops) }

// Active returns the number of sessions that have not ended.
func (e *Engine) Active() int { return int(e.active.Load()) }

// Open starts a session to addr (host:port) and returns at once. The session
// dials off the loop, enrols on a loop, reads the greeting and logs in; onLogin
// (optional) runs on that loop with the login's result. Work queued with
// Conn.Do before the login finishes waits for it.
//
// FTPS (cfg.TLS set) runs on the same loop: implicit TLS from the first byte,
// or AUTH TLS after the greeting, then PBSZ 0 and PROT P; the server is
// authenticated as Options.TLS says. The handshakes run on the engine's
// handshake workers; after them no goroutine of the session remains.
func (e *Engine) Open(addr string, cfg *session.Config, onLogin func(*Conn, session.Result)) (*Conn, error) {
	return e.open(addr, cfg, &e.opts.TLS, loginFunc(onLogin))
}

// OpenOptions are what OpenWith takes beyond the session's Config.
type OpenOptions struct {
	// TLS says how an FTPS server is authenticated (nil: the engine's
	// Options.TLS).
	TLS *ftptls.Options
	// Observer hears how the session progresses (nil: nothing).
	Observer Observer
}

// OpenWith is Open with per-session TLS options and an Observer.
func (e *Engine) OpenWith(addr string, cfg *session.Config, o OpenOptions) (*Conn, error) {
	t := o.TLS
	if t == nil {
		t = &e.opts.TLS
	}
	return e.open(addr, cfg, t, o.Observer)
}

func (e *Engine) open(addr string, cfg *session.Config, to *ftptls.Options, obs Observer) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var st *ftptls.Setup
	if cfg.TLS != session.TLSNone {
		var err error
		if st, err = to.Setup(addr); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return nil, ErrEngineClosed
	}
	e.wg.Add(1)
	e.mu.Unlock()

	l := e.loops[int(e.rr.Add(1)-1)%len(e.loops)]
	ct := &ctrl{e: e, loop: l, idx: -1, tlsSetup: st, addr: addr, implicit: cfg.TLS == session.TLSImplicit, local: e.localAddr()}
	ct.conn.ct = ct
	ct.s = session.New(e.next.Add(1), cfg, ct)
	if obs == nil {
		obs = loginFunc(nil)
	}
	ct.obs = obs
	e.active.Add(1)
	l.dialStarted(ct)
	e.dialers.run(func() { e.dial(ct, addr) })
	return &ct.conn, nil
}

// Observer hears how a session started by [Engine.OpenObserved] progresses. Its
// methods run on the session's loop and must not block; there, [Conn.Session]
// gives the session itself.
type Observer interface {
	// Connected runs once the control connection is up, before the greeting.
	Connected(c *Conn)
	// LoggedIn runs once with the login's result; Err is set when the login
	// failed or the connection could not be made (Connected never ran then).
	LoggedIn(c *Conn, r session.Result)
	// Ended runs once, last, when the session is over and its control
	// connection closed (or never opened), with the session's error: nil
	// after a clean QUIT. A session that dies while idle is reported here only.
	Ended(c *Conn, err error)
}

// OpenObserved is Open with an Observer instead of a login callback: one value
// per session (a swarm's record of it, say) instead of a closure, and a
// notice when the TCP connection is up. obs may be nil.
func (e *Engine) OpenObserved(addr string, cfg *session.Config, obs Observer) (*Conn, error) {
	return e.open(addr, cfg, &e.opts.TLS, obs)
}

// loginFunc adapts Open's callback to an Observer.
type loginFunc func(*Conn, session.Result)

func (loginFunc) Connected(*Conn)    {}
func (loginFunc) Ended(*Conn, error) {}
func (f loginFunc) LoggedIn(c *Conn, r session.Result) {
	if f != nil {
		f(c, r)
	}
}

// dial runs on its own goroutine: connect with a timeout, then enrol the
// connection on the session's loop.
func (e *Engine) dial(ct *ctrl, addr string) {
	defer e.wg.Done()
	d := net.Dialer{Timeout: e.opts.ConnectTimeout, LocalAddr: ct.local}
	c, err := dialTCP(e.dialCtx, &d, "tcp", addr)
	if err != nil {
		e.dialFailed(ct, dialError(addr, err))
		return
	}
	if err := ct.loop.enroll(c, ct); err != nil {
		e.dialFailed(ct, err)
	}
}

func dialError(addr string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", &ftp.TimeoutError{Op: "connect to " + addr}, err)
	}
	return &ftp.ClosedError{During: "connect to " + addr, Err: err}
}

func (e *Engine) dialFailed(ct *ctrl, err error) {
	// Report on the loop, like every other outcome.
	if !ct.loop.execute(func() { ct.connectFailed(err) }) {
		// The loop is gone (engine stopped): report from here; nothing else
		// can touch the session any more.
		ct.connectFailed(err)
	}
}

// Close ends every session (without QUIT), waits for the engine's goroutines
// and stops the loops. It is safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return nil
	}
	e.stopping = true
	e.mu.Unlock()

	e.cancel()
	e.hs.cancelAll(ErrEngineClosed) // handshakes end; their results still reach the loops
	e.wg.Wait()                     // dials finish (aborted) or are enrolled; the loops still run

	for _, l := range e.loops {
		// Through the inbox: after everything queued so far (the reports of
		// the dials that just failed among it).
		done := make(chan struct{})
		if l.execute(func() { l.closeAll(); close(done) }) {
			<-done
		}
	}
	e.wg.Wait() // off-loop data goroutines see their connections closed
	for _, l := range e.loops {
		l.halt() // every result and Run queued so far runs; later Runs run on their caller
	}
	e.dialers.close()
	for _, f := range e.anchors {
		f.Close()
	}
	var err error
	for _, cli := range e.clis {
		if serr := cli.Stop(); err == nil {
			err = serr
		}
	}
	return err
}

// Conn is a session on the engine, for use from any goroutine.
type Conn struct{ ct *ctrl }

// ID returns the session id.
func (c *Conn) ID() uint64 { return c.ct.s.ID() }

// Session returns the session itself. Only code running on the session's loop
// (an Observer, a Request's Done, a function given to Run) may use it.
func (c *Conn) Session() *session.Session { return c.ct.s }

// Do queues a request on the session's loop. req.Done runs on the loop.
func (c *Conn) Do(req *session.Request) {
	c.Run(func(s *session.Session) { s.Do(req) })
}

// Run runs f with the session on its loop. If the engine is closed, f runs with
// the (ended) session on the calling goroutine so that callbacks still fire.
func (c *Conn) Run(f func(*session.Session)) {
	ct := c.ct
	if !ct.loop.execute(func() { f(ct.s) }) {
		ct.mu.Lock()
		defer ct.mu.Unlock()
		if !ct.s.Terminal() {
			ct.s.Abort(ErrEngineClosed)
		}
		f(ct.s)
	}
}

// Abort ends the session at once with err.
func (c *Conn) Abort(err error) { c.Run(func(s *session.Session) { s.Abort(err) }) }

// Close ends the session at once, without QUIT.
func (c *Conn) Close() { c.Run(func(s *session.Session) { s.Close() }) }
