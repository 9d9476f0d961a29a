package engine

import (
	"net"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/session"
)

// TestRunKeepsOrder: functions one goroutine gives to Conn.Run run on the
// loop in the order given, even while other goroutines flood the same loop.
// gnet's own task queue does not keep that order once more than 1,024 tasks
// wait (netpoll.Poller.Trigger sends the overflow to a second queue that
// runs after the first), and requests given to Conn.Do in a row must reach
// the server in that order.
func TestRunKeepsOrder(t *testing.T) {
	base := goleak.IgnoreCurrent()
	e, c := ungreetedSession(t)
	const n = 200000
	var got []int // touched on the loop only
	var flood sync.WaitGroup
	stop := make(chan struct{})
	for k := 0; k < 3; k++ {
		flood.Add(1)
		go func() {
			defer flood.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Run(func(*session.Session) {})
			}
		}()
	}
	for i := 0; i < n; i++ {
		c.Run(func(*session.Session) { got = append(got, i) })
	}
	close(stop)
	flood.Wait()
	done := make(chan struct{})
	c.Run(func(*session.Session) { close(done) })
	<-done
	e.Close()
	if len(got) != n {
		t.Fatalf("%d of %d functions ran", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("function %d ran in place %d (after %d): Run reordered the calls of one goroutine", v, i, got[max(i-1, 0)])
		}
	}
	verifyNone(t, base)
}

// BenchmarkRun: functions given to Conn.Run from several goroutines at once,
// each waiting for its own to run (what a blocking client does per request).
func BenchmarkRun(b *testing.B) {
	_, c := ungreetedSession(b)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan struct{}, 1)
		for pb.Next() {
			c.Run(func(*session.Session) { done <- struct{}{} })
			<-done
		}
	})
}

// ungreetedSession is a one-loop engine with one session connected to a
// listener that never greets: Run works on it, requests wait for the login.
// Cleanup closes both.
func ungreetedSession(tb testing.TB) (*Engine, *Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	e, err := New(Options{Loops: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	c, err := e.Open(ln.Addr().String(), &session.Config{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return e, c
}
