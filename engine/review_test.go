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
