package embedserver

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// logSink adapts goftp's server.Logger to an io.Writer. With a nil writer it
// drops everything (goftp's own default, StdLogger, writes to the standard
// log package, i.e. stderr). After Server.Close it drops everything too, so a
// caller may read its buffer once Close has returned without racing with a
// session goroutine that is logging its last line.
//
// goftp gives every session of one Serve call the same session ID, so the ID
// does not tell sessions apart; it is still printed to mirror goftp's format.
type logSink struct {
	mu     sync.Mutex
	w      io.Writer // nil: quiet
	closed bool
}

// line writes one formatted line, or nothing when quiet or closed.
func (l *logSink) line(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil || l.closed {
		return
	}
	msg := fmt.Sprintf(format, args...)
	// Keep one event per line even for goftp's multi-line replies.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\r\n"), "\r\n", "\n")
	msg = strings.ReplaceAll(msg, "\n", "\n    ")
	_, _ = io.WriteString(l.w, msg+"\n")
}

// close makes every later call a no-op.
func (l *logSink) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

// Print implements server.Logger.
func (l *logSink) Print(sessionID string, message any) {
	l.line("%s  %v", sessionID, message)
}

// Printf implements server.Logger.
func (l *logSink) Printf(sessionID string, format string, v ...any) {
	l.line("%s  %s", sessionID, fmt.Sprintf(format, v...))
}

// PrintCommand implements server.Logger; the PASS argument is masked.
func (l *logSink) PrintCommand(sessionID string, command string, params string) {
	if strings.EqualFold(command, "PASS") {
		params = "****"
	}
	l.line("%s > %s %s", sessionID, command, params)
}

// PrintResponse implements server.Logger.
func (l *logSink) PrintResponse(sessionID string, code int, message string) {
	l.line("%s < %d %s", sessionID, code, message)
}
