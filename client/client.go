// Package client is the blocking convenience API over an asyncftp session, for
// ordinary programs: Dial, then one method call per FTP operation, each honouring
// a context.Context.
//
// Each call queues a request on the session's event loop and waits for its
// completion callback. A cancelled context ends the whole session (an FTP
// control connection cannot be resynchronised after an abandoned command), and
// the call returns an error that wraps both ftp.ErrCanceled and ctx.Err().
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
)

// Options configure Dial. The zero value logs in anonymously on a private,
// one-loop engine.
type Options struct {
	// Config holds credentials, TLS mode, timeouts, limits and the transcript.
	Config session.Config
	// Engine runs the session, plain or FTPS. Nil: the client starts a
	// private engine and stops it on Quit or Close.
	Engine *engine.Engine
	// TLS says how an FTPS server is authenticated: system roots and host name
	// by default, or a CA pool, pinned keys, or (loudly) nothing.
	TLS ftptls.Options
	// NetDriver runs the session on package netdriver (a goroutine per
	// connection over net.Conn) instead of the engine; Engine is unused then.
	// The engine is the better choice almost always; see docs/ftps.md for
	// what netdriver is kept for.
	NetDriver bool
	// ASCII selects TYPE A instead of TYPE I after login.
	ASCII bool
	// SkipSize stops Retr from asking SIZE first. With SIZE, a download that
	// delivers another number of bytes than announced fails.
	SkipSize bool
	// OnLoop moves Retr and Stor bytes on the event loop instead of a goroutine of
	// their own. Only for writers and readers that never block (hashes, memory).
	OnLoop bool
	// ConnectTimeout bounds the TCP connect (and an implicit FTPS handshake)
	// of a session on a private engine or on the net.Conn driver; 0 keeps the
	// drivers' default (10s). A given Engine keeps its own setting.
	ConnectTimeout time.Duration
}

// Runner is what a Client needs from a driver: the gnet engine's *engine.Conn,
// or another driver of the same session core (*netdriver.Conn, say).
type Runner interface {
	// Do queues req on the session; req.Done runs on the driver's goroutine.
	Do(req *session.Request)
	// Abort ends the session at once with err.
	Abort(err error)
	// Run runs f with the session on the driver's goroutine.
	Run(f func(*session.Session))
}

// Client is a logged-in FTP session with blocking methods. Its methods may be
// called from several goroutines; requests run one at a time in call order.
type Client struct {
	r     Runner
	opts  Options
	own   *engine.Engine
	close func()

	mu    sync.Mutex // guards feats
	feats handlers.Features
}

// Dial connects to addr (host:port), reads the greeting, logs in, and selects
// the transfer type. It returns when the session is ready or has failed.
//
// With Config.TLS set the session speaks FTPS: TLS from the first byte
// (TLSImplicit) or AUTH TLS after the greeting (TLSExplicit), then PBSZ 0 and
// PROT P (PROT C with ClearData), all on the engine's event loop. A server that
// refuses any of them fails the Dial with an error wrapping ftp.ErrUnsupported;
// nothing goes on in clear text.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.NetDriver {
		return dialNet(ctx, addr, o)
	}
	e := o.Engine
	var own *engine.Engine
	if e == nil {
		var err error
		if own, err = engine.New(engine.Options{Loops: 1, ConnectTimeout: o.ConnectTimeout}); err != nil {
			return nil, err
		}
		e = own
	}
	cfg := o.Config
	login := make(chan session.Result, 1)
	conn, err := e.OpenWith(addr, &cfg, engine.OpenOptions{TLS: &o.TLS, Observer: loginObserver(login)})
	if err != nil {
		if own != nil {
			own.Close()
		}
		return nil, err
	}
	c := &Client{r: conn, opts: o, own: own}
	if own != nil {
		c.close = func() { own.Close() }
	}
	return c.start(ctx, login)
}

// loginObserver hands the login's result to Dial.
type loginObserver chan session.Result

func (loginObserver) Connected(*engine.Conn)    {}
func (loginObserver) Ended(*engine.Conn, error) {}
func (l loginObserver) LoggedIn(_ *engine.Conn, r session.Result) {
	l <- r
}

