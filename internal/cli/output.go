package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/asyncftp/asyncftp/transcript"
)

// Record is one line of --json output: one operation, one file or one listing
// entry. Fields that do not apply are left out.
type Record struct {
	Op     string `json:"op"`               // ls, get, put, mkdir, rm, mv, mirror, version, serve
	Status string `json:"status,omitempty"` // ok, skipped, refused, failed
	URL    string `json:"url,omitempty"`    // the URL, password masked
	Path   string `json:"path,omitempty"`   // remote path
	To     string `json:"to,omitempty"`     // mv: the new remote path
	Local  string `json:"local,omitempty"`  // local file
	Name   string `json:"name,omitempty"`   // ls: entry name
	Type   string `json:"type,omitempty"`   // ls: file, dir, link, other, unknown
	Size   *int64 `json:"size,omitempty"`   // ls: size; get/put/mirror: file size
	Time   string `json:"time,omitempty"`   // ls: modification time, RFC 3339
	Target string `json:"target,omitempty"` // ls: symbolic link target
	Raw    string `json:"raw,omitempty"`    // ls --raw: the line as the server sent it

	Bytes   *int64  `json:"bytes,omitempty"`   // bytes moved by this run
	Offset  int64   `json:"offset,omitempty"`  // resumed from this offset
	SHA256  string  `json:"sha256,omitempty"`  // of the whole local (get) or sent (put) file
	Seconds float64 `json:"seconds,omitempty"` // time the transfer took
	Reason  string  `json:"reason,omitempty"`  // why skipped or refused
	Error   string  `json:"error,omitempty"`
	Code    int     `json:"code,omitempty"` // the FTP reply code of a failure, when there is one

	Counts map[string]int64 `json:"counts,omitempty"` // mirror: downloaded, complete, refused, failed; sessions, logins, replaced, retries

	Version string `json:"version,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Root    string `json:"root,omitempty"`
	Pin     string `json:"pin,omitempty"` // serve: the TLS key's pin, for --pin
}

func int64p(n int64) *int64 { return &n }

// printer writes results as text or JSON lines; it is safe for concurrent use.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	quiet bool
	// before runs (under the lock) before anything is written: it clears the
	// progress bar so that text and bar do not mix.
	before func()
}

func newPrinter(e *Env, o *common) *printer {
	return &printer{w: e.Stdout, json: o.json, quiet: o.quiet}
}

// record prints r as JSON, or text as text (text may be "" to print nothing).
func (p *printer) record(r Record, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.before != nil {
		p.before()
	}
	if p.json {
		b, err := json.Marshal(r)
		if err != nil {
			b = []byte(`{"op":"` + r.Op + `","status":"failed","error":"cannot encode result"}`)
		}
		p.w.Write(append(b, '\n'))
		return
	}
	if text != "" && !p.quiet {
		io.WriteString(p.w, text)
		if !strings.HasSuffix(text, "\n") {
			io.WriteString(p.w, "\n")
		}
	}
}

// note writes one line of text to w (stdout or stderr), in turn with the
// records and after clearing the progress bar, whatever --json says.
func (p *printer) note(w io.Writer, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.before != nil {
		p.before()
	}
	io.WriteString(w, line+"\n")
}

// errorRecord fills the error fields of r from err.
func errorRecord(r Record, err error) Record {
	r.Status = "failed"
	r.Error = err.Error()
	r.Code = replyCode(err)
	return r
}

// safeText makes a server-supplied string safe to print on a terminal: control
// characters, non-printable runes and invalid UTF-8 are shown as \xHH (and a
// backslash as \\), so a hostile name cannot move the cursor or rewrite the
// screen. Names that would be ambiguous (leading or trailing blanks, or
// escapes) are quoted.
func safeText(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\\' || !strconv.IsPrint(r) {
			clean = false
			break
		}
		i += size
	}
	if clean && strings.TrimSpace(s) == s && s != "" {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	b.WriteString(escapeLine(s, true))
	b.WriteByte('"')
	return b.String()
}

// escapeLine escapes control and non-printable characters as \xHH and a
// backslash as \\, the same rule as the project's text transcripts; with
// quotes it also escapes '"'.
func escapeLine(s string, quotes bool) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				b.WriteString(`\\`)
			case c == '"' && quotes:
				b.WriteString(`\"`)
			case c < ' ' || c == 0x7f:
				b.Write([]byte{'\\', 'x', hex[c>>4], hex[c&0xf]})
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !strconv.IsPrint(r) {
			for k := 0; k < size; k++ {
				x := s[i+k]
				b.Write([]byte{'\\', 'x', hex[x>>4], hex[x&0xf]})
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// lineSink prints transcript entries as the article does: "C: USER anonymous",
// "S: 220 ready", and "#: ..." for the engine's notes. Lines are escaped (see
// escapeLine) and client lines masked. It writes synchronously, under a lock,
// so lines and the command's own output keep their order.
type lineSink struct {
	mu      sync.Mutex
	w       io.Writer
	withIDs bool
	indent  string
}

func newLineSink(w io.Writer, withIDs bool) *lineSink { return &lineSink{w: w, withIDs: withIDs} }

// Record implements transcript.Sink.
func (s *lineSink) Record(e transcript.Entry) {
	line := e.Line
	if e.Dir == transcript.Client {
		line = transcript.Mask(line)
	}
	var b strings.Builder
	b.WriteString(s.indent)
	if s.withIDs {
		fmt.Fprintf(&b, "[#%d] ", e.Session)
	}
	b.WriteString(e.Dir.String())
	b.WriteString(":")
	if line != "" {
		b.WriteString(" ")
		b.WriteString(escapeLine(line, false))
	}
	b.WriteString("\n")
	s.mu.Lock()
	io.WriteString(s.w, b.String())
	s.mu.Unlock()
}

// formatTime prints a listing time compactly. Unix listings show only the
// date for old files, which parses as midnight: print just the date then.
func formatTime(t time.Time, dateOnly bool) string {
	switch {
	case t.IsZero():
		return "-"
	case dateOnly && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04")
}

// runOne is the body the one-command verbs (mkdir, rm, mv) share: log in to
// t, run op on the session, and print rec as done (with okText) or failed.
// what names the operation in the returned error; like okText it is built by
// the caller, which knows how to show its paths.
func runOne(ctx context.Context, e *Env, o *common, t *Target, rec Record, what, okText string, op func(*conn) error) error {
	c, err := o.dial(ctx, e, t, nil, o.transcriptSink(e, false))
	if err != nil {
		return err
	}
	defer c.quit(ctx)

	p := newPrinter(e, o)
	if err := op(c); err != nil {
		p.record(errorRecord(rec, err), "")
		return failure(fmt.Errorf("%s: %w", what, err))
	}
	rec.Status = "ok"
	p.record(rec, okText)
	return nil
}
