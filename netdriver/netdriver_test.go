package netdriver_test

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// A plain session runs on this driver as it does on the gnet engine: listing,
// byte-exact download and upload, with the bytes moved in the session and off
// it, and every goroutine and socket gone after QUIT.
func TestPlainSession(t *testing.T) {
	for _, onLoop := range []bool{false, true} {
		name := "OffLoop"
		if onLoop {
			name = "OnLoop"
		}
		t.Run(name, func(t *testing.T) {
			clean(t)
			srv, _ := startEmbed(t, false, false)
			ctx := testCtx(t)
			c, conn, err := dial(ctx, srv.Addr, userConfig(session.TLSNone, nil), netdriver.Options{}, client.Options{OnLoop: onLoop})
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			res, err := c.List(ctx, "")
			if err != nil || len(res.Entries) == 0 {
				t.Fatalf("List: %d entries, %v", len(res.Entries), err)
			}
			f := embedFile(t, srv, "65537-bytes.bin")
			var buf bytes.Buffer
			if n, err := c.Retr(ctx, f.Path, &buf); err != nil || n != f.Size || sum(buf.Bytes()) != f.SHA256 {
				t.Fatalf("Retr: %d bytes, %v; sum match %v", n, err, sum(buf.Bytes()) == f.SHA256)
			}
			// Upload last: goftp never closes an upload's data socket, and
			// drops it unclosed (to the garbage collector) at the next
			// transfer, which would count against the descriptor check.
			up := bytes.Repeat([]byte("plain upload\n"), 9000)
			if n, err := c.Stor(ctx, "up-plain.bin", bytes.NewReader(up)); err != nil || n != int64(len(up)) {
				t.Fatalf("Stor: %d bytes, %v", n, err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatalf("Quit: %v", err)
			}
			if got := fileSum(t, onDisk(srv, "up-plain.bin")); got != sum(up) {
				t.Errorf("uploaded file differs")
			}
			select {
			case <-conn.Done():
			default:
				t.Errorf("Done not closed after Quit returned")
			}
		})
	}
}

// Over explicit FTPS each data connection resumes the control connection's
// TLS session: one cache, one server name for all of them.
func TestDataConnectionsResume(t *testing.T) {
	clean(t)
	srv, pool := startEmbed(t, true, false)
	ctx := testCtx(t)
	mem := &transcript.Memory{}
	c, _, err := dial(ctx, srv.Addr, userConfig(session.TLSExplicit, mem), netdriver.Options{TLS: netdriver.TLSOptions{RootCAs: pool}}, client.Options{})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	for _, p := range []string{"README.txt", "1000-bytes.bin", "65536-bytes.bin"} {
		f := embedFile(t, srv, p)
		var buf bytes.Buffer
		if _, err := c.Retr(ctx, f.Path, &buf); err != nil || sum(buf.Bytes()) != f.SHA256 {
			t.Fatalf("Retr %s: %v", p, err)
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(notes(mem, "data connection TLS: resumed")); got != 3 {
		t.Errorf("%d resumed data connections, want 3; notes: %q", got, notes(mem, "data connection TLS"))
	}
	if got := notes(mem, `certificate verified for "127.0.0.1" against the configured CA pool`); len(got) != 1 {
		t.Errorf("no note of how the server was verified: %q", mem.Lines())
	}
}

// A pinned key authenticates a self-signed server without any CA; another
// key fails the handshake with an error naming the server, and nothing is
// sent after it.
func TestPinnedKey(t *testing.T) {
	srvCfg, _ := ftptest.SelfSignedTLS()
	leaf := srvCfg.Certificates[0].Leaf
	t.Run("match", func(t *testing.T) {
		clean(t)
		srv := ftptest.NewServer(t, tlsLogin(srvCfg, ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"), ftptest.Expect("QUIT"), ftptest.Reply("221 bye")))
		ctx := testCtx(t)
		mem := &transcript.Memory{}
		cfg := session.Config{TLS: session.TLSExplicit, Transcript: mem}
		c, _, err := dial(ctx, srv.Addr, cfg, netdriver.Options{TLS: netdriver.TLSOptions{Pins: []netdriver.Pin{{1}, netdriver.PinOf(leaf)}}}, client.Options{})
		if err != nil {
			t.Fatalf("login with the right pin: %v", err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		if len(notes(mem, "server key pinned")) != 1 {
			t.Errorf("transcript does not say the key was pinned: %q", mem.Lines())
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		clean(t)
		srv := ftptest.NewServer(t, ftptest.Script{
			ftptest.Reply("220 hi"), ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go"),
			ftptest.Func(func(c *ftptest.Conn) error {
				// The client refuses the certificate; the handshake fails here too.
				_ = c.Run(ftptest.StartTLS(srvCfg))
				return nil
			}),
		}, ftptest.WithoutLog())
		ctx := testCtx(t)
		wrong := netdriver.PinOf(leaf)
		wrong[0] ^= 0xff
		cfg := session.Config{TLS: session.TLSExplicit}
		_, _, err := dial(ctx, srv.Addr, cfg, netdriver.Options{TLS: netdriver.TLSOptions{Pins: []netdriver.Pin{wrong}}}, client.Options{})
		var pm *netdriver.PinMismatchError
		if !errors.Is(err, netdriver.ErrPinMismatch) || !errors.As(err, &pm) || pm.Got != netdriver.PinOf(leaf) {
			t.Fatalf("login with a wrong pin: %v, want a PinMismatchError with the server's pin", err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("error does not name the server: %v", err)
		}
		srv.Wait()
		if got := srv.Commands(); len(got) != 1 || got[0] != "AUTH TLS" {
			t.Errorf("server saw %q after the failed handshake, want only AUTH TLS", got)
		}
	})
}

// Insecure mode works with an unknown certificate and says so in the
// transcript, for the control connection and every data connection.
func TestInsecureSaysSo(t *testing.T) {
	clean(t)
	srv, _ := startEmbed(t, true, false)
	ctx := testCtx(t)
	mem := &transcript.Memory{}
	c, _, err := dial(ctx, srv.Addr, userConfig(session.TLSExplicit, mem), netdriver.Options{TLS: netdriver.TLSOptions{Insecure: true}}, client.Options{})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if _, err := c.ListRaw(ctx, "LIST", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := notes(mem, "TLS certificate verification DISABLED"); len(got) != 2 {
		t.Errorf("%d notes say verification is off, want 2 (control, data): %q", len(got), mem.Lines())
	}
}

// Options that contradict each other are refused before anything is dialled.
func TestContradictoryTLSOptions(t *testing.T) {
	clean(t)
	cfg := session.Config{TLS: session.TLSImplicit}
	_, _, err := netdriver.Open("127.0.0.1:1", &cfg, netdriver.Options{TLS: netdriver.TLSOptions{Insecure: true, Pins: []netdriver.Pin{{}}}})
	if !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Fatalf("Open: %v, want ErrInvalidArgument", err)
	}
	cfg = session.Config{User: "a\r\nDELE x"}
	if _, _, err := netdriver.Open("127.0.0.1:1", &cfg, netdriver.Options{}); !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Fatalf("Open with CRLF in the user: %v, want ErrInvalidArgument", err)
	}
}

func TestParsePin(t *testing.T) {
	var p netdriver.Pin
	for i := range p {
		p[i] = byte(i * 7)
	}
	hexForm := strings.ToUpper(strings.Join(splitPairs(hexOf(p[:])), ":"))
	for _, s := range []string{p.String(), strings.TrimPrefix(p.String(), "sha256//"), hexOf(p[:]), hexForm, " " + p.String() + "\n"} {
		got, err := netdriver.ParsePin(s)
		if err != nil || got != p {
			t.Errorf("ParsePin(%q) = %v, %v; want %v", s, got, err, p)
		}
	}
	for _, s := range []string{"", "sha256//", "sha256//" + hexOf(p[:]), hexOf(p[:31]), "sha1//AAAA"} {
		if _, err := netdriver.ParsePin(s); !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("ParsePin(%q): %v, want ErrInvalidArgument", s, err)
		}
	}
}

// The timer drives the session's deadlines: a server that never greets ends
// the login with a timeout.
func TestGreetingTimeout(t *testing.T) {
	clean(t)
	srv := ftptest.NewServer(t, ftptest.Script{ftptest.Stall()}, ftptest.WithoutLog())
	ctx := testCtx(t)
	cfg := session.Config{Timeouts: session.Timeouts{Greeting: 200 * time.Millisecond}}
	_, conn, err := dial(ctx, srv.Addr, cfg, netdriver.Options{}, client.Options{})
	if !errors.Is(err, ftp.ErrTimeout) || !strings.Contains(err.Error(), "greeting") {
		t.Fatalf("login: %v, want a greeting timeout", err)
	}
	<-conn.Done()
}

// Implicit FTPS: a server that accepts but never answers the handshake is
// given up after ConnectTimeout.
func TestImplicitHandshakeTimeout(t *testing.T) {
	clean(t)
	srv := ftptest.NewServer(t, ftptest.Script{ftptest.Stall()}, ftptest.WithoutLog())
	ctx := testCtx(t)
	cfg := session.Config{TLS: session.TLSImplicit}
	_, conn, err := dial(ctx, srv.Addr, cfg, netdriver.Options{ConnectTimeout: 200 * time.Millisecond, TLS: netdriver.TLSOptions{Insecure: true}}, client.Options{})
	if !errors.Is(err, ftp.ErrTimeout) || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("login: %v, want a TLS handshake timeout", err)
	}
	<-conn.Done()
}

// A refused connection is a typed error, and the driver winds down.
func TestDialRefused(t *testing.T) {
	clean(t)
	addr := ftptest.RefusedAddr(t)
	cfg := session.Config{}
	conn, login, err := netdriver.Open(addr, &cfg, netdriver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := <-login
	if !errors.Is(r.Err, ftp.ErrClosed) || !strings.Contains(r.Err.Error(), addr) {
		t.Fatalf("login: %v, want ErrClosed naming %s", r.Err, addr)
	}
	<-conn.Done()
}

// Closing during the login ends it with ErrCanceled; afterwards the driver's
// goroutines are gone, and Do still completes requests, on the caller.
func TestCloseDuringLoginAndRunAfterEnd(t *testing.T) {
	clean(t)
	srv := ftptest.NewServer(t, ftptest.Script{ftptest.Stall()}, ftptest.WithoutLog())
	cfg := session.Config{}
	conn, login, err := netdriver.Open(srv.Addr, &cfg, netdriver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if r := <-login; !errors.Is(r.Err, ftp.ErrCanceled) {
		t.Fatalf("login after Close: %v, want ErrCanceled", r.Err)
	}
	<-conn.Done()
	got := make(chan error, 2)
	conn.Do(&session.Request{Cmd: ftp.Cmd("NOOP"), Done: func(r session.Result) {
		got <- r.Err
		// A request queued from a completion callback runs after it.
		conn.Do(&session.Request{Cmd: ftp.Cmd("NOOP"), Done: func(r session.Result) { got <- r.Err }})
	}})
	for range 2 {
		select {
		case err := <-got:
			if !errors.Is(err, ftp.ErrCanceled) {
				t.Errorf("request after the end: %v, want ErrCanceled", err)
			}
		default:
			t.Fatal("Do after the end did not complete the request before returning")
		}
	}
}

// An idle protected data connection is given up after DataIdle, and the
// session stays usable once the server has answered.
func TestDataIdleTimeoutOverTLS(t *testing.T) {
	clean(t)
	srvCfg, pool := ftptest.SelfSignedTLS()
	srv := ftptest.NewServer(t, tlsLogin(srvCfg,
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR slow.bin"), ftptest.Reply("150 here it comes"),
		ftptest.DataAcceptTLS(nil),
		ftptest.DataSend([]byte("a little")),
		// then nothing: the client gives up and closes; the server says so.
		ftptest.Func(func(c *ftptest.Conn) error {
			buf := make([]byte, 64)
			_ = c.Data().SetReadDeadline(time.Now().Add(c.Timeout()))
			for {
				if _, err := c.Data().Read(buf); err != nil {
					return nil
				}
			}
		}),
		ftptest.Reply("426 connection closed; transfer aborted"),
		ftptest.Expect("NOOP"), ftptest.Reply("200 still here"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	), ftptest.WithoutLog())
	ctx := testCtx(t)
	cfg := session.Config{TLS: session.TLSExplicit, Timeouts: session.Timeouts{DataIdle: 300 * time.Millisecond}}
	c, _, err := dial(ctx, srv.Addr, cfg, netdriver.Options{TLS: netdriver.TLSOptions{RootCAs: pool}}, client.Options{SkipSize: true})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	var buf bytes.Buffer
	n, err := c.Retr(ctx, "slow.bin", &buf)
	if !errors.Is(err, ftp.ErrIncomplete) || !errors.Is(err, ftp.ErrTimeout) || n != int64(len("a little")) {
		t.Fatalf("Retr: %d bytes, %v; want an incomplete transfer after a data idle timeout", n, err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("NOOP after the failed transfer: %v", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}

// tlsLogin is an explicit-FTPS anonymous login, then more.
func tlsLogin(cfg *tls.Config, more ...ftptest.Step) ftptest.Script {
	s := ftptest.Script{
		ftptest.Reply("220 scripted FTPS server"),
		ftptest.Expect("AUTH TLS"), ftptest.Reply("234 proceed"),
		ftptest.StartTLS(cfg),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("PBSZ 0"), ftptest.Reply("200 PBSZ=0"),
		ftptest.Expect("PROT P"), ftptest.Reply("200 private"),
	}
	return append(s, more...)
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func splitPairs(s string) []string {
	var out []string
	for i := 0; i+2 <= len(s); i += 2 {
		out = append(out, s[i:i+2])
	}
	return out
}
