package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/transcript"
)

// sessions is a pool of logged-in sessions to one server, as 'get -j' and
// 'mirror -j' use it: the pool replaces a session that dies and runs the
// interrupted operation again (a download resumes with REST from the bytes
// already written), and workers tells how many sessions logged in, which is
// how many operations the command runs at once.
type sessions struct {
	*pool.Pool
	workers int
}

// openSessions starts a pool of up to size sessions to t on eng and logs all
// of them in, so that the parallelism asked for is there from the start. The
// first login must succeed (its failure is a connection error, exit code 3);
// when only some of the others do, the command goes on with fewer, saying so
// on stderr. name is the command, for the warnings.
func (o *common) openSessions(ctx context.Context, e *Env, name string, t *Target, eng *engine.Engine, sink transcript.Sink, size int) (*sessions, error) {
	cfg, creds, err := o.config(e, t, sink)
	if err != nil {
		return nil, err
	}
	tlsOpts, err := o.clientTLS(e, t)
	if err != nil {
		return nil, err
	}
	opts := pool.Options{
		Size:   size,
		Client: client.Options{TLS: tlsOpts, SkipSize: true, ConnectTimeout: o.timeout},
	}
	if !o.quiet {
		opts.OnRetry = func(op, path string, attempt int, err error) {
			// One write per line: the lines of several sessions do not mix.
			fmt.Fprintf(e.Stderr, "asyncftp %s: warning: %s %s: try %d after: %v\n", name, op, safeText(path), attempt, err)
		}
	}

	// pool.New logs the first session in without a context; run it aside so
	// that Ctrl-C is not held up by a server that never greets. The engine's
	// Close, deferred by the caller, ends that login if it still waits.
	type opened struct {
		p   *pool.Pool
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		p, err := pool.New(eng, t.Addr(), cfg, opts)
		ch <- opened{p, err}
	}()
	var res opened
	select {
	case res = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.p != nil {
				r.p.Close(context.Background())
			}
		}()
		return nil, fmt.Errorf("connect to %s: %w", t.Addr(), ftp.ErrCanceled)
	}
	if res.err != nil {
		return nil, connectError(describeDialError(t, creds, res.err))
	}
	s := &sessions{Pool: res.p}
	s.workers = s.warm(ctx, func(i int, err error) {
		if ctx.Err() == nil {
			fmt.Fprintf(e.Stderr, "asyncftp %s: warning: session %d of %d: %v\n", name, i+1, size, err)
		}
	})
	if s.workers < size && ctx.Err() == nil {
		fmt.Fprintf(e.Stderr, "asyncftp %s: warning: going on with %d of %d sessions\n", name, s.workers, size)
	}
	return s, nil
}

// warm logs in every session of the pool: it holds Cap sessions at once, so
// that the pool must open all of them, and returns how many it got. failed
// hears of each session that could not be opened (the pool has retried it).
func (s *sessions) warm(ctx context.Context, failed func(i int, err error)) int {
	n := s.Cap()
	var arrived, wg sync.WaitGroup
	arrived.Add(n)
	release := make(chan struct{})
	var mu sync.Mutex
	got := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entered := false // f runs at most once, on this goroutine
			err := s.Do(ctx, func(ctx context.Context, c *client.Client) error {
				entered = true
				mu.Lock()
				got++
				mu.Unlock()
				arrived.Done()
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			})
			if !entered {
				arrived.Done()
				if err != nil {
					failed(i, err)
				}
			}
		}()
	}
	arrived.Wait()
	close(release)
	wg.Wait()
	return max(got, 1) // the pool's first session logged in inside pool.New
}

// fileSize asks SIZE for a download that can do without it: a reply that
// refuses it (4yz or 5yz, as some servers answer for a missing file) is
// returned at once, not retried; only a session that broke on the way is
// replaced and asked again.
func (s *sessions) fileSize(ctx context.Context, path string) (int64, error) {
	size := int64(-1)
	err := s.Do(ctx, func(ctx context.Context, c *client.Client) error {
		var err error
		size, err = c.Size(ctx, path)
		return err
	})
	var fe *ftp.Error
	if err != nil && !errors.As(err, &fe) && ctx.Err() == nil {
		return s.Size(ctx, path)
	}
	return size, err
}

// close ends the pool: QUIT on every session, or a plain close once ctx is done.
func (s *sessions) close(ctx context.Context) error {
	if ctx.Err() != nil {
		return s.Close(ctx)
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return s.Close(qctx)
}

// isConnectError reports whether err is a failure to reach or log in to a
// server (exit code 3).
func isConnectError(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.code == ExitConnect
}
