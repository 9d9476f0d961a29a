package handlers

import (
	"strconv"
	"strings"

	"github.com/asyncftp/asyncftp/ftp"
)

// ParsePASV reads the six numbers of a 227 reply, wherever they stand in the
// text ("Entering Passive Mode (h1,h2,h3,h4,p1,p2)" or without parentheses).
// As Lundh's article advises, it is defensive: numbers may carry a sign, only the
// low eight bits of each port number count, and a port of 0 is refused. The host
// is returned for information; sessions connect to the control host by default.
func ParsePASV(text string) (host string, port int, err error) {
	for i := 0; i < len(text); i++ {
		if i > 0 && isDigit(text[i-1]) {
			continue // inside a number: tuples start where numbers start
		}
		nums, ok := readTuple(text[i:])
		if !ok {
			continue
		}
		port = (nums[4]&0xff)<<8 | nums[5]&0xff
		if port == 0 {
			return "", 0, &ftp.ProtocolError{Reason: "PASV reply gives port 0", Line: text}
		}
		host = strconv.Itoa(nums[0]&0xff) + "." + strconv.Itoa(nums[1]&0xff) + "." +
			strconv.Itoa(nums[2]&0xff) + "." + strconv.Itoa(nums[3]&0xff)
		return host, port, nil
	}
	return "", 0, &ftp.ProtocolError{Reason: "PASV reply lacks six comma-separated numbers", Line: text}
}

// readTuple reads six comma-separated, optionally signed integers from the start
// of s; spaces around the commas are allowed.
func readTuple(s string) (nums [6]int, ok bool) {
	for k := 0; k < 6; k++ {
		if k > 0 {
			s = strings.TrimLeft(s, " ")
			if s == "" || s[0] != ',' {
				return nums, false
			}
			s = strings.TrimLeft(s[1:], " ")
		}
		j := 0
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		digits := j
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == digits || j-digits > 9 {
			return nums, false
		}
		v, err := strconv.Atoi(s[:j])
		if err != nil {
			return nums, false
		}
		nums[k] = v
		s = s[j:]
	}
	return nums, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ParseEPSV reads the port of a 229 reply: "(|||port|)" per RFC 2428, where the
// delimiter may be any printable character the server chose. EPSV never carries
// a host.
func ParseEPSV(text string) (int, error) {
	open := strings.IndexByte(text, '(')
	end := strings.LastIndexByte(text, ')')
	if open < 0 || end < open+5 {
		return 0, &ftp.ProtocolError{Reason: "EPSV reply has no (|||port|)", Line: text}
	}
	body := text[open+1 : end]
	d := body[0]
	if d < 33 || d > 126 || len(body) < 5 || body[1] != d || body[2] != d || body[len(body)-1] != d {
		return 0, &ftp.ProtocolError{Reason: "EPSV reply is malformed", Line: text}
	}
	ps := body[3 : len(body)-1]
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 || ps[0] == '+' || ps[0] == '-' {
		return 0, &ftp.ProtocolError{Reason: "EPSV reply port out of range", Line: text}
	}
	return port, nil
}

// ParsePath reads the quoted path of a 257 reply: `"/a ""b"" c" is current
// directory` gives `/a "b" c`.
func ParsePath(text string) (string, error) {
	i := strings.IndexByte(text, '"')
	if i < 0 {
		return "", &ftp.ProtocolError{Reason: "257 reply has no quoted path", Line: text}
	}
	var b strings.Builder
	for j := i + 1; j < len(text); j++ {
		if text[j] != '"' {
			b.WriteByte(text[j])
			continue
		}
		if j+1 < len(text) && text[j+1] == '"' {
			b.WriteByte('"')
			j++
			continue
		}
		return b.String(), nil
	}
	return "", &ftp.ProtocolError{Reason: "257 reply path has no closing quote", Line: text}
}

// Features is what FEAT announced: feature names with their ASCII letters
// upper-cased mapped to their parameters ("MLST" → "type*;size*;modify*;",
// "UTF8" → "").
type Features map[string]string

// Has reports whether the server announced name. Feature names are compared
// without regard to the case of ASCII letters (RFC 2389); other bytes must
// match exactly.
func (f Features) Has(name string) bool {
	_, ok := f[asciiUpper(name)]
	return ok
}

// asciiUpper upper-cases the ASCII letters of s and leaves every other byte
// alone. strings.ToUpper would not do: it rewrites invalid UTF-8, and its
// Unicode mappings do not round-trip ("İ" lowers to two runes that upper to
// something else), so a name from the server could never be found again.
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'a' && c <= 'z' {
					b[j] = c - ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}

// ParseFeatures reads a multi-line 211 reply: the lines between the first and the
// last, each one feature, conventionally indented by a space.
func ParseFeatures(r ftp.Reply) Features {
	f := Features{}
	if len(r.Lines) < 3 {
		return f
	}
	for _, l := range r.Lines[1 : len(r.Lines)-1] {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		name, param, _ := strings.Cut(l, " ")
		f[asciiUpper(name)] = strings.TrimSpace(param)
	}
	return f
}
