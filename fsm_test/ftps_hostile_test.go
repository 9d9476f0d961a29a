package fsm_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
)

// FTPS against hostile servers on the engine (issue #15): a stalled or
// garbled handshake, records split to single bytes, corrupt and oversized
// records, alerts and cuts in the middle of a transfer, clear data after PROT
// P. Each case runs on a one-loop engine next to a bystander FTPS session
// (goftp), which must still answer NOOP and LIST afterwards, and each ends
// with the goroutines and descriptors of before.

// hostileEnv is one case's engine, its bystander and the leak baseline.
type hostileEnv struct {
	lk   *fltLeaks
	e    *engine.Engine
	by   *client.Client
	bySv *embedserver.Server
	pool *x509.CertPool // trusts the scripted servers' certificate
	srv  *ftptest.Server
	off  bool // the victim moves its data off the loop (its own goroutine, tls.Conn over net.Conn)
}

// hostileBegin starts a one-loop engine whose control handshakes time out
// after hs, and logs a bystander in over explicit FTPS on it.
func hostileBegin(t *testing.T, hs time.Duration) *hostileEnv {
	t.Helper()
	env := &hostileEnv{lk: fltBegin(t)}
	e, err := engine.New(engine.Options{Loops: 1, Tick: 10 * time.Millisecond, ConnectTimeout: 2 * time.Second, HandshakeTimeout: hs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	env.e = e
	var byPool *x509.CertPool
	env.bySv, byPool = ftpsEmbed(t, false)
	env.by, err = client.Dial(fltCtx(t), env.bySv.Addr, &client.Options{
		Engine: e,
		Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: session.TLSExplicit, Timeouts: fltShort},
		TLS:    ftptls.Options{RootCAs: byPool},
		OnLoop: true,
	})
	if err != nil {
		t.Fatalf("bystander Dial: %v", err)
	}
	_, env.pool = ftptest.SelfSignedTLS()
	return env
}

// victim dials the scripted server on env's engine with a watch on its
// states; the Dial's error is returned, the client kept for Close.
func (env *hostileEnv) victim(t *testing.T, script ftptest.Script, mode session.TLSMode, tune func(*session.Config)) (*client.Client, *fltWatch, error) {
	t.Helper()
	env.srv = ftptest.NewServer(t, script, ftptest.WithTimeout(3*time.Second), ftptest.WithoutLog())
	w := fltNewWatch()
	cfg := fltConfig(w, nil)
	cfg.TLS = mode
	if tune != nil {
		tune(&cfg)
	}
	c, err := client.Dial(fltCtx(t), env.srv.Addr, &client.Options{
		Engine: env.e, Config: cfg, TLS: ftptls.Options{RootCAs: env.pool}, OnLoop: !env.off, SkipSize: true,
	})
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, w, err
}

// end checks the bystander still works on the loop, then that everything is
// released.
func (env *hostileEnv) end(t *testing.T) {
	t.Helper()
	ctx := fltCtx(t)
	if err := env.by.Noop(ctx); err != nil {
		t.Errorf("bystander NOOP after the case: %v", err)
	}
	if res, err := env.by.List(ctx, ""); err != nil || len(res.Entries) == 0 {
		t.Errorf("bystander LIST after the case: %d entries, %v", len(res.Entries), err)
	}
	if err := env.by.Quit(ctx); err != nil {
		t.Errorf("bystander QUIT: %v", err)
	}
	closers := []func(){func() { env.e.Close() }, func() { env.bySv.Close() }}
	if env.srv != nil {
		closers = append(closers, env.srv.Close)
	}
	env.lk.end(t, closers...)
}

// hostileLogin is an explicit FTPS login up to TYPE I, over TLS after the 234.
func hostileLogin(srvCfg *tls.Config, more ...ftptest.Step) ftptest.Script {
	s := ftptest.Script{
		ftptest.Reply("220 hostile FTPS"),
		ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
	}
	s = append(s, more...)
	return append(s,
		ftptest.StartTLS(srvCfg),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("PBSZ 0"), ftptest.Reply("200 PBSZ=0"),
		ftptest.Expect("PROT P"), ftptest.Reply("200 private"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
	)
}

// readHello reads the client's ClientHello (or what comes first) from the
// control connection, in clear, so that the server's silence or garbage
// follows it.
func readHello() ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		nc := c.NetConn()
		nc.SetReadDeadline(time.Now().Add(c.Timeout()))
		defer nc.SetReadDeadline(time.Time{})
		var hdr [5]byte
		if _, err := io.ReadFull(nc, hdr[:]); err != nil {
			return err
		}
		if hdr[0] != 0x16 {
			return errors.New("the client's first bytes after the 234 are not a TLS handshake record")
		}
		_, err := io.CopyN(io.Discard, nc, int64(hdr[3])<<8|int64(hdr[4]))
		return err
	})
}

