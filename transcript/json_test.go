package transcript

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	s := JSON(&buf)
	s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: "USER anonymous"})
	s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: "PASS guest@example.com"})
	s.Record(Entry{Session: 8, Time: time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("", 2*3600)), Dir: Note, Line: "TLS handshake done"})
	s.Record(Entry{Session: 8, Time: t0, Dir: Server, Line: "550 \"a\\b\"\x1b\x7f\u202e\U000E0001 é"})
	s.Record(Entry{Session: 8, Time: t0, Dir: Server, Line: "220 \xff"})
	want := `{"session":7,"time":"2024-05-01T12:04:05.123Z","dir":"C","line":"USER anonymous"}
{"session":7,"time":"2024-05-01T12:04:05.123Z","dir":"C","line":"PASS ****"}
{"session":8,"time":"2024-05-01T14:00:00+02:00","dir":"#","line":"TLS handshake done"}
{"session":8,"time":"2024-05-01T12:04:05.123Z","dir":"S","line":"550 \"a\\b\"\u001b\u007f\u202e\udb40\udc01 é"}
{"session":8,"time":"2024-05-01T12:04:05.123Z","dir":"S","line":"220 \ufffd","line_base64":"MjIwIP8="}
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestJSONIsStandard checks each output line against encoding/json and
// the terminal-safety promise.
func TestJSONIsStandard(t *testing.T) {
	var buf bytes.Buffer
	s := JSON(&buf)
	for _, e := range sampleEntries() {
		buf.Reset()
		s.Record(e)
		out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if !json.Valid(out) || bytes.ContainsAny(out, "\n\r") {
			t.Fatalf("not one valid JSON line: %q", buf.Bytes())
		}
		if !utf8.Valid(out) || bytes.ContainsFunc(out, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Errorf("output holds raw control bytes: %q", out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(e.Line) && m["line"] != e.Line {
			t.Errorf("encoding/json reads line %q, want %q", m["line"], e.Line)
		}
		if _, ok := m["line_base64"]; ok == utf8.ValidString(e.Line) {
			t.Errorf("line_base64 present=%v for line %q", ok, e.Line)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	s := JSON(&buf)
	want := sampleEntries()
	for _, e := range want {
		s.Record(e)
	}
	got, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	equalEntries(t, got, want)
}

func TestReadJSONTolerance(t *testing.T) {
	in := "\n" + `{"line":"220 hi","dir":"S","time":"2024-05-01T12:04:05Z","session":3,"extra":true}` + "\r\n\n" +
		`{"session":3,"time":"2024-05-01T12:04:05Z","dir":"C","line":"\u0041"}` // no final newline
	got, err := ReadJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Session: 3, Time: t0.Truncate(time.Second), Dir: Server, Line: "220 hi"},
		{Session: 3, Time: t0.Truncate(time.Second), Dir: Client, Line: "A"},
	}
	equalEntries(t, got, want)
}

func TestReadJSONErrors(t *testing.T) {
	good := `{"session":1,"time":"2024-05-01T12:04:05Z","dir":"S","line":"ok"}` + "\n"
	for _, bad := range []string{
		`garbage`,
		`{"session":1,"time":"2024-05-01T12:04:05Z","dir":"S"}`,
		`{"session":1,"time":"2024-05-01T12:04:05Z","line":"x"}`,
		`{"session":1,"dir":"S","line":"x"}`,
		`{"time":"2024-05-01T12:04:05Z","dir":"S","line":"x"}`,
		`{"session":-1,"time":"2024-05-01T12:04:05Z","dir":"S","line":"x"}`,
		`{"session":1,"time":"yesterday","dir":"S","line":"x"}`,
		`{"session":1,"time":"2024-05-01T12:04:05Z","dir":"X","line":"x"}`,
		`{"session":1,"time":"2024-05-01T12:04:05Z","dir":"S","line":"x","line_base64":"!!"}`,
	} {
		got, err := ReadJSON(strings.NewReader(good + bad + "\n" + good))
		if err == nil {
			t.Errorf("ReadJSON(%s) succeeded", bad)
			continue
		}
		if !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ReadJSON(%s) error %q does not name line 2", bad, err)
		}
		if len(got) != 1 {
			t.Errorf("ReadJSON(%s) returned %d entries before the error, want 1", bad, len(got))
		}
	}
}

func TestJSONRecordDoesNotAllocate(t *testing.T) {
	s := JSON(discard{})
	e := Entry{Session: 7, Time: t0, Dir: Server, Line: "226 Transfer complete \x1b"}
	s.Record(e)
	if n := testing.AllocsPerRun(100, func() { s.Record(e) }); n != 0 {
		t.Errorf("JSON Record allocates %v times per entry, want 0", n)
	}
}