// dialNet runs the session on the net.Conn driver.
func dialNet(ctx context.Context, addr string, o Options) (*Client, error) {
	cfg := o.Config
	conn, login, err := netdriver.Open(addr, &cfg, netdriver.Options{TLS: o.TLS, ConnectTimeout: o.ConnectTimeout})
	if err != nil {
		return nil, err
	}
	return NewFromRunner(ctx, conn, o, login, func() {
		conn.Close()
		<-conn.Done() // sockets closed, goroutines gone
	})
}

// NewFromRunner wraps a session driven by another driver (see package netdriver).
// login delivers the login result; closeFn, if set, runs on Quit and Close.
func NewFromRunner(ctx context.Context, r Runner, opts Options, login <-chan session.Result, closeFn func()) (*Client, error) {
	c := &Client{r: r, opts: opts, close: closeFn}
	return c.start(ctx, login)
}

func (c *Client) start(ctx context.Context, login <-chan session.Result) (*Client, error) {
	select {
	case r := <-login:
		if r.Err != nil {
			c.shutdown()
			return nil, r.Err
		}
	case <-ctx.Done():
		err := canceled(ctx)
		c.r.Abort(err)
		<-login
		c.shutdown()
		return nil, err
	}
	typ := "I"
	if c.opts.ASCII {
		typ = "A"
	}
	if _, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("TYPE", typ)}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func canceled(ctx context.Context) error {
	return fmt.Errorf("%w: %w", ftp.ErrCanceled, context.Cause(ctx))
}

func (c *Client) shutdown() {
	if c.close != nil {
		c.close()
		c.close = nil
	}
}

// do queues req and waits for it.
func (c *Client) do(ctx context.Context, req *session.Request) (session.Result, error) {
	if err := ctx.Err(); err != nil {
		return session.Result{}, canceled(ctx)
	}
	ch := make(chan session.Result, 1)
	req.Done = func(r session.Result) { ch <- r }
	c.r.Do(req)
	select {
	case r := <-ch:
		return r, r.Err
	case <-ctx.Done():
		err := canceled(ctx)
		c.r.Abort(err)
		r := <-ch // the session fails the request at once; wait so nothing runs late
		if r.Err == nil {
			return r, nil // it finished just before the abort
		}
		return r, err
	}
}

// Do sends any command with an optional handler (nil: the registry's) and
// returns its result: the article's pluggable response handler, from a blocking
// caller.
func (c *Client) Do(ctx context.Context, cmd ftp.Command, h handlers.Handler) (session.Result, error) {
	return c.do(ctx, &session.Request{Cmd: cmd, Handler: h})
}

// Quit sends QUIT, waits for the reply (or the server closing), and releases
// the session.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("QUIT")})
	c.shutdown()
	if errors.Is(err, ftp.ErrClosed) {
		return nil // already gone: nothing left to quit
	}
	return err
}

// Close ends the session at once, without QUIT.
func (c *Client) Close() error {
	done := make(chan struct{})
	c.r.Run(func(s *session.Session) { s.Close(); close(done) })
	<-done
	c.shutdown()
	return nil
}

// State returns the session's current state (for diagnostics).
func (c *Client) State() string {
	ch := make(chan string, 1)
	c.r.Run(func(s *session.Session) { ch <- s.State() })
	return <-ch
}

// Pwd returns the current directory.
func (c *Client) Pwd(ctx context.Context) (string, error) {
	r, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("PWD")})
	if err != nil {
		return "", err
	}
	return value[string](r)
}

// Cwd changes the current directory.
func (c *Client) Cwd(ctx context.Context, dir string) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("CWD", dir)})
	return err
}

// Cdup moves to the parent directory.
func (c *Client) Cdup(ctx context.Context) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("CDUP")})
	return err
}

// Noop sends NOOP.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("NOOP")})
	return err
}

// Syst returns the server's system type.
func (c *Client) Syst(ctx context.Context) (string, error) {
	r, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("SYST")})
	if err != nil {
		return "", err
	}
	return value[string](r)
}

// Feat asks FEAT (once; later calls return the first answer).
func (c *Client) Feat(ctx context.Context) (handlers.Features, error) {
	if f := c.Features(); f != nil {
		return f, nil
	}
	r, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("FEAT")})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.feats == nil {
		f, err := value[handlers.Features](r)
		if err != nil {
			return nil, err
		}
		c.feats = f
	}
	return c.feats, nil
}

