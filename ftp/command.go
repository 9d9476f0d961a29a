package ftp

import (
	"fmt"
	"io"
	"strings"
)

// Command is one request line on the control connection: a verb such as "RETR"
// and an optional argument.
type Command struct {
	Verb string // the command name, such as "USER" or "RETR"; sent as given
	Arg  string // the argument after one space; "" sends the verb alone
}

// Cmd builds a Command. It is shorthand for Command{Verb: verb, Arg: arg}.
func Cmd(verb string, arg ...string) Command {
	c := Command{Verb: verb}
	if len(arg) > 0 {
		c.Arg = strings.Join(arg, " ")
	}
	return c
}

// Secret reports whether the argument must never be shown: the password of PASS
// and the account of ACCT.
func (c Command) Secret() bool {
	return strings.EqualFold(c.Verb, "PASS") || strings.EqualFold(c.Verb, "ACCT")
}

// Validate refuses a command that could smuggle a second command onto the wire
// (CR, LF or NUL anywhere) or has no verb. The error wraps [ErrInvalidArgument] and
// never quotes a secret argument.
func (c Command) Validate() error {
	if c.Verb == "" {
		return &ArgumentError{Verb: c.Verb, Reason: "empty verb"}
	}
	for i := 0; i < len(c.Verb); i++ {
		b := c.Verb[i]
		if b <= ' ' || b >= 0x7f {
			return &ArgumentError{Verb: c.Verb, Reason: "verb has a control, space or non-ASCII byte"}
		}
	}
	if i := strings.IndexAny(c.Arg, "\r\n\x00"); i >= 0 {
		return &ArgumentError{Verb: c.Verb, Reason: fmt.Sprintf("argument has %q at byte %d", c.Arg[i], i)}
	}
	return nil
}

// AppendLine appends the wire form of c, terminated by CRLF, to b. Callers
// validate first.
func (c Command) AppendLine(b []byte) []byte {
	b = append(b, c.Verb...)
	if c.Arg != "" {
		b = append(b, ' ')
		b = append(b, c.Arg...)
	}
	return append(b, '\r', '\n')
}

// String shows the command as it would appear in a transcript, with secrets masked.
func (c Command) String() string {
	switch {
	case c.Arg == "":
		return c.Verb
	case c.Secret():
		return c.Verb + " ****"
	default:
		return c.Verb + " " + c.Arg
	}
}

// GoString keeps %#v from printing a secret either.
func (c Command) GoString() string { return fmt.Sprintf("ftp.Command{%q}", c.String()) }

// Format applies every fmt verb to the masked form: without it, verbs such as
// %d or %t print the struct's fields, secret included.
func (c Command) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.String())
}
