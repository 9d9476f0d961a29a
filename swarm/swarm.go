// Package swarm runs many FTP sessions at once on one engine: each with its own
// address, credentials and script, under caps on concurrency and connection rate.
//
// A swarm is the engine's reason to exist: thousands of sessions on one event
// loop, each one a few kilobytes and no goroutine. [Start] launches the jobs, each
// session's [Result] is delivered as it finishes, and [Swarm.Wait] returns the
// aggregate [Stats]. A session that fails never disturbs the others: its error is
// recorded (typed, as package ftp defines them) and its slot goes to the next job.
//
// # Where things run
//
// Scripts run on the engine's loops: a step's request is queued from the previous
// step's completion, on the session's loop, with no goroutine per session. One
// launcher goroutine opens sessions as the caps allow. One delivery goroutine
// gathers results and calls [Options.OnResult], in the order sessions finish; it
// may block without holding up any loop (results queue meanwhile).
//
// # Beyond one machine
//
// [Stats] keep timings in histograms, in the same memory for ten sessions or ten
// million. [Options.Segment] runs one of N disjoint slices of a run, so that N
// processes on N hosts do one run's work between them, and [Merge] adds their
// Stats (sent as JSON) up into the whole run's, refusing slices that do not
// belong together. [engine.Options.LocalAddrs] spreads one host's connections
// over several source addresses. docs/distributed.md shows a run on
// Kubernetes and from a shell.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/internal/rlimit"
	"github.com/asyncftp/asyncftp/session"
)

// Job is one session of a swarm.
type Job struct {
	// Addr is the server's host:port.
	Addr string
	// Config holds the credentials, timeouts and limits. Many jobs may share one
	// Config; sessions only read it.
	Config *session.Config
	// Script runs in order once the session is logged in; many jobs may share
	// one. After it (and, with Options.Hold, after Release) the swarm sends QUIT.
	Script []Step
}

// Step is one request of a script.
type Step struct {
	Cmd     ftp.Command      // the command to send
	Handler handlers.Handler // nil: the registry's handler for Cmd.Verb
	// Data makes the step a transfer (LIST, RETR, STOR, …). Every session that
	// runs the step reads the same Data: its Sink or Source must not block, and
	// with more than one loop it must be safe for concurrent use (io.Discard is).
	Data *session.Data
	// Check, if set, judges the step's result (on the loop; it must not block):
	// a non-nil error fails the session.
	Check func(session.Result) error
}

// Options tune a swarm. The zero value opens every job at once.
type Options struct {
	// Concurrency caps the sessions open at once (0: no cap).
	Concurrency int
	// Rate caps new connections per second (0: no cap).
	Rate float64
	// MaxConnecting caps the sessions between Open and their greeting
	// (default 128): it bounds the dials in flight, and the descriptors they
	// hold twice while the engine hands them to a loop.
	MaxConnecting int
	// Hold keeps every session open after its script until Release, then sends
	// QUIT. Concurrency must then be 0 or at least the number of jobs.
	Hold bool
	// OnResult, if set, runs for each session as it finishes, on the swarm's
	// delivery goroutine (never on a loop), one call at a time.
	OnResult func(Result)
	// Segment runs one slice of the jobs and of the caps (Concurrency,
	// Rate), so that N processes given the same jobs and options, each its
	// own Segment, together do the work of one swarm; see [Segment] for the
	// rule. The zero value runs every job.
	Segment Segment
	// StartAt, if set, is when the run begins: no session starts before it,
	// and the Rate timetable counts from it (session i no earlier than
	// StartAt + i/Rate). Segments of one run given the same StartAt keep one
	// timetable however far apart their processes started; a process that
	// starts after StartAt catches up at once (within the caps). Zero: when
	// Start is called.
	StartAt time.Time
	// RunID names this particular run (a Kubernetes Job's uid, a timestamp):
	// it goes into Stats.Run (see [Fingerprint]) so that results of two runs
	// with the same parameters do not merge.
	RunID string
	// NoRaiseLimit keeps RLIMIT_NOFILE as it is. By default Start raises the
	// soft limit to the hard limit when the swarm may need more descriptors,
	// and fails with a *rlimit.TooLowError when even the hard limit is short.
	NoRaiseLimit bool
}

