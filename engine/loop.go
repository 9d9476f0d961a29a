package engine

import (
	"container/heap"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/idleconn"
	"github.com/asyncftp/asyncftp/session"
)

// loop is the engine's state for one gnet event loop. Only that loop touches
// it, except for the task bookkeeping at the end (see execute).
type loop struct {
	el       gnet.EventLoop
	cli      *gnet.Client // the client that owns this loop, and only it
	sessions map[*ctrl]struct{}
	dl       deadlines
	scratch  []byte // one upload chunk, shared by the loop's uploads
	plain    []byte // decrypted TLS bytes, shared by the loop's drains (tlsScratch)

	// Work from other goroutines reaches the loop through one ordered inbox
	// per loop. gnet's task queue does not keep order: netpoll.Poller.Trigger
	// puts a task in a second queue while 1,024 wait in the first, and the
	// first runs ahead. Yet two requests a goroutine gives Conn.Do in a row
	// must reach the server in that order, and a failed dial's report must
	// run before Close's sweep. So execute still queues one gnet task per
	// function, but each task runs the oldest function waiting, not its own.
	// One task per function, queued after the function, keeps the other
	// order that matters: a function runs after the high-priority tasks its
	// goroutine queued before it (a handshake's last AsyncWrite before the
	// handshake's result). A task that ran the whole inbox at once could run
	// a function queued after it and overtake that write.
	// gnet drops the tasks still queued when a loop stops, so Close halts
	// each inbox and waits until it is empty before it stops the loop.
	taskMu sync.Mutex
	halted bool           // execute queues nothing more
	inbox  []queued       // inbox[head:] wait to run on the loop, oldest first
	head   int            // the next to run
	seq    uint64         // the last queued's number
	tasks  sync.WaitGroup // queued functions that have not run
	runFn  gnet.RunnableFunc

	// dialing holds the loop's sessions that have no connection on it yet:
	// Open adds them off the loop, opened and connectFailed remove them.
	// closeAll ends them too, so that no session of a closed engine is
	// left running (see TestReviewCloseEndsSessionsStillDialing).
	dialMu  sync.Mutex
	dialing map[*ctrl]struct{}
}

// queued is a function waiting in a loop's inbox.
type queued struct {
	seq uint64
	f   func()
}

// maxInbox bounds the inbox slice a loop keeps once it is empty: a burst of
// requests should not pin its high-water mark for the engine's life.
const maxInbox = 1024

// execute queues f on the loop, from any goroutine, and reports whether it
// did. Functions run in the order they were queued. Once Close has halted
// the loop it queues nothing.
func (l *loop) execute(f func()) bool {
	l.taskMu.Lock()
	if l.halted {
		l.taskMu.Unlock()
		return false
	}
	l.seq++
	me := l.seq
	l.inbox = append(l.inbox, queued{me, f})
	if l.runFn == nil {
		l.runFn = l.runOldest // once: a method value allocates
	}
	l.tasks.Add(1)
	l.taskMu.Unlock()
	if err := l.el.Execute(context.Background(), l.runFn); err != nil {
		// gnet refuses tasks only once its engine is shut down, and Close
		// shuts it down only after halt: not reached while execute queues.
		// Take f back, so that every function left has its task.
		l.taskMu.Lock()
		for k := len(l.inbox) - 1; k >= l.head; k-- {
			if l.inbox[k].seq == me {
				l.inbox = append(l.inbox[:k], l.inbox[k+1:]...)
				break
			}
		}
		l.taskMu.Unlock()
		l.tasks.Done()
		return false
	}
	return true
}

// runOldest is the task execute queues: it runs, on the loop, the oldest
// function waiting.
func (l *loop) runOldest(context.Context) error {
	l.taskMu.Lock()
	q := l.inbox[l.head]
	l.inbox[l.head] = queued{}
	l.head++
	if l.head == len(l.inbox) {
		if cap(l.inbox) > maxInbox {
			l.inbox = nil
		} else {
			l.inbox = l.inbox[:0]
		}
		l.head = 0
	} else if l.head >= 256 && 2*l.head >= len(l.inbox) {
		// Never empty under steady load: move the waiting ones down
		// rather than let append grow the slice without end.
		n := copy(l.inbox, l.inbox[l.head:])
		clear(l.inbox[n:])
		l.inbox, l.head = l.inbox[:n], 0
	}
	l.taskMu.Unlock()
	defer l.tasks.Done()
	q.f()
	return nil
}

// halt stops execute from queueing and waits until every function it queued
// has run. Call it off the loop, once nothing needs the loop any more.
func (l *loop) halt() {
	l.taskMu.Lock()
	l.halted = true
	l.taskMu.Unlock()
	l.tasks.Wait()
}

