package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
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
					for n := 0; n < 3000; n++ {
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

// TestReviewImplicitTLSToPlainServer: a session configured for implicit FTPS
// (TLS from the first byte) that reaches a plain server must fail its
// handshake, never run in clear text: before the engine had TLS, it sent USER
// and PASS unprotected to a plain server that greets.
func TestReviewImplicitTLSToPlainServer(t *testing.T) {
	base := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	var peer sync.WaitGroup
	peer.Add(1)
	go func() { // a plain FTP server that logs in anyone
		defer peer.Done()
		defer close(got)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("220 plain text server\r\n"))
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			got <- line
			switch {
			case strings.HasPrefix(line, "USER"):
				c.Write([]byte("331 password\r\n"))
			case strings.HasPrefix(line, "PASS"):
				c.Write([]byte("230 in\r\n"))
			default:
				c.Write([]byte("500 no\r\n"))
			}
		}
	}()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := session.Config{User: "alice", Password: "s3cret", TLS: session.TLSImplicit}
	login := make(chan session.Result, 1)
	_, err = e.Open(ln.Addr().String(), &cfg, func(_ *Conn, r session.Result) { login <- r })
	if err == nil {
		select {
		case r := <-login:
			err = r.Err
		case <-time.After(10 * time.Second):
			t.Error("no login result")
		}
	}
	e.Close()
	ln.Close()
	peer.Wait()
	for line := range got {
		if strings.HasPrefix(line, "PASS") {
			t.Errorf("the password went out in clear text: %q reached a plain server", "PASS ****")
		}
	}
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) {
		t.Errorf("Open with implicit TLS to a plain server: %v, want a tls.RecordHeaderError (the greeting is not a TLS record)", err)
	}
	verifyNone(t, base)
}

// failingSource supplies n zero bytes, then fails.
type failingSource struct{ left int }

func (f *failingSource) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("disk failed")
	}
	k := min(len(p), f.left)
	clear(p[:k])
	f.left -= k
	return k, nil
}

// TestReviewUploadSourceFailsAfterEarly226: an on-loop upload whose Source
// fails during a re-drive, after a (hostile) server has already answered
// 226. The request fails at once; its Done closes the session, which closes
// the data connection from inside the re-drive. The loop must survive it.
func TestReviewUploadSourceFailsAfterEarly226(t *testing.T) {
	base := goleak.IgnoreCurrent()
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 pw"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 in"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.DataAccept(),
		ftptest.Expect("STOR up.bin"), ftptest.Reply("150 go"), ftptest.Reply("226 stored, or so I say"),
		ftptest.Func(func(c *ftptest.Conn) error { // now read, so the upload moves on
			io.Copy(io.Discard, c.Data())
			return nil
		}),
		ftptest.ExpectEOF(),
	}, ftptest.WithoutLog())
	defer srv.Close()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	login := make(chan session.Result, 1)
	conn, err := e.Open(srv.Addr, &session.Config{}, func(_ *Conn, r session.Result) { login <- r })
	if err != nil {
		t.Fatal(err)
	}
	if r := <-login; r.Err != nil {
		t.Fatal(r.Err)
	}
	res := make(chan session.Result, 1)
	conn.Do(&session.Request{Cmd: ftp.Cmd("STOR", "up.bin"), Data: &session.Data{Source: &failingSource{left: 64 << 20}},
		Done: func(r session.Result) {
			conn.Session().Close() // on the loop, from inside the request's Done
			res <- r
		}})
	var r session.Result
	select {
	case r = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("the upload never finished")
	}
	if !errors.Is(r.Err, ftp.ErrIncomplete) {
		t.Fatalf("upload: %v, want a failure that wraps ftp.ErrIncomplete", r.Err)
	}
	e.Close()
	srv.Close()
	verifyNone(t, base)
}

