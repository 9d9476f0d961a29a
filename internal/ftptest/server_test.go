package ftptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestLogin(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, append(loginScript(),
		Expect("QUIT"), Reply("221 bye"),
		Close(),
	))
	c := dial(t, srv.Addr)
	c.login()
	c.cmd("QUIT", "221 bye")
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("after Close: read error %v, want EOF", err)
	}
	c.conn.Close()
	srv.Wait()
	want := []string{"USER anonymous", "PASS x", "QUIT"}
	if got := srv.Commands(); !slices.Equal(got, want) {
		t.Errorf("Commands() = %q, want %q", got, want)
	}
	if got := srv.CommandsOf(1); !slices.Equal(got, want) {
		t.Errorf("CommandsOf(1) = %q, want %q", got, want)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("Connections() = %d, want 1", n)
	}
}

func TestMultiLineReply(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		Reply("220 hello"),
		Expect("FEAT"), Reply("211-Features:", " EPSV", " UTF8", "211 End"),
	})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("FEAT")
	for _, l := range []string{"211-Features:", " EPSV", " UTF8", "211 End"} {
		c.want(l)
	}
}

func TestExpectMismatchIsReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{
		Reply("220 hello"),
		Expect("USER anonymous"), Reply("331 pw please"),
	})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("USER bob")
	// The server ends the connection after the mismatch, without replying.
	if s, err := c.r.ReadString('\n'); err == nil {
		t.Errorf("got %q after a mismatch, want the connection closed", s)
	}
	srv.Close()
	ft.wantError(t, `script[1] Expect("USER anonymous")`, `client sent "USER bob"`)
}

func TestExpectPrefixAndAny(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{
		Reply("220 hello"), ExpectPrefix("PASS "), ExpectAny(), ExpectPrefix("PASS "),
	})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("PASS secret")
	c.send("WHATEVER 1 2 3")
	c.send("USER x")
	srv.Wait()
	ft.wantError(t, `script[3] ExpectPrefix("PASS ")`, `"USER x"`)
}

func TestExpectRejectsBareLF(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), Expect("NOOP"), Reply("200 ok")})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	io.WriteString(c.conn, "NOOP\n")
	srv.Wait()
	ft.wantError(t, "bare LF")
}

func TestExpectTimeoutIsReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), Expect("USER anonymous")},
		WithTimeout(100*time.Millisecond))
	c := dial(t, srv.Addr)
	c.want("220 hello")
	// Send nothing: the step must give up after 100ms and close.
	start := time.Now()
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("read error %v, want EOF", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("server waited %v for a command, want about 100ms", d)
	}
	srv.Close()
	ft.wantError(t, `script[1] Expect("USER anonymous")`, "nothing from the client within 100ms")
}

func TestExpectEOF(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServerFunc(ft, func(int) Script {
		return Script{Reply("421 go away"), ExpectEOF()}
	})
	good := dial(t, srv.Addr)
	good.want("421 go away")
	good.conn.Close()
	srv.Wait()
	if errs := ft.errors(); len(errs) != 0 {
		t.Fatalf("client that closed: errors %q", errs)
	}

	bad := dial(t, srv.Addr)
	bad.want("421 go away")
	bad.send("QUIT")
	srv.Wait()
	ft.wantError(t, "ExpectEOF()", `client sent "QUIT" instead of closing`)
}

func TestRetrOverEPSV(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, append(loginScript(),
		Expect("EPSV"), PassiveEPSV(),
		Expect("RETR f"), Reply("150 here"),
		DataAccept(),
		DataSend([]byte("hello")),
		Reply("226 done"), // before the data connection closes
		Delay(50*time.Millisecond),
		DataClose(),
		Expect("QUIT"), Reply("221 bye"),
	))
	c := dial(t, srv.Addr)
	c.login()
	c.send("EPSV")
	d := dialData(t, c.epsvPort())
	c.cmd("RETR f", "150 here")
	c.want("226 done")
	got, err := io.ReadAll(d)
	if err != nil || string(got) != "hello" {
		t.Errorf("data: %q, %v; want \"hello\"", got, err)
	}
	c.cmd("QUIT", "221 bye")
}

