package pool_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// newPool starts a pool on eng and closes it at cleanup.
func newPool(t *testing.T, eng *engine.Engine, addr string, opts pool.Options) *pool.Pool {
	t.Helper()
	if opts.Backoff == 0 {
		opts.Backoff = 10 * time.Millisecond
	}
	p, err := pool.New(eng, addr, session.Config{}, opts)
	if err != nil {
		t.Fatalf("pool.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// content returns size deterministic bytes for name.
func content(name string, size int) []byte {
	b := make([]byte, size)
	h := sha256.Sum256([]byte(name))
	for i := range b {
		if i%32 == 0 {
			h = sha256.Sum256(h[:])
		}
		b[i] = h[i%32]
	}
	return b
}

func someFiles(n int) map[string][]byte {
	files := map[string][]byte{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("/data/file-%02d.bin", i)
		files[name] = content(name, 60<<10+i*4099)
	}
	return files
}

// TestPoolReconnectsAndResumes: one session's control connection is reset in
// the middle of a download, another gets 421 in the middle of one. The pool
// logs in afresh, resumes each of those downloads with REST from the bytes
// already written, and every file arrives byte-exact.
func TestPoolReconnectsAndResumes(t *testing.T) {
	for _, onLoop := range []bool{false, true} {
		t.Run(map[bool]string{false: "OffLoop", true: "OnLoop"}[onLoop], func(t *testing.T) {
			leakCheck(t)
			files := someFiles(12)
			want := map[string][]byte{}
			for k, v := range files {
				want[k] = v
			}
			srv := newFaultServer(t, files, false, fault{conn: 1, verb: "RETR", how: "reset"}, fault{conn: 2, verb: "RETR", how: "421"})
			var retries sync.Map
			p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 3, Client: client.Options{OnLoop: onLoop},
				OnRetry: func(op, path string, attempt int, err error) { retries.Store(path, err) }})
			ctx := testCtx(t, 60*time.Second)
			var wg sync.WaitGroup
			got := make(map[string]*bytes.Buffer)
			errs := make(map[string]error)
			var mu sync.Mutex
			for name := range want {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var buf bytes.Buffer
					n, err := p.Retr(ctx, name, &buf)
					mu.Lock()
					got[name], errs[name] = &buf, err
					mu.Unlock()
					if err == nil && n != int64(len(want[name])) {
						t.Errorf("%s: Retr says %d bytes, want %d", name, n, len(want[name]))
					}
				}()
			}
			wg.Wait()
			for name, body := range want {
				if errs[name] != nil || !bytes.Equal(got[name].Bytes(), body) {
					t.Errorf("%s: %d bytes of %d, exact %v, err %v", name, got[name].Len(), len(body), bytes.Equal(got[name].Bytes(), body), errs[name])
				}
			}
			strikes := srv.strikes()
			if len(strikes) != 2 {
				t.Fatalf("faults struck: %q, want 2", strikes)
			}
			// Each interrupted file was asked for again with REST at the bytes
			// already written (the server waited until the client had them).
			rests := srv.commands("REST")
			for _, s := range strikes {
				f := strings.Fields(s) // RETR name at offset
				if _, ok := retries.Load(f[1]); !ok {
					t.Errorf("%s: no retry reported", f[1])
				}
				found := false
				for _, r := range rests {
					found = found || r == "REST "+f[3]
				}
				if !found {
					t.Errorf("fault %q: no REST %s among %q", s, f[3], rests)
				}
			}
			st := p.Stats()
			if st.Replaced != 2 || st.Retries != 2 || st.Logins != int64(st.Sessions)+st.Replaced {
				t.Errorf("stats %+v, want 2 replaced, 2 retries, logins = sessions + replaced", st)
			}
		})
	}
}