// TestReviewUploadCutByServerHalfClose: the server half-closes an upload's
// data connection (FIN: it will send nothing) long before the client has
// sent everything. gnet closes the connection on that end of stream, so the
// upload stops short: whatever the server answers then, the client knows
// that not every byte went out, and must not report the upload complete.
func TestReviewUploadCutByServerHalfClose(t *testing.T) {
	base := goleak.IgnoreCurrent()
	body := bytes.Repeat([]byte("upload "), 64<<20/7)
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 pw"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 in"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.DataAccept(),
		ftptest.Expect("STOR up.bin"), ftptest.Reply("150 go"),
		ftptest.Func(func(c *ftptest.Conn) error {
			d := c.Data().(*net.TCPConn)
			if err := d.CloseWrite(); err != nil { // "I send nothing", as a server may say at once
				return err
			}
			// Read nothing meanwhile: the socket buffers fill long before
			// the upload ends, and the client sees the FIN.
			time.Sleep(200 * time.Millisecond)
			n, _ := io.Copy(io.Discard, d)
			return c.WriteLine(fmt.Sprintf("226 stored %d bytes", n))
		}),
		ftptest.ExpectEOF(),
	}, ftptest.WithoutLog())
	defer srv.Close()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	login := make(chan session.Result, 1)
	conn, err := e.Open(srv.Addr, &session.Config{}, func(_ *Conn, r session.Result) { login <- r })
	if err != nil {
		t.Fatal(err)
	}
	if r := <-login; r.Err != nil {
		t.Fatal(r.Err)
	}
	res := make(chan session.Result, 1)
	conn.Do(&session.Request{Cmd: ftp.Cmd("STOR", "up.bin"), Data: &session.Data{Source: bytes.NewReader(body)},
		Done: func(r session.Result) { res <- r }})
	var r session.Result
	select {
	case r = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("the upload never finished")
	}
	if r.Err == nil {
		t.Fatalf("upload of %d bytes cut short by the server reported complete (%d bytes counted, reply %q)", len(body), r.Bytes, r.Reply.Message())
	}
	if !errors.Is(r.Err, ftp.ErrIncomplete) {
		t.Fatalf("upload: %v, want a failure that wraps ftp.ErrIncomplete", r.Err)
	}
	conn.Close()
	e.Close()
	srv.Close()
	verifyNone(t, base)
}

// TestReviewCloseEndsSessionsStillDialing: the sweep Close runs on each loop
// (closeAll) must end a session whose dial has failed but whose report has
// not reached the loop yet. That report is a loop task, and gnet runs tasks
// out of the order they were queued once its urgent queue holds 1,024 of
// them (netpoll.Poller.Trigger), so under a flood of requests the sweep can
// come first. The session then stayed live after the loops were halted, and
// a request's Run on its caller ended it while the loop still ran queued
// requests on it: a data race (CI, race detector) and a Done that never ran
// (TestReviewRunDuringCloseNeverDropped). The loop is held here so that the
// sweep runs, deterministically, before the report.
func TestReviewCloseEndsSessionsStillDialing(t *testing.T) {
	base := goleak.IgnoreCurrent()
	addr, stop := stalledListener(t)
	defer stop()
	e, err := New(Options{Loops: 1, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	logins := make(chan error, 1)
	c, err := e.Open(addr, &session.Config{}, func(_ *Conn, r session.Result) { logins <- r.Err })
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64
	c.Do(&session.Request{Cmd: ftp.Cmd("NOOP"), Done: func(session.Result) { done.Add(1) }})

	l := e.loops[0]
	held, release := make(chan struct{}), make(chan struct{})
	if !l.execute(func() { close(held); <-release }) {
		t.Fatal("the loop took no task")
	}
	<-held
	e.cancel()
	e.wg.Wait()  // the dial has failed; its report waits behind the held task
	l.closeAll() // the loop is parked in the held task: nothing else runs
	if !c.ct.s.Terminal() {
		t.Fatal("Close's sweep left a session whose dial had ended running")
	}
	if done.Load() != 1 {
		t.Fatal("the queued request did not finish when the sweep ended its session")
	}
	close(release)
	e.Close()
	if err := <-logins; err == nil {
		t.Fatal("a login that never had a connection succeeded")
	}
	if n := e.Active(); n != 0 {
		t.Fatalf("%d sessions still active after Close", n)
	}
	stop()
	verifyNone(t, base)
}

// stalledListener returns a loopback address whose accept queue is full:
// the kernel drops new SYNs, so a dial to it stays in flight until it is
// cancelled or times out.
func stalledListener(t *testing.T) (string, func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var fill []net.Conn
	for i := 0; i < 8; i++ { // fill the queue until a dial stalls
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		fill = append(fill, c)
	}
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Fatal("the accept queue did not fill: dials to it still complete")
	}
	var once sync.Once
	return addr, func() {
		once.Do(func() {
			for _, c := range fill {
				c.Close()
			}
			syscall.Close(fd)
		})
	}
}
