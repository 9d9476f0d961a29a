package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/looplab/fsm"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// Driver carries out what a Session asks. Every method is called on the driver's
// own goroutine and must return at once: no method may block.
type Driver interface {
	// Write queues bytes for the control connection. p is not retained.
	Write(p []byte)
	// OpenData starts a data connection; answer with DataOpened, DataIn and
	// DataClosed (or DataClosed alone, with the dial error).
	OpenData(req *DataRequest)
	// CloseData drops a data connection early. The driver may still report
	// DataClosed for it; the session ignores it.
	CloseData(req *DataRequest)
	// StartTLS runs the TLS handshake on the control connection; answer with
	// Secured. Drivers without TLS answer Secured(ftp.ErrUnsupported).
	StartTLS()
	// Close closes the control connection. The session has already asked for
	// CloseData on any data connection it no longer wants; a driver may leave
	// an off-loop data connection that the server answered 226 for running to
	// its end (the engine does, bounded by the idle deadline) or close it
	// (netdriver does, and the transfer then fails). Either way the driver
	// still reports DataClosed for it. Other calls after Close are ignored.
	Close()
	// Reschedule asks for Tick at t; the zero time cancels.
	Reschedule(t time.Time)
	// Listen starts an active-mode data connection (req.Active is set):
	// listen on req.Addr's host (port 0 or req.Active's range), answer with
	// Listening, accept one connection from req.Active.Peer only, then go on
	// as for OpenData (DataOpened, DataIn, DataClosed). The listener is
	// closed on every path; CloseData closes it too.
	Listen(req *DataRequest)
}

// DataRequest describes one data connection the session wants.
type DataRequest struct {
	Network string // "tcp"
	Addr    string // host:port to dial
	Upload  bool   // the client sends (STOR, APPE, STOU)
	// OffLoop asks the driver to move this transfer's bytes on a goroutine of its
	// own, with real TCP back-pressure, instead of on the event loop. The driver
	// then copies to Sink or from Source itself and reports the count in
	// DataClosed.
	OffLoop bool
	Sink    io.Writer // downloads moved off the loop
	Source  io.Reader // uploads
	TLS     bool      // wrap the connection in TLS (PROT P)
	// IdleTimeout bounds a quiet off-loop transfer; the driver enforces it with
	// connection deadlines, since the session cannot see its progress.
	IdleTimeout time.Duration
	// Active, when set, asks the driver to listen and accept instead of
	// dialling (see Driver.Listen); Addr is then where to listen.
	Active *Active

	s *Session
}

// Data describes the data side of a transfer command.
type Data struct {
	// Sink receives a download or a listing. On the loop, its Write must not
	// block (a hash, a bytes.Buffer, io.Discard); otherwise set OffLoop.
	Sink io.Writer
	// Source supplies an upload; on the loop its Read must not block.
	Source io.Reader
	// Offset sends REST Offset before the data command (resume).
	Offset int64
	// Want is the number of bytes the transfer must move (from SIZE); -1 or 0
	// means unknown. A transfer that moves another count fails.
	Want int64
	// Limit bounds a download (listings); 0 means no bound for RETR and
	// Limits.MaxListing for LIST, NLST and MLSD.
	Limit int64
	// OffLoop moves the bytes off the event loop (see DataRequest.OffLoop).
	OffLoop bool
}

// Request is one unit of work in the session's queue.
type Request struct {
	Cmd     ftp.Command      // the command to send; refused if it holds CR, LF or NUL
	Handler handlers.Handler // nil: the registry's handler for Cmd.Verb
	Data    *Data            // set for LIST, NLST, MLSD, RETR, STOR, APPE, STOU
	// Done is called exactly once, on the driver's goroutine, when the request is
	// finished, failed or dropped. It may queue more requests.
	Done func(Result)

	internal bool // set for the session's own requests (login, PBSZ, PROT)
}

// Result is what a request produced.
type Result struct {
	Reply ftp.Reply // the final reply, when there was one
	Value any       // what the handler handed over (a path, a size, Features, …)
	Bytes int64     // bytes moved by a transfer
	Err   error     // nil on success; typed (see package ftp) on failure
}