// dataReadHello is readHello on the data connection.
func dataReadHello() ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		d := c.Data()
		d.SetReadDeadline(time.Now().Add(c.Timeout()))
		var hdr [5]byte
		if _, err := io.ReadFull(d, hdr[:]); err != nil {
			return err
		}
		_, err := io.CopyN(io.Discard, d, int64(hdr[3])<<8|int64(hdr[4]))
		return err
	})
}

// dataFIN closes the data connection's TCP socket under its TLS: a FIN with
// no close_notify, at a record boundary.
func dataFIN() ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		tc, ok := c.Data().(*tls.Conn)
		if !ok {
			return errors.New("not a TLS data connection")
		}
		return tc.NetConn().Close()
	})
}

// tlsOpError finds the *net.OpError that crypto/tls returns for an alert it
// sent ("local error") or received ("remote error").
func tlsOpError(err error, op, text string) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == op && strings.Contains(oe.Err.Error(), text)
}

func ftpsHostileBody(n int) []byte { return ftpsPattern("hostile", n) }

// TestFTPSHostileHandshake: the control connection's handshake goes wrong.
func TestFTPSHostileHandshake(t *testing.T) {
	const hs = 300 * time.Millisecond
	long := func(cfg *session.Config) {
		// Every session timeout far beyond the handshake's: only the
		// handshake timer can end the wait in time.
		cfg.Timeouts = session.Timeouts{Greeting: 20 * time.Second, Reply: 20 * time.Second, DataConnect: 20 * time.Second, DataIdle: 20 * time.Second}
	}
	t.Run("SilentExplicit", func(t *testing.T) {
		// After the 234 the server reads the ClientHello and never answers.
		env := hostileBegin(t, hs)
		start := time.Now()
		_, w, err := env.victim(t, ftptest.Script{
			ftptest.Reply("220 hostile FTPS"),
			ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
			readHello(), ftptest.Stall(),
		}, session.TLSExplicit, long)
		took := time.Since(start)
		var te *ftp.TimeoutError
		if !errors.Is(err, ftp.ErrTimeout) || !errors.As(err, &te) || !strings.Contains(te.Op, "TLS handshake") {
			t.Fatalf("Dial: %v (%T); want a *ftp.TimeoutError of the TLS handshake", err, err)
		}
		if took < hs || took > 5*time.Second {
			t.Errorf("the handshake failed after %v; HandshakeTimeout is %v and every session timeout 20s", took, hs)
		}
		w.ended(t, states.Failed)
		env.end(t)
	})
	t.Run("SilentImplicit", func(t *testing.T) {
		env := hostileBegin(t, hs)
		start := time.Now()
		_, w, err := env.victim(t, ftptest.Script{readHello(), ftptest.Stall()}, session.TLSImplicit, long)
		took := time.Since(start)
		var te *ftp.TimeoutError
		if !errors.Is(err, ftp.ErrTimeout) || !errors.As(err, &te) || !strings.Contains(te.Op, "TLS handshake") {
			t.Fatalf("Dial: %v (%T); want a *ftp.TimeoutError of the TLS handshake", err, err)
		}
		if took < hs || took > 5*time.Second {
			t.Errorf("the handshake failed after %v; HandshakeTimeout is %v and every session timeout 20s", took, hs)
		}
		w.ended(t, states.Failed)
		env.end(t)
	})
	t.Run("AlertInHandshake", func(t *testing.T) {
		// A server whose TLS cannot agree (TLS 1.1 at most) answers the
		// ClientHello with a fatal protocol_version alert.
		env := hostileBegin(t, 5*time.Second)
		old, _ := ftptest.SelfSignedTLS()
		old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		refuse := ftptest.Func(func(c *ftptest.Conn) error {
			c.NetConn().SetDeadline(time.Now().Add(c.Timeout()))
			if err := tls.Server(c.NetConn(), old).Handshake(); err == nil {
				return errors.New("the server's TLS 1.1 handshake succeeded")
			}
			return nil
		})
		_, w, err := env.victim(t, ftptest.Script{
			ftptest.Reply("220 hostile FTPS"),
			ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
			refuse, ftptest.Stall(),
		}, session.TLSExplicit, nil)
		if !tlsOpError(err, "remote error", "protocol version") {
			t.Fatalf("Dial: %v (%T); want the server's protocol_version alert", err, err)
		}
		w.ended(t, states.Failed)
		env.end(t)
	})
	t.Run("NotTLS", func(t *testing.T) {
		// Clear text where the ServerHello belongs.
		env := hostileBegin(t, 5*time.Second)
		_, w, err := env.victim(t, ftptest.Script{
			ftptest.Reply("220 hostile FTPS"),
			ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
			readHello(), ftptest.RawSend("200 this is no ServerHello\r\n"), ftptest.Stall(),
		}, session.TLSExplicit, nil)
		var rhe tls.RecordHeaderError
		if !errors.As(err, &rhe) {
			t.Fatalf("Dial: %v (%T); want a tls.RecordHeaderError", err, err)
		}
		if string(rhe.RecordHeader[:]) != "200 t" {
			t.Errorf("the record header quoted is %q, want the server's first bytes", rhe.RecordHeader[:])
		}
		w.ended(t, states.Failed)
		env.end(t)
	})
}

