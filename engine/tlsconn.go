package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/session"
)

// This file is the engine's FTPS: the control and data connections of a TLS
// session run through a link (tls.go) on the session's own loop.

// handshake queues a TLS handshake for one of ct's connections on the engine's
// handshake workers; done runs on the loop with its result. The timeout
// counts from now, time in the queue included.
func (ct *ctrl) handshake(l *link, tc *tls.Conn, timeout time.Duration, op string, done func(error)) {
	e := ct.e
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		l.fail(ErrEngineClosed)
		ct.later(func() { done(ErrEngineClosed) })
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	h := &handshake{l: l, tc: tc, loop: ct.loop, done: done, wg: &e.wg}
	h.timer = time.AfterFunc(timeout, func() { l.expire(&ftp.TimeoutError{Op: op}) })
	e.hs.submit(h)
}

// tlsScratch is the loop's buffer for decrypted bytes; every drain on the
// loop uses it, one at a time.
func (l *loop) tlsScratch() []byte {
	if l.plain == nil {
		l.plain = make([]byte, 16<<10)
	}
	return l.plain
}

// ---- control connection ----

// startImplicit runs the handshake that implicit FTPS begins with; the session
// hears of the connection only once it is secured.
func (ct *ctrl) startImplicit() {
	ct.implicitPending = true
	ct.tl = newLink(ct.c)
	ct.tc = tls.Client(ct.tl, ct.tlsSetup.Config)
	ct.handshake(ct.tl, ct.tc, ct.e.opts.HandshakeTimeout, "TLS handshake with "+ct.addr, ct.implicitDone)
}

func (ct *ctrl) implicitDone(err error) {
	ct.hsDone = true
	ct.implicitPending = false
	if err == nil && ct.closeWait {
		err = &ftp.ClosedError{During: "implicit TLS handshake with " + ct.addr, Err: ct.closeErr}
	}
	if err == nil && (ct.closing || ct.s.Terminal()) {
		err = ct.deadErr()
	}
	if err != nil {
		if ct.s.Terminal() {
			err = ct.deadErr()
		} else {
			err = fmt.Errorf("ftp: implicit TLS handshake: %w", ct.tlsSetup.HandshakeError(ct.addr, err))
		}
		ct.s.Abort(err)
		ct.obs.LoggedIn(&ct.conn, session.Result{Err: err})
		if ct.closeWait {
			ct.finishClose(ct.closeErr)
		}
		return
	}
	ct.tl.settle()
	ct.secure = true
	ct.s.Connected(ct.c.RemoteAddr().String(), ct.c.LocalAddr().String(), ct.loggedIn)
	ct.noteTLS()
	ct.drain()
}

func (ct *ctrl) deadErr() error {
	if err := ct.s.Err(); err != nil {
		return err
	}
	return ftp.ErrClosed
}

// StartTLS implements session.Driver: AUTH TLS was answered 234. The session
// has dropped whatever followed the 234 in that read; every later byte goes to
// the handshake.
func (ct *ctrl) StartTLS() {
	switch {
	case ct.tlsSetup == nil:
		ct.later(func() { ct.s.Secured(fmt.Errorf("%w: TLS asked of a plain session", ftp.ErrUnsupported)) })
	case ct.tc != nil || ct.c == nil:
		ct.later(func() {
			ct.s.Secured(errors.New("engine: StartTLS on a connection that is already secured or not open"))
		})
	default:
		ct.tl = newLink(ct.c)
		ct.tc = tls.Client(ct.tl, ct.tlsSetup.Config)
		ct.handshake(ct.tl, ct.tc, ct.e.opts.HandshakeTimeout, "TLS handshake with "+ct.addr, ct.secured)
	}
}

func (ct *ctrl) secured(err error) {
	ct.hsDone = true
	if ct.closeWait {
		// The connection closed during the handshake; a failed handshake
		// is the cause to report, else the close is.
		if err != nil && !ct.s.Terminal() {
			ct.s.Secured(ct.tlsSetup.HandshakeError(ct.addr, err))
		}
		ct.finishClose(ct.closeErr)
		return
	}
	if ct.ended || ct.closing || ct.s.Terminal() {
		return
	}
	if err != nil {
		ct.s.Secured(ct.tlsSetup.HandshakeError(ct.addr, err))
		return
	}
	ct.tl.settle()
	ct.secure = true // before Secured: the session writes USER from inside it
	ct.noteTLS()
	ct.s.Secured(nil)
	ct.drain()
}

func (ct *ctrl) noteTLS() {
	ct.s.Note(ct.tlsSetup.Describe(ct.tc.ConnectionState()))
	ct.s.Note(ct.tlsSetup.Verify)
}

// tlsIn takes bytes that arrived on a TLS control connection.
func (ct *ctrl) tlsIn(buf []byte) {
	if !ct.secure {
		ct.tl.push(buf) // the handshake worker reads them
		return
	}
	ct.tl.lend(buf)
	ct.drain()
}

