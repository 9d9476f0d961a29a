// Package pool runs FTP operations on up to N logged-in sessions to one server,
// on one engine: parallel transfers, a bounded queue, and a fresh login when a session dies.
//
// A [Pool] has the blocking methods of [client.Client] (Retr, Stor, List, Size,
// …) with the same signatures; each call runs on whichever session is free, or
// waits for one. Sessions open on demand, up to Options.Size, each a
// *client.Client on the shared engine with the same credentials and options.
//
// # Failures
//
// A session that dies (a reset, a 421, a timeout) is closed and replaced by a
// fresh login the next time its slot is used. What happens to the operation
// that saw it die depends on the operation:
//
//   - Idempotent ones (List, ListRaw, NameList, Size, ModTime, Stat, Retr) run
//     again, up to Options.Retries times, after a backoff. Retr resumes with
//     REST from the bytes that already reached the caller's writer (the pool
//     counts them), so nothing is written twice.
//   - Non-idempotent ones (Stor, Append, Delete, MakeDir, RemoveDir, Rename)
//     never run again blindly. Stor resumes only when the server announces
//     "REST STREAM" in FEAT and SIZE of the remote file equals the bytes
//     sent (or the reader can seek back to the remote size); otherwise the
//     caller gets a *NotResumedError that wraps the original, typed error.
//     The others are retried only when the failure came before the command
//     was sent (the login of a fresh session failed).
//
// Failures that another try cannot cure (a 5yz reply, a cancelled context, an
// argument refused, a size that differs from SIZE) are returned at once.
// Errors keep their types: errors.Is and errors.As reach the ftp errors.
//
// Paths are best absolute: every session starts in the login directory, and
// the pool has no per-caller current directory.
package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
)

// Options configure a Pool. The zero value opens up to 4 sessions and retries
// idempotent operations 3 times.
type Options struct {
	// Size is the most sessions the pool opens, and so the most operations
	// that run at once (default 4).
	Size int
	// QueueLimit bounds the callers that wait for a session when all are busy
	// (default 4096). One more fails at once with ErrQueueFull.
	QueueLimit int
	// Retries is how many more times an operation runs after a failure that
	// a fresh session may cure (default 3; negative: never).
	Retries int
	// Backoff is the pause before the first retry (default 100ms); each
	// further retry doubles it, up to MaxBackoff (default 2s).
	Backoff, MaxBackoff time.Duration
	// Client holds the per-session client options (SkipSize, OnLoop, ASCII,
	// TLS). Its Engine and Config are ignored: the pool's are used.
	Client client.Options
	// OnRetry, if set, hears of each retry before its backoff: the operation
	// ("RETR", "LIST", …), the path, the attempt about to start (2 for the
	// first retry) and the error that caused it. It must not block.
	OnRetry func(op, path string, attempt int, err error)
}

// Sentinel errors of the pool.
var (
	// ErrClosed: the pool is closing or closed. It wraps ftp.ErrClosed.
	ErrClosed = fmt.Errorf("%w: pool closed", ftp.ErrClosed)
	// ErrQueueFull: all sessions are busy and Options.QueueLimit callers
	// already wait.
	ErrQueueFull = errors.New("pool: queue full")
)

// NotResumedError is a failed upload that the pool did not run again, and
// why. Unwrap gives the upload's own error.
type NotResumedError struct {
	Op     string // STOR or APPE
	Path   string
	Reason string // why it could not be resumed safely
	Err    error  // the upload's error
}

// Error says what failed and why it was not resumed.
func (e *NotResumedError) Error() string {
	return fmt.Sprintf("pool: %s %s not resumed (%s): %v", e.Op, e.Path, e.Reason, e.Err)
}

// Unwrap returns the upload's error.
func (e *NotResumedError) Unwrap() error { return e.Err }

// Stats counts what a pool has done.
type Stats struct {
	Sessions int   // sessions logged in now
	Logins   int64 // successful logins, replacements included
	Replaced int64 // sessions closed because they died
	Retries  int64 // operations run again
	Waiting  int   // callers waiting for a session now
}