// TestFTPSSplitRecords: a server that writes its whole TLS stream, handshakes
// included, one byte per write. Nothing fails: login, LIST and a byte-exact
// RETR, on the loop.
func TestFTPSSplitRecords(t *testing.T) {
	env := hostileBegin(t, 5*time.Second)
	srvCfg, _ := ftptest.SelfSignedTLS()
	listing := "-rw-r--r-- 1 ftp ftp 40000 Jan 02  2024 split.bin\r\n"
	down := ftpsHostileBody(40000)
	script := hostileLogin(srvCfg, ftptest.SplitWrites())
	script = append(script,
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("LIST"), ftptest.Reply("150 listing"),
		ftptest.DataAcceptTLS(nil), ftptest.DataSend([]byte(listing)), ftptest.DataClose(),
		ftptest.Reply("226 listed"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR split.bin"), ftptest.Reply("150 sending"),
		ftptest.DataAcceptTLS(nil), ftptest.DataSend(down), ftptest.DataClose(),
		ftptest.Reply("226 sent"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	)
	c, w, err := env.victim(t, script, session.TLSExplicit, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	ctx := fltCtx(t)
	if body, err := c.ListRaw(ctx, "LIST", ""); err != nil || string(body) != listing {
		t.Fatalf("LIST: %q, %v", body, err)
	}
	var buf bytes.Buffer
	if n, err := c.Retr(ctx, "split.bin", &buf); err != nil || !bytes.Equal(buf.Bytes(), down) {
		t.Fatalf("RETR: %d bytes, %v, byte exact %v", n, err, bytes.Equal(buf.Bytes(), down))
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
	w.ended(t, states.Closed)
	env.srv.Wait()
	env.end(t)
}

// TestFTPSHostileRecords: records after the handshake that no TLS client may
// accept, on the control connection.
func TestFTPSHostileRecords(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
		check func(error) bool
	}{
		{"Oversized", ftptest.OversizedRecordHeader(), func(err error) bool {
			var rhe tls.RecordHeaderError
			return errors.As(err, &rhe) && strings.Contains(rhe.Msg, "oversized")
		}},
		{"Forged", ftptest.ForgedRecord(64), func(err error) bool {
			return tlsOpError(err, "local error", "bad record MAC")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := hostileBegin(t, 5*time.Second)
			srvCfg, _ := ftptest.SelfSignedTLS()
			script := hostileLogin(srvCfg)
			script = append(script, ftptest.Expect("NOOP"), ftptest.TCPSend(tc.bytes), ftptest.Stall())
			c, w, err := env.victim(t, script, session.TLSExplicit, nil)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			err = c.Noop(fltCtx(t))
			if !tc.check(err) {
				t.Fatalf("NOOP: %v (%T); want the TLS error", err, err)
			}
			if !errors.Is(err, ftp.ErrClosed) {
				t.Errorf("NOOP: %v; want it to say the connection is closed", err)
			}
			w.ended(t, states.Failed)
			if st := c.State(); st != states.Failed {
				t.Errorf("client state %q", st)
			}
			env.end(t)
		})
	}
}

// TestFTPSHostileData: a protected download that goes wrong. The transfer
// fails with an error that says why, and is never reported complete, even
// when the server then claims 226.
func TestFTPSHostileData(t *testing.T) {
	body := ftpsHostileBody(50000)
	retr := func(size bool, data ...ftptest.Step) []ftptest.Step {
		var s []ftptest.Step
		if size {
			s = append(s, ftptest.Expect("SIZE f.bin"), ftptest.Reply("213 50000"))
		}
		s = append(s, ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("RETR f.bin"), ftptest.Reply("150 sending"))
		s = append(s, data...)
		return append(s, ftptest.Reply("226 all sent, honestly"),
			ftptest.Expect("NOOP"), ftptest.Reply("200 still here"),
			ftptest.Expect("QUIT"), ftptest.Reply("221 bye"))
	}
	for _, tc := range []struct {
		name  string
		size  bool
		steps []ftptest.Step
		check func(t *testing.T, err error)
	}{
		{"AlertMidTransfer", false, []ftptest.Step{
			ftptest.DataAcceptTLS(nil), ftptest.DataSend(body[:20000]), ftptest.DataTLSAlert(),
		}, func(t *testing.T, err error) {
			if !tlsOpError(err, "remote error", "bad record MAC") {
				t.Errorf("RETR: %v (%T); want the server's bad_record_mac alert", err, err)
			}
		}},
		{"CutMidRecord", false, []ftptest.Step{
			ftptest.DataAcceptTLS(nil), ftptest.DataSend(body[:20000]), ftptest.DataSendCut(body[20000:], 100),
		}, func(t *testing.T, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("RETR: %v (%T); want io.ErrUnexpectedEOF from the cut record", err, err)
			}
		}},
		{"ShortAtRecordBoundary", true, []ftptest.Step{
			ftptest.DataAcceptTLS(nil), ftptest.DataSend(body[:30000]), dataFIN(),
		}, func(t *testing.T, err error) {
			var te *ftp.TransferError
			if !errors.Is(err, ftp.ErrIncomplete) || !errors.As(err, &te) || te.Want != 50000 || te.Got != 30000 {
				t.Errorf("RETR: %v (%T); want ErrIncomplete, 30000 of 50000 bytes", err, err)
			}
		}},
		{"ClearDataAfterProtP", false, []ftptest.Step{
			ftptest.DataAccept(), dataReadHello(), ftptest.DataSend([]byte("-rw-r--r-- 1 ftp ftp 5 Jan 02  2024 clear.txt\r\n")), ftptest.DataClose(),
		}, func(t *testing.T, err error) {
			var rhe tls.RecordHeaderError
			if !errors.As(err, &rhe) {
				t.Errorf("RETR: %v (%T); want a tls.RecordHeaderError from the data handshake", err, err)
			}
		}},
	} {
		for _, off := range []bool{false, true} {
			name := tc.name + "/OnLoop"
			if off {
				name = tc.name + "/OffLoop"
			}
			t.Run(name, func(t *testing.T) {
				env := hostileBegin(t, 5*time.Second)
				env.off = off
				srvCfg, _ := ftptest.SelfSignedTLS()
				script := append(hostileLogin(srvCfg), retr(tc.size, tc.steps...)...)
				c, w, err := env.victim(t, script, session.TLSExplicit, nil)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				ctx := fltCtx(t)
				var got bytes.Buffer
				var n int64
				if tc.size {
					size, serr := c.Size(ctx, "f.bin")
					if serr != nil {
						t.Fatalf("SIZE: %v", serr)
					}
					n, err = c.RetrFromSize(ctx, "f.bin", &got, 0, size)
				} else {
					n, err = c.Retr(ctx, "f.bin", &got)
				}
				if err == nil {
					t.Fatalf("RETR reported complete with %d bytes", n)
				}
				t.Logf("RETR: %d bytes, %v", n, err)
				tc.check(t, err)
				var te *ftp.TransferError
				if !errors.Is(err, ftp.ErrIncomplete) || !errors.As(err, &te) || te.Got != n {
					t.Errorf("RETR: %v (%T); want a *ftp.TransferError for %d bytes that wraps ErrIncomplete", err, err, n)
				}
				if !bytes.HasPrefix(body, got.Bytes()) {
					t.Errorf("the %d bytes delivered are not the start of the file", got.Len())
				}
				// A failed transfer is the transfer's: the control connection is
				// intact and the session goes on.
				if err := c.Noop(ctx); err != nil {
					t.Errorf("NOOP after the failed transfer: %v", err)
				}
				if err := c.Quit(ctx); err != nil {
					t.Errorf("QUIT: %v", err)
				}
				w.ended(t, states.Closed)
				env.srv.Wait()
				env.end(t)
			})
		}
	}
}

// TestFTPSHostileProtRefused: PROT P refused after a TLS login, on the
// engine: the login fails with the 534, the session is over.
func TestFTPSHostileProtRefused(t *testing.T) {
	env := hostileBegin(t, 5*time.Second)
	srvCfg, _ := ftptest.SelfSignedTLS()
	_, w, err := env.victim(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
		ftptest.StartTLS(srvCfg),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("PBSZ 0"), ftptest.Reply("200 PBSZ=0"),
		ftptest.Expect("PROT P"), ftptest.Reply("534 PROT P not allowed"),
	}, session.TLSExplicit, nil)
	var fe *ftp.Error
	if !errors.Is(err, ftp.ErrUnsupported) || !errors.As(err, &fe) || fe.Code != 534 {
		t.Fatalf("Dial: %v; want ErrUnsupported carrying the 534", err)
	}
	w.ended(t, states.Failed)
	env.end(t)
}

// TestFTPSRenegotiationRefused: a TLS 1.2 server (openssl s_server, playing
// an implicit FTPS server by hand) asks to renegotiate after the greeting. Go
// clients refuse renegotiation: the session fails with crypto/tls's
// no_renegotiation error, and nothing more is sent.
func TestFTPSRenegotiationRefused(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		msg := "openssl is not installed (.ci/run installs it): " + err.Error()
		if os.Getenv("ASYNCFTP_REQUIRE_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	env := hostileBegin(t, 5*time.Second)
	dir := t.TempDir()
	srvCfg, pool := ftptest.SelfSignedTLS()
	cert := srvCfg.Certificates[0]
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	// s_server sends what it reads on stdin to the client (-crlf: LF as
	// CRLF), prints what the client sends, and renegotiates on a line "r".
	cmd := exec.Command(bin, "s_server", "-accept", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-tls1_2", "-crlf")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody waits for this one
			}
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			for range lines {
			}
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	waitFor := func(prefix string) string {
		t.Helper()
		deadline := time.After(fltBound)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("openssl s_server ended before printing %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("openssl s_server never printed %q", prefix)
			}
		}
	}
	addr := strings.TrimPrefix(waitFor("ACCEPT "), "ACCEPT ")

	w := fltNewWatch()
	cfg := fltConfig(w, nil)
	cfg.TLS = session.TLSImplicit
	dialed := make(chan error, 1)
	go func() {
		_, err := client.Dial(fltCtx(t), addr, &client.Options{Engine: env.e, Config: cfg, TLS: ftptls.Options{RootCAs: pool}})
		dialed <- err
	}()
	waitFor("CIPHER is ") // the handshake is done
	io.WriteString(stdin, "220 openssl s_server as an FTPS server\n")
	waitFor("USER anonymous")
	io.WriteString(stdin, "r\n") // HelloRequest
	var derr error
	select {
	case derr = <-dialed:
	case <-time.After(fltBound):
		t.Fatal("Dial still waiting after the HelloRequest")
	}
	if !tlsOpError(derr, "local error", "no renegotiation") {
		t.Fatalf("Dial: %v (%T); want crypto/tls's refusal to renegotiate", derr, derr)
	}
	if !errors.Is(derr, ftp.ErrClosed) {
		t.Errorf("Dial: %v; want it to say the connection is closed", derr)
	}
	w.ended(t, states.Failed)
	stop()
	env.end(t)
}

// TestFTPSSilentDataHandshake: the server accepts the data connection, reads
// the ClientHello and never answers. The data handshake holds a worker (or
// the off-loop goroutine) only until the session's data idle timeout, then
// the client closes the data connection; the server, seeing that, answers
// 426 a little later. The transfer fails with a timeout, never complete, the session goes
// on, and nothing is left (the leak check).
func TestFTPSSilentDataHandshake(t *testing.T) {
	waitDataEnd := ftptest.Func(func(c *ftptest.Conn) error {
		d := c.Data()
		d.SetReadDeadline(time.Now().Add(c.Timeout()))
		_, err := io.Copy(io.Discard, d)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errors.New("the client never closed the silent data connection")
		}
		return nil // EOF or a reset: the client gave up
	})
	for _, off := range []bool{false, true} {
		name := "OnLoop"
		if off {
			name = "OffLoop"
		}
		t.Run(name, func(t *testing.T) {
			env := hostileBegin(t, 5*time.Second)
			env.off = off
			srvCfg, _ := ftptest.SelfSignedTLS()
			script := append(hostileLogin(srvCfg),
				ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
				ftptest.Expect("RETR f.bin"), ftptest.Reply("150 sending"),
				ftptest.DataAccept(), dataReadHello(), waitDataEnd,
				// Late enough that the client has taken in its own verdict
				// (the off-loop goroutine reports it through the loop).
				ftptest.Delay(200*time.Millisecond),
				ftptest.Reply("426 data connection closed"),
				ftptest.Expect("NOOP"), ftptest.Reply("200 still here"),
				ftptest.Expect("QUIT"), ftptest.Reply("221 bye"))
			const idle = 300 * time.Millisecond
			c, w, err := env.victim(t, script, session.TLSExplicit, func(cfg *session.Config) { cfg.Timeouts.DataIdle = idle })
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			ctx := fltCtx(t)
			start := time.Now()
			n, err := c.Retr(ctx, "f.bin", io.Discard)
			took := time.Since(start)
			t.Logf("RETR: %v after %v", err, took.Round(time.Millisecond))
			var te *ftp.TransferError
			var to *ftp.TimeoutError
			if !errors.Is(err, ftp.ErrIncomplete) || !errors.As(err, &te) || n != 0 {
				t.Fatalf("RETR: %d bytes, %v (%T); want an incomplete transfer", n, err, err)
			}
			// Two timers of the same length race here, both right: the
			// data handshake's and the session's own data idle deadline.
			if !errors.Is(err, ftp.ErrTimeout) || !errors.As(err, &to) || (to.Op != "data TLS handshake" && to.Op != "data idle") {
				t.Errorf("RETR: %v; want the *ftp.TimeoutError of the data handshake or of the data idle deadline", err)
			}
			if took < idle || took > 1900*time.Millisecond {
				t.Errorf("RETR failed after %v; the data idle timeout is %v, the reply timeout 2s", took, idle)
			}
			if err := c.Noop(ctx); err != nil {
				t.Errorf("NOOP after the failed transfer: %v", err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Errorf("QUIT: %v", err)
			}
			w.ended(t, states.Closed)
			env.srv.Wait()
			env.end(t)
		})
	}
}

// TestFTPSAlertMidUpload: while the client uploads, the server's TLS sends a
// fatal alert and closes, then the server claims 226. The upload fails and is
// never reported complete.
func TestFTPSAlertMidUpload(t *testing.T) {
	up := ftpsHostileBody(16 << 20) // more than loopback's socket buffers hold
	for _, off := range []bool{false, true} {
		name := "OnLoop"
		if off {
			name = "OffLoop"
		}
		t.Run(name, func(t *testing.T) {
			env := hostileBegin(t, 5*time.Second)
			env.off = off
			srvCfg, _ := ftptest.SelfSignedTLS()
			script := append(hostileLogin(srvCfg),
				ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
				ftptest.Expect("STOR up.bin"), ftptest.Reply("150 go on"),
				ftptest.DataAcceptTLS(nil), ftptest.DataTLSAlert(),
				ftptest.Reply("226 stored, honestly"),
				ftptest.Expect("NOOP"), ftptest.Reply("200 still here"),
				ftptest.Expect("QUIT"), ftptest.Reply("221 bye"))
			c, w, err := env.victim(t, script, session.TLSExplicit, nil)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			ctx := fltCtx(t)
			n, err := c.Stor(ctx, "up.bin", bytes.NewReader(up))
			t.Logf("STOR: %d bytes, %v", n, err)
			if err == nil {
				t.Fatalf("STOR reported complete with %d of %d bytes", n, len(up))
			}
			if !errors.Is(err, ftp.ErrIncomplete) {
				t.Errorf("STOR: %v (%T); want it to wrap ErrIncomplete", err, err)
			}
			if err := c.Noop(ctx); err != nil {
				t.Errorf("NOOP after the failed upload: %v", err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Errorf("QUIT: %v", err)
			}
			w.ended(t, states.Closed)
			env.srv.Wait()
			env.end(t)
		})
	}
}
