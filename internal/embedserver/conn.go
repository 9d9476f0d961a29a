package embedserver

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// passiveAcceptWindow is how long goftp keeps a passive data listener open
// waiting for the client (hard-coded 60 s in goftp's data_socket.go), plus a
// margin. A passive port announced longer ago than this cannot still be
// waiting in goftp, so Close does not poke it.
const passiveAcceptWindow = 65 * time.Second

// maxPendingPerConn bounds the passive ports remembered per session.
const maxPendingPerConn = 8

// trackingListener hands goftp the control connections it accepts, wrapped
// so that the Server knows every live session and can close it on Close
// (goftp's own Shutdown leaves live sessions running).
type trackingListener struct {
	net.Listener
	srv *Server
}

// Accept implements net.Listener. Once the server is closing it closes any
// connection that slipped in and reports net.ErrClosed.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, srv: l.srv, key: c.RemoteAddr().String()}
	if l.srv.register(tc) {
		return tc, nil
	}
	_ = c.Close()
	return nil, net.ErrClosed
}

// trackedConn is a control connection as goftp sees it.
//
// goftp calls Close exactly when a session ends (QUIT, read error, or EOF):
// that is our signal that the session goroutine is finishing. Server.Close
// instead closes the embedded net.Conn directly, which makes the session's
// read fail so that goftp then calls trackedConn.Close itself.
type trackedConn struct {
	net.Conn
	srv  *Server
	key  string // remote address; how command wrappers find this conn
	once sync.Once

	// Guarded by srv.mu.
	pending []pendingPort // passive ports announced and not known to be used
	touched bool          // the current data socket was read by PutFile
	spent   any           // last data socket known to be used up
}

// pendingPort is a passive data port that goftp may still be accepting on.
type pendingPort struct {
	port int
	at   time.Time
	sock any // goftp's DataSocket value, compared by identity only
}

// Close implements net.Conn and tells the server the session is ending.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.srv.release(c) })
	return err
}

// register records a new session; false means the server is closing.
func (s *Server) register(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c.key] = c
	s.active++
	return true
}

// release forgets a finished session. Passive ports it may have left
// waiting (goftp never closes a passive listener whose data connection was
// not made) are kept as orphans so that Close can still unblock them.
func (s *Server) release(c *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.key] == c {
		delete(s.conns, c.key)
	}
	now := time.Now()
	kept := s.orphans[:0]
	for _, p := range s.orphans {
		if now.Sub(p.at) < passiveAcceptWindow {
			kept = append(kept, p)
		}
	}
	s.orphans = append(kept, c.pending...)
	c.pending = nil
	s.active--
	if s.active == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// conn returns the tracked connection of a session's remote address.
// The caller holds s.mu.
func (s *Server) connLocked(remote string) *trackedConn {
	return s.conns[remote]
}

// notePassive records the passive port just announced to a session. If the
// server is already closing, the port is poked at once instead, because
// Close's own sweep may already have run.
func (s *Server) notePassive(remote string, sock any, port int) {
	if port <= 0 {
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		poke(port)
		return
	}
	if c := s.connLocked(remote); c != nil {
		c.pending = append(c.pending, pendingPort{port: port, at: time.Now(), sock: sock})
		if len(c.pending) > maxPendingPerConn {
			c.pending = c.pending[len(c.pending)-maxPendingPerConn:]
		}
	}
	s.mu.Unlock()
}

// markUsed records that a session's data socket sock has been used, so
// goftp is no longer accepting on its passive port.
func (s *Server) markUsed(remote string, sock any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.connLocked(remote)
	if c == nil {
		return
	}
	c.spent = sock
	for i := len(c.pending) - 1; i >= 0; i-- {
		if c.pending[i].sock == sock {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return
		}
	}
}

// isSpent reports whether sock is a data socket that was already used.
func (s *Server) isSpent(remote string, sock any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.connLocked(remote)
	return c != nil && c.spent != nil && c.spent == sock
}

// setTouched sets or clears the "PutFile read the data socket" flag.
func (s *Server) setTouched(remote string, v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.connLocked(remote); c != nil {
		c.touched = v
	}
}

// wasTouched reports the "PutFile read the data socket" flag.
func (s *Server) wasTouched(remote string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.connLocked(remote); c != nil {
		return c.touched
	}
	return false
}

// poke connects to a passive port on loopback and hangs up at once. goftp
// holds a lock while it waits in Accept on a passive listener (up to 60 s),
// and closing the session waits for that lock; a connection releases it.
func poke(port int) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err == nil {
		_ = c.Close()
	}
}
