package transcript

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	s := Text(&buf)
	s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: "USER anonymous"})
	s.Record(Entry{Session: 7, Time: t0.Add(8 * time.Millisecond), Dir: Server, Line: "331 Guest login ok."})
	s.Record(Entry{Session: 7, Time: t0.Add(9 * time.Millisecond), Dir: Client, Line: "pass guest@example.com"})
	s.Record(Entry{Session: 12, Time: time.Date(2024, 5, 1, 14, 0, 0, 5, time.FixedZone("", 2*3600)), Dir: Note, Line: "TLS handshake done"})
	s.Record(Entry{Session: 12, Time: t0, Dir: Server, Line: ""})
	s.Record(Entry{Session: 12, Time: t0, Dir: Server, Line: "500 \x1b[31mred\\ "})
	want := "" +
		"2024-05-01T12:04:05.123000000Z #7 C: USER anonymous\n" +
		"2024-05-01T12:04:05.131000000Z #7 S: 331 Guest login ok.\n" +
		"2024-05-01T12:04:05.132000000Z #7 C: pass ****\n" +
		"2024-05-01T14:00:00.000000005+02:00 #12 #: TLS handshake done\n" +
		"2024-05-01T12:04:05.123000000Z #12 S:\n" +
		"2024-05-01T12:04:05.123000000Z #12 S: 500 \\x1b[31mred\\\\\\x20\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTextEscapesHostileBytes(t *testing.T) {
	var buf bytes.Buffer
	s := Text(&buf)
	for _, l := range hostileLines {
		buf.Reset()
		s.Record(Entry{Session: 1, Time: t0, Dir: Server, Line: l})
		out := buf.Bytes()
		if !utf8.Valid(out) {
			t.Errorf("%q: output is not valid UTF-8: %q", l, out)
		}
		body := string(out[:len(out)-1])
		if out[len(out)-1] != '\n' || strings.ContainsAny(body, "\n\r") {
			t.Errorf("%q: output is not exactly one line: %q", l, out)
		}
		for _, r := range body {
			if r != ' ' && !strconv.IsPrint(r) {
				t.Errorf("%q: output holds non-printable %U: %q", l, r, out)
			}
		}
		if strings.HasSuffix(body, " ") {
			t.Errorf("%q: output ends in a space: %q", l, out)
		}
	}
}

func TestTextRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	s := Text(&buf)
	want := sampleEntries()
	for _, e := range want {
		s.Record(e)
	}
	got, err := ReadText(&buf)
	if err != nil {
		t.Fatal(err)
	}
	equalEntries(t, got, want)
}

func TestReadTextTolerance(t *testing.T) {
	in := "\n2024-05-01T12:04:05Z #3 S: 220 hi\r\n\r\n" +
		"2024-05-01T12:04:05.5+01:00 #3 C:\n" +
		"2024-05-01T12:04:06Z #3 S: upper \\x1B hex" // no final newline
	got, err := ReadText(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Session: 3, Time: t0.Truncate(time.Second), Dir: Server, Line: "220 hi"},
		{Session: 3, Time: time.Date(2024, 5, 1, 11, 4, 5, 5e8, time.UTC), Dir: Client, Line: ""},
		{Session: 3, Time: t0.Truncate(time.Second).Add(time.Second), Dir: Server, Line: "upper \x1b hex"},
	}
	equalEntries(t, got, want)
}

func TestReadTextErrors(t *testing.T) {
	good := "2024-05-01T12:04:05Z #1 S: ok\n"
	for _, bad := range []string{
		"garbage",
		"yesterday #1 S: x",
		"2024-05-01T12:04:05Z 1 S: x",
		"2024-05-01T12:04:05Z #-1 S: x",
		"2024-05-01T12:04:05Z #1",
		"2024-05-01T12:04:05Z #1 X: x",
		"2024-05-01T12:04:05Z #1 S x",
		"2024-05-01T12:04:05Z #1 S:x",
		`2024-05-01T12:04:05Z #1 S: bad \q escape`,
		`2024-05-01T12:04:05Z #1 S: short \x1`,
		`2024-05-01T12:04:05Z #1 S: not hex \xzz`,
		`2024-05-01T12:04:05Z #1 S: lone \`,
	} {
		got, err := ReadText(strings.NewReader(good + bad + "\n" + good))
		if err == nil {
			t.Errorf("ReadText(%q) succeeded", bad)
			continue
		}
		if !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ReadText(%q) error %q does not name line 2", bad, err)
		}
		if len(got) != 1 {
			t.Errorf("ReadText(%q) returned %d entries before the error, want 1", bad, len(got))
		}
	}
}

func TestTextConcurrent(t *testing.T) {
	var buf bytes.Buffer
	s := Text(&buf)
	const workers, per = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				s.Record(Entry{Session: uint64(w), Time: t0, Dir: Server, Line: fmt.Sprintf("200 line %d", i)})
			}
		}()
	}
	wg.Wait()
	got, err := ReadText(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != workers*per {
		t.Fatalf("got %d entries, want %d", len(got), workers*per)
	}
	next := make([]int, workers)
	for _, e := range got {
		if want := fmt.Sprintf("200 line %d", next[e.Session]); e.Line != want {
			t.Fatalf("session %d: got %q, want %q", e.Session, e.Line, want)
		}
		next[e.Session]++
	}
}

func TestTextRecordDoesNotAllocate(t *testing.T) {
	s := Text(discard{})
	e := Entry{Session: 7, Time: t0, Dir: Server, Line: "226 Transfer complete \x1b"}
	s.Record(e) // grow the buffer
	if n := testing.AllocsPerRun(100, func() { s.Record(e) }); n != 0 {
		t.Errorf("Text Record allocates %v times per entry, want 0", n)
	}
}

// discard is an io.Writer that drops everything; unlike io.Discard it is
// not special-cased anywhere.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// FuzzRoundTrip checks that any line survives both the text and the JSON
// format exactly and that the text form stays one printable line.
func FuzzRoundTrip(f *testing.F) {
	for _, l := range hostileLines {
		f.Add(l, uint64(7), byte(1), int64(1714565045123456789))
	}
	f.Add("PASS secret", uint64(1), byte(0), int64(0))
	f.Fuzz(func(t *testing.T, line string, session uint64, d byte, nanos int64) {
		e := Entry{Session: session, Time: time.Unix(0, nanos), Dir: []Dir{Client, Server, Note}[d%3], Line: line}
		want := []Entry{masked(e)}

		var tb bytes.Buffer
		Text(&tb).Record(e)
		out := tb.String()
		if strings.Count(out, "\n") != 1 || strings.ContainsRune(out, '\r') || !utf8.ValidString(out) {
			t.Fatalf("text output not one clean line: %q", out)
		}
		got, err := ReadText(&tb)
		if err != nil {
			t.Fatalf("ReadText(%q): %v", out, err)
		}
		equalEntries(t, got, want)

		var jb bytes.Buffer
		JSON(&jb).Record(e)
		out = jb.String()
		got, err = ReadJSON(&jb)
		if err != nil {
			t.Fatalf("ReadJSON(%q): %v", out, err)
		}
		equalEntries(t, got, want)
	})
}
