package listing

import (
	"strings"
	"time"
)

// Unix "ls -l" lines look like
//
//	drwxr-xr-x    2 ftp      ftp          4096 Mar  3 17:01 pub
//	-rw-r--r--+   1 1000     100      12345678 Dec 24  2019 a file.txt
//	lrwxrwxrwx    1 root     root            7 Jan  1 00:00 bin -> usr/bin
//	crw-rw-rw-    1 root     root       1,   3 Jan  1  2020 null
//	-rw-r--r--    1 owner           1234 Jan  1 10:00 no group column
//
// The columns between the permissions and the size vary from server to
// server (link count, owner, group, any of them missing, names with spaces),
// so the parser anchors on the size-and-date columns instead: it looks for the
// first field, from the fourth on, where a date starts and the field before it
// is a size (or a "major, minor" device pair). The name starts right after
// the single space that follows the date.
//
// Also accepted: Go os.FileMode strings as printed by goftp.io/server
// ("Lrwxrwxrwx", "dtrwxrwxrwx"), day-before-month dates, BSD "ls -T" dates
// ("Jan  1 10:00:00 2020"), ISO dates ("2020-01-02 15:04"), and the
// "-????????? ? ? ? ? ? name" line that ls prints for entries it cannot stat.

// maxUnixFields bounds how many fields are split off before the date.
const maxUnixFields = 24

type unixLine struct {
	s     string
	n     int
	start [maxUnixFields]int32
	end   [maxUnixFields]int32
}

func (u *unixLine) tok(i int) string { return u.s[u.start[i]:u.end[i]] }

func parseUnix(line string, now time.Time) (Entry, error) {
	_, permEnd := nextField(line, 0)
	typ, unknownBits, ok := parsePerm(line[:permEnd])
	if !ok {
		return Entry{}, errNotThisShape
	}
	u := unixLine{s: line}
	for i := 0; u.n < maxUnixFields; {
		st, en := nextField(line, i)
		if st == en {
			break
		}
		u.start[u.n], u.end[u.n] = int32(st), int32(en)
		u.n++
		i = en
	}
	e := Entry{Type: typ, Size: -1, Format: Unix, Raw: line}

	if unknownBits {
		// "-????????? ? ? ? ?            ? name": links, owner, group,
		// size and date are all unknown.
		if u.n < 7 {
			return Entry{}, errUnixUnknown
		}
		for i := 1; i <= 5; i++ {
			if u.tok(i) != "?" {
				return Entry{}, errUnixUnknown
			}
		}
		return finishUnix(e, line, int(u.end[5]))
	}

	for k := 3; k+1 < u.n; k++ {
		t, last, ok := u.dateAt(k, now)
		if !ok {
			continue
		}
		size, ok := u.sizeBefore(k)
		if !ok {
			continue
		}
		e.Size, e.Time = size, t
		return finishUnix(e, line, int(u.end[last]))
	}
	return Entry{}, errUnixNoDate
}

// finishUnix takes the name (and link target) from what follows the field
// that ends at dateEnd.
func finishUnix(e Entry, line string, dateEnd int) (Entry, error) {
	if dateEnd+1 >= len(line) {
		return Entry{}, errUnixNoName
	}
	e.Name = line[dateEnd+1:]
	if e.Type == Link {
		if i := strings.Index(e.Name, " -> "); i > 0 {
			e.Name, e.Target = e.Name[:i], e.Name[i+4:]
		}
	}
	return e, nil
}

// dateAt tries to read a date starting at field k. It returns the time and
// the index of the date's last field.
func (u *unixLine) dateAt(k int, now time.Time) (time.Time, int, bool) {
	a := u.tok(k)
	if y, mo, d, ok := parseISODate(a); ok {
		h, mi, s, _, ok := parseClock(u.tok(k + 1))
		if !ok {
			return time.Time{}, 0, false
		}
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC), k + 1, true
	}
	if k+2 >= u.n {
		return time.Time{}, 0, false
	}
	var (
		mon time.Month
		day int
		ok  bool
	)
	if mon, ok = parseMonth(a); ok {
		if day, ok = parseDay(u.tok(k + 1)); !ok {
			return time.Time{}, 0, false
		}
	} else if day, ok = parseDay(a); ok {
		if mon, ok = parseMonth(u.tok(k + 1)); !ok {
			return time.Time{}, 0, false
		}
	} else {
		return time.Time{}, 0, false
	}
	c := u.tok(k + 2)
	if y, ok := parseYear(c); ok {
		if !validDate(y, mon, day) {
			return time.Time{}, 0, false
		}
		return time.Date(y, mon, day, 0, 0, 0, 0, time.UTC), k + 2, true
	}
	h, mi, s, hasSec, ok := parseClock(c)
	if !ok {
		return time.Time{}, 0, false
	}
	if hasSec && k+3 < u.n {
		// BSD "ls -T": "Jan  1 10:00:00 2020".
		if y, ok := parseYear(u.tok(k + 3)); ok {
			if !validDate(y, mon, day) {
				return time.Time{}, 0, false
			}
			return time.Date(y, mon, day, h, mi, s, 0, time.UTC), k + 3, true
		}
	}
	t, ok := inferYear(mon, day, h, mi, s, now)
	return t, k + 2, ok
}

