package session

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/states"
)

// transfer is the bookkeeping of the one data transfer a session may run at a
// time. A transfer succeeds only when both sides are done: the data connection
// reached its end (dataDone) and the control connection said 226/250 (ctlDone).
type transfer struct {
	data    *Data
	handler handlers.Handler
	req     *DataRequest // nil until the passive reply named an address

	opened   bool // data connection established
	restSent bool
	cmdSent  bool // the data command (RETR, LIST, …) went out
	ctlDone  bool // its final reply arrived
	dataDone bool // the data connection ended (or was dropped)
	// released: the driver reported DataClosed. An off-loop transfer's
	// goroutine uses the caller's Sink or Source until then, and only then is
	// its byte count known, so the request waits for it (finishing, finishErr).
	released  bool
	finishing bool
	finishErr error
	// ended: the session ended while an off-loop goroutine still held the
	// caller's Sink or Source; DataClosed finishes the request (endErr is
	// the session's error).
	ended  bool
	endErr error

	ctlReply ftp.Reply
	ctlErr   error // the final reply was a failure
	failed   error // the data side failed first; reported once control is in sync

	n        int64 // bytes moved
	want     int64 // bytes expected, ≤0 unknown
	limit    int64
	lastData int64 // unix nanoseconds of the last data activity
}

// failWith is the error a caller sees when the session dies under the transfer.
func (x *transfer) failWith(cause error) error {
	return &ftp.TransferError{Verb: x.verb(), Got: x.n, Want: x.wantOrUnknown(), Reason: "session ended", Err: cause}
}

func (x *transfer) verb() string {
	if x.req != nil && x.req.s != nil && x.req.s.cur != nil {
		return x.req.s.cur.Cmd.Verb
	}
	return "transfer"
}

func (x *transfer) wantOrUnknown() int64 {
	if x.want > 0 {
		return x.want
	}
	return -1
}

// DataOpened reports that the data connection req is established.
func (s *Session) DataOpened(req *DataRequest) {
	x := s.xfer
	if x == nil || x.req != req || s.Terminal() || x.opened {
		return
	}
	x.opened = true
	x.lastData = s.cfg.now().UnixNano()
	s.dataDL = 0
	if !req.OffLoop {
		s.dataDL = x.lastData + s.cfg.dataIdleTimeout().Nanoseconds()
	}
	s.note("data connection open")
	if req.Active != nil {
		s.activeOpened()
		return
	}
	s.sendNext()
}

// DataIn hands bytes that arrived on the data connection of an on-loop
// download. A non-nil return tells the driver to drop the connection.
func (s *Session) DataIn(req *DataRequest, p []byte) error {
	x := s.xfer
	if x == nil || x.req != req || s.Terminal() {
		return ftp.ErrClosed
	}
	if x.failed != nil {
		return x.failed
	}
	if x.limit > 0 && x.n+int64(len(p)) > x.limit {
		err := &ftp.TransferError{Verb: s.cur.Cmd.Verb, Got: x.n, Want: -1, Reason: "more data than the limit of " + strconv.FormatInt(x.limit, 10) + " bytes"}
		s.transferFailed(err)
		return err
	}
	x.lastData = s.cfg.now().UnixNano()
	if !x.ctlDone && s.replyDL != 0 && x.cmdSent {
		s.replyDL = 0 // data flows: the final reply comes after it
		s.reschedule()
	}
	n, err := x.data.Sink.Write(p)
	x.n += int64(n) // what the sink took counts, so a resume starts after it
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.transferFailed(&ftp.TransferError{Verb: s.cur.Cmd.Verb, Got: x.n, Want: x.wantOrUnknown(), Reason: "writing the data failed", Err: err})
		return err
	}
	return nil
}

// DataSent reports upload progress on the loop: n more bytes went out.
func (s *Session) DataSent(req *DataRequest, n int) {
	x := s.xfer
	if x == nil || x.req != req || s.Terminal() {
		return
	}
	x.n += int64(n)
	x.lastData = s.cfg.now().UnixNano()
}

