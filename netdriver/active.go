package netdriver

import (
	"context"
	"net"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/activemode"
	"github.com/asyncftp/asyncftp/session"
)

// Listen implements session.Driver: an active-mode data connection. The data
// goroutine listens, reports the address with Listening, accepts the server's
// one connection (refusing any other host) and then moves the bytes exactly as
// for a dialled connection, TLS included: the client is the TLS client on the
// data connection in active mode too (RFC 4217).
func (ct *ctrl) Listen(req *session.DataRequest) { ct.OpenData(req) }

// connect makes the data connection: it dials req.Addr, or in active mode
// listens there and accepts the server's connection.
func (d *dataConn) connect() (net.Conn, error) {
	ct, req := d.ct, d.req
	if req.Active != nil {
		return d.accept()
	}
	ctx, cancel := context.WithTimeout(ct.ctx, ct.opts.ConnectTimeout)
	defer cancel()
	raw, err := d.ct.opts.dial(ctx, req.Network, req.Addr)
	if err != nil {
		return nil, dialError(req.Addr, err)
	}
	return raw, nil
}

// accept listens, reports the address, and waits for the server. The listener
// is closed before it returns, and by close (CloseData, Close) meanwhile.
func (d *dataConn) accept() (net.Conn, error) {
	ct, req := d.ct, d.req
	a := req.Active
	ln, err := activemode.Listen(ct.ctx, req.Addr, a.PortMin, a.PortMax)
	if err != nil {
		ct.exec.submit(func() { ct.s.Listening(req, "", err) })
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		ln.Close()
		return nil, ftp.ErrClosed
	}
	d.ln = ln
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.ln = nil
		d.mu.Unlock()
		ln.Close()
	}()
	stop := context.AfterFunc(ct.ctx, func() { ln.Close() })
	defer stop()
	addr := ln.Addr().String()
	ct.exec.submit(func() { ct.s.Listening(req, addr, nil) })
	c, err := activemode.Accept(ln, a.Peer, time.Now().Add(a.Timeout), func(from string) {
		ct.exec.submit(func() {
			ct.s.Note("refused a data connection from " + from + ": only the server (" + a.Peer + ") may connect")
		})
	})
	if err != nil {
		return nil, err
	}
	ct.exec.submit(func() { ct.s.Note("data connection from " + c.RemoteAddr().String()) })
	return c, nil
}
