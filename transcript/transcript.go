// Package transcript records every FTP control-connection line in both directions, with session id and time, masking PASS and ACCT arguments.
// Entries go to pluggable sinks (text, JSON lines, log/slog, memory, async) and the text and JSON forms parse back for replay as a scripted server.
package transcript

import (
	"strconv"
	"strings"
	"time"
)

// Dir tells who produced a transcript line.
type Dir byte

// Directions of a transcript line.
const (
	// Client is a command line sent by the client to the server.
	Client Dir = 'C'
	// Server is a reply line received from the server.
	Server Dir = 'S'
	// Note is a remark made by the engine itself, such as
	// "data connection to 127.0.0.1:40001" or "TLS handshake done".
	Note Dir = '#'
)

// String returns "C", "S" or "#" for the known directions and
// "Dir(n)" for any other value.
func (d Dir) String() string {
	switch d {
	case Client:
		return "C"
	case Server:
		return "S"
	case Note:
		return "#"
	}
	return "Dir(" + strconv.Itoa(int(d)) + ")"
}

// parseDir is the inverse of String for the known directions.
func parseDir(s string) (Dir, bool) {
	switch s {
	case "C":
		return Client, true
	case "S":
		return Server, true
	case "#":
		return Note, true
	}
	return 0, false
}

// Entry is one line of a transcript.
type Entry struct {
	// Session identifies the FTP session the line belongs to.
	Session uint64
	// Time is when the line was sent, received or noted. Sinks record
	// it as given; they never substitute the current time.
	Time time.Time
	// Dir tells who produced the line.
	Dir Dir
	// Line is the line without its CRLF. Client lines should already
	// be masked (see Mask); every sink masks them again regardless.
	Line string
}

// Sink receives transcript entries.
//
// Record is called on the event loop: it must not block for long, and it
// must not retain the backing data of e.Line beyond the call unless it
// copies it. Keeping the string itself is fine because strings are
// immutable; callers must therefore pass genuine strings, never an unsafe
// view of a reused read buffer.
type Sink interface {
	// Record takes one entry. It cannot fail: a sink that can (a file, a
	// network log) reports trouble some other way.
	Record(e Entry)
}

// mask is what replaces a masked argument.
const mask = "****"

// Mask hides the argument of PASS and ACCT commands:
// "PASS secret" becomes "PASS ****" and "acct 42" becomes "acct ****".
//
// The verb is matched case-insensitively after any leading blanks and
// must be followed by the end of the line or by a space or other control
// byte; everything after the verb is replaced by a single space and four
// asterisks, so the length of the secret is not revealed. A PASS or ACCT
// with nothing after it is returned unchanged, as is every other line,
// including lines that merely contain "PASS" later on. Should a line hold
// embedded CR or LF bytes (an injection attempt or a caller bug), each
// piece between them is masked the same way, since a server would read
// each piece as its own command. Mask is idempotent, and it does not
// allocate when the line needs no change.
func Mask(line string) string {
	if strings.IndexByte(line, '\n') < 0 && strings.IndexByte(line, '\r') < 0 {
		return maskCommand(line)
	}
	var b strings.Builder
	changed := false
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != '\r' && line[i] != '\n' {
			continue
		}
		seg := line[start:i]
		m := maskCommand(seg)
		if m != seg && !changed {
			changed = true
			b.Grow(len(line))
			b.WriteString(line[:start])
		}
		if changed {
			b.WriteString(m)
			if i < len(line) {
				b.WriteByte(line[i])
			}
		}
		start = i + 1
	}
	if !changed {
		return line
	}
	return b.String()
}

// maskCommand masks a single command line that holds no CR or LF.
func maskCommand(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if len(s)-i < 4 {
		return s
	}
	verb := s[i : i+4]
	if !strings.EqualFold(verb, "PASS") && !strings.EqualFold(verb, "ACCT") {
		return s
	}
	j := i + 4
	if j == len(s) || s[j] > ' ' { // bare verb, or a longer word such as PASSWD
		return s
	}
	if s[j:] == " "+mask { // already masked
		return s
	}
	return s[:j] + " " + mask
}

// masked returns e with its line masked if it is a client line.
func masked(e Entry) Entry {
	if e.Dir == Client {
		e.Line = Mask(e.Line)
	}
	return e
}

// Multi returns a sink that records each entry, masked once, to every
// given sink in order. Nil sinks are skipped and nested Multi sinks are
// flattened. With no sinks it discards everything.
func Multi(sinks ...Sink) Sink {
	var m multi
	for _, s := range sinks {
		switch s := s.(type) {
		case nil:
		case multi:
			m = append(m, s...)
		default:
			m = append(m, s)
		}
	}
	return m
}

type multi []Sink

// Record implements Sink.
func (m multi) Record(e Entry) {
	e = masked(e)
	for _, s := range m {
		s.Record(e)
	}
}