// Pool runs operations on up to Options.Size sessions. Its methods may be
// called from any number of goroutines.
type Pool struct {
	eng  *engine.Engine
	own  *engine.Engine // started by New when eng is nil
	addr string
	cfg  session.Config
	opts Options

	slots []*slot
	// tokens holds one token per slot not in use: taking one entitles the
	// caller to a slot from idle.
	tokens chan struct{}
	idleMu sync.Mutex
	idle   []*slot // slots not in use: logged-in ones at the end, taken first

	waiting atomic.Int64
	logins  atomic.Int64
	dead    atomic.Int64
	retries atomic.Int64

	mu      sync.Mutex
	closed  bool
	done    chan struct{}      // closed when Close begins
	abort   context.Context    // cancelled when Close gives up waiting
	stop    context.CancelFunc // cancels abort
	running sync.WaitGroup     // operations between acquire and release
}

// slot is one place for a session; c is nil until the first use and after the
// session died.
type slot struct {
	mu sync.Mutex // guards c against Stats and Close
	c  *client.Client
}

func (s *slot) client() *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *slot) set(c *client.Client) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

// DefaultIdleKeepalive is the NOOP interval of sessions idle in the pool when
// cfg.IdleKeepalive is zero; a negative cfg.IdleKeepalive turns it off.
const DefaultIdleKeepalive = time.Minute

// New starts a pool of sessions to addr (host:port) on eng, logging in with
// cfg. It opens the first session at once, so that a wrong password or an
// unreachable server fails here; the others open when work needs them. With
// eng nil the pool runs its own one-loop engine and stops it on Close. cfg is
// copied; every session shares the copy. Idle sessions send NOOP every
// cfg.IdleKeepalive (DefaultIdleKeepalive when zero), so that the server and
// the routers between keep them.
func New(eng *engine.Engine, addr string, cfg session.Config, opts Options) (*Pool, error) {
	if opts.Size <= 0 {
		opts.Size = 4
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = 4096
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	} else if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.IdleKeepalive == 0 {
		cfg.IdleKeepalive = DefaultIdleKeepalive
	}
	p := &Pool{eng: eng, addr: addr, cfg: cfg, opts: opts, done: make(chan struct{})}
	p.abort, p.stop = context.WithCancel(context.Background())
	if eng == nil && !opts.Client.NetDriver {
		own, err := engine.New(engine.Options{Loops: 1})
		if err != nil {
			return nil, err
		}
		p.eng, p.own = own, own
	}
	p.tokens = make(chan struct{}, opts.Size)
	for i := 0; i < opts.Size; i++ {
		s := &slot{}
		p.slots = append(p.slots, s)
		p.idle = append(p.idle, s)
		p.tokens <- struct{}{}
	}
	// The first session, now: its own timeouts bound the login. It goes to
	// the end of idle, to be used first.
	err := p.connect(context.Background(), p.slots[0])
	p.idle = append(p.idle[1:], p.slots[0])
	if err != nil {
		p.stop()
		if p.own != nil {
			p.own.Close()
		}
		return nil, err
	}
	return p, nil
}

// connect logs a fresh session in for s.
func (p *Pool) connect(ctx context.Context, s *slot) error {
	o := p.opts.Client
	o.Engine = p.eng
	o.Config = p.cfg
	c, err := client.Dial(ctx, p.addr, &o)
	if err != nil {
		return err
	}
	p.logins.Add(1)
	s.set(c)
	return nil
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	n := 0
	for _, s := range p.slots {
		if s.client() != nil {
			n++
		}
	}
	return Stats{Sessions: n, Logins: p.logins.Load(), Replaced: p.dead.Load(), Retries: p.retries.Load(),
		Waiting: int(p.waiting.Load())}
}

// Cap returns the most sessions the pool opens (Options.Size).
func (p *Pool) Cap() int { return len(p.slots) }

// acquire waits for a free slot. On success the caller must release it.
func (p *Pool) acquire(ctx context.Context) (*slot, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.running.Add(1)
	p.mu.Unlock()
	select {
	case <-p.tokens:
		return p.take(), nil
	default:
	}
	if p.waiting.Add(1) > int64(p.opts.QueueLimit) {
		p.waiting.Add(-1)
		p.running.Done()
		return nil, ErrQueueFull
	}
	defer p.waiting.Add(-1)
	select {
	case <-p.tokens:
		return p.take(), nil
	case <-ctx.Done():
		p.running.Done()
		return nil, fmt.Errorf("%w: waiting for a session: %w", ftp.ErrCanceled, context.Cause(ctx))
	case <-p.done:
		p.running.Done()
		return nil, ErrClosed
	}
}