// Result is the outcome of one session.
type Result struct {
	Index int   // the job's index in the slice given to Start (the whole run's)
	Err   error // nil: logged in, ran the script and quit cleanly
	// Step is where the session ended: -1 during connect or login, i for
	// Script[i], len(Script) for the final QUIT.
	Step    int
	Connect time.Duration // from Open to the TCP connection (0: never connected)
	Login   time.Duration // from Open to logged in (0: never logged in)
	Total   time.Duration // from Open to the end
	Bytes   int64         // data bytes moved by the script's transfers
}

// ErrStopped is the error of sessions that Stop (or the context) cut short, and
// of jobs never started.
var ErrStopped = fmt.Errorf("%w: swarm stopped", ftp.ErrCanceled)

// Swarm is a running set of sessions.
type Swarm struct {
	e     *engine.Engine
	job   func(int) Job
	opts  Options
	seg   Segment
	count int // jobs of the segment
	start time.Time

	sem        chan struct{} // concurrency slots (nil: no cap)
	connecting chan struct{}
	stop       chan struct{} // closed by Stop
	stopOnce   sync.Once
	released   atomic.Bool

	mu    sync.Mutex
	live  map[int32]*run // by job index, while the session is open
	out   []Result
	kick  chan struct{}
	held  int
	ended int
	heldC chan struct{} // closed when every job is held or ended

	done  chan struct{} // closed when every result was delivered
	stats Stats
	wg    sync.WaitGroup
}

// Loops turns the --loops convention into an engine's Options.Loops: 0 means one
// loop per core.
func Loops(n int) int {
	if n <= 0 {
		return runtime.NumCPU()
	}
	return n
}

// Start launches jobs (those of Options.Segment) on e and returns at once. ctx
// ends the swarm early, like Stop. The engine stays the caller's: close it
// after Wait.
func Start(ctx context.Context, e *engine.Engine, jobs []Job, opts Options) (*Swarm, error) {
	return StartFunc(ctx, e, len(jobs), func(i int) Job { return jobs[i] }, opts)
}

// StartFunc is Start with the run's jobs given by index instead of as a slice:
// job(i) for 0 ≤ i < total. A run of many alike sessions then holds no job
// list, and its memory does not grow with total. job must return the same Job
// for the same index every time (Start, the fingerprint and the launcher each
// call it, and so does every segment's process); it runs on the caller's
// goroutine and on the swarm's launcher, never on a loop.
func StartFunc(ctx context.Context, e *engine.Engine, total int, job func(i int) Job, opts Options) (*Swarm, error) {
	if err := opts.Segment.Validate(); err != nil {
		return nil, err
	}
	seg := opts.Segment.norm()
	n := seg.Share(total)
	conc := opts.Concurrency
	if conc > 0 {
		conc = seg.Share(opts.Concurrency)
		if conc == 0 && n > 0 {
			return nil, fmt.Errorf("%w: swarm: Concurrency %d cannot be split %d ways: segment %s would have jobs but no slot",
				ftp.ErrInvalidArgument, opts.Concurrency, seg.N, seg)
		}
	}
	if opts.Hold && conc > 0 && conc < n {
		return nil, fmt.Errorf("%w: swarm: Hold keeps every session open, so Concurrency (%d) must be 0 or at least the number of jobs (%d)",
			ftp.ErrInvalidArgument, opts.Concurrency, total)
	}
	if opts.MaxConnecting <= 0 {
		opts.MaxConnecting = 128
	}
	for i := 0; i < total; i++ {
		if j := job(i); j.Config == nil || j.Addr == "" {
			return nil, fmt.Errorf("%w: swarm: job %d has no address or no Config", ftp.ErrInvalidArgument, i)
		}
	}
	if !opts.NoRaiseLimit {
		if _, err := rlimit.Ensure(needFDs(total, job, n, conc, opts.MaxConnecting)); err != nil {
			return nil, err
		}
	}
	s := &Swarm{
		e:          e,
		job:        job,
		opts:       opts,
		seg:        seg,
		count:      n,
		start:      time.Now(),
		connecting: make(chan struct{}, opts.MaxConnecting),
		stop:       make(chan struct{}),
		live:       map[int32]*run{},
		kick:       make(chan struct{}, 1),
		heldC:      make(chan struct{}),
		done:       make(chan struct{}),
	}
	if conc > 0 && conc < n {
		s.sem = make(chan struct{}, conc)
	}
	if opts.StartAt.After(s.start) {
		s.start = opts.StartAt // Wall counts from the run's beginning
	}
	if n == 0 {
		close(s.heldC)
	}
	s.wg.Add(2)
	go s.launch()
	go s.deliver(fingerprint(opts.RunID, total, job, opts), total)
	if ctx.Done() != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-ctx.Done():
				s.Stop()
			case <-s.done:
			}
		}()
	}
	return s, nil
}

