package transcript

import (
	"context"
	"log/slog"
)

// slogMessage is the message of every record written by the Slog sink.
const slogMessage = "ftp"

// Slog returns a sink that logs each entry to l at Info level, with
// message "ftp" and the attributes session (uint64), dir ("C",
// "S" or "#") and line. The record time is the entry time, not the time
// of logging. Info rather than Debug is used because attaching this sink
// is itself the request for a transcript; filter with the handler's level
// or wrap the handler if it should be quieter. A nil l means
// slog.Default() at the time of each call.
//
// Client lines are masked (see Mask). Escaping of the line is left to
// the handler (slog.TextHandler quotes it, slog.JSONHandler encodes it
// lossily for invalid UTF-8), so use Text or JSON for replayable
// transcripts. The sink is as safe for concurrent use as the handler,
// which for the standard handlers means safe.
func Slog(l *slog.Logger) Sink {
	return slogSink{l: l}
}

type slogSink struct {
	l *slog.Logger
}

// Record implements Sink.
func (s slogSink) Record(e Entry) {
	l := s.l
	if l == nil {
		l = slog.Default()
	}
	ctx := context.Background()
	h := l.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	e = masked(e)
	r := slog.NewRecord(e.Time, slog.LevelInfo, slogMessage, 0)
	r.AddAttrs(
		slog.Uint64("session", e.Session),
		slog.String("dir", e.Dir.String()),
		slog.String("line", e.Line),
	)
	_ = h.Handle(ctx, r)
}
