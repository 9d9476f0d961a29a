package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// link is the net.Conn a crypto/tls client runs over on the engine. It has two
// modes, because crypto/tls can be driven without blocking only after its
// handshake (docs/ftps.md, "Driving crypto/tls from the loop"):
//
//   - during the handshake a worker goroutine (handshakers) runs
//     tls.Conn.Handshake; Read blocks until the loop pushes the bytes that
//     arrived (OnTraffic), and Write hands the records to gnet's AsyncWrite;
//   - after it, only the loop calls the tls.Conn. OnTraffic lends gnet's buffer
//     to the link and calls tls.Conn.Read until the link answers "would block"
//     (a temporary net.Error, which crypto/tls does not keep: the bytes of a
//     partial record stay in its own buffer and the next Read goes on from
//     there). Write goes straight to gnet.Conn.Write.
type link struct {
	gc            gnet.Conn
	local, remote net.Addr

	mu    sync.Mutex
	wake  sync.Cond // handshake mode: Read waits here for push or fail
	in    []byte    // received bytes crypto/tls has not read yet
	err   error     // once set, Read (when in is empty) and Write fail with it
	eof   bool      // the server closed: Read says io.EOF once in is empty
	async bool      // handshake mode
	over  bool      // the handshake has returned: its deadline no longer applies

	// writing is set (on the loop) while gnet.Conn.Write runs for crypto/tls.
	// A write that fails makes gnet close the connection right there, and
	// OnClose runs inside tls.Conn.Write, which holds the Conn's output lock:
	// whatever runs then must not write through the tls.Conn (busy).
	writing bool
}

// busy reports whether a write through crypto/tls is under way on the loop:
// a close_notify or an alert now would wait for the lock that write holds.
func (l *link) busy() bool { return l.writing }

func newLink(gc gnet.Conn) *link {
	l := &link{gc: gc, local: gc.LocalAddr(), remote: gc.RemoteAddr(), async: true}
	l.wake.L = &l.mu
	return l
}

// errWouldBlock is what Read says in loop mode when every received byte has
// been taken: temporary, so crypto/tls does not keep it as the connection's
// error (conn.go, readRecordOrCCS). TestTLSKeepsNoTemporaryError pins that.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "engine: no more bytes yet (would block)" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// push adds bytes that arrived during the handshake (a copy: gnet reuses buf)
// and wakes the worker.
func (l *link) push(buf []byte) {
	l.mu.Lock()
	l.in = append(l.in, buf...)
	l.mu.Unlock()
	l.wake.Broadcast()
}

// lend gives crypto/tls gnet's buffer for one drain in loop mode, without a
// copy; release takes it back when the drain returns.
func (l *link) lend(buf []byte) {
	l.mu.Lock()
	if len(l.in) == 0 {
		l.in = buf
	} else {
		l.in = append(l.in, buf...) // left from the handshake: keep the order
	}
	l.mu.Unlock()
}

// release drops the lent buffer. A drain stops early only when the connection
// is being closed, so what is left is not wanted.
func (l *link) release() {
	l.mu.Lock()
	l.in = nil
	l.mu.Unlock()
}

// settle switches to loop mode once the handshake's result is on the loop.
func (l *link) settle() {
	l.mu.Lock()
	l.async = false
	l.mu.Unlock()
}

// fail makes every later Read (once the received bytes are taken) and Write
// fail with err; the first error stays. A blocked handshake wakes up.
func (l *link) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.wake.Broadcast()
}

// expire fails a handshake that is still running; once it has returned, its
// timer firing late must not fail the connection it secured.
func (l *link) expire(err error) {
	l.mu.Lock()
	if !l.over && l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.wake.Broadcast()
}

// handshakeOver marks the end of the handshake (see expire).
func (l *link) handshakeOver() {
	l.mu.Lock()
	l.over = true
	l.mu.Unlock()
}

// ended says the server closed the connection. What it sent before stays
// readable, then Read says io.EOF; writes are dropped, as the socket is gone
// (a handshake must still read the flight the server sent before closing).
func (l *link) ended() {
	l.mu.Lock()
	l.eof = true
	l.mu.Unlock()
	l.wake.Broadcast()
}

// Read implements net.Conn for crypto/tls.
func (l *link) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if len(l.in) > 0 {
			n := copy(p, l.in)
			l.in = l.in[n:]
			return n, nil
		}
		if l.err != nil {
			return 0, l.err
		}
		if l.eof {
			return 0, io.EOF
		}
		if !l.async {
			return 0, errWouldBlock
		}
		l.wake.Wait()
	}
}