// release returns s to the pool. After a failure, a session that has died is
// closed first, and the slot logs in afresh on its next use.
func (p *Pool) release(s *slot, failed bool) {
	if c := s.client(); failed && c != nil && states.Terminal(c.State()) {
		c.Close()
		s.set(nil)
		p.dead.Add(1)
	}
	p.idleMu.Lock()
	if s.client() != nil {
		p.idle = append(p.idle, s)
	} else {
		p.idle = append([]*slot{s}, p.idle...)
	}
	p.idleMu.Unlock()
	p.tokens <- struct{}{}
	p.running.Done()
}

// take pops a slot for a caller holding a token, a logged-in one if any, so
// that light work reuses sessions instead of opening new ones.
func (p *Pool) take() *slot {
	p.idleMu.Lock()
	defer p.idleMu.Unlock()
	s := p.idle[len(p.idle)-1]
	p.idle[len(p.idle)-1] = nil
	p.idle = p.idle[:len(p.idle)-1]
	return s
}

func (p *Pool) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// opContext is ctx, also cancelled when Close stops waiting for running work.
func (p *Pool) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(p.abort, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil) }
}

// attempt is what one try of an operation knows.
type attempt struct {
	n    int  // 1 for the first try
	sent bool // set by the operation once its command may have reached the server
}

// noRetry marks an error that must reach the caller as it is.
type noRetry struct{ error }

func (e noRetry) Unwrap() error { return e.error }

