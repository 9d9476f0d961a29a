package transcript

import "sync"

// Memory is a sink that keeps entries in memory, for tests and for
// replay. Client lines are masked on the way in. The zero value is ready
// to use; a Memory is safe for concurrent use and must not be copied
// after first use.
type Memory struct {
	mu      sync.Mutex
	entries []Entry
}

// Record implements Sink.
func (m *Memory) Record(e Entry) {
	e = masked(e)
	m.mu.Lock()
	m.entries = append(m.entries, e)
	m.mu.Unlock()
}

// Entries returns a copy of the recorded entries, oldest first.
func (m *Memory) Entries() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) == 0 {
		return nil
	}
	out := make([]Entry, len(m.entries))
	copy(out, m.entries)
	return out
}

// Lines returns the recorded lines in the article form "C: USER anonymous",
// that is the direction, a colon, a space and the line exactly as recorded
// (no escaping), oldest first. Session ids and times are left out.
func (m *Memory) Lines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) == 0 {
		return nil
	}
	out := make([]string, len(m.entries))
	for i, e := range m.entries {
		out[i] = e.Dir.String() + ": " + e.Line
	}
	return out
}

// Reset discards all recorded entries.
func (m *Memory) Reset() {
	m.mu.Lock()
	m.entries = nil
	m.mu.Unlock()
}
