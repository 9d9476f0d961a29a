package transcript

import (
	"sync"
	"testing"
)

func TestMemory(t *testing.T) {
	var m Memory
	if m.Entries() != nil || m.Lines() != nil {
		t.Fatal("zero Memory is not empty")
	}
	m.Record(Entry{Session: 1, Time: t0, Dir: Client, Line: "USER anonymous"})
	m.Record(Entry{Session: 1, Time: t0, Dir: Server, Line: "331 Send password."})
	m.Record(Entry{Session: 1, Time: t0, Dir: Client, Line: "PASS secret"})
	m.Record(Entry{Session: 1, Time: t0, Dir: Note, Line: ""})

	want := []string{"C: USER anonymous", "S: 331 Send password.", "C: PASS ****", "#: "}
	got := m.Lines()
	if len(got) != len(want) {
		t.Fatalf("Lines() = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Lines()[%d] = %q, want %q", i, got[i], want[i])
		}
	}

	es := m.Entries()
	if len(es) != 4 || es[2].Line != "PASS ****" || es[0].Session != 1 || !es[0].Time.Equal(t0) {
		t.Errorf("Entries() = %+v", es)
	}
	es[0].Line = "changed"
	if m.Entries()[0].Line != "USER anonymous" {
		t.Error("Entries() does not return a copy")
	}

	m.Reset()
	if m.Entries() != nil {
		t.Error("Reset did not empty the Memory")
	}
	m.Record(Entry{Dir: Server, Line: "220 again"})
	if got := m.Lines(); len(got) != 1 || got[0] != "S: 220 again" {
		t.Errorf("after Reset, Lines() = %q", got)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	var m Memory
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.Record(Entry{Session: uint64(w), Dir: Server, Line: "200 ok"})
				_ = m.Lines()
				_ = m.Entries()
			}
		}()
	}
	wg.Wait()
	if n := len(m.Entries()); n != 800 {
		t.Errorf("got %d entries, want 800", n)
	}
}

func TestMulti(t *testing.T) {
	var a, b Memory
	var raw rawSink
	s := Multi(&a, nil, Multi(&b, &raw), Multi())
	s.Record(Entry{Session: 2, Time: t0, Dir: Client, Line: "ACCT billing"})
	s.Record(Entry{Session: 2, Time: t0, Dir: Server, Line: "230 ok"})
	for name, lines := range map[string][]string{"a": a.Lines(), "b": b.Lines()} {
		if len(lines) != 2 || lines[0] != "C: ACCT ****" || lines[1] != "S: 230 ok" {
			t.Errorf("sink %s got %q", name, lines)
		}
	}
	if len(raw.entries) != 2 || raw.entries[0].Line != "ACCT ****" {
		t.Errorf("Multi passed unmasked entries on: %+v", raw.entries)
	}
	Multi().Record(Entry{Dir: Client, Line: "NOOP"}) // must not panic
}
