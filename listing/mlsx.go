package listing

import (
	"strings"
	"time"
)

// RFC 3659 MLSD lines, and the entry line of an MLST reply, look like
//
//	type=file;size=1234;modify=20230105143000;perm=adfrw;unique=801U5AA; notes.txt
//	 type=dir;modify=20230105143000.123;UNIX.mode=0755; /pub
//	Type=cdir;Modify=20230105143000;Perm=el; /pub
//	type=OS.unix=slink:/usr/bin;modify=20230105143000; bin
//
// The facts end at the first "; ": a fact value may hold spaces (real servers
// send "UNIX.groupname=domain users;"), and the name, which follows, may hold
// anything. Fact values with bad syntax (a size that is not a number, say)
// leave the matching field unknown but stay in Facts.

func parseMLSxLine(line string) (Entry, error) {
	if isBlank(line) {
		return Entry{}, ErrNoEntry
	}
	if strings.IndexByte(line, '\n') >= 0 {
		return Entry{}, errLineBreak
	}
	s := line
	lead := s[0] == ' '
	if lead {
		s = s[1:]
	}
	var facts map[string]string
	var name string
	switch i := strings.Index(s, "; "); {
	case s[0] == ' ':
		// MLST reply entry without facts: "  name".
		name = s[1:]
	case i >= 0:
		var ok bool
		if facts, ok = parseFacts(s[:i]); ok {
			name = s[i+2:]
		} else if lead {
			// An MLSD line without facts: " name".
			name = s
		} else {
			return Entry{}, errMLSxNoFacts
		}
	case lead:
		name = s
	default:
		return Entry{}, errMLSxNoFacts
	}
	if name == "" {
		return Entry{}, errMLSxNoName
	}
	if facts == nil {
		facts = map[string]string{}
	}
	e := Entry{Name: name, Size: -1, Format: MLSD, Facts: facts, Raw: line}
	e.Type, e.Target = mlsxType(facts["type"])
	for _, k := range [...]string{"size", "sizd"} {
		if v, ok := facts[k]; ok {
			if n, ok := parseSize(v); ok {
				e.Size = n
				break
			}
		}
	}
	if v, ok := facts["modify"]; ok {
		if t, ok := parseMLSxTime(v); ok {
			e.Time = t
		}
	}
	return e, nil
}

// parseFacts parses "name=value;name=value" (a trailing ';' already cut off).
// Empty items are skipped; any other item needs a non-empty name without
// spaces, then '='. At least one fact is needed. Names are lower-cased.
func parseFacts(s string) (map[string]string, bool) {
	m := make(map[string]string, strings.Count(s, ";")+1)
	for s != "" {
		var f string
		if i := strings.IndexByte(s, ';'); i >= 0 {
			f, s = s[:i], s[i+1:]
		} else {
			f, s = s, ""
		}
		if f == "" {
			continue
		}
		eq := strings.IndexByte(f, '=')
		if eq <= 0 || strings.IndexAny(f[:eq], " \t") >= 0 {
			return nil, false
		}
		m[asciiLower(f[:eq])] = f[eq+1:]
	}
	return m, len(m) > 0
}

// asciiLower lower-cases the ASCII letters of s and leaves every other byte
// alone (strings.ToLower would rewrite invalid UTF-8). It allocates only when
// s has an upper-case letter.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// looksLikeFacts reports whether s starts like an MLSx fact list: a fact name
// of letters, digits, '.', '-' or '_', starting with a letter, then '=', and
// somewhere a "; " separator.
func looksLikeFacts(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			i++
			continue
		}
		break
	}
	return i > 0 && i < len(s) && s[i] == '=' && strings.Contains(s[i:], "; ")
}

// mlsxType maps the value of the "type" fact to a Type and link target.
func mlsxType(v string) (Type, string) {
	switch {
	case v == "":
		return Unknown, ""
	case strings.EqualFold(v, "file"):
		return File, ""
	case strings.EqualFold(v, "dir"), strings.EqualFold(v, "cdir"), strings.EqualFold(v, "pdir"):
		return Dir, ""
	}
	const osUnix = "os.unix="
	if len(v) > len(osUnix) && strings.EqualFold(v[:len(osUnix)], osUnix) {
		kind, target, _ := strings.Cut(v[len(osUnix):], ":")
		if strings.EqualFold(kind, "slink") || strings.EqualFold(kind, "symlink") {
			return Link, target
		}
	}
	return Other, ""
}

// parseMLSxTime parses an RFC 3659 time-val, YYYYMMDDHHMMSS[.sss], in UTC.
// Up to nine fraction digits are kept; more are cut.
func parseMLSxTime(v string) (time.Time, bool) {
	if len(v) < 14 {
		return time.Time{}, false
	}
	y, ok1 := atoi(v[0:4])
	mo, ok2 := atoi(v[4:6])
	d, ok3 := atoi(v[6:8])
	h, ok4 := atoi(v[8:10])
	mi, ok5 := atoi(v[10:12])
	s, ok6 := atoi(v[12:14])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validDate(y, time.Month(mo), d) || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	if s == 60 {
		s = 59
	}
	ns := 0
	if frac := v[14:]; frac != "" {
		if frac[0] != '.' || !isDigits(frac[1:]) {
			return time.Time{}, false
		}
		frac = frac[1:]
		for i := 0; i < 9; i++ {
			ns *= 10
			if i < len(frac) {
				ns += int(frac[i] - '0')
			}
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), true
}
