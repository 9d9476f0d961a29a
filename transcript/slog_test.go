package transcript

import (
	"bytes"
	"log/slog"
	"testing"
)

func TestSlog(t *testing.T) {
	var buf bytes.Buffer
	s := Slog(slog.New(slog.NewTextHandler(&buf, nil)).With("component", "ftp"))
	s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: "USER anonymous"})
	s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: "PASS guest@example.com"})
	s.Record(Entry{Session: 7, Time: t0, Dir: Server, Line: "230 \x1b[2J ok"})
	want := `time=2024-05-01T12:04:05.123Z level=INFO msg=ftp component=ftp session=7 dir=C line="USER anonymous"
time=2024-05-01T12:04:05.123Z level=INFO msg=ftp component=ftp session=7 dir=C line="PASS ****"
time=2024-05-01T12:04:05.123Z level=INFO msg=ftp component=ftp session=7 dir=S line="230 \x1b[2J ok"
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSlogRespectsLevel(t *testing.T) {
	var buf bytes.Buffer
	s := Slog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	s.Record(Entry{Session: 7, Time: t0, Dir: Client, Line: "USER anonymous"})
	if buf.Len() != 0 {
		t.Errorf("logged below the handler level: %q", buf.String())
	}
}

func TestSlogNilUsesDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer slog.SetDefault(old)
	Slog(nil).Record(Entry{Session: 3, Time: t0, Dir: Note, Line: "TLS handshake done"})
	want := `{"time":"2024-05-01T12:04:05.123Z","level":"INFO","msg":"ftp","session":3,"dir":"#","line":"TLS handshake done"}` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("got %s want %s", got, want)
	}
}
