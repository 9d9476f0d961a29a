package transcript

import (
	"fmt"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestAsyncDeliversInOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	var m Memory
	a := Async(&m, 1000)
	var want []Entry
	for i := range 500 {
		e := Entry{Session: 4, Time: t0, Dir: Server, Line: fmt.Sprintf("200 line %d", i)}
		want = append(want, e)
		a.Record(e)
	}
	a.Close()
	equalEntries(t, m.Entries(), want)
	if d := a.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d, want 0", d)
	}
}

func TestAsyncMasks(t *testing.T) {
	defer goleak.VerifyNone(t)
	var raw rawSink // does not mask, and is only touched by the Async goroutine
	a := Async(&raw, 4)
	a.Record(Entry{Dir: Client, Line: "PASS secret"})
	a.Close()
	if len(raw.entries) != 1 || raw.entries[0].Line != "PASS ****" {
		t.Errorf("Async passed on %+v", raw.entries)
	}
}

// blockingSink blocks in Record until release is closed, after telling
// started about the first entry.
type blockingSink struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	n       int
}

func (b *blockingSink) Record(Entry) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
}

func TestAsyncDropsWhenFull(t *testing.T) {
	defer goleak.VerifyNone(t)
	b := &blockingSink{started: make(chan struct{}), release: make(chan struct{})}
	a := Async(b, 3)
	a.Record(Entry{Dir: Server, Line: "first"})
	<-b.started // the goroutine now holds "first" and is stuck in Record
	for i := range 3 {
		a.Record(Entry{Dir: Server, Line: fmt.Sprint("queued ", i)})
	}
	for i := range 5 {
		a.Record(Entry{Dir: Server, Line: fmt.Sprint("dropped ", i)})
	}
	if d := a.Dropped(); d != 5 {
		t.Errorf("Dropped() = %d, want 5", d)
	}
	close(b.release)
	a.Close()
	if b.n != 4 {
		t.Errorf("underlying sink got %d entries, want 4", b.n)
	}
	a.Record(Entry{Dir: Server, Line: "after close"})
	if d := a.Dropped(); d != 6 {
		t.Errorf("after a Record past Close, Dropped() = %d, want 6", d)
	}
}

func TestAsyncConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	var m Memory
	a := Async(&m, 64)
	const workers, per = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				a.Record(Entry{Session: uint64(w), Dir: Server, Line: fmt.Sprint(i)})
				if i%100 == 0 {
					_ = a.Dropped()
				}
			}
		}()
	}
	wg.Wait()
	a.Close()
	es := m.Entries()
	if got := uint64(len(es)) + a.Dropped(); got != workers*per {
		t.Errorf("recorded %d + dropped %d = %d, want %d", len(es), a.Dropped(), got, workers*per)
	}
	last := make([]int, workers)
	for i := range last {
		last[i] = -1
	}
	for _, e := range es {
		var n int
		fmt.Sscan(e.Line, &n)
		if n <= last[e.Session] {
			t.Fatalf("session %d: %d after %d, order lost", e.Session, n, last[e.Session])
		}
		last[e.Session] = n
	}
}

func TestAsyncCloseRacesWithRecord(t *testing.T) {
	defer goleak.VerifyNone(t)
	var m Memory
	a := Async(&m, 16)
	var wg sync.WaitGroup
	const workers, per = 4, 500
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				a.Record(Entry{Dir: Server, Line: "200 ok"})
			}
		}()
	}
	for range 3 { // concurrent and repeated Close must be safe
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Close()
		}()
	}
	wg.Wait()
	a.Close()
	if got := uint64(len(m.Entries())) + a.Dropped(); got != workers*per {
		t.Errorf("recorded + dropped = %d, want %d", got, workers*per)
	}
}

func TestAsyncDefaultBuffer(t *testing.T) {
	defer goleak.VerifyNone(t)
	a := Async(&Memory{}, 0)
	if cap(a.ch) != defaultBuffer {
		t.Errorf("buffer = %d, want %d", cap(a.ch), defaultBuffer)
	}
	a.Close()
}