// sizeBefore reads the size column that precedes the date at field k: a
// number, or a device's "major, minor" / "major,minor" (size unknown).
func (u *unixLine) sizeBefore(k int) (int64, bool) {
	t := u.tok(k - 1)
	if k-2 >= 1 && isDigits(t) {
		if m := u.tok(k - 2); len(m) >= 2 && m[len(m)-1] == ',' && isDigits(m[:len(m)-1]) {
			return -1, true
		}
	}
	if i := strings.IndexByte(t, ','); i > 0 {
		if isDigits(t[:i]) && isDigits(t[i+1:]) {
			return -1, true
		}
		return 0, false
	}
	return parseSize(t)
}

// parseISODate parses "YYYY-MM-DD".
func parseISODate(s string) (int, time.Month, int, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := atoi(s[:4])
	m, ok2 := atoi(s[5:7])
	d, ok3 := atoi(s[8:])
	if !ok1 || !ok2 || !ok3 || !validDate(y, time.Month(m), d) {
		return 0, 0, 0, false
	}
	return y, time.Month(m), d, true
}

// parsePerm parses the permission field: a type prefix and nine permission
// bits, optionally followed by one of the marks ls adds ('+' ACL, '@'
// extended attributes, '.' SELinux context). unknown reports bits that are
// all '?', which ls prints when it cannot stat the entry.
func parsePerm(tok string) (typ Type, unknown, ok bool) {
	n := len(tok)
	if n < 10 || n > 20 {
		return 0, false, false
	}
	if c := tok[n-1]; n >= 11 && (c == '+' || c == '@' || c == '.') {
		if typ, ok = permType(tok[:n-10]); ok && permBits(tok[n-10:n-1]) {
			return typ, tok[n-10:n-1] == "?????????", true
		}
	}
	if typ, ok = permType(tok[:n-9]); ok && permBits(tok[n-9:]) {
		return typ, tok[n-9:] == "?????????", true
	}
	return 0, false, false
}

// permBits checks nine rwx permission characters, position by position.
func permBits(b string) bool {
	for i := 0; i < 9; i++ {
		c := b[i]
		if c == '-' || c == '?' {
			continue
		}
		switch i {
		case 0, 3, 6:
			if c != 'r' {
				return false
			}
		case 1, 4, 7:
			if c != 'w' {
				return false
			}
		case 2, 5:
			// s/S set-id, l/L mandatory locking (Solaris, BSD).
			if c != 'x' && c != 's' && c != 'S' && c != 'l' && c != 'L' {
				return false
			}
		case 8:
			if c != 'x' && c != 't' && c != 'T' {
				return false
			}
		}
	}
	return true
}

// permType maps the type prefix to a Type. ls prints one letter; Go's
// FileMode.String (used by goftp.io/server) prints zero or more letters from
// "dalTLDpSugct?" and "-" when there are none.
func permType(p string) (Type, bool) {
	if p == "" || len(p) > 10 {
		return 0, false
	}
	var dir, link, other bool
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '-':
			if len(p) != 1 {
				return 0, false
			}
		case 'd':
			dir = true
		case 'L':
			link = true
		case 'l':
			// ls: symbolic link. Go: exclusive-use flag, only ever
			// printed alongside other letters.
			if len(p) == 1 {
				link = true
			}
		case 'c', 'b', 'p', 's', 'S', 'D', 'n', 'P', 'w', '?':
			// devices, pipes, sockets, doors, network special files,
			// event ports, whiteouts, irregular files
			other = true
		case 'a', 'T', 'u', 'g', 't':
			// Go attribute letters: append-only, temporary, setuid,
			// setgid, sticky.
		default:
			return 0, false
		}
	}
	switch {
	case dir:
		return Dir, true
	case link:
		return Link, true
	case other:
		return Other, true
	}
	return File, true
}
