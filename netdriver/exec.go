package netdriver

import "sync"

// executor runs submitted functions one at a time, in submission order, on a
// goroutine of its own: the only goroutine that touches the session.
//
// The queue is unbounded so that submit never blocks: a function running on
// the executor may submit more (a Done callback queueing the next request)
// without deadlocking, and the I/O goroutines never wait for room. After stop,
// once the queue is empty, the goroutine exits; later submissions run on the
// submitting goroutine, still one at a time, the first submitter draining what
// the others add meanwhile.
type executor struct {
	mu       sync.Mutex
	queue    []func()
	spare    []func() // the previous batch's backing array, reused
	stopping bool     // exit once the queue is empty
	exited   bool     // the goroutine has returned
	draining bool     // after exit: a submitter is running the queue
	wake     chan struct{}
	done     chan struct{}
}

func newExecutor() *executor {
	e := &executor{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

// submit queues f.
func (e *executor) submit(f func()) {
	e.mu.Lock()
	e.queue = append(e.queue, f)
	if !e.exited {
		e.mu.Unlock()
		select {
		case e.wake <- struct{}{}:
		default:
		}
		return
	}
	if e.draining {
		e.mu.Unlock()
		return
	}
	e.draining = true
	e.mu.Unlock()
	e.drain()
}

// call runs f on the executor and waits until it has run. Never call it from
// the executor itself.
func (e *executor) call(f func()) {
	ran := make(chan struct{})
	e.submit(func() { f(); close(ran) })
	<-ran
}

// stop makes the goroutine exit once the queue is empty. Called on the executor.
func (e *executor) stop() {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
}

func (e *executor) run() {
	defer close(e.done)
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			if e.stopping {
				e.exited = true
				e.mu.Unlock()
				return
			}
			e.mu.Unlock()
			<-e.wake
			continue
		}
		batch := e.queue
		e.queue, e.spare = e.spare, nil
		e.mu.Unlock()
		for i, f := range batch {
			batch[i] = nil
			f()
		}
		e.mu.Lock()
		e.spare = batch[:0]
		e.mu.Unlock()
	}
}

// drain runs the queue on the calling goroutine, after the executor exited.
func (e *executor) drain() {
	for {
		e.mu.Lock()
		batch := e.queue
		e.queue = nil
		if len(batch) == 0 {
			e.draining = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		for _, f := range batch {
			f()
		}
	}
}
