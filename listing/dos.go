package listing

import (
	"strings"
	"time"
)

// MS-DOS style lines, as sent by IIS and some Windows servers:
//
//	01-16-02  11:14AM       <DIR>          epsgroup
//	01-16-02  11:14AM                 1234 file name.txt
//	01-16-2002  23:14                 1234 file name.txt
//
// Dates are MM-DD-YY or MM-DD-YYYY ('-', '/' or '.' separated; DD-MM when the
// first number cannot be a month) or YYYY-MM-DD. Times are 12-hour with
// AM/PM (attached or as a separate field) or 24-hour, optionally with
// seconds. Sizes may carry thousands separators ("1,234"). The padding before
// the name is dropped, so a DOS name cannot start with a space.

func parseDOS(line string) (Entry, error) {
	ds, de := nextField(line, 0)
	y, mon, day, ok := parseDOSDate(line[ds:de])
	if !ok {
		return Entry{}, errNotThisShape
	}
	ts, te := nextField(line, de)
	clock := line[ts:te]
	// AM/PM may be attached ("11:14AM") or a field of its own ("11:14 AM").
	ampm := ""
	if n := len(clock); n > 2 && isAMPM(clock[n-2:]) {
		clock, ampm = clock[:n-2], clock[n-2:]
	} else if n > 1 && isAMPM(clock[n-1:]) {
		clock, ampm = clock[:n-1], clock[n-1:]
	} else if ps, pe := nextField(line, te); isAMPM(line[ps:pe]) {
		ampm, te = line[ps:pe], pe
	}
	h, mi, s, _, ok := parseClock(clock)
	if !ok {
		return Entry{}, errDOSNoTime
	}
	if ampm != "" {
		if h < 1 || h > 12 {
			return Entry{}, errDOSNoTime
		}
		pm := ampm[0]|0x20 == 'p'
		switch {
		case h == 12 && !pm:
			h = 0
		case h != 12 && pm:
			h += 12
		}
	}
	e := Entry{
		Size:   -1,
		Time:   time.Date(y, mon, day, h, mi, s, 0, time.UTC),
		Format: DOS,
		Raw:    line,
	}
	ss, se := nextField(line, te)
	switch f := line[ss:se]; {
	case strings.EqualFold(f, "<DIR>"):
		e.Type = Dir
	case strings.EqualFold(f, "<JUNCTION>"), strings.EqualFold(f, "<SYMLINK>"), strings.EqualFold(f, "<SYMLINKD>"):
		e.Type = Link
	default:
		size, ok := parseGroupedSize(f)
		if !ok {
			return Entry{}, errDOSNoSize
		}
		e.Type, e.Size = File, size
	}
	ns, _ := nextField(line, se)
	if ns >= len(line) {
		return Entry{}, errDOSNoName
	}
	e.Name = line[ns:]
	if e.Type == Link {
		// cmd.exe style: "name [target]".
		if i := strings.LastIndex(e.Name, " ["); i > 0 && strings.HasSuffix(e.Name, "]") {
			e.Name, e.Target = e.Name[:i], e.Name[i+2:len(e.Name)-1]
		}
	}
	return e, nil
}

func isAMPM(s string) bool {
	switch len(s) {
	case 1:
		c := s[0] | 0x20
		return c == 'a' || c == 'p'
	case 2:
		c := s[0] | 0x20
		return (c == 'a' || c == 'p') && s[1]|0x20 == 'm'
	}
	return false
}

// parseDOSDate parses MM-DD-YY, MM-DD-YYYY, DD-MM-YYYY (when MM > 12) or
// YYYY-MM-DD, with '-', '/' or '.' as separator.
func parseDOSDate(s string) (int, time.Month, int, bool) {
	if len(s) < 6 || len(s) > 10 {
		return 0, 0, 0, false
	}
	sep := byte(0)
	var parts [3]string
	n, last := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if c != '-' && c != '/' && c != '.' || (sep != 0 && c != sep) || n == 2 {
			return 0, 0, 0, false
		}
		sep = c
		parts[n] = s[last:i]
		n++
		last = i + 1
	}
	if n != 2 {
		return 0, 0, 0, false
	}
	parts[2] = s[last:]
	a, ok1 := atoi(parts[0])
	b, ok2 := atoi(parts[1])
	c, ok3 := atoi(parts[2])
	if !ok1 || !ok2 || !ok3 || len(parts[1]) > 2 {
		return 0, 0, 0, false
	}
	var y, m, d int
	switch {
	case len(parts[0]) == 4 && len(parts[2]) <= 2:
		y, m, d = a, b, c
	case len(parts[0]) <= 2 && len(parts[2]) == 2:
		m, d, y = a, b, c+1900
		if c < 69 { // POSIX %y pivot: 69-99 are 1900s, 00-68 are 2000s
			y = c + 2000
		}
	case len(parts[0]) <= 2 && len(parts[2]) == 4:
		m, d, y = a, b, c
	default:
		return 0, 0, 0, false
	}
	if m > 12 && d <= 12 && len(parts[0]) <= 2 {
		m, d = d, m
	}
	if !validDate(y, time.Month(m), d) {
		return 0, 0, 0, false
	}
	return y, time.Month(m), d, true
}

// parseGroupedSize parses a decimal size that may use ',' as a thousands
// separator ("1,234,567").
func parseGroupedSize(s string) (int64, bool) {
	if strings.IndexByte(s, ',') < 0 {
		return parseSize(s)
	}
	var buf [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ',' {
			if i == 0 || i == len(s)-1 || s[i-1] == ',' {
				return 0, false
			}
			continue
		}
		if n == len(buf) {
			return 0, false
		}
		buf[n] = c
		n++
	}
	return parseSize(string(buf[:n]))
}
