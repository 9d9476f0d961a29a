// Package listing parses the LIST, MLSD and MLST output of real FTP servers into Entries.
// It understands Unix "ls -l", MS-DOS/IIS, EPLF and RFC 3659 fact lines, one format detected per line.
//
// Parsing never panics and never drops a line silently: a line that carries no
// entry (a "total 12" header, a blank line) is reported as ErrNoEntry, and a line
// that cannot be understood is reported with its error, so a caller can log it.
//
// Names are kept exactly as the server sent them, including leading and
// trailing spaces. Returned strings share memory with the input.
package listing

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// MaxLineLength is the longest line, in bytes and without its line ending,
// that the parsers accept. Longer lines are reported with ErrLineTooLong.
const MaxLineLength = 8 << 10

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrNoEntry reports a line that is valid but describes no entry: a blank
	// line or the "total N" header of an ls listing.
	ErrNoEntry = errors.New("listing: line carries no entry")
	// ErrUnknownFormat reports a line that matches none of the known formats.
	ErrUnknownFormat = errors.New("listing: unknown listing format")
	// ErrLineTooLong reports a line longer than MaxLineLength.
	ErrLineTooLong = errors.New("listing: line too long")
)

// Specific parse errors: the line was recognised as one format but is broken.
var (
	errLineBreak    = errors.New("listing: line break inside line")
	errUnixNoDate   = errors.New("listing: unix: no size and date columns found")
	errUnixNoName   = errors.New("listing: unix: missing name")
	errUnixUnknown  = errors.New("listing: unix: malformed unknown-attributes line")
	errDOSNoTime    = errors.New("listing: dos: bad or missing time")
	errDOSNoSize    = errors.New("listing: dos: bad or missing size or <DIR>")
	errDOSNoName    = errors.New("listing: dos: missing name")
	errEPLFNoTab    = errors.New("listing: eplf: missing tab before name")
	errEPLFNoName   = errors.New("listing: eplf: missing name")
	errMLSxNoFacts  = errors.New("listing: mlsx: missing or malformed facts")
	errMLSxNoName   = errors.New("listing: mlsx: missing name")
	errNotThisShape = errors.New("listing: internal: not this format") // never returned
)

// Type is the kind of a directory entry.
type Type uint8

// Entry types.
const (
	Unknown Type = iota // the listing does not say
	File                // a regular file
	Dir                 // a directory (also MLSD cdir and pdir)
	Link                // a symbolic link (or a Windows junction)
	Other               // a device, pipe, socket or other special file
)

