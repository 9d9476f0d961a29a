package ftp

import "bytes"

// Default bounds for [Reader]. A hostile server can send a line that never ends or
// a reply that never closes; these keep memory bounded.
const (
	DefaultMaxLineLength = 8 << 10
	DefaultMaxReplyLines = 1024
)

// Reader turns the byte stream of a control connection into replies. It splits
// input at "\n", drops one trailing "\r" (servers send CRLF, a few only LF), and
// assembles multi-line replies by the RFC 959 rule that net/textproto's
// ReadResponse also follows: "NNN-" opens a reply, which ends at a line that starts
// "NNN " with the same code; lines in between are text, even when they look like
// other codes.
//
// The zero value uses the default bounds. A Reader holds no buffer while it sits
// between lines. After an error it stays failed: the stream cannot be resynchronised.
type Reader struct {
	// MaxLineLength bounds one line without its terminator (0 = DefaultMaxLineLength).
	MaxLineLength int
	// MaxReplyLines bounds the lines of one reply (0 = DefaultMaxReplyLines).
	MaxReplyLines int
	// Trace, if set, sees every complete line as received, terminator removed,
	// before it is assembled. Transcripts use it. The slice is valid only during
	// the call.
	Trace func(line []byte)

	partial []byte   // an unfinished line carried between Feed calls
	code    int      // code of the open multi-line reply, 0 when none is open
	lines   []string // lines of the open multi-line reply
	err     error
}

// Feed consumes p. For every reply it completes it calls emit; if emit returns an
// error Feed stops and returns it, leaving the rest of p unread. A framing error is
// returned as a [*ProtocolError] and makes the Reader fail for good. Feed never
// retains p.
func (r *Reader) Feed(p []byte, emit func(Reply) error) error {
	if r.err != nil {
		return r.err
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(r.partial)+len(p) > r.maxLine()+1 { // +1: a "\r" may still arrive
				return r.fail("line longer than the limit", append(r.partial, p...))
			}
			r.partial = append(r.partial, p...)
			return nil
		}
		line := p[:i]
		p = p[i+1:]
		if len(r.partial) > 0 {
			line = append(r.partial, line...)
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > r.maxLine() {
			return r.fail("line longer than the limit", line)
		}
		if r.Trace != nil {
			r.Trace(line)
		}
		rep, done, err := r.line(line)
		r.partial = r.partial[:0]
		if cap(r.partial) > 512 {
			r.partial = nil // do not hold a large buffer while idle
		}
		if err != nil {
			return err
		}
		if done {
			if err := emit(rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// Buffered reports how many bytes of an unfinished line are held.
func (r *Reader) Buffered() int { return len(r.partial) }

// InReply reports whether a multi-line reply has begun and not yet ended.
func (r *Reader) InReply() bool { return r.code != 0 }

// Err returns the error that stopped the Reader, if any.
func (r *Reader) Err() error { return r.err }

func (r *Reader) maxLine() int {
	if r.MaxLineLength > 0 {
		return r.MaxLineLength
	}
	return DefaultMaxLineLength
}

func (r *Reader) maxLines() int {
	if r.MaxReplyLines > 0 {
		return r.MaxReplyLines
	}
	return DefaultMaxReplyLines
}

func (r *Reader) fail(reason string, line []byte) error {
	const show = 40
	if len(line) > show {
		line = line[:show]
	}
	r.err = &ProtocolError{Reason: reason, Line: string(line)}
	r.partial, r.lines, r.code = nil, nil, 0
	return r.err
}

// line takes one line without its terminator.
func (r *Reader) line(line []byte) (Reply, bool, error) {
	if r.code != 0 { // inside a multi-line reply
		// Only "NNN " ends it, as in net/textproto: "NNN", "NNNx" are text.
		if code, sep, ok := parseCode(line); ok && code == r.code && sep == ' ' {
			rep := Reply{Code: code, Lines: append(r.lines, textAfterCode(line))}
			r.code, r.lines = 0, nil
			return rep, true, nil
		}
		if len(r.lines) >= r.maxLines()-1 {
			return Reply{}, false, r.fail("reply has more lines than the limit", line)
		}
		text := string(line)
		if code, sep, ok := parseCode(line); ok && code == r.code && sep == '-' {
			text = text[4:] // "NNN-text" continuation: keep the text only
		}
		r.lines = append(r.lines, text)
		return Reply{}, false, nil
	}
	if len(line) == 0 {
		return Reply{}, false, r.fail("empty line where a reply was expected", line)
	}
	code, sep, ok := parseCode(line)
	if !ok {
		return Reply{}, false, r.fail("reply does not start with a code from 100 to 599", line)
	}
	switch sep {
	case ' ', 0:
		return Reply{Code: code, Lines: []string{textAfterCode(line)}}, true, nil
	case '-':
		r.code = code
		r.lines = append(make([]string, 0, 4), textAfterCode(line))
		return Reply{}, false, nil
	default:
		return Reply{}, false, r.fail("code not followed by a space or a dash", line)
	}
}

// parseCode reads "NNN" and the separator after it (0 when the line is just the code).
func parseCode(line []byte) (code int, sep byte, ok bool) {
	if len(line) < 3 {
		return 0, 0, false
	}
	for i := 0; i < 3; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		return 0, 0, false
	}
	if len(line) > 3 {
		sep = line[3]
	}
	return code, sep, true
}

func textAfterCode(line []byte) string {
	if len(line) <= 4 {
		return ""
	}
	return string(line[4:])
}