// enroll hands an established connection to the loop, on the calling
// goroutine, and returns once OnOpen has run there. gnet duplicates the
// descriptor for the loop and closes c in every case.
func (l *loop) enroll(c net.Conn, ctx any) error {
	_, err := l.cli.EnrollContext(c, ctx)
	return err
}

func (l *loop) sweep(now time.Time) {
	n := now.UnixNano()
	for len(l.dl) > 0 && l.dl[0].dl <= n {
		ct := l.dl[0]
		heap.Pop(&l.dl)
		ct.s.Tick(now) // may reschedule ct
	}
}

func (l *loop) closeAll() {
	for ct := range l.sessions {
		ct.s.Abort(ErrEngineClosed)
	}
	l.dialMu.Lock()
	pending := make([]*ctrl, 0, len(l.dialing))
	for ct := range l.dialing {
		pending = append(pending, ct)
	}
	l.dialMu.Unlock()
	for _, ct := range pending {
		// Its dial has ended (Close waited for it); the report that the
		// dial failed is still queued and will find the session ended.
		ct.s.Abort(ErrEngineClosed)
	}
}

// dialStarted and dialEnded keep l.dialing (see there).
func (l *loop) dialStarted(ct *ctrl) {
	l.dialMu.Lock()
	if l.dialing == nil {
		l.dialing = map[*ctrl]struct{}{}
	}
	l.dialing[ct] = struct{}{}
	l.dialMu.Unlock()
}

func (l *loop) dialEnded(ct *ctrl) {
	l.dialMu.Lock()
	delete(l.dialing, ct)
	l.dialMu.Unlock()
}

// deadlines is a min-heap of sessions by their next deadline; each ctrl knows
// its index, so a changed deadline is one heap.Fix.
type deadlines []*ctrl

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].dl < d[j].dl }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].idx, d[j].idx = i, j
}
func (d *deadlines) Push(x any) { ct := x.(*ctrl); ct.idx = len(*d); *d = append(*d, ct) }
func (d *deadlines) Pop() any {
	old := *d
	ct := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	ct.idx = -1
	return ct
}

// ctrl is a session's control connection and its session.Driver.
type ctrl struct {
	e    *Engine
	loop *loop
	s    *session.Session
	c    gnet.Conn // nil until enrolled
	data *dataConn
	conn Conn     // the handle Open returned
	obs  Observer // never nil: Open stores a loginFunc
	// local is the source address of every connection of the session
	// (Options.LocalAddrs); nil: the system's choice.
	local net.Addr

	dl  int64 // deadline in the heap, unix nanoseconds
	idx int   // heap index, -1 when not in the heap

	inCallback bool // a gnet callback for c is running: close by returning gnet.Close
	closing    bool
	ended      bool // OnClose ran, or the session never got a connection
	mu         sync.Mutex

	// FTPS (tlsconn.go); tlsSetup is nil for plain sessions.
	addr            string
	tlsSetup        *ftptls.Setup
	tl              *link     // the control connection's link, once TLS starts
	tc              *tls.Conn // its TLS client
	secure          bool      // the handshake is done: bytes go through tc
	implicit        bool      // TLS from the first byte
	implicitPending bool      // implicit TLS: the session is told of the connection after the handshake
	hsDone          bool      // the handshake's result has reached the loop
	closeWait       bool      // the connection closed during the handshake; its result ends the session
	closeErr        error     // what gnet said then
}

func (ct *ctrl) opened(c gnet.Conn) {
	ct.loop.dialEnded(ct)
	ct.c = c
	ct.loop.sessions[ct] = struct{}{}
	if ct.s.Terminal() { // closed while dialling: the login never started
		ct.closing = true
		ct.obs.LoggedIn(&ct.conn, session.Result{Err: ct.s.Err()})
		return
	}
	ct.obs.Connected(&ct.conn)
	if ct.s.Terminal() { // the observer closed it
		ct.closing = true
		ct.obs.LoggedIn(&ct.conn, session.Result{Err: ct.s.Err()})
		return
	}
	if ct.implicit {
		ct.startImplicit()
		return
	}
	ct.s.Connected(c.RemoteAddr().String(), c.LocalAddr().String(), ct.loggedIn)
}

// loggedIn is the login request's completion.
func (ct *ctrl) loggedIn(r session.Result) { ct.obs.LoggedIn(&ct.conn, r) }

func (ct *ctrl) connectFailed(err error) {
	ct.loop.dialEnded(ct)
	if ct.ended {
		return
	}
	ct.ended = true
	ct.e.active.Add(-1)
	ct.s.Abort(err)
	ct.obs.LoggedIn(&ct.conn, session.Result{Err: err})
	ct.obs.Ended(&ct.conn, err)
}