// run runs op on a free session, retrying as the package doc says.
// idempotent says whether op may run again after its command was sent.
func (p *Pool) run(ctx context.Context, name, path string, idempotent bool, op func(ctx context.Context, c *client.Client, a *attempt) error) error {
	ctx, cancel := p.opContext(ctx)
	defer cancel()
	backoff := p.opts.Backoff
	a := &attempt{}
	for {
		a.n++
		a.sent = false
		s, err := p.acquire(ctx)
		if err != nil {
			return err
		}
		c := s.client()
		if c == nil {
			if p.isClosed() {
				err = ErrClosed
			} else if err = p.connect(ctx, s); err == nil {
				c = s.client()
			}
		}
		if c != nil {
			err = op(ctx, c, a)
		}
		p.release(s, err != nil)
		var nr noRetry
		switch {
		case err == nil:
			return nil
		case errors.As(err, &nr):
			return nr.error
		case a.n > p.opts.Retries, !retryable(err), ctx.Err() != nil, p.isClosed():
			return err
		case a.sent && !idempotent:
			return err
		}
		p.retries.Add(1)
		if p.opts.OnRetry != nil {
			p.opts.OnRetry(name, path, a.n+1, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		case <-p.done:
			t.Stop()
			return err
		}
		backoff = min(2*backoff, p.opts.MaxBackoff)
	}
}

// retryable tells whether another try, on a fresh session if need be, may
// cure err: the connection or the session broke (closed, reset, timed out,
// 421), or the server answered 4yz (try again later). A 5yz reply, a
// cancellation, a refused argument, an unsafe name and a size that differs
// from SIZE are final.
func retryable(err error) bool {
	switch {
	case errors.Is(err, ftp.ErrCanceled), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ftp.ErrInvalidArgument), errors.Is(err, ftp.ErrUnsafePath), errors.Is(err, ErrQueueFull),
		errors.Is(err, ErrClosed):
		return false
	}
	var fe *ftp.Error
	if errors.As(err, &fe) {
		return fe.Temporary() // 421, 425, 426, 450, 451, …
	}
	if errors.Is(err, ftp.ErrClosed) || errors.Is(err, ftp.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// ---- operations ----

// Do runs f with a free session, once: the pool neither retries it nor
// knows what it does, but replaces the session if f leaves it dead. f must
// not keep the client after it returns.
func (p *Pool) Do(ctx context.Context, f func(ctx context.Context, c *client.Client) error) error {
	return p.run(ctx, "Do", "", false, func(ctx context.Context, c *client.Client, a *attempt) error {
		a.sent = true
		if err := f(ctx, c); err != nil {
			return noRetry{err}
		}
		return nil
	})
}

// idem runs an idempotent operation that returns a value.
func idem[T any](p *Pool, ctx context.Context, name, path string, f func(ctx context.Context, c *client.Client) (T, error)) (T, error) {
	var v T
	err := p.run(ctx, name, path, true, func(ctx context.Context, c *client.Client, a *attempt) error {
		a.sent = true
		var err error
		v, err = f(ctx, c)
		return err
	})
	return v, err
}

// once runs a non-idempotent operation: retried only if its command was never
// sent.
func (p *Pool) once(ctx context.Context, name, path string, f func(ctx context.Context, c *client.Client) error) error {
	return p.run(ctx, name, path, false, func(ctx context.Context, c *client.Client, a *attempt) error {
		a.sent = true
		return f(ctx, c)
	})
}

// Size returns the size of a file (SIZE). Retried.
func (p *Pool) Size(ctx context.Context, path string) (int64, error) {
	return idem(p, ctx, "SIZE", path, func(ctx context.Context, c *client.Client) (int64, error) { return c.Size(ctx, path) })
}

// ModTime returns a file's modification time (MDTM), in UTC. Retried.
func (p *Pool) ModTime(ctx context.Context, path string) (time.Time, error) {
	return idem(p, ctx, "MDTM", path, func(ctx context.Context, c *client.Client) (time.Time, error) { return c.ModTime(ctx, path) })
}

// Stat returns the MLST facts of path. Retried.
func (p *Pool) Stat(ctx context.Context, path string) (listing.Entry, error) {
	return idem(p, ctx, "MLST", path, func(ctx context.Context, c *client.Client) (listing.Entry, error) { return c.Stat(ctx, path) })
}

// Feat returns what FEAT announced (asked once per session). Retried.
func (p *Pool) Feat(ctx context.Context) (handlers.Features, error) {
	return idem(p, ctx, "FEAT", "", func(ctx context.Context, c *client.Client) (handlers.Features, error) { return c.Feat(ctx) })
}

// List lists a directory as parsed entries (MLSD or LIST, as client.List
// chooses). Retried.
func (p *Pool) List(ctx context.Context, path string) (listing.Result, error) {
	return idem(p, ctx, "LIST", path, func(ctx context.Context, c *client.Client) (listing.Result, error) { return c.List(ctx, path) })
}

// ListRaw runs LIST, NLST or MLSD and returns the body. Retried.
func (p *Pool) ListRaw(ctx context.Context, verb, path string) ([]byte, error) {
	return idem(p, ctx, verb, path, func(ctx context.Context, c *client.Client) ([]byte, error) { return c.ListRaw(ctx, verb, path) })
}

// NameList returns the names NLST gives for path. Retried.
func (p *Pool) NameList(ctx context.Context, path string) ([]string, error) {
	return idem(p, ctx, "NLST", path, func(ctx context.Context, c *client.Client) ([]string, error) { return c.NameList(ctx, path) })
}

// Delete removes a file. Never sent twice.
func (p *Pool) Delete(ctx context.Context, path string) error {
	return p.once(ctx, "DELE", path, func(ctx context.Context, c *client.Client) error { return c.Delete(ctx, path) })
}

// MakeDir creates a directory. Never sent twice.
func (p *Pool) MakeDir(ctx context.Context, path string) error {
	return p.once(ctx, "MKD", path, func(ctx context.Context, c *client.Client) error { return c.MakeDir(ctx, path) })
}

// RemoveDir removes an empty directory. Never sent twice.
func (p *Pool) RemoveDir(ctx context.Context, path string) error {
	return p.once(ctx, "RMD", path, func(ctx context.Context, c *client.Client) error { return c.RemoveDir(ctx, path) })
}

// Rename renames from to to. Never sent twice.
func (p *Pool) Rename(ctx context.Context, from, to string) error {
	return p.once(ctx, "RNFR", from, func(ctx context.Context, c *client.Client) error { return c.Rename(ctx, from, to) })
}

// Close lets running operations finish, or cancels them when ctx ends first;
// waiting callers get ErrClosed. Then every session sends QUIT (or, when ctx
// has ended, is closed at once). Close stops the pool's own engine, if it
// started one, but never the engine given to New. Later calls return nil.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()

	idle := make(chan struct{})
	go func() {
		p.running.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		p.stop() // running operations see their context cancelled
		<-idle
	}
	p.stop()
	var errs []error
	for _, s := range p.slots {
		c := s.client()
		if c == nil {
			continue
		}
		if ctx.Err() != nil {
			c.Close()
		} else if err := c.Quit(ctx); err != nil {
			errs = append(errs, err)
		}
		s.set(nil)
	}
	if p.own != nil {
		if err := p.own.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