// drain decrypts what the link holds and feeds it to the session, until the
// link would block or the session closes the connection.
func (ct *ctrl) drain() {
	defer ct.tl.release()
	p := ct.loop.tlsScratch()
	for !ct.closing && !ct.ended {
		n, err := ct.tc.Read(p)
		if n > 0 {
			ct.s.Receive(p[:n])
		}
		switch {
		case err == nil:
		case isWouldBlock(err):
			return
		case errors.Is(err, io.EOF):
			// close_notify: the server ended the session cleanly at the
			// TLS level; the session decides whether that was expected,
			// and its Close answers with a close_notify of ours.
			ct.s.ControlClosed(nil)
			return
		default:
			// An alert, a corrupt or oversized record, a renegotiation
			// request: the connection cannot be read any more.
			ct.s.ControlClosed(fmt.Errorf("TLS: %w", err))
			return
		}
	}
}

// closeTLS ends the control connection's TLS before the socket closes: a
// running handshake is stopped, a secured connection says close_notify.
func (ct *ctrl) closeTLS() {
	if ct.tc == nil {
		return
	}
	if ct.secure && !ct.tl.busy() {
		_ = ct.tc.CloseWrite()
	}
	ct.tl.fail(ftp.ErrClosed)
}

// ---- data connections ----

// startTLS secures a data connection after the transfer command has gone out:
// servers start their side of the handshake only once it has arrived.
func (d *dataConn) startTLS() gnet.Action {
	ct := d.ct
	if ct.tlsSetup == nil {
		d.dropped = true
		ct.s.DataClosed(d.req, 0, fmt.Errorf("%w: protected data asked of a plain session", ftp.ErrUnsupported))
		return gnet.Close
	}
	d.tl = newLink(d.c)
	d.saved = ct.tlsSetup.Saved()
	d.tc = tls.Client(d.tl, ct.tlsSetup.Config)
	idle := d.req.IdleTimeout
	if idle <= 0 {
		idle = time.Minute
	}
	ct.handshake(d.tl, d.tc, idle, "data TLS handshake", d.secured)
	return gnet.None
}

// secured runs on the loop with the data handshake's result.
func (d *dataConn) secured(err error) {
	ct := d.ct
	if err != nil {
		ct.tlsSetup.Restore(d.saved, err)
	}
	if d.dropped {
		return // the session no longer wants it
	}
	if d.c == nil {
		// The server closed while the result was on its way (a small file:
		// data and FIN right after the handshake). What it sent is in the
		// link, after the handshake's records.
		end := d.endEarly(err) // hands the session what came before the end
		d.dropped = true
		ct.s.DataClosed(d.req, 0, end)
		return
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // not a clean end: nothing was sent
		}
		d.dropped = true
		ct.s.DataClosed(d.req, 0, fmt.Errorf("data TLS handshake: %w", ct.tlsSetup.HandshakeError(d.req.Addr, err)))
		_ = ct.loop.el.Close(d.c)
		return
	}
	d.tl.settle()
	d.secure = true
	ct.s.Note(ct.tlsSetup.DataNote(d.tc.ConnectionState()))
	var a gnet.Action
	if d.req.Upload {
		a = d.pump()
	} else {
		a = d.drain() // records that came while the result was on its way
	}
	if a == gnet.Close && d.c != nil {
		_ = ct.loop.el.Close(d.c)
	}
}

// tlsIn takes bytes that arrived on a TLS data connection.
func (d *dataConn) tlsIn(buf []byte) gnet.Action {
	if !d.secure {
		d.tl.push(buf)
		return gnet.None
	}
	d.tl.lend(buf)
	return d.drain()
}

// drain decrypts what the link holds: a download's bytes go to the session;
// on an upload's connection the server sends only TLS's own messages
// (session tickets), which Read handles.
func (d *dataConn) drain() gnet.Action {
	defer d.tl.release()
	p := d.ct.loop.tlsScratch()
	for !d.dropped {
		n, err := d.tc.Read(p)
		if n > 0 && !d.req.Upload {
			d.inCallback = true
			derr := d.ct.s.DataIn(d.req, p[:n])
			d.inCallback = false
			if derr != nil {
				return gnet.Close
			}
		}
		switch {
		case err == nil:
		case isWouldBlock(err):
			return gnet.None
		case errors.Is(err, io.EOF):
			// close_notify: a clean end of the stream. Answer it before the
			// socket closes (gnet sends what is buffered first): vsftpd with
			// strict_ssl_write_shutdown fails the transfer without it.
			d.notified = true
			_ = d.tc.CloseWrite()
			return gnet.Close
		default:
			d.tlsErr = err
			return gnet.Close
		}
	}
	return gnet.Close
}