func TestStorOverPASV(t *testing.T) {
	noLeaks(t)
	payload := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	srv := NewServer(t, append(loginScript(),
		Expect("PASV"), PassivePASV(),
		Expect("STOR up"), Reply("150 send it"),
		DataAccept(), DataReceive(), DataClose(),
		Reply("226 got it"),
	))
	c := dial(t, srv.Addr)
	c.login()
	c.send("PASV")
	host, port := c.pasv()
	if host != "127.0.0.1" {
		t.Errorf("PASV host %s, want 127.0.0.1", host)
	}
	d := dialData(t, port)
	c.cmd("STOR up", "150 send it")
	if _, err := d.Write(payload); err != nil {
		t.Fatal(err)
	}
	d.Close()
	c.want("226 got it")
	rec := srv.Received()
	if len(rec) != 1 || !bytes.Equal(rec[0], payload) {
		t.Errorf("Received() has %d entries; want the %d bytes sent", len(rec), len(payload))
	}
}

func TestPASVAtAdvertisesAnotherHost(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		Expect("PASV"), PassivePASVAt("192.0.2.7"),
		DataAccept(), DataSend([]byte("via loopback")), DataClose(),
	})
	c := dial(t, srv.Addr)
	c.send("PASV")
	host, port := c.pasv()
	if host != "192.0.2.7" {
		t.Errorf("PASV host %s, want 192.0.2.7", host)
	}
	// The listener is on loopback whatever the reply says; only ever dial that.
	d := dialData(t, port)
	if got, _ := io.ReadAll(d); string(got) != "via loopback" {
		t.Errorf("data %q", got)
	}
}

func TestSecondDataConnection(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		Expect("EPSV"), PassiveEPSV(),
		DataAccept(), DataSend([]byte("one")), DataClose(),
		DataAccept(), DataSend([]byte("two")), DataClose(),
	})
	c := dial(t, srv.Addr)
	c.send("EPSV")
	port := c.epsvPort()
	for _, want := range []string{"one", "two"} {
		d := dialData(t, port)
		if got, _ := io.ReadAll(d); string(got) != want {
			t.Errorf("data %q, want %q", got, want)
		}
	}
}

func TestDataNeverAccept(t *testing.T) {
	noLeaks(t)
	var dataSeen net.Conn
	var accepted bool
	srv := NewServer(t, Script{
		Expect("EPSV"), PassiveEPSV(),
		Expect("RETR f"), Reply("150 here"),
		DataNeverAccept(),
		Expect("ABOR"),
		Func(func(c *Conn) error {
			dataSeen = c.Data()
			// Nothing accepted the connection: it still waits in the backlog.
			tl := c.DataListener().(*net.TCPListener)
			tl.SetDeadline(time.Now().Add(time.Second))
			conn, err := tl.Accept()
			if err == nil {
				accepted = true
				conn.Close()
			}
			return c.WriteLine("226 aborted")
		}),
	})
	c := dial(t, srv.Addr)
	c.send("EPSV")
	d := dialData(t, c.epsvPort()) // the kernel completes the handshake
	c.cmd("RETR f", "150 here")
	d.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := d.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("data read: %d bytes, %v; want a timeout", n, err)
	}
	c.cmd("ABOR", "226 aborted")
	srv.Close()
	if dataSeen != nil {
		t.Errorf("a data connection was accepted before ABOR")
	}
	if !accepted {
		t.Errorf("the client's connection was not waiting in the listener's backlog")
	}
}