func (ct *ctrl) closed(err error) {
	if ct.ended || ct.closeWait {
		return
	}
	if ct.tc != nil && !ct.hsDone {
		// A handshake is running: its result explains the end better (a
		// server closes after the alert we send for its certificate), and
		// the session hears of the end with it (handshakeEnded).
		ct.closeWait, ct.closeErr = true, err
		ct.tl.ended()
		return
	}
	ct.finishClose(err)
}

// finishClose ends the session whose control connection has closed.
func (ct *ctrl) finishClose(err error) {
	ct.ended = true
	ct.e.active.Add(-1)
	delete(ct.loop.sessions, ct)
	if ct.idx >= 0 {
		heap.Remove(&ct.loop.dl, ct.idx)
	}
	if ct.tl != nil {
		ct.tl.fail(ftp.ErrClosed) // a handshake still running ends
	}
	ct.s.ControlClosed(err)
	if d := ct.data; d != nil && d.off == nil {
		// An off-loop transfer may still complete after a 226 (the session
		// closes it through CloseData when it may not); on-loop ones end here.
		d.drop()
	}
	ct.obs.Ended(&ct.conn, ct.s.Err())
}

// Write implements session.Driver.
func (ct *ctrl) Write(p []byte) {
	if ct.c == nil || ct.closing {
		return
	}
	if ct.tc != nil {
		// Secured: through TLS. During the handshake the session sends
		// nothing (it waits for Secured), and nothing may go in clear.
		if ct.secure {
			_, _ = ct.tc.Write(p)
		}
		return
	}
	_, _ = ct.c.Write(p)
}

// OpenData implements session.Driver.
func (ct *ctrl) OpenData(req *session.DataRequest) {
	d := &dataConn{ct: ct, req: req}
	if !ct.beginData(d) {
		return
	}
	if d.off != nil {
		go d.runOffLoop()
		return
	}
	ct.e.dialers.run(d.dial)
}

// beginData makes d the session's data connection, passive or active, and
// counts it in the engine's wait group so that Close waits for it. When the
// engine is already stopping it reports ErrEngineClosed to the session and
// returns false. An off-loop transfer gets its cancellable context here.
func (ct *ctrl) beginData(d *dataConn) bool {
	if old := ct.data; old != nil && old.finished {
		old.drop() // a TLS upload's socket left for the server to close
	}
	ct.data = d
	ct.e.mu.Lock()
	if ct.e.stopping {
		ct.e.mu.Unlock()
		ct.s.DataClosed(d.req, 0, ErrEngineClosed)
		return false
	}
	ct.e.wg.Add(1)
	ct.e.mu.Unlock()
	if d.req.OffLoop {
		ctx, cancel := context.WithCancel(ct.e.dialCtx)
		d.off = &offLoop{ctx: ctx, cancel: cancel}
	}
	return true
}

// CloseData implements session.Driver.
func (ct *ctrl) CloseData(req *session.DataRequest) {
	if d := ct.data; d != nil && d.req == req {
		d.drop()
	}
}

// Close implements session.Driver.
func (ct *ctrl) Close() {
	if d := ct.data; d != nil && d.off == nil {
		d.drop() // off-loop data is the session's to close (CloseData)
	}
	if ct.c == nil || ct.closing {
		ct.closing = true
		if ct.tl != nil {
			ct.tl.fail(ftp.ErrClosed)
		}
		return
	}
	ct.closeTLS()
	ct.closing = true
	if !ct.inCallback {
		_ = ct.loop.el.Close(ct.c)
	}
}

// Reschedule implements session.Driver.
func (ct *ctrl) Reschedule(t time.Time) {
	dl := &ct.loop.dl
	if t.IsZero() {
		if ct.idx >= 0 {
			heap.Remove(dl, ct.idx)
		}
		return
	}
	ct.dl = t.UnixNano()
	if ct.idx >= 0 {
		heap.Fix(dl, ct.idx)
	} else {
		heap.Push(dl, ct)
	}
}

// later runs f on the loop after the current callback.
func (ct *ctrl) later(f func()) {
	ct.loop.execute(f)
}

