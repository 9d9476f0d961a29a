package listing

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func allCaseLines() []string {
	var out []string
	for _, set := range [][]lineCase{unixCases, dosCases, eplfCases, mlsxCases} {
		for _, c := range set {
			out = append(out, c.line)
		}
	}
	return out
}

// checkEntryInvariants holds for every Entry a parser returns without error.
func checkEntryInvariants(t *testing.T, line string, e Entry) {
	t.Helper()
	raw := strings.TrimRight(line, "\r\n")
	if e.Raw != raw {
		t.Fatalf("Raw = %q, want the input %q", e.Raw, raw)
	}
	if e.Name == "" {
		t.Fatalf("empty Name from %q", line)
	}
	if !strings.Contains(raw, e.Name) || !strings.Contains(raw, e.Target) {
		t.Fatalf("Name %q or Target %q not in the line %q", e.Name, e.Target, raw)
	}
	if strings.ContainsAny(e.Name, "\n") {
		t.Fatalf("Name %q holds a line break", e.Name)
	}
	if e.Type > Other || e.Format < Unix || e.Format > EPLF {
		t.Fatalf("bad Type %d or Format %d", e.Type, e.Format)
	}
	if e.Size < -1 {
		t.Fatalf("Size %d", e.Size)
	}
	if (e.Format == MLSD) != (e.Facts != nil) {
		t.Fatalf("Facts %v for format %v", e.Facts, e.Format)
	}
	if !e.Time.IsZero() && e.Time.Location() != time.UTC {
		t.Fatalf("Time %v not in UTC", e.Time)
	}
	if e.Target != "" && e.Type != Link {
		t.Fatalf("Target %q on a %v", e.Target, e.Type)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, l := range allCaseLines() {
		f.Add(l, int64(0))
		f.Add(l+"\r\n", int64(-1))
	}
	for _, l := range []string{"total 12", "", "-????????? ? ? ? ?            ? x", "+\t", " a=b; c", "01-01-70 1:00a 0 x"} {
		f.Add(l, int64(1))
	}
	f.Fuzz(func(t *testing.T, line string, shift int64) {
		// shift moves now by up to ~30 years either way.
		now := refNow.Add(time.Duration(shift%(30*365*24)) * time.Hour)
		e, err := ParseLine(line, now)
		if err != nil {
			if e.Name != "" || e.Raw != "" || e.Facts != nil || e.Format != 0 {
				t.Fatalf("non-zero Entry %+v with error %v", e, err)
			}
			if len(strings.TrimRight(line, "\r\n")) > MaxLineLength && !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("long line: error %v, want ErrLineTooLong", err)
			}
			return
		}
		checkEntryInvariants(t, line, e)
		// Year inference never places a date far in the future.
		if e.Format == Unix && !e.Time.IsZero() {
			wall := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), now.Minute(), now.Second(), 0, time.UTC)
			if e.Time.After(wall.Add(futureSlack)) && !hasExplicitYear(e.Raw, e.Time.Year()) {
				t.Fatalf("inferred %v is after now %v by more than the slack", e.Time, now)
			}
		}
		// Parsing is a pure function of the line: a body of that one line
		// gives the same Entry.
		res := Parse([]byte(line), now)
		if len(res.Entries) != 1 || len(res.Bad) != 0 {
			t.Fatalf("Parse of the same line: %+v", res)
		}
		if got := res.Entries[0]; got.Name != e.Name || got.Raw != e.Raw || !got.Time.Equal(e.Time) || got.Size != e.Size {
			t.Fatalf("Parse gave %+v, ParseLine %+v", got, e)
		}
	})
}

// hasExplicitYear reports whether the line shows year y, so its date was not
// inferred.
func hasExplicitYear(raw string, y int) bool {
	ys := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006")
	return strings.Contains(raw, ys)
}