// Session is one FTP client session. Create it with New; see the package doc for
// the contract with its driver.
type Session struct {
	id  uint64
	cfg *Config
	drv Driver
	fsm *fsm.FSM
	// self is the argument every event carries to the shared callbacks (the
	// states.Observer), made once: a variadic argument built per event
	// would be one more allocation on every transition.
	self []any
	rd   ftp.Reader

	emit  func(ftp.Reply) error // s.onReply, bound once
	queue []*Request
	cur   *Request         // the request in flight
	want  handlers.Handler // reads the next reply; nil when none is due
	sent  ftp.Command      // the command the next reply answers
	xfer  *transfer
	value any // set by the handler for cur

	greetDL int64 // the greeting's deadline, which 120 replies do not extend
	replyDL int64 // deadlines, unix nanoseconds, 0 = none
	dataDL  int64
	idleDL  int64
	lastDL  int64 // what the driver was last asked for

	host  string // control connection's remote host
	local string // control connection's local address
	feats handlers.Features
	err   error

	noEPSV  bool
	act     activeState // active mode (active.go)
	ka      keepalive   // keepalive NOOPs (keepalive.go)
	follow  bool        // the running handler continued the exchange
	inReply bool        // a handler is running
}

var errStop = errors.New("session stopped")

// New creates a session that will talk through drv. Call Connected once the
// control connection is up (or, for implicit TLS, secured).
func New(id uint64, cfg *Config, drv Driver) *Session {
	s := &Session{id: id, cfg: cfg, drv: drv, fsm: states.New()}
	s.self = []any{s}
	s.rd.MaxLineLength = cfg.Limits.MaxLineLength
	s.rd.MaxReplyLines = cfg.Limits.MaxReplyLines
	s.emit = s.onReply
	if cfg.Transcript != nil {
		s.rd.Trace = s.traceServer
	}
	s.noEPSV = cfg.DisableEPSV
	return s
}

// ID returns the session's id, as it appears in transcripts.
func (s *Session) ID() uint64 { return s.id }

// State returns the current state (see package states).
func (s *Session) State() string { return s.fsm.Current() }

// Err returns the error that ended the session, or nil.
func (s *Session) Err() error { return s.err }

// Features returns what FEAT announced, or nil before FEAT.
func (s *Session) Features() handlers.Features { return s.feats }

// Busy reports whether a request is in flight or queued.
func (s *Session) Busy() bool { return s.cur != nil || len(s.queue) > 0 }

// Terminal reports whether the session has ended.
func (s *Session) Terminal() bool { return states.Terminal(s.fsm.Current()) }