func TestDataRefuse(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		// Before the Passive step: the advertised port is closed already.
		Expect("EPSV"), DataRefuse(), PassiveEPSV(),
		// After it: the listener closes when the script gets there.
		Expect("EPSV"), PassiveEPSV(), DataRefuse(), Reply("200 closed now"),
	})
	c := dial(t, srv.Addr)
	for round := 1; round <= 2; round++ {
		c.send("EPSV")
		port := c.epsvPort()
		if round == 2 {
			c.want("200 closed now")
		}
		_, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("round %d: data dial error %v, want ECONNREFUSED", round, err)
		}
	}
}

func TestResetGivesECONNRESET(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{Reply("220 hello"), Expect("NOOP"), Reset()})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("NOOP")
	_, err := c.r.ReadByte()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read error %v, want ECONNRESET", err)
	}
}

func TestDataResetGivesECONNRESET(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		Expect("EPSV"), PassiveEPSV(),
		DataAccept(), DataSend([]byte("par")), Expect("NOOP"), DataReset(), Reply("200 reset done"),
	})
	c := dial(t, srv.Addr)
	c.send("EPSV")
	d := dialData(t, c.epsvPort())
	buf := make([]byte, 3)
	if _, err := io.ReadFull(d, buf); err != nil || string(buf) != "par" {
		t.Fatalf("data %q, %v", buf, err)
	}
	c.cmd("NOOP", "200 reset done")
	_, err := d.Read(buf)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("data read error %v, want ECONNRESET", err)
	}
}

func TestStallEndsOnClose(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		Reply("220 hello"), Expect("EPSV"), PassiveEPSV(), DataAccept(), Stall(),
	})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("EPSV")
	d := dialData(t, c.epsvPort())
	c.send("NOOP") // read and recorded during the stall, never answered
	c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled control read: %v, want a timeout", err)
	}

	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end the Stall")
	}
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.r.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("control read after Close: %v, want the connection closed", err)
	}
	if _, err := d.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("data read after Close: %v, want the connection closed", err)
	}
	if got := srv.Commands(); !slices.Equal(got, []string{"EPSV", "NOOP"}) {
		t.Errorf("Commands() = %q", got)
	}
	srv.Close() // twice is fine
}

func TestStallEndsWhenClientCloses(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{Reply("220 hello"), Stall()})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("QUIT")
	c.conn.Close()
	srv.Wait()
	if got := srv.Commands(); !slices.Equal(got, []string{"QUIT"}) {
		t.Errorf("Commands() = %q", got)
	}
}

func TestEndOfScriptClosesAndRecords(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{Reply("220 hello"), Expect("USER a"), Reply("421 bye")})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.cmd("USER a", "421 bye")
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("read after the script's end: %v, want EOF", err)
	}
	c.send("PASS late") // after the server's FIN: still recorded
	c.conn.Close()
	srv.Wait()
	if got := srv.Commands(); !slices.Equal(got, []string{"USER a", "PASS late"}) {
		t.Errorf("Commands() = %q", got)
	}
}

func TestSendSlowlySplitsReads(t *testing.T) {
	noLeaks(t)
	const msg = "220 slow\r\n"
	const perByte = 30 * time.Millisecond
	srv := NewServer(t, Script{SendSlowly(msg, perByte)})
	c := dial(t, srv.Addr)
	start := time.Now()
	var got []byte
	reads := 0
	buf := make([]byte, 64)
	for len(got) < len(msg) {
		n, err := c.conn.Read(buf)
		if err != nil {
			t.Fatalf("read: %v after %q", err, got)
		}
		reads++
		got = append(got, buf[:n]...)
	}
	if string(got) != msg {
		t.Errorf("got %q, want %q", got, msg)
	}
	if d := time.Since(start); d < time.Duration(len(msg)-1)*perByte {
		t.Errorf("%d bytes came in %v, want at least %v", len(msg), d, time.Duration(len(msg)-1)*perByte)
	}
	// One read per byte, unless the machine is so busy that the client
	// missed some; three reads show the bytes did not come in one piece.
	if reads < 3 {
		t.Errorf("%d bytes came in %d reads, want about one read per byte", len(msg), reads)
	}
	t.Logf("%d bytes in %d reads", len(msg), reads)
}

