package ftp

import (
	"errors"
	"fmt"
)

// Sentinel errors. Each typed error below unwraps to one of them, so callers can
// branch with errors.Is and still get detail with errors.As.
var (
	// ErrProtocol: the server broke the protocol (bad framing, bad code, bad reply).
	ErrProtocol = errors.New("ftp: protocol error")
	// ErrTimeout: a deadline passed (connect, greeting, reply, data, idle).
	ErrTimeout = errors.New("ftp: timeout")
	// ErrClosed: the connection or session is closed, by the peer or locally.
	ErrClosed = errors.New("ftp: connection closed")
	// ErrInvalidArgument: a command argument was refused before anything was sent.
	ErrInvalidArgument = errors.New("ftp: invalid argument")
	// ErrIncomplete: a transfer ended without all of its bytes.
	ErrIncomplete = errors.New("ftp: transfer incomplete")
	// ErrUnsupported: the server does not offer what was asked for.
	ErrUnsupported = errors.New("ftp: not supported by server")
	// ErrCanceled: the caller gave up (context cancelled, session closed by the user).
	ErrCanceled = errors.New("ftp: canceled")
	// ErrUnsafePath: a server-supplied name would escape its target folder.
	ErrUnsafePath = errors.New("ftp: unsafe path")
)

// Error is a failure reply from the server (4yz or 5yz, or an unexpected code).
// Use errors.As to read the code, and [Error.Temporary] to tell a 4yz reply (the
// same request may work later) from a 5yz one.
type Error struct {
	Code int    // the three-digit reply code
	Msg  string // the reply text, lines joined by "\n"
	Verb string // the command it answered ("" for the greeting)
}

// Error shows the command, the code and the text: "ftp: RETR: 550 No such file".
func (e *Error) Error() string {
	if e.Verb == "" {
		return fmt.Sprintf("ftp: %03d %s", e.Code, e.Msg)
	}
	return fmt.Sprintf("ftp: %s: %03d %s", e.Verb, e.Code, e.Msg)
}

// Temporary reports a 4yz reply: the same request may succeed later.
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// ProtocolError describes input that is not a valid FTP reply stream.
type ProtocolError struct {
	Reason string // what was wrong, in a few words
	Line   string // the offending line, cut to a short prefix
}

// Error shows the reason and the quoted offending line.
func (e *ProtocolError) Error() string {
	if e.Line == "" {
		return "ftp: protocol error: " + e.Reason
	}
	return fmt.Sprintf("ftp: protocol error: %s: %q", e.Reason, e.Line)
}

// Unwrap makes errors.Is(err, ErrProtocol) true.
func (e *ProtocolError) Unwrap() error { return ErrProtocol }

// TimeoutError says which deadline passed.
type TimeoutError struct {
	Op string // "connect", "greeting", "reply to RETR", "data", "idle", …
}

// Error names the deadline that passed: "ftp: timeout: greeting".
func (e *TimeoutError) Error() string { return "ftp: timeout: " + e.Op }

// Unwrap makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Unwrap() error { return ErrTimeout }

// Timeout lets net-style checks (interface{ Timeout() bool }) recognise it.
func (e *TimeoutError) Timeout() bool { return true }

// ArgumentError is a command refused before sending.
type ArgumentError struct {
	Verb   string // the command that was refused
	Reason string // why; never quotes a secret argument
}

// Error names the command and the reason.
func (e *ArgumentError) Error() string {
	return fmt.Sprintf("ftp: invalid argument to %s: %s", e.Verb, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidArgument) true.
func (e *ArgumentError) Unwrap() error { return ErrInvalidArgument }

// TransferError says how a data transfer fell short.
type TransferError struct {
	Verb   string // RETR, STOR, LIST, …
	Got    int64  // bytes moved
	Want   int64  // bytes expected, -1 when unknown
	Reason string // how it fell short, when there is more to say than Err
	Err    error  // the underlying cause, if any (a reply error, a reset, …)
}

// Error shows the command, the bytes moved (and expected, when known), the
// reason and the cause.
func (e *TransferError) Error() string {
	s := fmt.Sprintf("ftp: %s incomplete after %d bytes", e.Verb, e.Got)
	if e.Want >= 0 {
		s += fmt.Sprintf(" of %d", e.Want)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrIncomplete) true while Unwrap exposes the cause.
func (e *TransferError) Is(target error) bool { return target == ErrIncomplete }

// Unwrap returns the underlying cause.
func (e *TransferError) Unwrap() error { return e.Err }

// ClosedError says the connection ended, and how.
type ClosedError struct {
	During string // what the session was doing
	Err    error  // the network error, nil for a clean EOF
}

// Error says what the session was doing when the connection ended, and the
// network error if there was one.
func (e *ClosedError) Error() string {
	if e.Err == nil {
		return "ftp: connection closed by server during " + e.During
	}
	return fmt.Sprintf("ftp: connection lost during %s: %v", e.During, e.Err)
}

// Is makes errors.Is(err, ErrClosed) true.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the network error.
func (e *ClosedError) Unwrap() error { return e.Err }
