package transcript

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
)

// TestPasswordNeverWritten sends credentials in every form a session
// might, through every sink, and greps the bytes for them.
func TestPasswordNeverWritten(t *testing.T) {
	const secret = "Hunter2-s3cr3t"
	lines := []string{
		"PASS " + secret,
		"pass " + secret,
		"Pass   " + secret + "  ",
		"PASS\t" + secret,
		"ACCT " + secret,
		"NOOP\r\nPASS " + secret,
	}
	record := func(s Sink) {
		s.Record(Entry{Session: 7, Time: t0, Dir: Server, Line: "331 Password required."})
		for _, l := range lines {
			s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: l})
		}
	}

	outputs := map[string]func() []byte{}
	add := func(name string, s Sink, out func() []byte) {
		record(s)
		outputs[name] = out
	}
	var textBuf, jsonBuf, slogText, slogJSON, multiBuf, asyncBuf bytes.Buffer
	add("Text", Text(&textBuf), textBuf.Bytes)
	add("JSON", JSON(&jsonBuf), jsonBuf.Bytes)
	add("Slog text", Slog(slog.New(slog.NewTextHandler(&slogText, nil))), slogText.Bytes)
	add("Slog JSON", Slog(slog.New(slog.NewJSONHandler(&slogJSON, nil))), slogJSON.Bytes)
	add("Multi", Multi(Text(&multiBuf), JSON(&multiBuf)), multiBuf.Bytes)
	a := Async(Text(&asyncBuf), 100)
	record(a)
	a.Close()
	outputs["Async"] = asyncBuf.Bytes
	var m Memory
	add("Memory", &m, func() []byte { return fmt.Appendf(nil, "%+v %q", m.Entries(), m.Lines()) })

	for name, out := range outputs {
		b := out()
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s output contains the password:\n%s", name, b)
		}
		if !bytes.Contains(b, []byte("PASS ****")) || !bytes.Contains(b, []byte("ACCT ****")) {
			t.Errorf("%s output lacks the masked commands:\n%s", name, b)
		}
	}
}