// DataClosed reports that the data connection req ended. n is the number of
// bytes the driver moved itself (off-loop downloads, and uploads not reported
// through DataSent); err is nil for a clean end of stream.
func (s *Session) DataClosed(req *DataRequest, n int64, err error) {
	x := s.xfer
	if x == nil || x.req != req || x.released {
		return
	}
	if s.Terminal() {
		if x.ended {
			x.released = true
			x.n += n
			s.finishEnded(err)
		}
		return
	}
	x.released = true
	x.n += n
	if x.finishing {
		s.finishTransfer(x.ownCause(err))
		return
	}
	if x.dataDone {
		return // dropped earlier; the outcome is decided elsewhere
	}
	x.dataDone = true
	s.dataDL = 0
	if err != nil && errors.Is(err, io.EOF) {
		err = nil
	}
	switch {
	case !x.opened:
		if err == nil {
			err = errors.New("data connection failed")
		}
		s.transferFailed(&ftp.TransferError{Verb: s.cur.Cmd.Verb, Got: 0, Want: x.wantOrUnknown(), Reason: "cannot open data connection to " + req.Addr, Err: err})
	case err != nil:
		s.transferFailed(&ftp.TransferError{Verb: s.cur.Cmd.Verb, Got: x.n, Want: x.wantOrUnknown(), Reason: "data connection broke", Err: err})
	case !x.cmdSent && !req.Upload:
		// An upload may end before its command when REST goes first: the
		// driver sends as soon as the connection is open, and the server
		// reads the bytes and the FIN once STOR arrives. A download may not.
		s.transferFailed(&ftp.TransferError{Verb: s.cur.Cmd.Verb, Got: x.n, Want: x.wantOrUnknown(), Reason: "data connection closed before the transfer began"})
	case x.ctlDone:
		s.finishTransfer(nil)
	default:
		s.note("data connection closed after " + strconv.FormatInt(x.n, 10) + " bytes")
		s.setReplyDL(s.cfg.replyTimeout()) // now the final reply is due
	}
}

// sendNext sends what the transfer needs once its data connection is open:
// REST when resuming, then the data command.
func (s *Session) sendNext() {
	x := s.xfer
	if x.data.Offset > 0 && !x.restSent {
		x.restSent = true
		s.write(ftp.Cmd("REST", strconv.FormatInt(x.data.Offset, 10)), s.cfg.registry().Lookup("REST"))
		return
	}
	x.cmdSent = true
	verb := s.cur.Cmd.Verb
	x.limit = x.data.Limit
	if x.limit == 0 && (verb == "LIST" || verb == "NLST" || verb == "MLSD") {
		x.limit = s.cfg.maxListing()
	}
	s.write(s.cur.Cmd, x.handler)
}

// transferStep runs after a handler of the transfer finished without asking for
// more: a failure reply, REST accepted, or the data command's final reply.
func (s *Session) transferStep() {
	x := s.xfer
	switch {
	case x.failed != nil && x.ctlErr != nil && x.cmdSent && (x.n == 0 || x.req != nil && x.req.Upload) &&
		s.fsm.Current() != states.Transferring:
		// The server refused the data command without a 1yz (proftpd: "550
		// nope: No such file or directory" to RETR, "550 Permission denied"
		// to an anonymous STOR) and reset the data connection it had
		// accepted, sometimes before that reply arrived. Nothing was
		// transferred (bytes an upload wrote into the socket were never
		// read); the reply, not the reset, says why.
		s.finishTransfer(x.ctlErr)
	case x.failed != nil:
		// The data side failed first (a broken sink, a reset, a limit); a
		// failure reply that follows is the server's view of the same event.
		s.finishTransfer(x.failed)
	case x.ctlErr != nil:
		s.finishTransfer(x.ctlErr)
	case x.req == nil:
		s.finishTransfer(&ftp.ProtocolError{Reason: "passive handler finished without naming a data address"})
	case !x.cmdSent:
		// Passive: REST was accepted on an open connection. Active: EPRT or
		// PORT (or REST) was accepted; the data command goes out whether or
		// not the server has connected yet.
		if x.opened || x.req.Active != nil {
			s.sendNext()
		}
	default:
		x.ctlDone = true
		if x.dataDone {
			s.finishTransfer(nil)
			return
		}
		// 226 before the last bytes: keep reading until the data connection ends.
		s.note("final reply before data end; waiting for the data connection")
		if !x.req.OffLoop && x.opened {
			// Off the loop the driver bounds quiet reads itself; the session
			// cannot see that goroutine's progress, and a slow writer that
			// still drains the socket must not time out here. Not yet open
			// (active mode: the accept is still on its way to the loop): the
			// data-connect deadline keeps bounding the wait.
			s.dataDL = x.lastData + s.cfg.dataIdleTimeout().Nanoseconds()
			s.reschedule()
		}
	}
}

// transferFailed records a data-side failure. If the data command is out and
// its final reply has not come, the session waits for that reply (so the control
// connection stays in step) before reporting the failure.
func (s *Session) transferFailed(err error) {
	x := s.xfer
	if x == nil {
		return
	}
	if x.failed == nil {
		x.failed = err
	}
	if x.req != nil && !x.dataDone {
		x.dataDone = true
		s.drv.CloseData(x.req)
	}
	s.dataDL = 0
	if s.want != nil && !x.ctlDone {
		s.note("transfer failed; waiting for the server's reply: " + err.Error())
		if s.replyDL == 0 {
			s.setReplyDL(s.cfg.replyTimeout())
		}
		// dataDL is gone: the driver must hear of the next deadline even when
		// the reply's was set already (a 1yz before the connection, say).
		s.reschedule()
		return
	}
	s.finishTransfer(x.failed)
}

