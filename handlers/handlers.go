// Package handlers holds the per-command response handlers: small functions that
// read one reply and decide what the session does next.
//
// This is the pattern of Fredrik Lundh's asynchronous FTP client, in Go. Every
// command that goes out carries a handler; when the command's reply is complete the
// session calls the handler with an [Exchange] (what the handler may do) and the
// [ftp.Reply]. The handler can fire a state-machine event, send a follow-up command
// with its own handler (USER → PASS), wait for a further reply to the same command
// (a 1yz preliminary reply), hand a value to the caller, or open a data connection.
// Returning an error fails the command.
//
// Handlers are registered by command name in a [Registry]. A user adds one (SITE,
// STAT, MLST …) with [Registry.Register] without touching the engine.
package handlers

import (
	"github.com/asyncftp/asyncftp/ftp"
)

// Handler reads the reply to one command and names the next step through x.
// A nil return with no call to x.Send, x.Expect or x.OpenPassive means the command
// is finished. A non-nil return fails it; during login (and for any 421) a failure
// ends the session.
type Handler func(x Exchange, r ftp.Reply) error

// Exchange is what a handler may see and do while it reads one reply. The
// session implements it; tests can implement it too.
type Exchange interface {
	// Command is the command this reply answers.
	Command() ftp.Command
	// User is the login name ("anonymous" when none is configured).
	User() string
	// Password is the login password, for the PASS handler only; the session
	// keeps it out of transcripts and errors, and so must a handler.
	Password() string
	// Account is the account for servers that answer 332 ("" when none).
	Account() string
	// WantTLS reports whether the session must secure the control connection with
	// AUTH TLS before it logs in.
	WantTLS() bool

	// Send writes a follow-up command now; its reply goes to h (nil: the
	// registry's handler for its verb). Follow-ups go ahead of anything queued.
	Send(cmd ftp.Command, h Handler) error
	// Expect says that another reply to the same command follows (after a 1yz);
	// h reads it.
	Expect(h Handler)
	// Fire moves the session's state machine; an event the table does not allow
	// in the current state is an error.
	Fire(event string) error
	// SetResult hands a value to whoever issued the command (a path, a size, …).
	SetResult(v any)
	// SetFeatures records what FEAT announced.
	SetFeatures(f Features)

	// OpenPassive asks for a data connection to the address a PASV or EPSV reply
	// gave. host "" means the control connection's host. The session decides
	// whether to trust a different host; the data command follows once connected.
	OpenPassive(host string, port int) error
	// RefuseEPSV remembers that the server does not do EPSV, for the rest of the
	// session.
	RefuseEPSV()
	// StartTLS asks the driver to run the TLS handshake on the control connection
	// (after 234 to AUTH TLS). The session continues when it completes.
	StartTLS() error
	// Note adds a remark to the transcript.
	Note(msg string)
}