func TestRawSendAndDataSendSlowly(t *testing.T) {
	noLeaks(t)
	raw := "220 a\x00b\nno CR here\r\n227 partial"
	srv := NewServer(t, Script{
		RawSend(raw),
		Expect("EPSV"), PassiveEPSV(), DataAccept(),
		DataSendSlowly([]byte("xyz"), 10*time.Millisecond), DataClose(),
	})
	c := dial(t, srv.Addr)
	buf := make([]byte, len(raw))
	if _, err := io.ReadFull(c.r, buf); err != nil || string(buf) != raw {
		t.Fatalf("raw: %q, %v", buf, err)
	}
	c.send("EPSV")
	d := dialData(t, c.epsvPort())
	if got, _ := io.ReadAll(d); string(got) != "xyz" {
		t.Errorf("data %q", got)
	}
}

func TestStartTLS(t *testing.T) {
	noLeaks(t)
	cfg, pool := SelfSignedTLS()
	srv := NewServer(t, Script{
		Reply("220 hello"),
		Expect("AUTH TLS"), Reply("234 go ahead"),
		StartTLS(cfg),
		Expect("USER anonymous"), Reply("331 pw please"),
		ExpectPrefix("PASS "), Reply("230 ok"),
		Expect("PBSZ 0"), Reply("200 ok"),
		Expect("PROT P"), Reply("200 ok"),
		Expect("EPSV"), PassiveEPSV(),
		Expect("RETR secret"), Reply("150 here"),
		DataAcceptTLS(nil), DataSend([]byte("encrypted")), DataClose(),
		Reply("226 done"),
		Expect("QUIT"), Reply("221 bye"),
	})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.cmd("AUTH TLS", "234 go ahead")
	c.startTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})
	c.cmd("USER anonymous", "331 pw please")
	c.cmd("PASS x", "230 ok")
	c.cmd("PBSZ 0", "200 ok")
	c.cmd("PROT P", "200 ok")
	c.send("EPSV")
	port := c.epsvPort()
	c.send("RETR secret")
	d := tls.Client(dialData(t, port), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if got, err := io.ReadAll(d); err != nil || string(got) != "encrypted" {
		t.Errorf("TLS data %q, %v", got, err)
	}
	c.want("150 here")
	c.want("226 done")
	c.cmd("QUIT", "221 bye")
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("after the end: %v, want EOF (close_notify)", err)
	}
}

func TestStartTLSHandshakeFailureIsReported(t *testing.T) {
	noLeaks(t)
	cfg, _ := SelfSignedTLS()
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Expect("AUTH TLS"), Reply("234 go"), StartTLS(cfg)})
	c := dial(t, srv.Addr)
	c.cmd("AUTH TLS", "234 go")
	c.send("this is not a ClientHello")
	srv.Wait()
	ft.wantError(t, "StartTLS()", "TLS handshake")
}

func TestInfiniteReplyBounded(t *testing.T) {
	noLeaks(t)
	const limit = 1 << 20
	srv := NewServer(t, Script{
		InfiniteReply("220 ", limit), RawSend("\r\n"),
		Expect("QUIT"), Reply("221 bye"),
	})
	c := dial(t, srv.Addr)
	line, err := c.r.ReadString('\n')
	if err != nil || len(line) != limit+2 || !strings.HasPrefix(line, "220 aaaa") {
		t.Fatalf("got %d bytes starting %.10q, %v; want %d", len(line), line, err, limit+2)
	}
	c.cmd("QUIT", "221 bye")
}

func TestInfiniteReplyUntilClientLeaves(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{InfiniteReply("220 ", 0), ExpectEOF()})
	c := dial(t, srv.Addr)
	if _, err := io.ReadFull(c.r, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	c.conn.Close()
	srv.Wait() // an error would fail the test through t
}