// needFDs estimates the descriptors a swarm holds at its peak: a control
// connection per open session, a data connection per open session whose script
// moves data, the dials in flight twice (the engine duplicates each one while
// handing it to a loop), and a margin.
func needFDs(total int, job func(int) Job, n, conc, maxConnecting int) uint64 {
	open := n
	if conc > 0 && conc < open {
		open = conc
	}
	data := false
	for i := 0; i < total; i++ {
		for _, st := range job(i).Script {
			if st.Data != nil {
				data = true
			}
		}
		if data {
			break
		}
	}
	inFlight := maxConnecting
	if inFlight > open {
		inFlight = open
	}
	if data {
		inFlight += open
	}
	return rlimit.Estimate(open, inFlight)
}

// Held is closed once every session is logged in, through its script and held
// (with Options.Hold), or has ended.
func (s *Swarm) Held() <-chan struct{} { return s.heldC }

// HeldCount returns the number of sessions held open now.
func (s *Swarm) HeldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Release ends the hold: every held session sends QUIT, and sessions that reach
// the end of their script later quit at once.
func (s *Swarm) Release() {
	if s.released.Swap(true) {
		return
	}
	s.mu.Lock()
	var held []*run
	for _, r := range s.live {
		if r != nil && r.holding {
			held = append(held, r)
		}
	}
	s.mu.Unlock()
	for _, r := range held {
		r.conn.Run(r.quitHeld) // holding runs always have conn set
	}
}

// Stop ends the swarm early: no more sessions start (their jobs report
// ErrStopped), and the open ones are aborted with ErrStopped.
func (s *Swarm) Stop() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.mu.Lock()
		var open []*engine.Conn
		for _, r := range s.live {
			if r != nil && r.conn != nil {
				open = append(open, r.conn)
			}
		}
		s.mu.Unlock()
		// Sessions whose conn the launcher has not stored yet are aborted by
		// the launcher itself once it sees the stop.
		for _, c := range open {
			c.Abort(ErrStopped)
		}
	})
}

// Done is closed when every session's result has been delivered.
func (s *Swarm) Done() <-chan struct{} { return s.done }

// Wait waits until every session has finished and its result was delivered,
// and returns the aggregate statistics.
func (s *Swarm) Wait() Stats {
	<-s.done
	s.wg.Wait()
	return s.stats
}

