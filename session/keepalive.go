package session

import (
	"strconv"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// keepalive is the bookkeeping of the NOOPs a session sends on its own
// (Config.Keepalive during transfers, Config.IdleKeepalive in Ready). Its
// deadline lives with the session's others, in the driver's one timer (the
// engine's per-loop heap): there is no timer per session.
type keepalive struct {
	dl   int64 // when the next NOOP is due, unix nanoseconds; 0 = none
	owed int   // NOOPs sent whose replies have not arrived
	off  bool  // the server refused NOOP: no more keepalives in this session
}

// armKeepalive sets when the next keepalive NOOP is due: Config.Keepalive from
// now while a transfer runs, Config.IdleKeepalive from now when the session is
// idle in Ready, none otherwise.
func (s *Session) armKeepalive() {
	s.ka.dl = 0
	var every time.Duration
	switch {
	case s.ka.off || s.Terminal():
	case s.xfer != nil:
		every = s.cfg.Keepalive
	case s.cur == nil && s.ka.owed == 0 && s.fsm.Current() == states.Ready:
		every = s.cfg.IdleKeepalive
	}
	if every > 0 {
		s.ka.dl = s.cfg.now().Add(every).UnixNano()
	}
}

// keepaliveTick runs when the keepalive deadline has passed.
func (s *Session) keepaliveTick() {
	switch {
	case s.ka.off:
		s.ka.dl = 0
	case s.xfer != nil:
		// Only once the server has accepted the data command (1yz): before
		// that, replies come in strict order and the reply deadline guards
		// the wait.
		if s.fsm.Current() == states.Transferring {
			s.sendNOOP()
		}
		s.armKeepalive()
	case s.cur == nil && s.ka.owed == 0 && len(s.queue) == 0 && s.fsm.Current() == states.Ready:
		s.sendNOOP()
		s.sent = ftp.Cmd("NOOP")
		s.replyDL = s.cfg.now().Add(s.cfg.replyTimeout()).UnixNano()
		s.ka.dl = 0 // the next one is armed when this reply is in
	default:
		s.armKeepalive()
	}
}

// sendNOOP writes a keepalive NOOP without touching the exchange in flight:
// the reply it owes is matched by keepaliveReply, not by a handler.
func (s *Session) sendNOOP() {
	cmd := ftp.Cmd("NOOP")
	if s.cfg.Transcript != nil {
		s.record(transcript.Client, cmd.String()+" (keepalive)")
	}
	s.drv.Write(cmd.AppendLine(make([]byte, 0, 6)))
	s.ka.owed++
}

// keepaliveReply decides whether r answers one of the keepalive NOOPs still
// owed, and takes it if so. It runs before any handler sees r.
//
// Replies come back in the order of the commands they answer, with one
// exception: while a transfer runs, a server may answer commands that arrive
// on the control connection at once, between the data command's 1yz and its
// final reply, or it may read them only after the transfer, so that their
// replies follow the final one. The session counts the replies it owes and
// tells them apart by code:
//
//   - While the data command's final reply is still due, a NOOP reply is one
//     a NOOP can get and a data command after its 1yz cannot: 200, or a refusal
//     of NOOP itself (202, 500, 502). The final reply of a data command is
//     226 or 250, or 4yz/5yz (425, 426, 451, 550, …), never one of those, and a
//     multi-line 226 is still one reply (the Reader assembles it), so the 226
//     is never counted as a NOOP reply and a 200 never ends the transfer.
//   - Once the final reply is in (or without a transfer), every reply is for
//     the oldest NOOP still owed, whatever its code: those NOOPs went out
//     before anything that is now pending. The queue waits until all owed
//     replies are in (see pump), so the next command's reply cannot be taken
//     for a NOOP's, and the reply deadline guards that wait.
//
// 421 is never taken here: it ends the session whatever it answers.
func (s *Session) keepaliveReply(r ftp.Reply) bool {
	if r.Code == 421 {
		return false
	}
	x := s.xfer
	if x != nil && x.cmdSent && !x.ctlDone && s.want != nil {
		switch r.Code {
		case 200, 202, 500, 502:
		default:
			return false // the data command's reply
		}
	}
	s.ka.owed--
	if r.Class() != 2 {
		s.ka.off = true
		s.note("server refused NOOP (" + strconv.Itoa(r.Code) + "); keepalive off for this session")
	}
	if x != nil || s.cur != nil {
		return true // the transfer goes on; complete() sees to what is owed after it
	}
	if s.ka.owed > 0 {
		s.setReplyDL(s.cfg.replyTimeout())
		return true
	}
	s.replyDL = 0
	s.pump()
	s.armKeepalive()
	s.reschedule()
	return true
}

// keepaliveIdle runs when a request has finished: replies still owed for
// keepalive NOOPs get a reply deadline (the queue waits for them), and the
// next keepalive is armed.
func (s *Session) keepaliveIdle() {
	if s.ka.owed > 0 && s.cur == nil && !s.Terminal() {
		s.sent = ftp.Cmd("NOOP")
		s.replyDL = s.cfg.now().Add(s.cfg.replyTimeout()).UnixNano()
	}
	s.armKeepalive()
}