// Write implements net.Conn for crypto/tls. gnet's Write copies p (to the
// socket or its outbound buffer); AsyncWrite keeps the slice it is given, and
// crypto/tls reuses its record buffer, hence the clone.
func (l *link) Write(p []byte) (int, error) {
	l.mu.Lock()
	err, async, eof := l.err, l.async, l.eof
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if eof {
		return len(p), nil // nobody to send it to; the reads decide
	}
	if async {
		if err := l.gc.AsyncWrite(bytes.Clone(p), nil); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	l.writing = true
	n, err := l.gc.Write(p)
	l.writing = false
	return n, err
}

// Close implements net.Conn. crypto/tls closes its conn only when a
// handshake's context ends, which the engine does not use; the gnet
// connection is the engine's to close.
func (l *link) Close() error { l.fail(net.ErrClosed); return nil }

// LocalAddr implements net.Conn.
func (l *link) LocalAddr() net.Addr { return l.local }

// RemoteAddr implements net.Conn.
func (l *link) RemoteAddr() net.Addr { return l.remote }

// SetDeadline implements net.Conn. Deadlines are the engine's: the handshake
// has its timer, and after it the session's own deadlines bound every wait.
func (l *link) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn (see SetDeadline).
func (l *link) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn (see SetDeadline).
func (l *link) SetWriteDeadline(time.Time) error { return nil }

// handshake is one TLS handshake waiting for, or running on, a worker.
type handshake struct {
	l     *link
	tc    *tls.Conn
	loop  *loop
	timer *time.Timer
	done  func(error)     // runs on the loop with the handshake's result
	wg    *sync.WaitGroup // the engine's: Close waits for the result to be queued
}

// handshakers runs TLS handshakes on a bounded set of worker goroutines. A
// handshake blocks on its connection (crypto/tls cannot resume one after a
// "would block"), so each needs a goroutine while it lasts; the bound keeps a
// burst of thousands of sessions from becoming thousands of goroutines, and
// keeps the key exchanges (about 1.6–2 ms of CPU each) off the event loops.
// Workers exit when the queue is empty: an idle engine has none.
type handshakers struct {
	max int

	mu      sync.Mutex
	queue   []*handshake
	head    int // queue[head:] waits
	running int
	live    map[*handshake]struct{} // queued or running: what cancelAll fails
	closed  error
}

func newHandshakers(max int) *handshakers {
	return &handshakers{max: max, live: map[*handshake]struct{}{}}
}

// submit queues h, starting a worker if fewer than max run. After cancelAll
// it fails h at once.
func (p *handshakers) submit(h *handshake) {
	p.mu.Lock()
	if p.closed != nil {
		err := p.closed
		p.mu.Unlock()
		h.l.fail(err)
	} else {
		p.live[h] = struct{}{}
	}
	p.queue = append(p.queue, h)
	start := p.running < p.max
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *handshakers) work() {
	for {
		p.mu.Lock()
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			p.running--
			p.mu.Unlock()
			return
		}
		h := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		if p.head >= 64 && 2*p.head >= len(p.queue) {
			// A queue that never empties (a steady stream of logins) must
			// not grow forever: move what waits to the front.
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue, p.head = p.queue[:n], 0
		}
		p.mu.Unlock()
		h.run()
		p.mu.Lock()
		delete(p.live, h)
		p.mu.Unlock()
	}
}

// cancelAll fails every queued and running handshake with err, and every
// later one.
func (p *handshakers) cancelAll(err error) {
	p.mu.Lock()
	p.closed = err
	for h := range p.live {
		h.l.fail(err)
	}
	p.mu.Unlock()
}

// run does the handshake on the worker and hands its result to the loop.
func (h *handshake) run() {
	err := h.tc.Handshake()
	h.l.handshakeOver()
	h.timer.Stop()
	// The link stays in handshake mode until done runs on the loop: a record
	// that arrives meanwhile is pushed, and read there. A connection that
	// ended meanwhile is the loop's to see: the handshake itself succeeded,
	// and what the server sent after it is still in the link.
	h.loop.execute(func() { h.done(err) })
	h.wg.Done()
}

// isWouldBlock reports whether a tls.Conn.Read in loop mode stopped only for
// want of bytes.
func isWouldBlock(err error) bool { return errors.Is(err, errWouldBlock) }
