package engine

import (
	"container/heap"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
)

func verifyNone(t *testing.T, opt goleak.Option) {
	t.Helper()
	goleak.VerifyNone(t, opt, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

// TestDeadlineHeap pushes, moves and removes sessions in the per-loop heap
// and checks the order and the index bookkeeping.
func TestDeadlineHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var d deadlines
	all := make([]*ctrl, 200)
	for i := range all {
		all[i] = &ctrl{idx: -1, dl: int64(r.IntN(1000))}
		heap.Push(&d, all[i])
	}
	check := func() {
		t.Helper()
		for i, ct := range d {
			if ct.idx != i {
				t.Fatalf("entry %d knows index %d", i, ct.idx)
			}
		}
	}
	check()
	for i := 0; i < 100; i++ { // move some deadlines
		ct := all[r.IntN(len(all))]
		ct.dl = int64(r.IntN(1000))
		heap.Fix(&d, ct.idx)
	}
	check()
	removed := map[*ctrl]bool{}
	for i := 0; i < 50; i++ {
		ct := all[r.IntN(len(all))]
		if ct.idx >= 0 {
			heap.Remove(&d, ct.idx)
			removed[ct] = true
			if ct.idx != -1 {
				t.Fatal("a removed entry keeps its index")
			}
		}
	}
	check()
	var got []int64
	for d.Len() > 0 {
		ct := heap.Pop(&d).(*ctrl)
		if removed[ct] || ct.idx != -1 {
			t.Fatal("popped a removed entry or one that keeps its index")
		}
		got = append(got, ct.dl)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) {
		t.Fatalf("popped out of order: %v", got)
	}
	if len(got)+len(removed) != len(all) {
		t.Fatalf("%d popped + %d removed != %d", len(got), len(removed), len(all))
	}
}

func TestOptionsDefaultsAndClose(t *testing.T) {
	base := goleak.IgnoreCurrent()
	e, err := New(Options{Loops: 3})
	if err != nil {
		t.Fatal(err)
	}
	if e.Loops() != 3 || e.opts.Tick != 50*time.Millisecond || e.opts.ConnectTimeout != 10*time.Second || e.opts.UploadChunk != 64<<10 {
		t.Errorf("defaults: %d loops, %+v", e.Loops(), e.opts)
	}
	if e.Active() != 0 {
		t.Errorf("%d active sessions", e.Active())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Open("127.0.0.1:21", &session.Config{}, nil); !errors.Is(err, ErrEngineClosed) || !errors.Is(err, ftp.ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	verifyNone(t, base)
}

func TestOpenRefusesBadConfig(t *testing.T) {
	base := goleak.IgnoreCurrent()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer verifyNone(t, base)
	defer e.Close()
	for _, cfg := range []session.Config{{User: "a\r\nb"}, {Password: "x\ny"}, {Account: "\x00"}} {
		called := false
		c, err := e.Open("127.0.0.1:1", &cfg, func(*Conn, session.Result) { called = true })
		if c != nil || !errors.Is(err, ftp.ErrInvalidArgument) || called {
			t.Errorf("Open(%+v) = %v, %v", cfg, c, err)
		}
	}
	if e.Active() != 0 {
		t.Errorf("%d active sessions after refusals", e.Active())
	}
}

// TestTimeoutsOnTheLoop: a peer that accepts and says nothing; the loop's
// deadline sweep fails the session with a greeting timeout and closes the
// connection, which the peer sees.
func TestTimeoutsOnTheLoop(t *testing.T) {
	base := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peerSaw := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peerSaw <- err
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		peerSaw <- err
	}()
	e, err := New(Options{Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	cfg := session.Config{Timeouts: session.Timeouts{Greeting: 50 * time.Millisecond},
		OnState: func(_ uint64, _, to, _ string) { seen = append(seen, to) }}
	login := make(chan session.Result, 1)
	conn, err := e.Open(ln.Addr().String(), &cfg, func(_ *Conn, r session.Result) { login <- r })
	if err != nil {
		t.Fatal(err)
	}
	var res session.Result
	select {
	case res = <-login:
	case <-time.After(10 * time.Second):
		t.Fatal("no login result")
	}
	var te *ftp.TimeoutError
	if !errors.As(res.Err, &te) || te.Op != "greeting" {
		t.Fatalf("login: %v", res.Err)
	}
	if err := <-peerSaw; !errors.Is(err, io.EOF) {
		t.Fatalf("peer read %v, want EOF", err)
	}
	st := make(chan string, 1)
	conn.Run(func(s *session.Session) { st <- s.State() })
	if got := <-st; got != states.Failed {
		t.Fatalf("state %q", got)
	}
	if e.Active() != 0 {
		t.Errorf("%d active sessions", e.Active())
	}
	e.Close()
	if len(seen) == 0 || seen[len(seen)-1] != states.Failed {
		t.Errorf("states %v", seen)
	}
	verifyNone(t, base)
}