// Deadline is the next time Tick must run (zero: none).
func (s *Session) Deadline() time.Time {
	if n := s.nextDL(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// ---- driver → session ----

// Connected starts the session: the control connection to remote (host:port) is
// up, from local. The greeting is due next; done, if set, runs when the login
// finishes or fails.
func (s *Session) Connected(remote, local string, done func(Result)) {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		s.host = host
	} else {
		s.host = remote
	}
	s.local = local
	if err := s.fire(states.Connected); err != nil {
		return
	}
	s.note("connected to " + remote)
	s.cur = &Request{Cmd: ftp.Command{Verb: "login"}, Done: done, internal: true}
	s.want = s.cfg.registry().Lookup(handlers.Connect)
	s.sent = ftp.Command{}
	s.setReplyDL(s.cfg.greetingTimeout())
	s.greetDL = s.replyDL
}

// Receive feeds bytes read from the control connection.
func (s *Session) Receive(p []byte) {
	if s.Terminal() {
		return
	}
	if s.fsm.Current() == states.Securing && s.want == nil {
		s.note("dropping " + strconv.Itoa(len(p)) + " clear-text bytes received during the TLS handshake")
		return
	}
	if err := s.rd.Feed(p, s.emit); err != nil && err != errStop {
		s.fail(err)
	}
}

// ControlClosed reports that the control connection ended (err nil: EOF).
func (s *Session) ControlClosed(err error) {
	st := s.fsm.Current()
	if states.Terminal(st) {
		return
	}
	if st == states.Quitting {
		// QUIT sent: the server may close without a 221, which is fine.
		s.closeClean()
		return
	}
	if err != nil && errors.Is(err, io.EOF) {
		err = nil
	}
	s.fail(&ftp.ClosedError{During: s.doing(), Err: err})
}

// Secured reports the end of the TLS handshake StartTLS asked for.
func (s *Session) Secured(err error) {
	if s.Terminal() {
		return
	}
	if err != nil {
		s.fail(fmt.Errorf("ftp: TLS handshake: %w", err))
		return
	}
	s.note("TLS handshake done")
	// Anything the server sent before the handshake completed was read in clear
	// text and must not be taken as if it came over TLS.
	s.rd = ftp.Reader{MaxLineLength: s.rd.MaxLineLength, MaxReplyLines: s.rd.MaxReplyLines, Trace: s.rd.Trace}
	s.inReply = true
	s.follow = false
	err = handlers.AfterTLS(s)
	s.inReply = false
	if err != nil {
		s.fail(err)
	}
}

// Tick runs the deadlines; the driver calls it at or after the time it was asked
// for in Reschedule.
func (s *Session) Tick(now time.Time) {
	if s.Terminal() {
		return
	}
	s.lastDL = -1 // the driver took the deadline out to call us: always report the next one
	n := now.UnixNano()
	switch {
	case s.replyDL != 0 && n >= s.replyDL:
		op := "reply to " + s.sent.Verb
		if s.sent.Verb == "" {
			op = "greeting"
		}
		s.fail(&ftp.TimeoutError{Op: op})
		return
	case s.dataDL != 0 && n >= s.dataDL && s.xfer != nil:
		x := s.xfer
		if !x.opened {
			s.transferFailed(&ftp.TimeoutError{Op: "data connection to " + x.req.Addr})
			return
		}
		if idle := s.cfg.dataIdleTimeout().Nanoseconds(); x.lastData+idle > n {
			s.dataDL = x.lastData + idle // bytes came since: push the deadline on
		} else {
			// No byte for the idle timeout: the transfer is short, whatever the
			// server answers now (errors.Is ErrIncomplete and ErrTimeout).
			s.transferFailed(&ftp.TransferError{Verb: x.verb(), Got: x.n, Want: x.wantOrUnknown(),
				Reason: "no data", Err: &ftp.TimeoutError{Op: "data idle"}})
			return
		}
	case s.idleDL != 0 && n >= s.idleDL:
		s.fail(&ftp.TimeoutError{Op: "idle"})
		return
	}
	if s.ka.dl != 0 && n >= s.ka.dl {
		s.keepaliveTick()
	}
	s.reschedule()
}

// ---- users → session ----

// Do queues a request. Its Done callback runs when it completes; a command with
// CR, LF or NUL in it is refused at once with ftp.ErrInvalidArgument, before
// anything is sent.
func (s *Session) Do(r *Request) {
	if err := r.Cmd.Validate(); err != nil {
		finishReq(r, Result{Err: err})
		return
	}
	if s.Terminal() {
		finishReq(r, Result{Err: s.deadErr()})
		return
	}
	s.queue = append(s.queue, r)
	s.pump()
}

// Close ends the session at once, without QUIT. Queued requests fail with
// ftp.ErrCanceled.
func (s *Session) Close() {
	if s.Terminal() {
		return
	}
	s.end(states.Close, fmt.Errorf("%w: session closed", ftp.ErrCanceled))
}

// Abort ends the session with err (a cancelled context, say).
func (s *Session) Abort(err error) {
	if s.Terminal() {
		return
	}
	if err == nil {
		err = fmt.Errorf("%w: session aborted", ftp.ErrCanceled)
	}
	s.fail(err)
}

// ---- the exchange a handler sees (handlers.Exchange) ----

// Command implements handlers.Exchange.
func (s *Session) Command() ftp.Command { return s.sent }

// User implements handlers.Exchange.
func (s *Session) User() string { return s.cfg.user() }

// Password implements handlers.Exchange.
func (s *Session) Password() string { return s.cfg.password() }

// Account implements handlers.Exchange.
func (s *Session) Account() string { return s.cfg.Account.Reveal() }

// WantTLS implements handlers.Exchange.
func (s *Session) WantTLS() bool { return s.cfg.TLS == TLSExplicit }

// Send implements handlers.Exchange.
func (s *Session) Send(cmd ftp.Command, h handlers.Handler) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	if h == nil {
		h = s.cfg.registry().Lookup(cmd.Verb)
	}
	s.follow = true
	s.write(cmd, h)
	return nil
}