// launch opens the sessions, one after the other, as the caps allow.
func (s *Swarm) launch() {
	defer s.wg.Done()
	var every time.Duration
	if s.opts.Rate > 0 {
		every = time.Duration(float64(time.Second) / s.opts.Rate)
	}
	t0 := time.Now()
	if at := s.opts.StartAt; !at.IsZero() {
		if wait := time.Until(at); wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.stop:
				s.skipFrom(0, false)
				return
			}
		}
		t0 = at
	}
	for k := 0; k < s.count; k++ {
		i := s.seg.I + k*s.seg.N // the job's index in the whole run
		if !s.acquire(s.sem) {
			s.skipFrom(k, false)
			return
		}
		if !s.acquire(s.connecting) {
			s.skipFrom(k, s.sem != nil)
			return
		}
		if every > 0 {
			// The whole run's timetable, whichever segment this is.
			if wait := time.Until(t0.Add(time.Duration(i) * every)); wait > time.Millisecond {
				select {
				case <-time.After(wait):
				case <-s.stop:
					<-s.connecting
					s.skipFrom(k, s.sem != nil)
					return
				}
			}
		}
		j := s.job(i)
		r := &run{sw: s, idx: int32(i), step: -1, script: j.Script, t0: time.Now().UnixNano(), slot: s.sem != nil, connecting: true}
		s.mu.Lock()
		s.live[r.idx] = r
		s.mu.Unlock()
		conn, err := s.e.OpenObserved(j.Addr, j.Config, r)
		if err != nil {
			r.doneConnecting()
			r.ended = true
			s.finish(r, err)
			continue
		}
		s.mu.Lock()
		if s.live[r.idx] == r {
			r.conn = conn
		}
		s.mu.Unlock()
		select {
		case <-s.stop: // Stop may have missed this one
			conn.Abort(ErrStopped)
		default:
		}
	}
}

// acquire takes a slot of sem (nil: no cap) unless the swarm stops first.
func (s *Swarm) acquire(sem chan struct{}) bool {
	select {
	case <-s.stop:
		return false
	default:
	}
	if sem == nil {
		return true
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-s.stop:
		return false
	}
}

// skipFrom reports every job of the segment from its k-th on as never started;
// slot says that the k-th holds a concurrency slot.
func (s *Swarm) skipFrom(k int, slot bool) {
	for ; k < s.count; k++ {
		r := &run{sw: s, idx: int32(s.seg.I + k*s.seg.N), step: -1, t0: time.Now().UnixNano(), slot: slot, ended: true}
		slot = false
		s.finish(r, ErrStopped)
	}
}