// TestPoolStorNotResumed: an upload cut off on a server without REST STREAM
// is not sent again; the caller gets the typed error.
func TestPoolStorNotResumed(t *testing.T) {
	leakCheck(t)
	srv := newFaultServer(t, map[string][]byte{}, false, fault{conn: 1, verb: "STOR", how: "reset"})
	p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 2})
	ctx := testCtx(t, 30*time.Second)
	body := content("upload", 300<<10)
	_, err := p.Stor(ctx, "/up.bin", bytes.NewReader(body))
	var nr *pool.NotResumedError
	if !errors.As(err, &nr) || !strings.Contains(nr.Reason, "REST STREAM") {
		t.Fatalf("Stor: %v (%T), want a *pool.NotResumedError about REST STREAM", err, err)
	}
	if !errors.Is(err, ftp.ErrIncomplete) || !errors.Is(err, ftp.ErrClosed) {
		t.Fatalf("Stor: %v: the upload's own error (incomplete, connection closed) is not reachable", err)
	}
	if stors := srv.commands("STOR"); len(stors) != 1 {
		t.Fatalf("server saw %q: an upload was retried blindly", stors)
	}
	if got := srv.file("/up.bin"); len(got) >= len(body) {
		t.Fatalf("server holds %d bytes; the fault should have cut the upload", len(got))
	}
	// The pool is still usable.
	if _, err := p.Stor(ctx, "/second.bin", bytes.NewReader(body)); err != nil || !bytes.Equal(srv.file("/second.bin"), body) {
		t.Fatalf("second Stor: %v", err)
	}
}

// TestPoolStorResumed: with REST STREAM, an upload cut off is resumed at the
// remote size, from a seekable source; a plain reader is resumed only when the
// server holds exactly what was read.
func TestPoolStorResumed(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t, 30*time.Second)
	body := content("resumed", 256<<10+5)

	t.Run("seekable", func(t *testing.T) {
		srv := newFaultServer(t, map[string][]byte{}, true, fault{conn: 1, verb: "STOR", how: "reset"})
		p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 1})
		n, err := p.Stor(ctx, "/up.bin", bytes.NewReader(body))
		if err != nil || n != int64(len(body)) || !bytes.Equal(srv.file("/up.bin"), body) {
			t.Fatalf("Stor: %d, %v; server holds %d bytes, exact %v", n, err, len(srv.file("/up.bin")), bytes.Equal(srv.file("/up.bin"), body))
		}
		rests := srv.commands("REST")
		if len(rests) != 1 || rests[0] != "REST "+strconv.Itoa(20<<10) {
			t.Fatalf("REST commands %q, want one at the 20 KiB the server kept", rests)
		}
	})

	t.Run("plain reader, all sent", func(t *testing.T) {
		srv := newFaultServer(t, map[string][]byte{}, true, fault{conn: 1, verb: "STOR", how: "reset-all"})
		p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 1})
		n, err := p.Stor(ctx, "/up.bin", io.MultiReader(bytes.NewReader(body))) // hides Seek
		if err != nil || n != int64(len(body)) || !bytes.Equal(srv.file("/up.bin"), body) {
			t.Fatalf("Stor: %d, %v", n, err)
		}
		if rests := srv.commands("REST"); len(rests) != 1 || rests[0] != "REST "+strconv.Itoa(len(body)) {
			t.Fatalf("REST commands %q", rests)
		}
	})

	t.Run("plain reader, part sent", func(t *testing.T) {
		srv := newFaultServer(t, map[string][]byte{}, true, fault{conn: 1, verb: "STOR", how: "reset"})
		p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 1})
		_, err := p.Stor(ctx, "/up.bin", io.MultiReader(bytes.NewReader(body)))
		var nr *pool.NotResumedError
		if !errors.As(err, &nr) || !strings.Contains(nr.Reason, "were sent") {
			t.Fatalf("Stor: %v, want a *pool.NotResumedError about sizes", err)
		}
		if stors := srv.commands("STOR"); len(stors) != 1 {
			t.Fatalf("server saw %q", stors)
		}
	})
}

// TestPoolDeleteNotRetried: a DELE whose session dies is not sent again.
func TestPoolDeleteNotRetried(t *testing.T) {
	leakCheck(t)
	srv := newFaultServer(t, map[string][]byte{"/a": []byte("a")}, false, fault{conn: 1, verb: "DELE", how: "421"})
	p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 1})
	ctx := testCtx(t, 30*time.Second)
	err := p.Delete(ctx, "/a")
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 421 {
		t.Fatalf("Delete: %v, want the 421", err)
	}
	if d := srv.commands("DELE"); len(d) != 1 {
		t.Fatalf("server saw %q", d)
	}
	// The dead session is replaced for the next operation.
	if n, err := p.Size(ctx, "/a"); err != nil || n != 1 {
		t.Fatalf("Size after the 421: %d, %v", n, err)
	}
	if st := p.Stats(); st.Replaced != 1 || st.Logins != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPoolPermanentErrorsNotRetried: a 5yz reply is final.
