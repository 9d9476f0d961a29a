package listing

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMixedBody(t *testing.T) {
	long := "-rw-r--r-- 1 u g 1 Jun  1 10:00 " + strings.Repeat("z", MaxLineLength)
	body := "total 24\r\n" + // 1: no entry
		"drwxr-xr-x   2 ftp      ftp          4096 Jun  1 10:00 pub\r\n" + // 2
		"this is not a listing line\r\n" + // 3: bad
		"\r\n" + // 4: blank
		"-rw-r--r--   1 ftp      ftp           512 Jan  2  2020  spaced name\n" + // 5 (LF only)
		"01-16-02  11:14AM       <DIR>          epsgroup\r\n" + // 6
		"drwxr-xr-x   2 ftp      ftp          4096\r\n" + // 7: bad, specific
		"+i8388621.48594,m825718503,r,s280,\tdjb.html\r\n" + // 8
		"type=file;size=3;modify=20240105143000; mlsd; name\r\n" + // 9
		long + "\r\n" + // 10: too long
		"lrwxrwxrwx   1 ftp      ftp             3 Jun  1 10:00 cur -> pub" // 11: no final line end
	res := Parse([]byte(body), refNow)

	wantNames := []string{"pub", " spaced name", "epsgroup", "djb.html", "mlsd; name", "cur"}
	wantFormats := []Format{Unix, Unix, DOS, EPLF, MLSD, Unix}
	if len(res.Entries) != len(wantNames) {
		t.Fatalf("got %d entries, want %d: %+v", len(res.Entries), len(wantNames), res.Entries)
	}
	for i, e := range res.Entries {
		if e.Name != wantNames[i] || e.Format != wantFormats[i] {
			t.Errorf("entry %d = %q (%v), want %q (%v)", i, e.Name, e.Format, wantNames[i], wantFormats[i])
		}
		if strings.ContainsAny(e.Raw, "\r\n") {
			t.Errorf("entry %d Raw %q keeps a line ending", i, e.Raw)
		}
	}
	if e := res.Entries[5]; e.Target != "pub" || e.Type != Link {
		t.Errorf("link entry = %+v", e)
	}

	wantBad := []struct {
		line int
		raw  string
		err  error // nil: specific error
	}{
		{3, "this is not a listing line", ErrUnknownFormat},
		{7, "drwxr-xr-x   2 ftp      ftp          4096", nil},
		{10, long, ErrLineTooLong},
	}
	if len(res.Bad) != len(wantBad) {
		t.Fatalf("got %d bad lines, want %d: %v", len(res.Bad), len(wantBad), res.Bad)
	}
	for i, w := range wantBad {
		b := res.Bad[i]
		if b.Line != w.line || b.Raw != w.raw {
			t.Errorf("bad %d = line %d %q, want line %d %q", i, b.Line, b.Raw, w.line, w.raw)
		}
		if w.err != nil && !errors.Is(b, w.err) {
			t.Errorf("bad %d error %v, want %v", i, b.Err, w.err)
		}
		if w.err == nil && (b.Err == nil || errors.Is(b, ErrUnknownFormat)) {
			t.Errorf("bad %d error %v, want a specific parse error", i, b.Err)
		}
	}

	// LineError is an error by value, wraps its Err, and says where.
	var err error = res.Bad[0]
	var le LineError
	if !errors.As(err, &le) || le.Line != 3 {
		t.Errorf("errors.As on LineError failed: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "line 3") || !strings.Contains(msg, "this is not a listing line") ||
		!strings.Contains(msg, ErrUnknownFormat.Error()) {
		t.Errorf("LineError message %q lacks line number, text or cause", msg)
	}
	if msg := res.Bad[2].Error(); len(msg) > 200 {
		t.Errorf("LineError message for a long line is %d bytes; want it shortened", len(msg))
	}
}

func TestParseEmptyBodies(t *testing.T) {
	for _, body := range []string{"", "\n", "\r\n\r\n", "total 0\r\n", "   \n\t\n"} {
		res := Parse([]byte(body), refNow)
		if len(res.Entries) != 0 || len(res.Bad) != 0 {
			t.Errorf("Parse(%q) = %+v, want nothing", body, res)
		}
		res = ParseMLSD([]byte(body))
		if len(res.Entries) != 0 || len(res.Bad) != 0 && body != "total 0\r\n" {
			t.Errorf("ParseMLSD(%q) = %+v, want nothing", body, res)
		}
	}
}

func TestParseMLSDBody(t *testing.T) {
	body := "type=cdir;sizd=4096;modify=20240105143000;UNIX.mode=0755; /pub\r\n" +
		"type=pdir;sizd=4096;modify=20240101000000;UNIX.mode=0755; /\r\n" +
		"type=file;size=1234;modify=20240105143000;UNIX.mode=0644; readme.txt\r\n" +
		" no facts name\r\n" +
		"type=dir;modify=20240105143000; sub dir\r\n" +
		"garbage without separator\r\n" +
		"\r\n"
	res := ParseMLSD([]byte(body))
	want := []struct {
		name    string
		typ     Type
		selfPar bool
		factTyp string
	}{
		{"/pub", Dir, true, "cdir"},
		{"/", Dir, true, "pdir"},
		{"readme.txt", File, false, "file"},
		{"no facts name", Unknown, false, ""},
		{"sub dir", Dir, false, "dir"},
	}
	if len(res.Entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(res.Entries), len(want))
	}
	for i, w := range want {
		e := res.Entries[i]
		if e.Name != w.name || e.Type != w.typ || e.IsSelfOrParent() != w.selfPar || e.Facts["type"] != w.factTyp || e.Format != MLSD {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
	}
	if len(res.Bad) != 1 || res.Bad[0].Line != 6 || res.Bad[0].Raw != "garbage without separator" {
		t.Fatalf("Bad = %v, want line 6", res.Bad)
	}
}

// TestParseAgreesWithParseLine checks that Parse gives, line by line, what
// ParseLine gives for every table line.
func TestParseAgreesWithParseLine(t *testing.T) {
	var lines []string
	for _, set := range [][]lineCase{unixCases, dosCases, eplfCases, mlsxCases} {
		for _, c := range set {
			lines = append(lines, strings.TrimRight(c.line, "\r\n"))
		}
	}
	res := Parse([]byte(strings.Join(lines, "\r\n")), refNow)
	if len(res.Bad) != 0 || len(res.Entries) != len(lines) {
		t.Fatalf("got %d entries and bad %v, want %d entries", len(res.Entries), res.Bad, len(lines))
	}
	for i, line := range lines {
		want, err := ParseLine(line, refNow)
		if err != nil {
			t.Fatal(err)
		}
		checkEntry(t, res.Entries[i], want)
	}
}