func FuzzParseMLSx(f *testing.F) {
	for _, c := range mlsxCases {
		f.Add(c.line)
	}
	for _, l := range []string{" name", "  name", " a; b", "type=dir;;; x", "a=;b=; c", "type=OS.unix=slink:; l", "modify=20240101000000.123456789123; x"} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseMLSx(line)
		if err != nil {
			if e.Name != "" || e.Raw != "" || e.Facts != nil {
				t.Fatalf("non-zero Entry %+v with error %v", e, err)
			}
			return
		}
		checkEntryInvariants(t, line, e)
		if e.Format != MLSD {
			t.Fatalf("Format %v", e.Format)
		}
		// Round trip: writing the entry back out as an MLST line and
		// parsing that gives the same name and facts.
		var b strings.Builder
		if len(e.Facts) == 0 {
			b.WriteString("  ")
		} else {
			for _, k := range slices.Sorted(maps.Keys(e.Facts)) {
				b.WriteString(k + "=" + e.Facts[k] + ";")
			}
			b.WriteString(" ")
		}
		b.WriteString(e.Name)
		if b.Len() > MaxLineLength {
			return
		}
		e2, err := ParseMLSx(b.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if e2.Name != e.Name || !maps.Equal(e2.Facts, e.Facts) || e2.Type != e.Type || e2.Size != e.Size ||
			!e2.Time.Equal(e.Time) || e2.Target != e.Target {
			t.Fatalf("round trip of %q via %q: %+v != %+v", line, b.String(), e2, e)
		}
	})
}

func FuzzParse(f *testing.F) {
	// Small bodies of a few table lines each: big seeds make the fuzzer
	// spend its time minimising.
	lines := allCaseLines()
	for i := 0; i < len(lines); i += 4 {
		f.Add([]byte(strings.Join(lines[i:min(i+4, len(lines))], "\r\n")), false)
	}
	f.Add([]byte("total 3\r\nnot a line\r\n\r\ndrwxr-xr-x 2 u g 4096 Jun  1 10:00 d\n"), false)
	f.Add([]byte("type=cdir; /\r\n x\r\ngarbage\r\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, mlsd bool) {
		var res Result
		if mlsd {
			res = ParseMLSD(body)
		} else {
			res = Parse(body, refNow)
		}
		lines := strings.Split(string(body), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(res.Entries)+len(res.Bad) > len(lines) {
			t.Fatalf("%d entries + %d bad > %d lines", len(res.Entries), len(res.Bad), len(lines))
		}
		prev := 0
		for _, b := range res.Bad {
			if b.Line <= prev || b.Line > len(lines) {
				t.Fatalf("bad line number %d (previous %d, %d lines)", b.Line, prev, len(lines))
			}
			prev = b.Line
			if want := strings.TrimRight(lines[b.Line-1], "\r"); b.Raw != want {
				t.Fatalf("bad line %d Raw %q, want %q", b.Line, b.Raw, want)
			}
			if b.Err == nil || errors.Is(b, ErrNoEntry) {
				t.Fatalf("bad line %d with error %v", b.Line, b.Err)
			}
			_ = b.Error()
		}
		// Every line is accounted for: an entry, a bad line, or no entry.
		ei := 0
		bi := 0
		for n, l := range lines {
			l = strings.TrimRight(l, "\r")
			if bi < len(res.Bad) && res.Bad[bi].Line == n+1 {
				bi++
				continue
			}
			var err error
			if mlsd {
				_, err = ParseMLSx(l)
			} else {
				_, err = ParseLine(l, refNow)
			}
			if err != nil {
				if !errors.Is(err, ErrNoEntry) {
					t.Fatalf("line %d %q: ParseLine error %v but not in Bad", n+1, l, err)
				}
				continue
			}
			if ei >= len(res.Entries) || res.Entries[ei].Raw != l {
				t.Fatalf("line %d %q: missing from Entries", n+1, l)
			}
			checkEntryInvariants(t, l, res.Entries[ei])
			ei++
		}
		if ei != len(res.Entries) {
			t.Fatalf("%d entries left over", len(res.Entries)-ei)
		}
	})
}
