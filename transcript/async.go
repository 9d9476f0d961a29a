package transcript

import (
	"sync"
	"sync/atomic"
)

// defaultBuffer is the queue length used when Async is given a buffer
// smaller than one.
const defaultBuffer = 1024

// AsyncSink hands entries to a goroutine that records them to another
// sink, so that a slow writer never stalls the event loop. Create one
// with Async.
type AsyncSink struct {
	sink    Sink
	ch      chan Entry
	done    chan struct{}
	mu      sync.RWMutex // guards closed against sends on a closed ch
	closed  bool
	dropped atomic.Uint64
}

// Async starts a goroutine that records entries to s, in order, and
// returns a sink that queues entries for it on a channel of the given
// capacity (a buffer smaller than one means 1024). Record never blocks
// on s: when the queue is full the entry is dropped and counted, see
// Dropped. Client lines are masked before they are queued. Close must be
// called to flush the queue and stop the goroutine; it does not close s.
// The AsyncSink is safe for concurrent use.
func Async(s Sink, buffer int) *AsyncSink {
	if buffer < 1 {
		buffer = defaultBuffer
	}
	a := &AsyncSink{
		sink: s,
		ch:   make(chan Entry, buffer),
		done: make(chan struct{}),
	}
	go a.run()
	return a
}

func (a *AsyncSink) run() {
	defer close(a.done)
	for e := range a.ch {
		a.sink.Record(e)
	}
}

// Record queues e without blocking. If the queue is full, or the sink has
// been closed, e is dropped and counted instead.
func (a *AsyncSink) Record(e Entry) {
	e = masked(e)
	a.mu.RLock()
	if !a.closed {
		select {
		case a.ch <- e:
			a.mu.RUnlock()
			return
		default:
		}
	}
	a.mu.RUnlock()
	a.dropped.Add(1)
}

// Dropped returns how many entries have been dropped so far.
func (a *AsyncSink) Dropped() uint64 {
	return a.dropped.Load()
}

// Close stops accepting entries, waits until every queued entry has been
// recorded to the underlying sink, and stops the goroutine. It blocks for
// as long as the underlying sink takes. Calling Close more than once, also
// concurrently, is safe; every call returns once the goroutine is gone.
func (a *AsyncSink) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
	a.mu.Unlock()
	<-a.done
}