// finishTransfer completes the transfer request and returns the session to Ready.
func (s *Session) finishTransfer(err error) {
	x := s.xfer
	if x.req != nil && x.req.OffLoop && !x.released {
		// The driver's goroutine may still be writing to the caller's Sink (or
		// reading its Source): drop the connection and complete the request
		// when DataClosed says the goroutine is done, with its byte count.
		x.finishing, x.finishErr = true, err
		if !x.dataDone {
			x.dataDone = true
			s.drv.CloseData(x.req)
		}
		s.replyDL, s.dataDL = 0, 0
		s.reschedule()
		return
	}
	if err == nil && x.failed != nil {
		err = x.failed
	}
	verb := s.cur.Cmd.Verb
	if err == nil && x.want > 0 && x.n != x.want {
		err = &ftp.TransferError{Verb: verb, Got: x.n, Want: x.want, Reason: "size differs from the announced size"}
	}
	var re *ftp.Error
	// Bytes an upload has sent before a refusal (no 1yz) say nothing about the
	// server's copy: only a download that received some has begun.
	begun := s.fsm.Current() == states.Transferring || x.n > 0 && (x.req == nil || !x.req.Upload)
	if err != nil && errors.As(err, &re) && x.cmdSent && begun {
		// A failure reply after the transfer began: the bytes so far are not the file.
		err = &ftp.TransferError{Verb: verb, Got: x.n, Want: x.wantOrUnknown(), Reason: "server reported failure", Err: err}
	}
	if x.req != nil && !x.dataDone {
		x.dataDone = true
		s.drv.CloseData(x.req)
	}
	if err == nil {
		s.note(fmt.Sprintf("%s complete: %d bytes", verb, x.n))
	}
	s.complete(Result{Reply: x.ctlReply, Bytes: x.n, Err: err}, states.TransferDone)
}

// drainable reports whether the data connection may still complete after the
// control connection is gone: the server already answered 226 for it (or the
// outcome was decided), and an off-loop goroutine, bounded by its own idle
// deadline, is still reading the last bytes.
func (x *transfer) drainable() bool {
	if x.req == nil || !x.req.OffLoop || x.released {
		return false
	}
	return x.finishing || x.ctlDone && x.ctlErr == nil && x.failed == nil
}

// finishEnded completes the request of a transfer whose session ended while
// its off-loop goroutine was still running, now that the goroutine is done
// with the caller's Sink or Source.
func (s *Session) finishEnded(dataErr error) {
	x, r := s.xfer, s.cur
	s.xfer, s.cur = nil, nil
	if dataErr != nil && errors.Is(dataErr, io.EOF) {
		dataErr = nil
	}
	verb := "transfer"
	if r != nil {
		verb = r.Cmd.Verb
	}
	res := Result{Reply: x.ctlReply, Bytes: x.n}
	switch {
	case x.finishing && x.finishErr != nil:
		res.Err = x.finishErr
	case (x.finishing || x.ctlDone && x.ctlErr == nil && x.failed == nil) && dataErr == nil:
		if x.want > 0 && x.n != x.want {
			res.Err = &ftp.TransferError{Verb: verb, Got: x.n, Want: x.want, Reason: "size differs from the announced size"}
		} else {
			s.note(fmt.Sprintf("%s complete: %d bytes (after the control connection ended)", verb, x.n))
		}
	case dataErr != nil:
		res.Err = &ftp.TransferError{Verb: verb, Got: x.n, Want: x.wantOrUnknown(), Reason: "session ended", Err: x.endErr}
	default:
		res.Err = x.failWith(x.endErr)
	}
	if r != nil {
		finishReq(r, res)
	}
}

// ownCause picks what an off-loop transfer reports once its goroutine is done.
// When bytes had moved and our own side failed (the caller's Sink or Source
// returned an error), the goroutine closes the connection, and the server's
// failure reply (426, 451, 551) often reaches the loop before the goroutine's
// report does. That reply is an echo of our failure: the local error is the
// cause the caller needs. A network error on the data connection is the other
// way round: the server refused or aborted (550 to an anonymous STOR, say) and
// dropped the connection, and our write or shutdown failing is the echo, so the
// server's reply stays the cause.
func (x *transfer) ownCause(dataErr error) error {
	var re *ftp.Error
	var ne *net.OpError
	if dataErr == nil || errors.Is(dataErr, io.EOF) || errors.As(dataErr, &ne) || errors.Is(dataErr, net.ErrClosed) ||
		x.failed != nil || x.n == 0 || x.finishErr == nil || !errors.As(x.finishErr, &re) {
		return x.finishErr
	}
	return &ftp.TransferError{Verb: x.verb(), Got: x.n, Want: x.wantOrUnknown(), Reason: "data connection broke", Err: dataErr}
}
