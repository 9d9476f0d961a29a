package ftp

import "strings"

// Reply is one complete server reply: a three-digit code and its text lines.
//
// Lines holds the text of each line. For the first and the last line the code and
// its separator are removed; lines in between of a multi-line reply are kept as
// received, since RFC 959 lets them say anything, except that a leading "NNN-"
// with the reply's own code is removed too.
type Reply struct {
	Code  int      // the three-digit reply code, 100 to 599
	Lines []string // the text of each line, at least one
}

// Message joins the reply's lines with newlines.
func (r Reply) Message() string { return strings.Join(r.Lines, "\n") }

// Last returns the text of the final line, where single-line replies keep their
// payload (the PASV tuple, the 257 path, …).
func (r Reply) Last() string {
	if len(r.Lines) == 0 {
		return ""
	}
	return r.Lines[len(r.Lines)-1]
}

// Class is the first digit of the code: 1 preliminary, 2 completion,
// 3 intermediate, 4 transient failure, 5 permanent failure.
func (r Reply) Class() int { return r.Code / 100 }

// Preliminary reports a 1yz reply: another reply to the same command follows.
func (r Reply) Preliminary() bool { return r.Class() == 1 }

// Positive reports a 2yz or 3yz reply.
func (r Reply) Positive() bool { c := r.Class(); return c == 2 || c == 3 }

// Err turns the reply into an [*Error] that records which command it answered.
func (r Reply) Err(cmd Command) *Error {
	return &Error{Code: r.Code, Msg: r.Message(), Verb: cmd.Verb}
}