func TestEndlessMultiline(t *testing.T) {
	noLeaks(t)
	srv := NewServerFunc(t, func(n int) Script {
		if n == 1 {
			return Script{EndlessMultiline(123, 1000), Reply("123 end")}
		}
		return Script{EndlessMultiline(123, 0), ExpectEOF()}
	})
	c := dial(t, srv.Addr)
	for i := 1; i <= 1000; i++ {
		c.want(fmt.Sprintf("123-line %d", i))
	}
	c.want("123 end")
	c.conn.Close()

	c2 := dial(t, srv.Addr)
	for i := 1; i <= 20_000; i++ {
		line, err := c2.r.ReadString('\n')
		if want := fmt.Sprintf("123-line %d\r\n", i); line != want || err != nil {
			t.Fatalf("line %d: %q, %v; want %q", i, line, err, want)
		}
	}
	c2.conn.Close()
	srv.Wait()
}

func TestSwarmRunsScriptPerConnection(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, append(loginScript(), Expect("QUIT"), Reply("221 bye")), WithoutLog())
	const n = 8
	var wg sync.WaitGroup
	for range n {
		c := dial(t, srv.Addr)
		wg.Go(func() {
			// t.Fatalf may not be called here; errors reach t.Errorf.
			c.conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c.conn, "USER anonymous\r\nPASS x\r\nQUIT\r\n")
			got, _ := io.ReadAll(c.r)
			if want := "220 hello\r\n331 pw please\r\n230 ok\r\n221 bye\r\n"; string(got) != want {
				t.Errorf("client got %q, want %q", got, want)
			}
			c.conn.Close()
		})
	}
	wg.Wait()
	srv.Wait()
	if got := srv.Connections(); got != n {
		t.Errorf("Connections() = %d, want %d", got, n)
	}
	if got := len(srv.Commands()); got != 3*n {
		t.Errorf("%d commands recorded, want %d", got, 3*n)
	}
}

func TestNewServerFuncScriptPerConnection(t *testing.T) {
	noLeaks(t)
	srv := NewServerFunc(t, func(n int) Script {
		return Script{Reply(fmt.Sprintf("220 you are number %d", n))}
	})
	for i := 1; i <= 3; i++ {
		c := dial(t, srv.Addr)
		c.want(fmt.Sprintf("220 you are number %d", i))
		c.send(fmt.Sprintf("NOOP %d", i))
		c.conn.Close()
	}
	srv.Wait()
	if got := srv.CommandsOf(2); !slices.Equal(got, []string{"NOOP 2"}) {
		t.Errorf("CommandsOf(2) = %q", got)
	}
}

func TestReplay(t *testing.T) {
	noLeaks(t)
	transcript := []ReplayLine{
		{'S', "220 recorded server"},
		{'C', "USER bob"},
		{'S', "331 pw"},
		{'C', "PASS ****"}, // masked in the recording
		{'S', "230 ok"},
		{'C', "EPSV"},
		{'S', "229 Entering Extended Passive Mode (|||40001|)"}, // port from the recording
		{'C', "QUIT"},
		{'S', "221 bye"},
	}
	srv := NewServer(t, Replay(transcript))
	c := dial(t, srv.Addr)
	c.want("220 recorded server")
	c.cmd("USER bob", "331 pw")
	c.cmd("PASS the-real-one", "230 ok")
	c.send("EPSV")
	port := c.epsvPort()
	if port == 40001 {
		t.Errorf("replayed the recorded port instead of a live one")
	}
	dialData(t, port) // it listens there
	c.cmd("QUIT", "221 bye")

	defer func() {
		if recover() == nil {
			t.Error("Replay accepted Dir 'X'")
		}
	}()
	Replay([]ReplayLine{{'X', "?"}})
}