// Size returns the size of a file (SIZE, RFC 3659).
func (c *Client) Size(ctx context.Context, path string) (int64, error) {
	r, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("SIZE", path)})
	if err != nil {
		return 0, err
	}
	return value[int64](r)
}

// ModTime returns a file's modification time (MDTM), in UTC.
func (c *Client) ModTime(ctx context.Context, path string) (time.Time, error) {
	r, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("MDTM", path)})
	if err != nil {
		return time.Time{}, err
	}
	return value[time.Time](r)
}

// Delete removes a file.
func (c *Client) Delete(ctx context.Context, path string) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("DELE", path)})
	return err
}

// MakeDir creates a directory.
func (c *Client) MakeDir(ctx context.Context, path string) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("MKD", path)})
	return err
}

// RemoveDir removes an empty directory.
func (c *Client) RemoveDir(ctx context.Context, path string) error {
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("RMD", path)})
	return err
}

// Rename renames from to to (RNFR, then RNTO chosen by the RNFR handler).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	if err := (ftp.Command{Verb: "RNTO", Arg: to}).Validate(); err != nil {
		return err
	}
	_, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("RNFR", from), Handler: handlers.Rename(to)})
	return err
}

// Retr downloads path into w and returns the number of bytes. Unless SkipSize
// is set it asks SIZE first, and a download of another length fails with an
// error that wraps ftp.ErrIncomplete.
func (c *Client) Retr(ctx context.Context, path string, w io.Writer) (int64, error) {
	return c.RetrFrom(ctx, path, w, 0)
}

// RetrFrom resumes a download: REST offset, then RETR; w receives the bytes
// from offset on.
func (c *Client) RetrFrom(ctx context.Context, path string, w io.Writer, offset int64) (int64, error) {
	want := int64(-1)
	if !c.opts.SkipSize && !c.opts.ASCII {
		if n, err := c.Size(ctx, path); err == nil {
			want = n - offset
			if want < 0 {
				return 0, fmt.Errorf("%w: offset %d beyond the size %d of %s", ftp.ErrInvalidArgument, offset, n, path)
			}
		} else if errors.Is(err, ftp.ErrCanceled) || errors.Is(err, ftp.ErrClosed) || errors.Is(err, ftp.ErrTimeout) {
			return 0, err
		}
	}
	return c.retr(ctx, path, w, offset, want)
}

// RetrFromSize is RetrFrom for a caller that already knows the file's size
// (from Size or a listing): it sends no SIZE, and a download that delivers
// another number of bytes than size-offset fails with an error that wraps
// ftp.ErrIncomplete. A negative size means unknown: nothing is checked.
func (c *Client) RetrFromSize(ctx context.Context, path string, w io.Writer, offset, size int64) (int64, error) {
	want := int64(-1)
	if size >= 0 {
		if want = size - offset; want < 0 {
			return 0, fmt.Errorf("%w: offset %d beyond the size %d of %s", ftp.ErrInvalidArgument, offset, size, path)
		}
	}
	return c.retr(ctx, path, w, offset, want)
}

func (c *Client) retr(ctx context.Context, path string, w io.Writer, offset, want int64) (int64, error) {
	// Want 0 means "unknown" to the session, so an empty file is not checked:
	// there is nothing to be short of.
	d := &session.Data{Sink: w, Offset: offset, Want: want, OffLoop: !c.opts.OnLoop}
	if d.OffLoop {
		g := &gate{w: w}
		defer g.close()
		d.Sink = g
	}
	r, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd("RETR", path), Data: d})
	return r.Bytes, err
}

// Stor uploads r to path.
func (c *Client) Stor(ctx context.Context, path string, r io.Reader) (int64, error) {
	return c.store(ctx, "STOR", path, r, 0)
}

// Append appends r to path (APPE).
func (c *Client) Append(ctx context.Context, path string, r io.Reader) (int64, error) {
	return c.store(ctx, "APPE", path, r, 0)
}

// StorFrom resumes an upload: REST offset, then STOR; r supplies the bytes
// from offset on. Servers that do not allow REST before STOR refuse it.
func (c *Client) StorFrom(ctx context.Context, path string, r io.Reader, offset int64) (int64, error) {
	return c.store(ctx, "STOR", path, r, offset)
}