// String returns the lower-case name of t ("file", "dir", ...).
func (t Type) String() string {
	switch t {
	case Unknown:
		return "unknown"
	case File:
		return "file"
	case Dir:
		return "dir"
	case Link:
		return "link"
	case Other:
		return "other"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Format is the listing format a line was parsed as.
// The zero Format means no format (an Entry that was not parsed).
type Format uint8

// Listing formats.
const (
	Unix Format = iota + 1 // "ls -l" style, as sent by most Unix servers
	MLSD                   // RFC 3659 facts, from MLSD or an MLST reply
	DOS                    // MS-DOS style, as sent by IIS
	EPLF                   // Easily Parsed LIST Format (D. J. Bernstein)
)

// String returns the lower-case name of f ("unix", "mlsd", "dos", "eplf").
func (f Format) String() string {
	switch f {
	case 0:
		return "unknown"
	case Unix:
		return "unix"
	case MLSD:
		return "mlsd"
	case DOS:
		return "dos"
	case EPLF:
		return "eplf"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Entry is one directory entry parsed from a listing line.
type Entry struct {
	// Name is the entry's name exactly as listed, leading and trailing
	// spaces included. It is never empty in a successfully parsed Entry.
	// In an MLSD/MLST entry it may be a path (cdir entries often are).
	Name string
	// Type is the kind of entry; Unknown when the line does not tell.
	Type Type
	// Size is the size in bytes, or -1 when unknown (device files,
	// directories in DOS listings, missing facts).
	Size int64
	// Time is the modification time, zero when unknown. MLSD and EPLF
	// times are UTC. Unix and DOS listings carry no zone: their time is the
	// server's wall clock as printed, stored in the UTC location.
	Time time.Time
	// Target is the symbolic link target, when the line shows one.
	Target string
	// Format is the format the line was parsed as.
	Format Format
	// Facts holds the RFC 3659 facts of an MLSD/MLST entry, keyed by
	// lower-cased fact name, values as sent. It is nil for other formats.
	Facts map[string]string
	// Raw is the line as received, without its CR/LF line ending.
	Raw string
}

// IsSelfOrParent reports whether e names the listed directory itself or its
// parent: an MLSD entry of type cdir or pdir, or an entry named "." or "..".
func (e Entry) IsSelfOrParent() bool {
	if t, ok := e.Facts["type"]; ok && (strings.EqualFold(t, "cdir") || strings.EqualFold(t, "pdir")) {
		return true
	}
	return e.Name == "." || e.Name == ".."
}

// Result is the outcome of parsing a whole listing body.
type Result struct {
	// Entries are the parsed entries, in listing order.
	Entries []Entry
	// Bad holds every line that could not be parsed, in listing order.
	// Lines that carry no entry (ErrNoEntry) are not reported.
	Bad []LineError
}

// WithoutSelfAndParent returns r without the entries that name the listed
// folder itself or its parent (see Entry.IsSelfOrParent): the "." and ".."
// lines of "ls -la" style listings and MLSD's cdir and pdir facts. They are
// not entries of the folder, so a walk that followed them would loop. The
// parsers keep them, for whoever wants the listing as sent; r is not changed.
func (r Result) WithoutSelfAndParent() Result {
	var kept []Entry
	for i, e := range r.Entries {
		if !e.IsSelfOrParent() {
			if kept != nil {
				kept = append(kept, e)
			}
			continue
		}
		if kept == nil {
			kept = make([]Entry, i, len(r.Entries))
			copy(kept, r.Entries[:i])
		}
	}
	if kept == nil {
		return r // nothing to drop: share the slice, as the parsers do
	}
	if len(kept) == 0 {
		kept = nil
	}
	return Result{Entries: kept, Bad: r.Bad}
}

// LineError describes a line of a listing body that could not be parsed.
type LineError struct {
	Line int    // 1-based line number in the body
	Raw  string // the line as received, without its line ending
	Err  error  // wraps ErrUnknownFormat, ErrLineTooLong or a specific parse error
}

// Error implements error. The raw line is quoted, and shortened if long.
func (e LineError) Error() string {
	raw := e.Raw
	const show = 80
	if len(raw) > show {
		raw = raw[:show] + "..."
	}
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return msg + " (line " + strconv.Itoa(e.Line) + ": " + strconv.Quote(raw) + ")"
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e LineError) Unwrap() error { return e.Err }

// ParseLine parses one line of a LIST (or MLSD) listing, detecting its
// format: Unix, DOS, EPLF or MLSx facts. A trailing CR/LF is ignored.
//
// now places Unix "Mon DD HH:MM" dates, which carry no year: the year chosen
// is the latest one that does not put the date more than two days after now
// (two days absorb any time-zone difference between client and server). Only
// now's wall clock is used. A zero now means time.Now().
//
// Lines that carry no entry ("total 12", blank lines) return ErrNoEntry; lines
// of no known format return ErrUnknownFormat; a recognised but broken line
// returns a more specific error. On error the Entry is the zero Entry.
func ParseLine(line string, now time.Time) (Entry, error) {
	line = trimEOL(line)
	if len(line) > MaxLineLength {
		return Entry{}, ErrLineTooLong
	}
	if now.IsZero() {
		now = time.Now()
	}
	return parseLine(line, now)
}

// ParseMLSx parses one MLSD line, or the entry line of an MLST reply (which
// starts with a space): "fact=value;fact=value; name". Fact names are
// case-insensitive and stored lower-cased in Entry.Facts; the name starts
// right after the first "; " and may itself contain ';' and spaces. A line
// without facts (a space then the name in MLSD, two spaces then the name in an
// MLST reply) is accepted with empty, non-nil Facts. A blank line returns
// ErrNoEntry; on error the Entry is the zero Entry.
func ParseMLSx(line string) (Entry, error) {
	line = trimEOL(line)
	if len(line) > MaxLineLength {
		return Entry{}, ErrLineTooLong
	}
	return parseMLSxLine(line)
}

// Parse parses a whole LIST listing body, as read from the data connection,
// with CRLF or LF line ends. The format is detected line by line, so mixed
// bodies work. Lines that carry no entry are skipped; every other line that
// cannot be parsed is reported in Result.Bad with its 1-based line number.
// "." and ".." lines are kept (Result.WithoutSelfAndParent drops them).
// See ParseLine for now.
func Parse(body []byte, now time.Time) Result {
	if now.IsZero() {
		now = time.Now()
	}
	return parseBody(body, func(line string) (Entry, error) { return parseLine(line, now) })
}

// ParseMLSD parses a whole MLSD body: every line is an MLSx line (see
// ParseMLSx). The cdir and pdir entries are kept, with Type Dir and
// Facts["type"] telling which; Entry.IsSelfOrParent picks them out and
// Result.WithoutSelfAndParent drops them.
func ParseMLSD(body []byte) Result {
	return parseBody(body, parseMLSxLine)
}

// parseBody splits body into lines and parses each with parse.
func parseBody(body []byte, parse func(string) (Entry, error)) Result {
	var r Result
	if len(body) == 0 {
		return r
	}
	r.Entries = make([]Entry, 0, bytes.Count(body, []byte{'\n'})+1)
	s := string(body) // one copy; every Raw and Name points into it
	for n := 1; len(s) > 0; n++ {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		line = strings.TrimRight(line, "\r")
		var (
			e   Entry
			err error
		)
		if len(line) > MaxLineLength {
			err = ErrLineTooLong
		} else {
			e, err = parse(line)
		}
		switch {
		case err == nil:
			r.Entries = append(r.Entries, e)
		case errors.Is(err, ErrNoEntry):
		default:
			r.Bad = append(r.Bad, LineError{Line: n, Raw: line, Err: err})
		}
	}
	if len(r.Entries) == 0 {
		r.Entries = nil
	}
	return r
}

// parseLine detects the format of line (already without line ending and
// within MaxLineLength) and parses it.
func parseLine(line string, now time.Time) (Entry, error) {
	if isBlank(line) {
		return Entry{}, ErrNoEntry
	}
	if strings.IndexByte(line, '\n') >= 0 {
		return Entry{}, errLineBreak
	}
	var (
		e   Entry
		err error
	)
	switch c := line[0]; {
	case c == '+':
		e, err = parseEPLF(line)
	case c >= '0' && c <= '9':
		e, err = parseDOS(line)
	case c == ' ':
		// MLST reply entry lines start with a space.
		if !looksLikeFacts(line[1:]) {
			return Entry{}, ErrUnknownFormat
		}
		e, err = parseMLSxLine(line)
	default:
		if isTotalLine(line) {
			return Entry{}, ErrNoEntry
		}
		e, err = parseUnix(line, now)
		if err == errNotThisShape && looksLikeFacts(line) {
			e, err = parseMLSxLine(line)
		}
	}
	if err == errNotThisShape {
		return Entry{}, ErrUnknownFormat
	}
	return e, err
}

// trimEOL removes any trailing CR and LF bytes.
func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			return false
		}
	}
	return true
}

// isTotalLine reports whether s is the "total N" header of ls -l
// ("total 12", "total 1.5K").
func isTotalLine(s string) bool {
	if len(s) < 7 || !strings.EqualFold(s[:5], "total") || !isSpace(s[5]) {
		return false
	}
	rest := strings.Trim(s[5:], " \t")
	if rest == "" || rest[0] < '0' || rest[0] > '9' {
		return false
	}
	return strings.IndexAny(rest, " \t") < 0
}

// nextField returns the bounds of the first field of s at or after i, fields
// being separated by spaces and tabs. start == len(s) when there is none.
func nextField(s string, i int) (start, end int) {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start = i
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return start, i
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi parses a short run of decimal digits (at most 9, so no overflow).
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseSize parses a non-negative decimal int64.
func parseSize(s string) (int64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