func TestPoolPermanentErrorsNotRetried(t *testing.T) {
	leakCheck(t)
	srv := newFaultServer(t, map[string][]byte{}, false)
	p := newPool(t, newEngine(t), srv.addr(), pool.Options{Size: 2})
	ctx := testCtx(t, 30*time.Second)
	_, err := p.Retr(ctx, "/missing", io.Discard)
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 550 {
		t.Fatalf("Retr: %v", err)
	}
	if n := len(srv.commands("SIZE")); n != 1 {
		t.Fatalf("SIZE sent %d times", n)
	}
	if st := p.Stats(); st.Retries != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPoolQueueAndClose: callers beyond the sessions wait, up to QueueLimit;
// a waiting caller honours its context; Close waits for running work, then
// refuses more.
func TestPoolQueueAndClose(t *testing.T) {
	leakCheck(t)
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	eng := newEngine(t)
	p, err := pool.New(eng, srv.Addr, session.Config{}, pool.Options{Size: 1, QueueLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 30*time.Second)

	// Hold the only session with a download into a writer that blocks.
	block := &blockingWriter{release: make(chan struct{}), started: make(chan struct{})}
	held := make(chan error, 1)
	go func() {
		_, err := p.Retr(ctx, "/README.txt", block)
		held <- err
	}()
	<-block.started

	// One caller may wait; it gives up with its context.
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := p.Size(wctx, "/README.txt")
		waited <- err
	}()
	for i := 0; p.Stats().Waiting == 0; i++ {
		if i == 1000 {
			t.Fatal("the waiter never queued")
		}
		time.Sleep(time.Millisecond)
	}
	// A second waiter is one too many: it fails at once.
	if _, err := p.Size(ctx, "/README.txt"); !errors.Is(err, pool.ErrQueueFull) {
		t.Fatalf("Size while the queue is full: %v", err)
	}
	if err := <-waited; !errors.Is(err, ftp.ErrCanceled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v, want a cancellation by its deadline", err)
	}

	// Close waits for the running download.
	closed := make(chan error, 1)
	go func() { closed <- p.Close(ctx) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a download runs", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(block.release)
	if err := <-held; err != nil {
		t.Fatalf("held download: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := p.Size(ctx, "/README.txt"); !errors.Is(err, pool.ErrClosed) || !errors.Is(err, ftp.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestPoolCloseCancels: Close with an expired context cancels running work.
func TestPoolCloseCancels(t *testing.T) {
	leakCheck(t)
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// Big enough that the server cannot finish (and send 226) while the
	// writer blocks: a finished transfer is rightly reported complete.
	if _, err := embedserver.WriteBigFile(srv.Root, "big.bin", 32<<20); err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(nil, srv.Addr, session.Config{}, pool.Options{Size: 2}) // its own engine
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 30*time.Second)
	block := &blockingWriter{release: make(chan struct{}), started: make(chan struct{})}
	held := make(chan error, 1)
	go func() {
		_, err := p.Retr(ctx, "/big.bin", block)
		held <- err
	}()
	<-block.started
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	go func() {
		// The writer blocks until the transfer is cancelled.
		<-cctx.Done()
		time.Sleep(20 * time.Millisecond)
		close(block.release)
	}()
	if err := p.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-held; !errors.Is(err, ftp.ErrCanceled) {
		t.Fatalf("running download: %v, want a cancellation", err)
	}
}

// TestPoolBadLogin: New fails with the login's typed error.
func TestPoolBadLogin(t *testing.T) {
	leakCheck(t)
	srv, err := embedserver.Start(embedserver.Options{NoAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, err = pool.New(newEngine(t), srv.Addr, session.Config{User: "nobody", Password: "wrong"}, pool.Options{})
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 530 {
		t.Fatalf("New: %v, want 530", err)
	}
}

// blockingWriter blocks its first Write until release is closed.
type blockingWriter struct {
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return len(p), nil
}