// Expect implements handlers.Exchange.
func (s *Session) Expect(h handlers.Handler) {
	s.follow = true
	s.want = h
	if s.fsm.Current() == states.Greeting && s.greetDL != 0 {
		// 120 "ready in a while": the greeting timeout still bounds the whole
		// wait, however many 120s come.
		s.replyDL = s.greetDL
		s.reschedule()
		return
	}
	if s.xfer != nil && s.xfer.opened && !s.xfer.dataDone {
		// Bytes are flowing: the final reply comes after them, however long that
		// takes. The data idle deadline guards the wait instead.
		s.replyDL = 0
	} else {
		s.setReplyDL(s.cfg.replyTimeout())
	}
}

// Fire implements handlers.Exchange.
func (s *Session) Fire(event string) error { return s.fire(event) }

// SetResult implements handlers.Exchange.
func (s *Session) SetResult(v any) { s.value = v }

// SetFeatures implements handlers.Exchange.
func (s *Session) SetFeatures(f handlers.Features) { s.feats = f }

// RefuseEPSV implements handlers.Exchange.
func (s *Session) RefuseEPSV() { s.noEPSV = true }

// Note implements handlers.Exchange.
func (s *Session) Note(msg string) { s.note(msg) }

// StartTLS implements handlers.Exchange.
func (s *Session) StartTLS() error {
	s.follow = true
	s.replyDL = 0
	s.setReplyDL(s.cfg.greetingTimeout()) // bounds the handshake
	s.want = nil
	s.drv.StartTLS()
	return nil
}

// OpenPassive implements handlers.Exchange.
func (s *Session) OpenPassive(host string, port int) error {
	x := s.xfer
	if x == nil || x.req != nil {
		return &ftp.ProtocolError{Reason: "passive reply outside a transfer"}
	}
	if port < 1 || port > 65535 {
		return &ftp.ProtocolError{Reason: "passive port out of range", Line: strconv.Itoa(port)}
	}
	use := s.host
	if host != "" && host != s.host {
		if s.cfg.TrustPASVHost {
			use = host
			s.note("PASV address " + host + " differs from the control host; trusting it as configured")
		} else {
			s.note("PASV address " + host + " differs from the control host; using " + s.host)
		}
	}
	s.follow = true
	x.req = s.dataRequest(net.JoinHostPort(use, strconv.Itoa(port)))
	s.note("data connection to " + x.req.Addr)
	s.replyDL = 0
	s.dataDL = s.cfg.now().Add(s.cfg.dataConnectTimeout()).UnixNano()
	s.reschedule()
	s.drv.OpenData(x.req)
	return nil
}

// ---- internals ----

func finishReq(r *Request, res Result) {
	if r.Done != nil {
		r.Done(res)
	}
}

func (s *Session) deadErr() error {
	if s.err != nil {
		return s.err
	}
	return ftp.ErrClosed
}

func (s *Session) fire(event string) error {
	err := s.fsm.Event(context.Background(), event, s.self...)
	switch err.(type) {
	case nil, fsm.NoTransitionError: // a self-loop (Transferring on a 1yz, say) is a move too
		return nil
	}
	return &ftp.ProtocolError{Reason: fmt.Sprintf("illegal move %q in state %q", event, s.fsm.Current())}
}

// StateChanged implements states.Observer.
func (s *Session) StateChanged(from, to, event string) {
	if s.cfg.OnState != nil {
		s.cfg.OnState(s.id, from, to, event)
	}
}

func (s *Session) doing() string {
	if s.sent.Verb != "" && s.fsm.Current() != states.Ready {
		return s.sent.Verb + " (" + s.fsm.Current() + ")"
	}
	return s.fsm.Current()
}

func (s *Session) write(cmd ftp.Command, h handlers.Handler) {
	s.want, s.sent = h, cmd
	s.value = nil
	if s.cfg.Transcript != nil {
		s.record(transcript.Client, cmd.String())
	}
	s.drv.Write(cmd.AppendLine(make([]byte, 0, len(cmd.Verb)+len(cmd.Arg)+3)))
	s.idleDL = 0
	s.setReplyDL(s.cfg.replyTimeout())
}

func (s *Session) setReplyDL(d time.Duration) {
	s.replyDL = s.cfg.now().Add(d).UnixNano()
	s.reschedule()
}