// closedTLS says how a TLS data connection ended, for OnClose: err is what
// gnet reported.
func (d *dataConn) closedTLS(err error) error {
	switch {
	case d.tlsErr != nil:
		return fmt.Errorf("data connection TLS: %w", d.tlsErr)
	case d.notified || d.finished:
		return err
	case d.tl.busy():
		// A write of ours failed and gnet closed the connection inside it:
		// reading on could make crypto/tls answer with an alert, which waits
		// for the lock that write holds. The write's failure is the story.
		return fmt.Errorf("data connection: %w", errOrClosed(err))
	}
	// A TCP end without close_notify. crypto/tls takes one at a record
	// boundary as a clean end (many servers never send close_notify on data
	// connections), and the 226 and the byte count decide; one in the middle
	// of a record is a cut stream.
	d.tl.ended()
	if rerr := d.drainEnd(); rerr != nil {
		return rerr
	}
	return err
}

// endEarly is the outcome of a data connection that the server closed before
// its handshake's result reached the loop; hsErr is that result.
func (d *dataConn) endEarly(hsErr error) error {
	if hsErr != nil {
		// A download whose server closes before its handshake sent nothing
		// (goftp does so for an empty file); the control connection's
		// protected reply decides.
		if !d.req.Upload && ftptls.ClosedBeforeHandshake(hsErr) {
			d.ct.s.Note("data connection closed by the server before its TLS handshake: no data")
			return nil
		}
		if errors.Is(hsErr, io.EOF) {
			hsErr = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("data TLS handshake: %w", d.ct.tlsSetup.HandshakeError(d.req.Addr, hsErr))
	}
	d.tl.settle()
	d.secure = true
	d.ct.s.Note(d.ct.tlsSetup.DataNote(d.tc.ConnectionState()))
	if d.req.Upload {
		return fmt.Errorf("server closed the data connection before the upload: %w", io.ErrUnexpectedEOF)
	}
	return d.drainEnd()
}

// drainEnd reads what crypto/tls still holds once the connection has ended.
func (d *dataConn) drainEnd() error {
	p := d.ct.loop.tlsScratch()
	for {
		n, err := d.tc.Read(p)
		if n > 0 && !d.req.Upload && !d.dropped {
			if derr := d.ct.s.DataIn(d.req, p[:n]); derr != nil {
				return nil // the session has failed the transfer already
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		return fmt.Errorf("data connection TLS: %w", err)
	}
}

// finishUpload ends a TLS upload whose last bytes and close_notify have left
// the outbound buffer: a FIN tells the server the file is complete, and the
// upload is over for the session. The socket stays open, its input read
// (session tickets), until the server closes it, the session's next data
// connection or its end closes it, or lingerUpload passes: closing it at once
// could answer a late byte from the server with a reset, and a reset can
// destroy upload bytes the server has not read yet.
func (d *dataConn) finishUpload() gnet.Action {
	if err := syscall.Shutdown(d.c.Fd(), syscall.SHUT_WR); err != nil {
		return gnet.Close
	}
	d.finished = true
	d.ct.s.DataClosed(d.req, 0, nil)
	time.AfterFunc(lingerUpload, func() {
		d.ct.loop.execute(func() {
			if d.c != nil {
				d.drop()
			}
		})
	})
	return gnet.None
}

// lingerUpload is how long a finished TLS upload's socket waits for the
// server to close it first.
const lingerUpload = 2 * time.Second

// ---- off-loop data connections ----

// offLoopTLS secures an off-loop data connection on its own goroutine, which
// blocks anyway while it copies: no handshake worker is needed. A nil conn
// with a nil error is an empty download (the server closed first).
func (d *dataConn) offLoopTLS(ctx context.Context, c net.Conn) (*tls.Conn, error) {
	ct := d.ct
	if ct.tlsSetup == nil {
		return nil, fmt.Errorf("%w: protected data asked of a plain session", ftp.ErrUnsupported)
	}
	idle := d.req.IdleTimeout
	if idle <= 0 {
		idle = time.Minute
	}
	saved := ct.tlsSetup.Saved()
	tc := tls.Client(c, ct.tlsSetup.Config)
	hctx, cancel := context.WithTimeout(ctx, idle)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		ct.tlsSetup.Restore(saved, err)
		switch {
		case !d.req.Upload && ftptls.ClosedBeforeHandshake(err):
			ct.later(func() { ct.s.Note("data connection closed by the server before its TLS handshake: no data") })
			return nil, nil
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF
		case hctx.Err() == context.DeadlineExceeded:
			err = fmt.Errorf("%w: %w", &ftp.TimeoutError{Op: "data TLS handshake"}, err)
		}
		return nil, fmt.Errorf("data TLS handshake: %w", ct.tlsSetup.HandshakeError(d.req.Addr, err))
	}
	note := ct.tlsSetup.DataNote(tc.ConnectionState())
	ct.later(func() { ct.s.Note(note) })
	return tc, nil
}

// lingerOffLoop reads what the server still sends on a finished TLS upload's
// connection (see finishUpload) for a short while before it is closed.
func lingerOffLoop(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(lingerUpload))
	_, _ = io.Copy(io.Discard, c)
}

func errOrClosed(err error) error {
	if err == nil {
		return ftp.ErrClosed
	}
	return err
}
