package leanserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// Every server, client and engine goroutine is gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

func selfSigned(t *testing.T) (*leanserver.Server, *leanserver.Server, *x509.CertPool) {
	t.Helper()
	cfg, pemCert, err := leanserver.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemCert)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	on, err := leanserver.Start(leanserver.Options{BigSize: 1 << 20, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { on.Close() })
	noTickets := cfg.Clone()
	noTickets.SessionTicketsDisabled = true
	off, err := leanserver.Start(leanserver.Options{BigSize: 1 << 20, TLS: noTickets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { off.Close() })
	return on, off, pool
}

// An explicit-FTPS session against the lean server: every data connection
// is TLS, and it resumes the control session exactly when the server issues
// tickets. Both client drivers.
func TestExplicitFTPSResumption(t *testing.T) {
	on, off, pool := selfSigned(t)
	for _, tc := range []struct {
		name      string
		srv       *leanserver.Server
		netDriver bool
		resumed   int64
	}{
		{"engine/tickets", on, false, 2},
		{"engine/no-tickets", off, false, 0},
		{"netdriver/tickets", on, true, 2},
		{"netdriver/no-tickets", off, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.srv.Stats()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, tc.srv.Addr, &client.Options{
				Config:    session.Config{User: "bench", Password: "bench", TLS: session.TLSExplicit},
				TLS:       ftptls.Options{RootCAs: pool, ServerName: "127.0.0.1"},
				NetDriver: tc.netDriver,
				SkipSize:  true,
			})
			if err != nil {
				t.Fatal(err)
			}
			body, err := c.ListRaw(ctx, "LIST", "")
			if err != nil || !bytes.Equal(body, leanserver.Listing) {
				t.Fatalf("LIST: %q, %v", body, err)
			}
			var got bytes.Buffer
			if n, err := c.Retr(ctx, leanserver.SmallName, &got); err != nil || n != 1024 || !bytes.Equal(got.Bytes(), leanserver.Small) {
				t.Fatalf("RETR: %d bytes, %v", n, err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			st := tc.srv.Stats()
			if d := st.CtrlTLS - before.CtrlTLS; d != 1 {
				t.Errorf("control handshakes: %d, want 1", d)
			}
			if d := st.DataTLS - before.DataTLS; d != 2 {
				t.Errorf("data handshakes: %d, want 2", d)
			}
			if d := st.DataResumed - before.DataResumed; d != tc.resumed {
				t.Errorf("data handshakes resumed: %d, want %d", d, tc.resumed)
			}
		})
	}
}

// Without AUTH TLS first, PBSZ and PROT are refused, and a plain server
// (no Options.TLS) does not offer AUTH at all.
func TestProtectionNeedsAuth(t *testing.T) {
	on, _, _ := selfSigned(t)
	plain, err := leanserver.Start(leanserver.Options{BigSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	talk := func(addr string, lines ...string) []string {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		var got []string
		if _, err := r.ReadString('\n'); err != nil { // greeting
			t.Fatal(err)
		}
		for _, l := range lines {
			if _, err := io.WriteString(c, l+"\r\n"); err != nil {
				t.Fatal(err)
			}
			reply, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, reply[:3])
		}
		return got
	}
	if got := strings.Join(talk(on.Addr, "PBSZ 0", "PROT P", "AUTH SSL-X"), " "); got != "503 503 504" {
		t.Errorf("TLS server: %s", got)
	}
	if got := strings.Join(talk(plain.Addr, "AUTH TLS"), " "); got != "502" {
		t.Errorf("plain server: %s", got)
	}
}

// A small protected listing arrives whole, session after session. The lean
// server sends the body and close_notify right after the data handshake, so
// they often reach the client before the handshake's result does: the race
// that once lost such bodies.
func TestSmallProtectedListingsArriveWhole(t *testing.T) {
	on, _, pool := selfSigned(t)
	for _, netDriver := range []bool{false, true} {
		for i := 0; i < 50; i++ {
			var m transcript.Memory
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			c, err := client.Dial(ctx, on.Addr, &client.Options{
				Config:    session.Config{User: "bench", Password: "bench", TLS: session.TLSExplicit, Transcript: &m},
				TLS:       ftptls.Options{RootCAs: pool, ServerName: "127.0.0.1"},
				NetDriver: netDriver,
			})
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			body, err := c.ListRaw(ctx, "LIST", "")
			qerr := c.Quit(ctx)
			cancel()
			if err != nil || qerr != nil || !bytes.Equal(body, leanserver.Listing) {
				t.Fatalf("netdriver=%v session %d: LIST gave %d of %d bytes, err %v, quit %v; transcript:\n%s",
					netDriver, i, len(body), len(leanserver.Listing), err, qerr, strings.Join(m.Lines(), "\n"))
			}
		}
	}
}