func (s *Session) nextDL() int64 {
	n := s.replyDL
	for _, d := range [...]int64{s.dataDL, s.idleDL, s.ka.dl} {
		if d != 0 && (n == 0 || d < n) {
			n = d
		}
	}
	return n
}

func (s *Session) reschedule() {
	n := s.nextDL()
	if n == s.lastDL {
		return
	}
	s.lastDL = n
	if n == 0 {
		s.drv.Reschedule(time.Time{})
		return
	}
	s.drv.Reschedule(time.Unix(0, n))
}

func (s *Session) record(d transcript.Dir, line string) {
	s.cfg.Transcript.Record(transcript.Entry{Session: s.id, Time: s.cfg.now(), Dir: d, Line: line})
}

func (s *Session) traceServer(line []byte) { s.record(transcript.Server, string(line)) }

func (s *Session) note(msg string) {
	if s.cfg.Transcript != nil {
		s.record(transcript.Note, msg)
	}
}

// onReply runs for every complete reply.
func (s *Session) onReply(r ftp.Reply) error {
	if s.ka.owed > 0 && s.keepaliveReply(r) {
		return s.stopIfDead()
	}
	h := s.want
	if h == nil {
		if r.Code == 421 {
			s.fail(r.Err(s.sent))
		} else {
			s.fail(&ftp.ProtocolError{Reason: "unsolicited reply", Line: strconv.Itoa(r.Code) + " " + r.Last()})
		}
		return errStop
	}
	if r.Code == 421 { // service closing: whatever was asked, the session is over
		s.fail(r.Err(s.sent))
		return errStop
	}
	s.want = nil
	s.replyDL = 0
	s.follow = false
	s.inReply = true
	err := h(s, r)
	s.inReply = false
	if s.Terminal() {
		return errStop
	}
	st := s.fsm.Current()
	if err != nil && s.passiveRefused(r) {
		return s.stopIfDead()
	}
	if err != nil {
		switch {
		case login(st):
			s.fail(err)
			return errStop
		case st == states.Quitting:
			// QUIT refused: the caller hears why, and the session ends anyway
			// (firing Done from Quitting would be an illegal move).
			s.complete(Result{Reply: r, Err: err}, "")
			s.closeClean()
		case s.xfer != nil:
			s.xfer.ctlErr = err
			s.xfer.ctlDone = true
			s.xfer.ctlReply = r
			s.transferStep()
		default:
			s.complete(Result{Reply: r, Err: err}, states.Done)
		}
		return s.stopIfDead()
	}
	if st == states.Securing && s.want == nil {
		// 234 to AUTH TLS: whatever else came in this clear-text read was not
		// protected and is dropped; the handshake starts on a clean stream.
		return errStop
	}
	if s.follow {
		s.reschedule()
		return nil
	}
	switch {
	case s.xfer != nil:
		s.xfer.ctlReply = r
		s.transferStep()
	case login(st):
		s.fail(&ftp.ProtocolError{Reason: "login handler stopped without logging in", Line: strconv.Itoa(r.Code) + " " + r.Last()})
	case st == states.Quitting:
		s.complete(Result{Reply: r}, "")
		s.closeClean()
	case s.cur != nil && s.cur.internal && s.cur.Cmd.Verb == "login":
		s.complete(Result{Reply: r}, "")
	default:
		s.complete(Result{Reply: r, Value: s.value}, states.Done)
	}
	return s.stopIfDead()
}

func (s *Session) stopIfDead() error {
	if s.Terminal() {
		return errStop
	}
	return nil
}

func login(st string) bool {
	switch st {
	case states.Greeting, states.Securing, states.UserSent, states.PassSent, states.AcctSent:
		return true
	}
	return false
}