// dataConn is one data connection.
type dataConn struct {
	ct  *ctrl
	req *session.DataRequest
	c   gnet.Conn // on-loop connection, once open
	off *offLoop  // set for off-loop transfers
	act *acceptor // active mode: the listener, until the server has connected

	dropped    bool // the session no longer wants it
	inCallback bool
	eof        bool // upload source exhausted

	// PROT P on the loop (tlsconn.go).
	tl       *link
	tc       *tls.Conn
	saved    ftptls.Ticket // the ticket the handshake offers, kept in case the network breaks it
	secure   bool          // handshake done
	notified bool          // close_notify: sent (upload) or received (download)
	finished bool          // a TLS upload ended and was reported; the socket lingers
	tlsErr   error         // what ended a download's TLS stream, for OnClose
	pumping  bool          // a re-drive is queued
	wait     time.Duration // pause before the next re-drive of a blocked upload
}

// dial runs on its own goroutine for an on-loop data connection.
func (d *dataConn) dial() {
	defer d.ct.e.wg.Done()
	dl := net.Dialer{Timeout: d.ct.e.opts.ConnectTimeout, LocalAddr: d.ct.local}
	c, err := dialTCP(d.ct.e.dialCtx, &dl, d.req.Network, d.req.Addr)
	if err != nil {
		d.ct.later(func() { d.ct.s.DataClosed(d.req, 0, dialError(d.req.Addr, err)) })
		return
	}
	d.enroll(c)
}

// enroll puts an established data connection (dialled, or accepted in active
// mode) on the session's loop; OnOpen then reports it to the session.
func (d *dataConn) enroll(c net.Conn) {
	if err := d.ct.loop.enroll(c, d); err != nil {
		d.ct.later(func() { d.ct.s.DataClosed(d.req, 0, err) })
	}
}

func (d *dataConn) opened(c gnet.Conn) gnet.Action {
	d.c = c
	if d.dropped {
		return gnet.Close
	}
	d.ct.s.DataOpened(d.req)
	if d.dropped {
		return gnet.Close
	}
	if d.req.TLS {
		return d.startTLS()
	}
	if d.req.Upload {
		return d.pump()
	}
	return gnet.None
}

// pump writes upload chunks while the outbound buffer is short, and re-drives
// itself from the loop until the source is exhausted and everything has gone
// out. gnet offers no "writable" callback, so re-driving is how a 10 GiB upload
// is sent without ever holding more than a few chunks.
func (d *dataConn) pump() gnet.Action {
	if d.dropped || d.c == nil || d.finished {
		return gnet.None
	}
	chunk := d.ct.e.opts.UploadChunk
	if d.ct.loop.scratch == nil {
		d.ct.loop.scratch = make([]byte, chunk)
	}
	buf := d.ct.loop.scratch
	wrote := false
	for !d.eof && d.c.OutboundBuffered() < 4*chunk {
		n, err := d.req.Source.Read(buf)
		if n > 0 {
			wrote = true
			if _, werr := d.write(buf[:n]); werr != nil {
				return gnet.Close
			}
			d.ct.s.DataSent(d.req, n)
			if d.dropped {
				return gnet.None
			}
		}
		if n == 0 && err == nil {
			break // io.Reader may return (0, nil): nothing now, re-drive later
		}
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			d.ct.s.DataClosed(d.req, 0, &ftp.TransferError{Verb: "STOR", Want: -1, Reason: "reading the upload source failed", Err: err})
			return gnet.Close
		}
	}
	if d.eof && d.tc != nil && !d.notified {
		d.notified = true
		_ = d.tc.CloseWrite() // close_notify follows the last record
	}
	if d.eof && d.c.OutboundBuffered() == 0 {
		if d.tc != nil {
			return d.finishUpload()
		}
		return gnet.Close // all sent: the FIN tells the server the file is complete
	}
	if !d.pumping {
		// Nothing more until gnet has flushed the outbound buffer, which it
		// does when the loop next polls. A task that queued itself at once
		// would prevent that: gnet runs its task queue until it is empty, so
		// the loop would spin forever and the socket never drain. Come back
		// after a short pause instead, longer while nothing moves.
		d.pumping = true
		if wrote || d.wait == 0 {
			d.wait = minPumpWait
		} else {
			d.wait = min(2*d.wait, maxPumpWait)
		}
		time.AfterFunc(d.wait, d.redrive)
	}
	return gnet.None
}

// Pauses between re-drives of an upload whose outbound buffer is full: the
// kernel's send buffer (megabytes on loopback) keeps the socket busy meanwhile.
const (
	minPumpWait = 100 * time.Microsecond
	maxPumpWait = 5 * time.Millisecond
)

// redrive runs pump again on the loop; it is called from a timer goroutine.
func (d *dataConn) redrive() {
	_ = d.ct.loop.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		d.pumping = false
		// pump may end the request, and its Done the session, which closes
		// the connection at once (OnClose clears d.c): check again.
		if d.c != nil && !d.dropped && d.pump() == gnet.Close && d.c != nil {
			_ = d.ct.loop.el.Close(d.c)
		}
		return nil
	}))
}