// finish records a session's end. It runs once per job, on a loop or on the
// launcher.
func (s *Swarm) finish(r *run, err error) {
	res := Result{
		Index:   int(r.idx),
		Err:     err,
		Step:    int(r.step),
		Connect: time.Duration(r.connected),
		Login:   time.Duration(r.loggedIn),
		Total:   time.Duration(time.Now().UnixNano() - r.t0),
		Bytes:   r.bytes,
	}
	if r.slot {
		r.slot = false
		<-s.sem
	}
	s.mu.Lock()
	delete(s.live, r.idx)
	if r.holding {
		r.holding = false
		s.held--
	}
	s.ended++
	s.out = append(s.out, res)
	if s.held+s.ended == s.count {
		s.closeHeld()
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Swarm) closeHeld() {
	select {
	case <-s.heldC:
	default:
		close(s.heldC)
	}
}

// deliver hands results to OnResult and folds them into the statistics.
func (s *Swarm) deliver(run string, jobs int) {
	defer s.wg.Done()
	acc := newAccumulator(s.count)
	acc.st.Run, acc.st.Segment, acc.st.Jobs = run, s.seg, jobs
	var batch []Result
	for acc.n < s.count {
		<-s.kick
		s.mu.Lock()
		batch, s.out = s.out, batch[:0]
		s.mu.Unlock()
		for _, res := range batch {
			acc.add(res)
			if s.opts.OnResult != nil {
				s.opts.OnResult(res)
			}
		}
	}
	s.stats = acc.stats(time.Since(s.start))
	close(s.done)
}

// run is one session's record and the engine Observer of its session. Its
// fields belong to the session's loop, except conn, holding (guarded by sw.mu),
// and the fields the launcher sets before Open.
type run struct {
	sw     *Swarm
	conn   *engine.Conn
	script []Step
	err    error // the first failure of a step, reported in place of QUIT's outcome
	t0     int64 // unix nanoseconds at Open
	bytes  int64

	connected int64 // nanoseconds from t0 to the TCP connection, 0: not yet
	loggedIn  int64 // nanoseconds from t0 to the login, 0: not yet
	idx       int32
	step      int32

	slot       bool // holds a concurrency slot
	connecting bool // holds a MaxConnecting slot
	holding    bool // held open (under sw.mu)
	ended      bool
}

// Connected implements engine.Observer.
func (r *run) Connected(*engine.Conn) {
	r.connected = time.Now().UnixNano() - r.t0
	r.doneConnecting()
}

func (r *run) doneConnecting() {
	if r.connecting {
		r.connecting = false
		<-r.sw.connecting
	}
}

// LoggedIn implements engine.Observer.
func (r *run) LoggedIn(c *engine.Conn, res session.Result) {
	r.doneConnecting()
	if res.Err != nil || r.ended {
		return // Ended reports it
	}
	r.loggedIn = time.Now().UnixNano() - r.t0
	r.step = 0
	r.next(c, c.Session())
}

// Ended implements engine.Observer: the one place a session's result is made.
func (r *run) Ended(_ *engine.Conn, err error) {
	r.doneConnecting()
	if r.ended {
		return
	}
	r.ended = true
	if r.err != nil {
		err = r.err
	}
	r.sw.finish(r, err)
}

// next queues the script's next step, or the end of the session.
func (r *run) next(c *engine.Conn, s *session.Session) {
	script := r.script
	if int(r.step) < len(script) {
		st := &script[r.step]
		s.Do(&session.Request{Cmd: st.Cmd, Handler: st.Handler, Data: st.Data, Done: r.stepDone(c, s)})
		return
	}
	if r.sw.opts.Hold {
		r.sw.mu.Lock()
		if !r.sw.released.Load() {
			r.conn = c
			r.holding = true
			r.sw.held++
			if r.sw.held+r.sw.ended == r.sw.count {
				r.sw.closeHeld()
			}
			r.sw.mu.Unlock()
			return // Release queues the QUIT
		}
		r.sw.mu.Unlock()
	}
	r.quit(s)
}

// stepDone returns the completion of the current step.
func (r *run) stepDone(c *engine.Conn, s *session.Session) func(session.Result) {
	return func(res session.Result) {
		if r.ended {
			return
		}
		r.bytes += res.Bytes
		err := res.Err
		if err == nil {
			if check := r.script[r.step].Check; check != nil {
				err = check(res)
			}
		}
		if err == nil {
			r.step++
			r.next(c, s)
			return
		}
		r.err = err
		var re *ftp.Error
		if errors.As(err, &re) && !s.Terminal() {
			// The server refused the step; the session itself is fine: say
			// goodbye properly. Ended reports the step's error.
			r.quit(s)
			return
		}
		s.Close()
	}
}

// quitHeld runs on the loop when Release reaches a held session.
func (r *run) quitHeld(s *session.Session) {
	r.sw.mu.Lock()
	was := r.holding
	if was {
		r.holding = false
		r.sw.held--
	}
	r.sw.mu.Unlock()
	if was && !r.ended {
		r.quit(s)
	}
}

// quit sends QUIT; the session closes after the reply, and Ended reports.
func (r *run) quit(s *session.Session) {
	if r.err == nil {
		r.step = int32(len(r.script))
	}
	s.Do(&session.Request{Cmd: ftp.Cmd("QUIT"), Done: r.quitDone})
}

// quitDone makes sure a failed QUIT still closes the session.
func (r *run) quitDone(res session.Result) {
	if res.Err != nil && r.err == nil {
		r.err = res.Err
	}
}
