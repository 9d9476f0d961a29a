package transcript

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// textTime is the time layout of the text format: RFC 3339 with a fixed
// nine fractional digits so that columns line up and no precision is lost.
const textTime = "2006-01-02T15:04:05.000000000Z07:00"

// Text returns a sink that writes one human-readable line per entry to w:
//
//	2024-05-01T12:04:05.123000000Z #7 C: USER anonymous
//	2024-05-01T12:04:05.131000000Z #7 S: 331 Anonymous login ok, send your email address as password.
//	2024-05-01T12:04:05.131500000Z #7 C: PASS ****
//	2024-05-01T12:04:05.140000000Z #7 #: data connection to 127.0.0.1:40001
//
// The fields are the entry time in RFC 3339 with nanoseconds (in the
// time's own location), "#" and the session id, the direction and a
// colon, then a space and the line. An empty line is written without the
// trailing space.
//
// The line is escaped so that a hostile server cannot drive the terminal
// of whoever reads the transcript, and so that nothing can break the one
// entry per line layout: a backslash is written as \\, and every byte of
// an ASCII control character (including tab, CR, LF and DEL), of a
// non-printable Unicode character (as judged by strconv.IsPrint, which
// covers C1 controls, bidirectional overrides and line separators) and of
// invalid UTF-8 is written as \xHH with two lower-case hex digits. A
// trailing space is written as \x20 so that editors that strip trailing
// blanks do not alter the line. All other text, including printable
// non-ASCII characters, is written as is, so the output is valid UTF-8.
// ReadText reverses this exactly.
//
// Client lines are masked (see Mask). The sink is safe for concurrent
// use and makes one Write call per entry; share one sink, not one writer,
// between sinks. Write errors are ignored, since Record cannot report
// them; wrap a slow or fallible writer in Async.
func Text(w io.Writer) Sink {
	return &lineSink{w: w, format: appendText}
}

// lineSink is the Text and JSON sinks: they differ only in how an entry
// becomes a line. One buffer per sink, reused under the lock, keeps a
// recorded line free of allocations.
type lineSink struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	format func(dst []byte, e Entry) []byte
}

// Record implements Sink.
func (s *lineSink) Record(e Entry) {
	e = masked(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.format(s.buf[:0], e)
	_, _ = s.w.Write(s.buf)
}

// appendText appends the text form of e, with a final newline, to dst.
func appendText(dst []byte, e Entry) []byte {
	dst = e.Time.AppendFormat(dst, textTime)
	dst = append(dst, " #"...)
	dst = strconv.AppendUint(dst, e.Session, 10)
	dst = append(dst, ' ')
	dst = append(dst, e.Dir.String()...)
	dst = append(dst, ':')
	if e.Line != "" {
		dst = append(dst, ' ')
		dst = appendEscaped(dst, e.Line)
	}
	return append(dst, '\n')
}

const hexDigits = "0123456789abcdef"

func appendHexByte(dst []byte, b byte) []byte {
	return append(dst, '\\', 'x', hexDigits[b>>4], hexDigits[b&0xf])
}

// appendEscaped appends s to dst, escaped as documented on Text.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				dst = append(dst, '\\', '\\')
			case c < ' ' || c == 0x7f || (c == ' ' && i == len(s)-1):
				dst = appendHexByte(dst, c)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !strconv.IsPrint(r) {
			for k := 0; k < size; k++ {
				dst = appendHexByte(dst, s[i+k])
			}
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// unescape reverses appendEscaped.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			b = append(b, '\\')
			i++
			continue
		}
		if i+3 < len(s) && s[i+1] == 'x' {
			hi, ok1 := unhex(s[i+2])
			lo, ok2 := unhex(s[i+3])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 3
				continue
			}
		}
		return "", fmt.Errorf("bad escape at byte %d", i)
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ReadText parses a transcript in the format written by Text. Blank
// lines are skipped and a CRLF line ending is accepted. Times come back
// as the same instant (compare with time.Time.Equal) but in a fixed-offset
// or UTC location and without a monotonic reading; times outside the
// years 0000 to 9999 cannot be read back. Only the directions C,
// S and # are accepted. On a malformed line it returns the entries read so
// far and an error naming the line number.
func ReadText(r io.Reader) ([]Entry, error) {
	return readLines(r, "text", parseText)
}

// parseText parses one line of the text format, without its line ending.
func parseText(s string) (Entry, error) {
	var e Entry
	stamp, rest, ok := strings.Cut(s, " ")
	if !ok {
		return e, errors.New("missing fields")
	}
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return e, fmt.Errorf("bad time: %w", err)
	}
	id, rest, ok := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(id, "#") {
		return e, errors.New(`missing "#session"`)
	}
	session, err := strconv.ParseUint(id[1:], 10, 64)
	if err != nil {
		return e, fmt.Errorf("bad session id: %w", err)
	}
	dirText, line, ok := strings.Cut(rest, ":")
	if !ok {
		return e, errors.New(`missing "dir:"`)
	}
	dir, ok := parseDir(dirText)
	if !ok {
		return e, fmt.Errorf("unknown direction %q", dirText)
	}
	if line != "" {
		if line[0] != ' ' {
			return e, errors.New(`missing space after "dir:"`)
		}
		line = line[1:]
	}
	line, err = unescape(line)
	if err != nil {
		return e, err
	}
	return Entry{Session: session, Time: t, Dir: dir, Line: line}, nil
}

// readLines reads r line by line, with no limit on line length, skipping
// blank lines and parsing the others with parse.
func readLines(r io.Reader, format string, parse func(string) (Entry, error)) ([]Entry, error) {
	br := bufio.NewReader(r)
	var entries []Entry
	for n := 1; ; n++ {
		s, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return entries, fmt.Errorf("transcript: reading %s: %w", format, err)
		}
		if err == io.EOF && s == "" {
			return entries, nil
		}
		s = strings.TrimSuffix(s, "\n")
		s = strings.TrimSuffix(s, "\r")
		if s != "" {
			e, perr := parse(s)
			if perr != nil {
				return entries, fmt.Errorf("transcript: %s line %d: %w", format, n, perr)
			}
			entries = append(entries, e)
		}
		if err == io.EOF {
			return entries, nil
		}
	}
}