// write sends upload bytes, through TLS when the connection has it.
func (d *dataConn) write(p []byte) (int, error) {
	if d.tc != nil {
		return d.tc.Write(p)
	}
	return d.c.Write(p)
}

// drop closes the data connection because the session no longer wants it.
func (d *dataConn) drop() {
	if d.dropped {
		return
	}
	d.dropped = true
	if d.tl != nil {
		d.tl.fail(ftp.ErrClosed) // a handshake still running ends
	}
	if d.act != nil {
		d.act.close()
	}
	if d.off != nil {
		d.off.close()
		return
	}
	if d.c != nil && !d.inCallback {
		_ = d.ct.loop.el.Close(d.c)
	}
}

// offLoop holds a data connection moved to a goroutine of its own. Its
// context ends when the session drops the transfer or the engine closes.
type offLoop struct {
	ctx    context.Context
	cancel context.CancelFunc
	conn   closer[net.Conn]
}

func (o *offLoop) set(c net.Conn) bool { return o.conn.set(c) }

func (o *offLoop) close() {
	o.conn.close()
	o.cancel()
}

// runOffLoop dials and moves a whole transfer on this goroutine, blocking on
// the caller's reader or writer as it pleases: TCP flow control holds the
// server back meanwhile, and the loop is never involved until the end.
func (d *dataConn) runOffLoop() {
	defer d.ct.e.wg.Done()
	// Every way out reports DataClosed: the session waits for it before it
	// completes the request, as this goroutine may use the caller's writer
	// or reader until then.
	ctx := d.off.ctx
	dl := net.Dialer{Timeout: d.ct.e.opts.ConnectTimeout, LocalAddr: d.ct.local}
	c, err := dl.DialContext(ctx, d.req.Network, d.req.Addr)
	if err != nil {
		d.ct.later(func() { d.ct.s.DataClosed(d.req, 0, dialError(d.req.Addr, err)) })
		return
	}
	d.moveOffLoop(c)
}

// moveOffLoop moves the transfer's bytes over the established connection c
// (dialled, or accepted in active mode) on the calling goroutine, and reports
// the outcome with DataClosed.
func (d *dataConn) moveOffLoop(c net.Conn) {
	ctx := d.off.ctx
	if !d.off.set(c) {
		d.ct.later(func() { d.ct.s.DataClosed(d.req, 0, ftp.ErrClosed) })
		return
	}
	defer d.off.close()
	// Dropped by the session or the engine closing: unblock the copy.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	started := make(chan struct{})
	d.ct.later(func() {
		d.ct.s.DataOpened(d.req)
		close(started)
	})
	// Wait until the session has sent the data command, or the connection is
	// dropped (close unblocks the copy below anyway).
	select {
	case <-started:
	case <-ctx.Done():
	}
	var conn net.Conn = c
	if d.req.TLS {
		tc, err := d.offLoopTLS(ctx, c)
		if err != nil || tc == nil {
			d.ct.later(func() { d.ct.s.DataClosed(d.req, 0, err) })
			return
		}
		conn = tc
	}
	n, err := copyData(conn, d.req)
	d.ct.later(func() { d.ct.s.DataClosed(d.req, n, err) })
	if err == nil && d.req.Upload && conn != c {
		lingerOffLoop(conn)
	}
}

// copyData moves the bytes of an off-loop transfer with an idle deadline.
func copyData(c net.Conn, req *session.DataRequest) (int64, error) {
	idle := req.IdleTimeout
	if idle <= 0 {
		idle = time.Minute
	}
	dc := &idleconn.Conn{Conn: c, Idle: idle}
	if req.Upload {
		n, err := io.Copy(dc, req.Source)
		if tc, ok := c.(*tls.Conn); ok && err == nil {
			err = tc.CloseWrite() // close_notify after the last record
			c = tc.NetConn()
		}
		if err == nil {
			// The FIN tells the server the file is complete. Do not wait for
			// the server to close its side: goftp, for one, keeps it open,
			// and the 226 is what confirms the upload.
			if tc, ok := c.(*net.TCPConn); ok {
				err = tc.CloseWrite()
			}
		}
		return n, err
	}
	n, err := io.Copy(req.Sink, dc)
	if tc, ok := c.(*tls.Conn); ok && err == nil {
		// The server's close_notify ended the copy: answer it, as a
		// server that waits for ours (vsftpd's strict_ssl_write_shutdown)
		// wants before it reports the transfer.
		_ = tc.CloseWrite()
	}
	return n, err
}