func TestActiveModeDataConnect(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		ExpectPrefix("PORT "), Reply("200 ok"),
		DataConnect(), DataSend([]byte("active")), DataClose(),
		ExpectPrefix("EPRT "), Reply("200 ok"),
		DataConnect(), DataReceive(), Reply("226 got it"),
	})
	c := dial(t, srv.Addr)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c.cmd(fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&0xff), "200 ok")
	d, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(d); string(got) != "active" {
		t.Errorf("PORT data %q", got)
	}
	d.Close()

	c.cmd(fmt.Sprintf("EPRT |1|127.0.0.1|%d|", port), "200 ok")
	d, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(d, "upload")
	d.Close()
	c.want("226 got it")
	if rec := srv.Received(); len(rec) != 1 || string(rec[0]) != "upload" {
		t.Errorf("Received() = %q", rec)
	}
}

func TestActiveModeRefusesNonLoopback(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), ExpectPrefix("PORT "), DataConnect()})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.send("PORT 192,0,2,1,4,1")
	srv.Wait()
	ft.wantError(t, "DataConnect()", "not a loopback address")
}

func TestFuncAndRun(t *testing.T) {
	noLeaks(t)
	srv := NewServer(t, Script{
		Func(func(c *Conn) error {
			for {
				line, err := c.ReadLine()
				if err != nil {
					return err
				}
				switch line {
				case "EPSV":
					if err := c.Run(PassiveEPSV(), DataAccept(), DataSend([]byte(strconv.Itoa(c.N()))), DataClose()); err != nil {
						return err
					}
				case "QUIT":
					return c.WriteLine("221 bye")
				default:
					if _, err := c.Write([]byte("502 " + line + "?\r\n")); err != nil {
						return err
					}
				}
			}
		}),
	})
	c := dial(t, srv.Addr)
	c.cmd("HELP", "502 HELP?")
	c.send("EPSV")
	d := dialData(t, c.epsvPort())
	if got, _ := io.ReadAll(d); string(got) != "1" {
		t.Errorf("data %q, want connection number 1", got)
	}
	c.cmd("QUIT", "221 bye")
}

func TestFuncErrorIsReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), Func(func(*Conn) error { return errors.New("boom") })})
	dial(t, srv.Addr).want("220 hello")
	srv.Wait()
	ft.wantError(t, "script[1] Func(server_test.go:", "boom")
}

func TestDataStepWithoutConnectionIsReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), DataSend([]byte("x"))})
	dial(t, srv.Addr).want("220 hello")
	srv.Wait()
	ft.wantError(t, "DataSend(1 bytes)", "no data connection")
}

func TestDataAcceptTimeoutIsReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Expect("EPSV"), PassiveEPSV(), SetTimeout(100 * time.Millisecond), DataAccept()})
	c := dial(t, srv.Addr)
	c.send("EPSV")
	c.epsvPort()
	srv.Wait()
	ft.wantError(t, "script[3] DataAccept()", "did not open a data connection within 100ms")
}

func TestSelfSignedTLS(t *testing.T) {
	cfg, pool := SelfSignedTLS()
	cfg2, _ := SelfSignedTLS()
	if cfg == cfg2 {
		t.Error("SelfSignedTLS returned the same *tls.Config twice")
	}
	leaf := cfg.Certificates[0].Leaf
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", host, err)
		}
	}
}

func TestStepsAfterATerminalStepAreReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), Close(), Reply("never sent")})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("read after Close: %v, want EOF", err)
	}
	c.conn.Close()
	srv.Wait()
	ft.wantError(t, "script[1] Close() ends the script, but 1 step(s) follow it")
}

func TestZeroStepIsReported(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), {}})
	dial(t, srv.Addr).want("220 hello")
	srv.Wait()
	ft.wantError(t, "script[1]", "zero Step")
}

func TestPartialLineIsReportedAndRecorded(t *testing.T) {
	noLeaks(t)
	ft := &fakeTB{TB: t}
	srv := NewServer(ft, Script{Reply("220 hello"), Expect("QUIT")})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	io.WriteString(c.conn, "QUI")
	c.conn.Close()
	srv.Wait()
	ft.wantError(t, `Expect("QUIT")`, `client sent "QUI" without a line end`)
	if got := srv.Commands(); !slices.Equal(got, []string{"QUI"}) {
		t.Errorf("Commands() = %q", got)
	}
}
