package netdriver_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// TestActiveMode: active mode on the net.Conn driver, plain, against goftp:
// byte-exact both ways, refusals typed, and (clean) no descriptor left.
func TestActiveMode(t *testing.T) {
	clean(t)
	// goftp (in this process) keeps the socket it dialled for an active-mode
	// upload until its session's next data command, and after the session
	// ends leaves it to the garbage collector's finalizer: collect before
	// clean counts descriptors. The client's own sockets are closed before
	// Quit returns (conn.Done).
	t.Cleanup(runtime.GC)
	srv, _ := startEmbed(t, false, false)
	ctx := testCtx(t)
	for _, onLoop := range []bool{false, true} {
		mem := &transcript.Memory{}
		cfg := userConfig(session.TLSNone, mem)
		cfg.DataMode = session.DataActive
		c, _, err := dial(ctx, srv.Addr, cfg, netdriver.Options{}, client.Options{OnLoop: onLoop})
		if err != nil {
			t.Fatal(err)
		}
		f := embedFile(t, srv, "65537-bytes.bin")
		var buf bytes.Buffer
		if n, err := c.Retr(ctx, f.Path, &buf); err != nil || n != f.Size || sum(buf.Bytes()) != f.SHA256 {
			t.Fatalf("RETR: %d bytes, %v", n, err)
		}
		body := bytes.Repeat([]byte("active upload\n"), 40000)
		name := fmt.Sprintf("active-%v.bin", onLoop)
		if n, err := c.Stor(ctx, name, bytes.NewReader(body)); err != nil || n != int64(len(body)) {
			t.Fatalf("STOR: %d, %v", n, err)
		}
		if fileSum(t, onDisk(srv, name)) != sum(body) {
			t.Fatal("stored file differs")
		}
		if _, err := c.Retr(ctx, "missing.bin", &buf); !errors.As(err, new(*ftp.Error)) {
			t.Fatalf("RETR of a missing file: %v", err)
		}
		if len(notes(mem, "listening for the data connection on 127.0.0.1:")) != 3 {
			t.Fatalf("transcript:\n%v", mem.Lines())
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestActiveModeTLS: FTPS in active mode against vsftpd and pure-ftpd: the
// server connects, the client is still the TLS client of the data connection
// (RFC 4217). goftp cannot serve this (its active data connections are never
// TLS), so it runs against the real servers only.
func TestActiveModeTLS(t *testing.T) {
	for _, s := range []struct{ name, env string }{
		{"vsftpd-tls", "ASYNCFTP_VSFTPD_TLS_ADDR"},
		{"pure-ftpd-tls", "ASYNCFTP_PUREFTPD_TLS_ADDR"},
	} {
		t.Run(s.name, func(t *testing.T) {
			addr := os.Getenv(s.env)
			if addr == "" {
				msg := s.env + " not set: start fsm_test/servers (servers.sh start) and source run/env"
				if os.Getenv("ASYNCFTP_REQUIRE_SERVERS") == "1" {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
			clean(t)
			ctx := testCtx(t)
			pem, err := os.ReadFile(os.Getenv("ASYNCFTP_SERVERS_CA"))
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(pem)
			cfg := session.Config{User: os.Getenv("ASYNCFTP_SERVERS_USER"), Password: session.Secret(os.Getenv("ASYNCFTP_SERVERS_PASS")),
				TLS: session.TLSExplicit, DataMode: session.DataActive}
			c, _, err := dial(ctx, addr, cfg, netdriver.Options{TLS: netdriver.TLSOptions{RootCAs: roots, ServerName: "127.0.0.1"}}, client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			home := os.Getenv("ASYNCFTP_SERVERS_USER_HOME")
			var buf bytes.Buffer
			if n, err := c.Retr(ctx, "65537.bin", &buf); err != nil || sum(buf.Bytes()) != fileSum(t, filepath.Join(home, "65537.bin")) {
				t.Fatalf("RETR: %d bytes, %v", n, err)
			}
			body := embedserverPattern(t, 300<<10)
			name := fmt.Sprintf("active-tls-%d.bin", time.Now().UnixNano())
			if _, err := c.Stor(ctx, name, bytes.NewReader(body)); err != nil {
				t.Fatalf("STOR: %v", err)
			}
			buf.Reset()
			if _, err := c.Retr(ctx, name, &buf); err != nil || !bytes.Equal(buf.Bytes(), body) {
				t.Fatalf("RETR of the stored file: %d bytes, %v", buf.Len(), err)
			}
			if err := c.Delete(ctx, name); err != nil {
				t.Error(err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func embedserverPattern(t *testing.T, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(embedserver.PatternReader("active-tls", n)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
