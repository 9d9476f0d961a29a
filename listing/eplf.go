package listing

import (
	"strings"
	"time"
)

// EPLF (Easily Parsed LIST Format) lines look like
//
//	+i8388621.48594,m825718503,r,s280,	djb.html
//	+i8388621.50690,m824255907,/,	514
//
// A '+', comma-separated facts, a tab, then the name. Facts used here: '/'
// (a directory), 'r' (a retrievable file), "s<size>" and "m<unix mtime>".
// Unknown facts are ignored, as the format asks; malformed size or time
// facts leave Size -1 or Time zero.

func parseEPLF(line string) (Entry, error) {
	tab := strings.IndexByte(line, '\t')
	if tab < 0 {
		return Entry{}, errEPLFNoTab
	}
	if tab+1 >= len(line) {
		return Entry{}, errEPLFNoName
	}
	e := Entry{Name: line[tab+1:], Size: -1, Format: EPLF, Raw: line}
	var dir, file bool
	facts := line[1:tab]
	for facts != "" {
		var f string
		if i := strings.IndexByte(facts, ','); i >= 0 {
			f, facts = facts[:i], facts[i+1:]
		} else {
			f, facts = facts, ""
		}
		if f == "" {
			continue
		}
		switch f[0] {
		case '/':
			dir = true
		case 'r':
			file = true
		case 's':
			if n, ok := parseSize(f[1:]); ok {
				e.Size = n
			}
		case 'm':
			if n, ok := parseSize(f[1:]); ok {
				e.Time = time.Unix(n, 0).UTC()
			}
		}
	}
	switch {
	case dir:
		e.Type = Dir
	case file:
		e.Type = File
	}
	return e, nil
}
