package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// anchorCtx marks the connection that pins a loop (see New).
type anchorCtx struct{}

// handler is the gnet event handler: it routes each callback to the control or
// data connection in the gnet.Conn's context.
type handler struct {
	gnet.BuiltinEventEngine
	e        *Engine
	anchored chan *loop
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch v := c.Context().(type) {
	case *ctrl:
		v.inCallback = true
		v.opened(c)
		v.inCallback = false
		if v.closing {
			return nil, gnet.Close
		}
	case *dataConn:
		v.inCallback = true
		a := v.opened(c)
		v.inCallback = false
		return nil, a
	case anchorCtx:
		h.anchored <- &loop{el: c.EventLoop(), sessions: map[*ctrl]struct{}{}}
	}
	return nil, gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	switch v := c.Context().(type) {
	case *ctrl:
		buf, _ := c.Next(-1)
		v.inCallback = true
		if v.tc != nil {
			v.tlsIn(buf)
		} else {
			v.s.Receive(buf)
		}
		v.inCallback = false
		if v.closing {
			return gnet.Close
		}
	case *dataConn:
		buf, _ := c.Next(-1)
		if v.dropped {
			return gnet.Close
		}
		if v.tc != nil {
			v.inCallback = true
			a := v.tlsIn(buf)
			v.inCallback = false
			if v.dropped {
				return gnet.Close
			}
			return a
		}
		if v.req.Upload {
			return gnet.None // servers do not talk on an upload connection
		}
		v.inCallback = true
		err := v.ct.s.DataIn(v.req, buf)
		v.inCallback = false
		if err != nil || v.dropped {
			return gnet.Close
		}
	}
	return gnet.None
}

func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	switch v := c.Context().(type) {
	case *ctrl:
		v.closed(err)
	case *dataConn:
		if v.tc != nil && !v.secure && !v.dropped {
			// The handshake is still running or its result is on its way:
			// the worker reads what was pushed, then the end of stream, and
			// the result (secured) reports the connection's end.
			v.tl.fail(io.EOF)
			v.c = nil
			return gnet.None
		}
		if v.tc != nil && !v.dropped && !v.finished {
			err = v.closedTLS(err) // before v.c is cleared: it may still hand the session bytes
		}
		v.c = nil
		if v.finished {
			v.dropped = true // reported when the upload ended
		}
		if !v.dropped {
			v.dropped = true
			if v.req.Upload && errors.Is(err, io.EOF) {
				// Only the client ends an upload's stream (pump closes with
				// a nil error). The server's FIN came first, and gnet closes
				// on it: not every byte went out, whatever it answers.
				err = fmt.Errorf("server ended the data connection before the upload did: %w", io.ErrUnexpectedEOF)
			}
			v.ct.s.DataClosed(v.req, 0, err)
		}
		if v.ct.data == v {
			v.ct.data = nil
		}
	}
	return gnet.None
}

// OnTick runs on gnet's ticker goroutine, not on a loop: it only schedules a
// sweep onto each loop.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	now := time.Now()
	h.e.dialers.tick()
	loops := h.e.ticked.Load()
	if loops == nil {
		return h.e.opts.Tick, gnet.None
	}
	for _, l := range *loops {
		l := l
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			l.sweep(now)
			return nil
		}))
	}
	return h.e.opts.Tick, gnet.None
}

// quietLogger keeps gnet from writing to the process's stderr.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
