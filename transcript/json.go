package transcript

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON returns a sink that writes one JSON object per entry and line to w:
//
//	{"session":7,"time":"2024-05-01T12:04:05.123Z","dir":"C","line":"USER anonymous"}
//
// The time is in RFC 3339 with as many fractional digits as needed
// (time.RFC3339Nano) and dir is "C", "S" or "#".
//
// The line is written as a JSON string in which quotes, backslashes,
// control characters and all non-printable Unicode characters (as judged
// by strconv.IsPrint) are \u escapes, so that the raw output is safe to
// show on a terminal. JSON cannot carry bytes that are not valid UTF-8,
// so when a line holds any, each bad byte shows as U+FFFD in "line" and
// the exact bytes are added in standard base64 as "line_base64", which
// ReadJSON prefers:
//
//	{"session":7,"time":"...","dir":"S","line":"220 \ufffd","line_base64":"MjIwIP8="}
//
// Client lines are masked (see Mask). The sink is safe for concurrent
// use and makes one Write call per entry. Write errors are ignored, since
// Record cannot report them; wrap a slow or fallible writer in Async.
func JSON(w io.Writer) Sink {
	return &lineSink{w: w, format: appendJSON}
}

// appendJSON appends the JSON form of e, with a final newline, to dst.
func appendJSON(dst []byte, e Entry) []byte {
	dst = append(dst, `{"session":`...)
	dst = strconv.AppendUint(dst, e.Session, 10)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","dir":`...)
	dst = appendJSONString(dst, e.Dir.String())
	dst = append(dst, `,"line":`...)
	dst = appendJSONString(dst, e.Line)
	if !utf8.ValidString(e.Line) {
		dst = append(dst, `,"line_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, []byte(e.Line))
		dst = append(dst, '"')
	}
	return append(dst, "}\n"...)
}

// appendJSONString appends s as a quoted JSON string, escaped as
// documented on JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < ' ' || c == 0x7f:
				dst = appendUnicodeEscape(dst, rune(c))
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = appendUnicodeEscape(dst, utf8.RuneError)
		case !strconv.IsPrint(r):
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				dst = appendUnicodeEscape(dst, r1)
				dst = appendUnicodeEscape(dst, r2)
			} else {
				dst = appendUnicodeEscape(dst, r)
			}
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// appendUnicodeEscape appends \uXXXX for a rune in the Basic Multilingual Plane.
func appendUnicodeEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// jsonEntry is the decoding form of one JSON line; pointers tell missing
// fields from zero values.
type jsonEntry struct {
	Session    *uint64    `json:"session"`
	Time       *time.Time `json:"time"`
	Dir        *string    `json:"dir"`
	Line       *string    `json:"line"`
	LineBase64 *string    `json:"line_base64"`
}

// ReadJSON parses a transcript in the JSON-lines format written by JSON.
// Blank lines are skipped and unknown fields are ignored; the fields
// session, time, dir and line are required and dir must be "C", "S" or
// "#". When "line_base64" is present it gives the exact line. Times come
// back as the same instant (compare with time.Time.Equal) but without the
// original location or monotonic reading; times outside the years 0000 to
// 9999 cannot be read back. On a malformed line it returns
// the entries read so far and an error naming the line number.
func ReadJSON(r io.Reader) ([]Entry, error) {
	return readLines(r, "JSON", parseJSON)
}

// parseJSON parses one JSON line.
func parseJSON(s string) (Entry, error) {
	var j jsonEntry
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return Entry{}, err
	}
	if j.Session == nil || j.Time == nil || j.Dir == nil || j.Line == nil {
		return Entry{}, errors.New(`missing one of "session", "time", "dir", "line"`)
	}
	dir, ok := parseDir(*j.Dir)
	if !ok {
		return Entry{}, fmt.Errorf("unknown direction %q", *j.Dir)
	}
	line := *j.Line
	if j.LineBase64 != nil {
		raw, err := base64.StdEncoding.DecodeString(*j.LineBase64)
		if err != nil {
			return Entry{}, fmt.Errorf("bad line_base64: %w", err)
		}
		line = string(raw)
	}
	return Entry{Session: *j.Session, Time: *j.Time, Dir: dir, Line: line}, nil
}