func (c *Client) store(ctx context.Context, verb, path string, r io.Reader, offset int64) (int64, error) {
	if r == nil {
		r = bytes.NewReader(nil)
	}
	d := &session.Data{Source: r, Offset: offset, OffLoop: !c.opts.OnLoop}
	if d.OffLoop {
		g := &gate{r: r}
		defer g.close()
		d.Source = g
	}
	res, err := c.do(ctx, &session.Request{Cmd: ftp.Cmd(verb, path), Data: d})
	return res.Bytes, err
}

// ListRaw runs a listing command (LIST, NLST or MLSD) and returns its body.
func (c *Client) ListRaw(ctx context.Context, verb, path string) ([]byte, error) {
	var buf bytes.Buffer
	cmd := ftp.Cmd(verb)
	if path != "" {
		cmd.Arg = path
	}
	_, err := c.do(ctx, &session.Request{Cmd: cmd, Data: &session.Data{Sink: &buf}})
	return buf.Bytes(), err
}

// List lists a directory ("" = the current one) as parsed entries. It uses
// MLSD when FEAT announces MLST, LIST otherwise. Lines no parser understands are
// reported in the returned listing.Result's Bad field, never dropped.
func (c *Client) List(ctx context.Context, path string) (listing.Result, error) {
	f, err := c.Feat(ctx)
	if err != nil {
		return listing.Result{}, err
	}
	if f.Has("MLST") {
		body, err := c.ListRaw(ctx, "MLSD", path)
		if err != nil {
			return listing.Result{}, err
		}
		res := listing.ParseMLSD(body)
		// Drop "." and ".." as LIST users expect.
		kept := res.Entries[:0]
		for _, e := range res.Entries {
			if !e.IsSelfOrParent() {
				kept = append(kept, e)
			}
		}
		res.Entries = kept
		return res, nil
	}
	body, err := c.ListRaw(ctx, "LIST", path)
	if err != nil {
		return listing.Result{}, err
	}
	return listing.Parse(body, time.Now()), nil
}

// NameList returns the names NLST gives for path.
func (c *Client) NameList(ctx context.Context, path string) ([]string, error) {
	body, err := c.ListRaw(ctx, "NLST", path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(string(body), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if l != "" {
			names = append(names, l)
		}
	}
	return names, nil
}

// Features returns the FEAT answer if Feat or List has run.
func (c *Client) Features() handlers.Features {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.feats
}

// Stat returns the facts MLST gives for path ("" = the current directory),
// RFC 3659, parsed by listing.ParseMLSx: type, size, modification time and
// the raw facts. Servers without MLST answer 500 or 502 (an *ftp.Error).
func (c *Client) Stat(ctx context.Context, path string) (listing.Entry, error) {
	cmd := ftp.Cmd("MLST")
	if path != "" {
		cmd.Arg = path
	}
	r, err := c.do(ctx, &session.Request{Cmd: cmd})
	if err != nil {
		return listing.Entry{}, err
	}
	line, _ := r.Value.(string)
	e, err := listing.ParseMLSx(line)
	if err != nil {
		return listing.Entry{}, &ftp.ProtocolError{Reason: "MLST entry: " + err.Error(), Line: line}
	}
	return e, nil
}

// gate stands between an off-loop transfer's goroutine and the caller's
// writer or reader. The session completes a transfer only once that goroutine
// is done with them; but when the session dies first (a cancelled context,
// Close), the request fails at once. close then waits out a Write or Read in
// progress and refuses later ones, so nothing touches the caller's w or r
// after Retr or Stor has returned.
type gate struct {
	mu     sync.Mutex
	w      io.Writer
	r      io.Reader
	closed bool
}

// Write implements io.Writer.
func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, ftp.ErrCanceled
	}
	return g.w.Write(p)
}

// Read implements io.Reader.
func (g *gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, ftp.ErrCanceled
	}
	return g.r.Read(p)
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// value takes the typed result a built-in handler hands over. A handler
// registered in its place that hands over something else (or nothing) gives a
// clear error instead of a panic.
func value[T any](r session.Result) (T, error) {
	v, ok := r.Value.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("%w: the handler for this command gave %T, not %T", ftp.ErrUnsupported, r.Value, zero)
	}
	return v, nil
}