// complete finishes the request in flight, fires event (if any) and starts the
// next request.
func (s *Session) complete(res Result, event string) {
	r := s.cur
	s.cur, s.value, s.xfer = nil, nil, nil
	s.replyDL, s.dataDL = 0, 0
	if event != "" {
		if err := s.fire(event); err != nil {
			s.fail(err)
			if r != nil {
				finishReq(r, Result{Reply: res.Reply, Err: err})
			}
			return
		}
	}
	if r != nil {
		if r.internal && res.Err != nil && r.Cmd.Verb != "login" {
			// PBSZ/PROT refused: never go on unprotected.
			s.fail(fmt.Errorf("%w: %w", ftp.ErrUnsupported, res.Err))
			return
		}
		if r.Cmd.Verb == "login" && r.internal && s.cfg.TLS != TLSNone {
			prot := "P"
			if s.cfg.ClearData {
				prot = "C"
			}
			// Protection follows login (RFC 4217); these go before anything
			// queued, including what the login's Done queues: so they are
			// queued before it runs.
			s.queue = append([]*Request{
				{Cmd: ftp.Cmd("PBSZ", "0"), internal: true},
				{Cmd: ftp.Cmd("PROT", prot), internal: true},
			}, s.queue...)
		}
		finishReq(r, res)
	}
	if s.Terminal() {
		return
	}
	s.pump()
	if s.cur == nil && !s.Terminal() && s.cfg.Timeouts.Idle > 0 {
		s.idleDL = s.cfg.now().Add(s.cfg.Timeouts.Idle).UnixNano()
	}
	s.keepaliveIdle()
	s.reschedule()
}

// pump starts the next queued request when the session is ready for it.
func (s *Session) pump() {
	// Replies owed for keepalive NOOPs come first (see keepaliveReply).
	for s.cur == nil && len(s.queue) > 0 && s.fsm.Current() == states.Ready && s.ka.owed == 0 {
		r := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		s.start(r)
	}
}

func (s *Session) start(r *Request) {
	s.cur = r
	h := r.Handler
	if h == nil {
		h = s.cfg.registry().Lookup(r.Cmd.Verb)
	}
	switch {
	case r.Data != nil:
		if err := s.fire(states.OpenData); err != nil {
			s.fail(err)
			return
		}
		s.xfer = &transfer{data: r.Data, handler: h, want: r.Data.Want}
		s.armKeepalive()
		s.openData()
	case r.Cmd.Verb == "QUIT":
		if err := s.fire(states.Quit); err != nil {
			s.fail(err)
			return
		}
		s.write(r.Cmd, h)
	default:
		if err := s.fire(states.Send); err != nil {
			s.fail(err)
			return
		}
		s.write(r.Cmd, h)
	}
}

func (s *Session) passive() {
	reg := s.cfg.registry()
	if s.noEPSV {
		s.write(ftp.Cmd("PASV"), reg.Lookup("PASV"))
	} else {
		s.write(ftp.Cmd("EPSV"), reg.Lookup("EPSV"))
	}
}

// closeClean ends the session after QUIT.
func (s *Session) closeClean() {
	s.end(states.Close, nil)
}

// fail ends the session with err.
func (s *Session) fail(err error) {
	if s.Terminal() {
		return
	}
	s.end(states.Fail, err)
}

func (s *Session) end(event string, err error) {
	s.err = err
	if ferr := s.fsm.Event(context.Background(), event, s); ferr != nil {
		// Close and Fail are legal from every live state; this cannot happen
		// unless the table is broken. Force the terminal state all the same.
		s.fsm.SetState(states.Failed)
	}
	if x := s.xfer; x != nil && x.req != nil && !x.dataDone && !x.drainable() {
		x.dataDone = true
		s.drv.CloseData(x.req)
	}
	s.drv.Close()
	s.replyDL, s.dataDL, s.idleDL = 0, 0, 0
	s.ka.dl = 0
	s.reschedule()
	s.want = nil
	dead := err
	if dead == nil {
		dead = ftp.ErrClosed
	}
	if x := s.xfer; x != nil && x.req != nil && x.req.OffLoop && !x.released {
		// The driver's goroutine still uses the caller's Sink or Source: the
		// request finishes when DataClosed says it is done (finishEnded). If
		// the server had already answered 226, the data may still complete.
		x.ended, x.endErr = true, dead
	} else if r := s.cur; r != nil {
		s.cur = nil
		if s.xfer != nil {
			finishReq(r, Result{Bytes: s.xfer.n, Err: s.xfer.failWith(dead)})
		} else if r.Cmd.Verb == "QUIT" && err == nil {
			finishReq(r, Result{})
		} else {
			finishReq(r, Result{Err: dead})
		}
	}
	if s.xfer != nil && !s.xfer.ended {
		s.xfer = nil
	}
	q := s.queue
	s.queue = nil
	for _, r := range q {
		finishReq(r, Result{Err: dead})
	}
	if err != nil {
		s.note("session failed: " + err.Error())
	} else {
		s.note("session closed")
	}
}
