package engine

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/activemode"
	"github.com/asyncftp/asyncftp/session"
)

// Listen implements session.Driver: an active-mode data connection. gnet's
// client cannot listen, so a goroutine listens, reports the address, accepts
// the server's one connection (refusing any other host) and then hands it on
// exactly as a dialled one: enrolled on the session's loop, or moved off the
// loop. The listener is closed once a connection is accepted, on error, on
// CloseData and when the engine closes.
func (ct *ctrl) Listen(req *session.DataRequest) {
	d := &dataConn{ct: ct, req: req, act: &acceptor{}}
	if !ct.beginData(d) {
		return
	}
	go d.accept()
}

// accept runs on its own goroutine. Every way out reports DataClosed, as for
// a dialled connection.
func (d *dataConn) accept() {
	defer d.ct.e.wg.Done()
	ct, req := d.ct, d.req
	a := req.Active
	ln, err := activemode.Listen(ct.e.dialCtx, req.Addr, a.PortMin, a.PortMax)
	if err != nil {
		ct.later(func() {
			ct.s.Listening(req, "", err)
			ct.s.DataClosed(req, 0, err)
		})
		return
	}
	if !d.act.set(ln) { // dropped meanwhile: set closed it
		ct.later(func() { ct.s.DataClosed(req, 0, ftp.ErrClosed) })
		return
	}
	stop := context.AfterFunc(ct.e.dialCtx, d.act.close)
	addr := ln.Addr().String()
	ct.later(func() { ct.s.Listening(req, addr, nil) })
	c, err := activemode.Accept(ln, a.Peer, time.Now().Add(a.Timeout), func(from string) {
		ct.later(func() {
			ct.s.Note("refused a data connection from " + from + ": only the server (" + a.Peer + ") may connect")
		})
	})
	stop()
	d.act.close()
	if err != nil {
		ct.later(func() { ct.s.DataClosed(req, 0, err) })
		return
	}
	ct.later(func() { ct.s.Note("data connection from " + c.RemoteAddr().String()) })
	if d.off != nil {
		d.moveOffLoop(c)
		return
	}
	d.enroll(c)
}

// acceptor holds an active-mode listener so that the loop can close it while
// a goroutine waits in Accept.
type acceptor = closer[net.Listener]

// closer holds a listener or connection that one goroutine sets and another
// may close at any time, before or after it is set: whichever comes second
// closes it, exactly once.
type closer[T io.Closer] struct {
	mu     sync.Mutex
	v      T
	has    bool
	closed bool
}

// set stores v, or closes it at once (and reports false) when close came first.
func (c *closer[T]) set(v T) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		v.Close()
		return false
	}
	c.v, c.has = v, true
	return true
}

// close closes what set stored, now or when it is stored.
func (c *closer[T]) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.has {
		c.v.Close()
		var zero T
		c.v, c.has = zero, false
	}
}
