package transcript

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is a fixed time used by the tests.
var t0 = time.Date(2024, 5, 1, 12, 4, 5, 123000000, time.UTC)

// hostileLines are server lines a hostile or broken server might send.
var hostileLines = []string{
	"220 \x1b[2J\x1b]0;pwned\x07 welcome",
	"\xff\xfe\xfd not UTF-8",
	"truncated \xe6\x97",
	"surrogate \xed\xa0\x80 bytes",
	"bidi \u202egnp.exe",
	"C1 CSI \u009b31m red",
	"nul\x00byte and DEL\x7f",
	"tab\there and CR LF\r\ninside",
	`back\slash \x41 is literal, \\ too`,
	"trailing spaces  ",
	" ",
	"  leading spaces",
	"line separator \u2028 paragraph \u2029",
	"no-break\u00a0space, soft\u00adhyphen",
	"tag \U000E0001 plane 14",
	"printable: emoji 🙂, 日本語, é",
	`quote " and backslash \ in JSON`,
	"",
}

// sampleEntries returns a varied transcript including hostile lines.
func sampleEntries() []Entry {
	es := []Entry{
		{Session: 7, Time: t0, Dir: Server, Line: "220 ProFTPD Server ready."},
		{Session: 7, Time: t0.Add(time.Millisecond), Dir: Client, Line: "USER anonymous"},
		{Session: 7, Time: t0.Add(2 * time.Millisecond), Dir: Server, Line: "331 Anonymous login ok, send your email address as password."},
		{Session: 7, Time: t0.Add(3 * time.Millisecond), Dir: Client, Line: "PASS ****"},
		{Session: 1<<64 - 1, Time: time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -7*3600)), Dir: Note, Line: "data connection to 127.0.0.1:40001"},
		{Session: 0, Time: time.Time{}, Dir: Note, Line: "zero time and session"},
	}
	for i, l := range hostileLines {
		es = append(es, Entry{Session: 9, Time: t0.Add(time.Duration(i) * time.Nanosecond), Dir: Server, Line: l})
	}
	return es
}

// equalEntries reports whether a and b hold the same entries, comparing
// times as instants.
func equalEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Session != w.Session || g.Dir != w.Dir || g.Line != w.Line || !g.Time.Equal(w.Time) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// rawSink records entries exactly as given, without masking, so tests
// can see what a wrapping sink passes on.
type rawSink struct{ entries []Entry }

func (r *rawSink) Record(e Entry) { r.entries = append(r.entries, e) }
