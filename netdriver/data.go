package netdriver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/idleconn"
	"github.com/asyncftp/asyncftp/session"
)

// dataConn is one data connection, moved on a goroutine of its own.
type dataConn struct {
	ct  *ctrl
	req *session.DataRequest

	mu     sync.Mutex
	raw    net.Conn     // the TCP connection, once dialled
	ln     net.Listener // active mode: the listener, until the server connects
	closed bool

	reported bool // DataClosed submitted (data goroutine only)
}

// set records the dialled connection, or closes it if the session dropped
// the transfer meanwhile.
func (d *dataConn) set(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		c.Close()
		return false
	}
	d.raw = c
	return true
}

// close drops the connection; any goroutine may call it.
func (d *dataConn) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.raw != nil {
		d.raw.Close()
	}
	if d.ln != nil {
		d.ln.Close()
	}
}

// run dials, lets the session send the transfer command, secures the
// connection if asked, and moves the bytes. Its outcome goes to the session as
// DataClosed; the session ignores it if it dropped the transfer.
func (d *dataConn) run() {
	ct := d.ct
	defer ct.exec.submit(func() {
		if ct.data == d {
			ct.data = nil
		}
		ct.goroutineEnded()
	})
	n, err := d.transfer()
	// Report before closing: the server's reaction to the close (a 426, say)
	// then reaches the session after the cause.
	d.report(n, err)
	d.close()
}

// report tells the session that the data connection has ended (for an upload:
// that everything was sent and the stream ended), once.
func (d *dataConn) report(n int64, err error) {
	if d.reported {
		return
	}
	d.reported = true
	ct, req := d.ct, d.req
	ct.exec.submit(func() { ct.s.DataClosed(req, n, err) })
}

func (d *dataConn) transfer() (int64, error) {
	ct, req := d.ct, d.req
	raw, err := d.connect() // dial, or listen and accept in active mode (active.go)
	if err != nil {
		return 0, err
	}
	if !d.set(raw) {
		return 0, ftp.ErrClosed
	}

	// The transfer command goes out first: servers (goftp among them) start
	// their side of the data handshake only once it has arrived.
	ct.exec.call(func() { ct.s.DataOpened(req) })

	idle := req.IdleTimeout
	if idle <= 0 {
		idle = time.Minute
	}
	var conn net.Conn = raw
	if req.TLS {
		tc, err := d.handshake(raw, idle)
		if err != nil {
			return 0, err
		}
		if tc == nil {
			return 0, nil // closed before the handshake: an empty download
		}
		conn = tc
	}
	dc := &idleconn.Conn{Conn: conn, Idle: idle}
	if req.Upload {
		return d.upload(dc, raw)
	}
	var n int64
	if req.OffLoop {
		n, err = io.Copy(req.Sink, dc)
	} else {
		n, err = d.downloadInSession(dc)
	}
	if tc, ok := conn.(*tls.Conn); ok && (err == nil || errors.Is(err, io.EOF)) {
		// A clean end: answer the server's close_notify, as a server that
		// waits for ours (vsftpd's strict_ssl_write_shutdown) wants.
		_ = tc.CloseWrite()
	}
	return n, err
}

// handshake secures the data connection with the session's TLS config, so that
// it resumes the control connection's TLS session, and notes whether it did.
//
// A server that closes a download's connection without a handshake (goftp does
// for an empty file: it never writes, so its side never starts TLS, and its
// close may even reset our unread ClientHello) sent nothing: handshake returns
// nil, nil, the download is empty, and the control connection's reply decides
// whether that is right. An attacker on the path gains nothing new: cutting a
// protected stream at a record boundary looks the same to crypto/tls, which is
// why a transfer's length is checked against SIZE and the 226, both protected.
func (d *dataConn) handshake(raw net.Conn, idle time.Duration) (*tls.Conn, error) {
	ct := d.ct
	if ct.tls == nil {
		return nil, fmt.Errorf("%w: protected data asked of a plain session", ftp.ErrUnsupported)
	}
	saved := ct.tls.Saved()
	tc := tls.Client(raw, ct.tls.Config)
	ctx, cancel := context.WithTimeout(ct.ctx, idle)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		ct.tls.Restore(saved, err)
		switch {
		case !d.req.Upload && ftptls.ClosedBeforeHandshake(err):
			ct.exec.submit(func() { ct.s.Note("data connection closed by the server before its TLS handshake: no data") })
			return nil, nil
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF // not a clean end: nothing was sent
		case ctx.Err() == context.DeadlineExceeded:
			err = fmt.Errorf("%w: %w", &ftp.TimeoutError{Op: "data TLS handshake"}, err)
		}
		return nil, fmt.Errorf("data TLS handshake: %w", ct.tls.HandshakeError(d.req.Addr, err))
	}
	note := ct.tls.DataNote(tc.ConnectionState())
	ct.exec.submit(func() { ct.s.Note(note) })
	return tc, nil
}

