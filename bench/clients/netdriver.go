package clients

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/session"
)

// RunNetdriver runs p's scenario with asyncftp's blocking client on package
// netdriver (client.Options.NetDriver: a goroutine per connection over
// net.Conn), one caller goroutine per session in flight like the other
// blocking clients.
func RunNetdriver(ctx context.Context, p benchrun.Params) (benchrun.Report, error) {
	r, err := runBlocking(ctx, p, "asyncftp netdriver", asyncImpl{ctx: ctx, net: true})
	return r, err
}

// RunClientEngine is the same blocking client on one shared engine (one
// loop): what client.Dial does by default, with the caller's goroutine
// blocked on each call while the loop does the I/O.
func RunClientEngine(ctx context.Context, p benchrun.Params) (benchrun.Report, error) {
	p.Defaults()
	e, err := engine.New(engine.Options{Loops: 1})
	if err != nil {
		return benchrun.Report{}, err
	}
	defer e.Close()
	return runBlocking(ctx, p, "asyncftp client (engine)", asyncImpl{ctx: ctx, e: e})
}

type asyncImpl struct {
	ctx context.Context
	net bool
	e   *engine.Engine
}

func (a asyncImpl) dial(p benchrun.Params) (*client.Client, error) {
	o := &client.Options{
		Config:    session.Config{User: p.User, Password: session.Secret(p.Password)},
		NetDriver: a.net,
		Engine:    a.e,
		SkipSize:  true, // the other clients do not ask SIZE either
	}
	if p.TLS {
		o.Config.TLS = session.TLSExplicit
		o.Config.Timeouts = benchrun.TLSTimeouts
		o.TLS = ftptls.Options{RootCAs: p.RootCAs, ServerName: benchrun.ServerName}
	}
	ctx, cancel := context.WithTimeout(a.ctx, 2*time.Minute) // see leanserver's HandshakeTimeout
	defer cancel()
	return client.Dial(ctx, p.Addr, o) // logs in and sends TYPE I
}

func (a asyncImpl) lifecycle(p benchrun.Params) (n int64, err error) {
	c, err := a.dial(p)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	defer func() {
		if qerr := c.Quit(ctx); err == nil {
			err = qerr
		}
	}()
	if _, err := c.Pwd(ctx); err != nil {
		return 0, err
	}
	body, err := c.ListRaw(ctx, "LIST", "")
	if err != nil {
		return 0, err
	}
	if p.ListSize > 0 && int64(len(body)) != p.ListSize {
		return int64(len(body)), fmt.Errorf("LIST moved %d bytes, want %d", len(body), p.ListSize)
	}
	k, err := c.Retr(ctx, p.SmallFile, io.Discard)
	n = int64(len(body)) + k
	if err == nil && k != p.SmallSize {
		err = fmt.Errorf("RETR moved %d bytes, want %d", k, p.SmallSize)
	}
	return n, err
}

func (a asyncImpl) hold(p benchrun.Params, logged func(error), release <-chan struct{}) error {
	c, err := a.dial(p)
	logged(err)
	if err != nil {
		return err
	}
	<-release
	ctx, cancel := context.WithTimeout(a.ctx, 60*time.Second)
	defer cancel()
	return c.Quit(ctx)
}

func (a asyncImpl) big(p benchrun.Params) (n int64, err error) {
	c, err := a.dial(p)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Minute)
	defer cancel()
	defer func() {
		if qerr := c.Quit(ctx); err == nil {
			err = qerr
		}
	}()
	return c.Retr(ctx, p.BigFile, io.Discard)
}
