package engine

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/session"
)

// TestReviewRunDuringCloseNeverDropped: Conn.Do from other goroutines while
// the engine closes. Every request's Done must run exactly once, on the loop
// or (once the loops are gone) on the caller: a request whose Done never runs
// leaves a blocking caller waiting forever, even after its context ends
// (client.do waits for Done after Abort).
func TestReviewRunDuringCloseNeverDropped(t *testing.T) {
	base := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var peers sync.WaitGroup
	peers.Add(1)
	go func() { // accepts and never greets: requests wait for the login
		defer peers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers.Add(1)
			go func() {
				defer peers.Done()
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				c.Read(make([]byte, 1))
			}()
		}
	}()
	for round := 0; round < 30; round++ {
		e, err := New(Options{Loops: 2})
		if err != nil {
			t.Fatal(err)
		}
		var conns []*Conn
		for i := 0; i < 4; i++ {
			c, err := e.Open(ln.Addr().String(), &session.Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		var queued, done atomic.Int64
		stop := make(chan struct{})
		var spam sync.WaitGroup
		for _, c := range conns {
			for k := 0; k < 2; k++ {
				spam.Add(1)
				go func() {
					defer spam.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						queued.Add(1)
						c.Do(&session.Request{Cmd: ftp.Cmd("NOOP"), Done: func(session.Result) { done.Add(1) }})
					}
				}()
			}
		}
		time.Sleep(time.Millisecond)
		e.Close()
		close(stop)
		spam.Wait()
		for i := 0; i < 200 && done.Load() != queued.Load(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if q, d := queued.Load(), done.Load(); q != d {
			t.Fatalf("round %d: %d requests queued, %d finished: %d dropped while the engine closed", round, q, d, q-d)
		}
	}
	ln.Close()
	peers.Wait()
	verifyNone(t, base)
}