// upload copies the source to the server and ends the stream in order
// (close_notify, FIN). That is the end of the upload for the session. The
// socket stays open, read and discarded, until the server closes it, the
// session's next data connection or its end closes it, or it idles out: closing
// it at once could answer bytes the server sent (TLS session tickets, say) with
// a reset that destroys data the server has not read yet. Some servers (goftp)
// never close an upload's data connection themselves.
func (d *dataConn) upload(dc *idleconn.Conn, raw net.Conn) (int64, error) {
	ct, req := d.ct, d.req
	var w io.Writer = dc
	var src io.Reader = readerOnly{req.Source}
	if !req.OffLoop {
		// The session watches the idle deadline of an in-session transfer
		// itself: tell it about the progress.
		w = &progress{w: dc, sent: func(n int) { ct.exec.submit(func() { ct.s.DataSent(req, n) }) }}
		// And it finishes the request without waiting for this goroutine, so
		// the caller's Source is read on the executor, never once the session
		// has dropped the connection (which it does before Done runs).
		src = sessionSource{d}
	}
	buf := make([]byte, 32<<10)
	// readerOnly hides WriterTo, so every Write is one buffer and renews the
	// idle deadline.
	n, err := io.CopyBuffer(w, src, buf)
	if err == nil {
		if tc, ok := dc.Conn.(*tls.Conn); ok {
			err = tc.CloseWrite()
		}
		if err == nil {
			err = closeWrite(raw)
		}
	}
	if !req.OffLoop {
		n = 0 // already reported through DataSent
	}
	if err == nil {
		d.report(n, nil)
		_, _ = io.CopyBuffer(io.Discard, readerOnly{dc}, buf)
	}
	return n, err
}

// downloadInSession hands each read to the session (DataIn), which writes it
// to the caller's sink and enforces the listing limit. It waits for each
// chunk to be taken before reading the next.
func (d *dataConn) downloadInSession(dc *idleconn.Conn) (int64, error) {
	ct, req := d.ct, d.req
	buf := make([]byte, 32<<10)
	for {
		n, err := dc.Read(buf)
		if n > 0 {
			var derr error
			ct.exec.call(func() { derr = ct.s.DataIn(req, buf[:n]) })
			if derr != nil {
				return 0, derr
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

// sessionSource reads an in-session upload's Source on the executor, and not
// at all once the connection has been dropped.
type sessionSource struct{ d *dataConn }

func (s sessionSource) Read(p []byte) (n int, err error) {
	d := s.d
	d.ct.exec.call(func() {
		d.mu.Lock()
		closed := d.closed
		d.mu.Unlock()
		if closed {
			err = ftp.ErrClosed
			return
		}
		n, err = d.req.Source.Read(p)
	})
	return n, err
}

// progress reports each successful write.
type progress struct {
	w    io.Writer
	sent func(int)
}

func (p *progress) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if n > 0 {
		p.sent(n)
	}
	return n, err
}

// closeWrite ends the stream we send, keeping the other direction open:
// half-close where the connection has it (TCP, and most proxy and tunnel
// connections a Dial option brings), else a full close — the server must
// see the end of an upload either way.
func closeWrite(c net.Conn) error {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}
