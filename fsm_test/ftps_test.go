package fsm_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// FTPS end to end (issue #7): explicit and implicit TLS against the embedded
// goftp server, scripted servers that refuse TLS or inject replies, wrong
// certificates, and the real vsftpd (require_ssl_reuse) and pure-ftpd.

// ---- explicit FTPS against goftp ----

// LIST and byte-exact RETR and STOR over protected data connections, each of
// which resumes the control connection's TLS session, with the bytes off the
// loop and on it.
func TestFTPSExplicitEmbedded(t *testing.T) {
	for _, m := range []struct {
		name   string
		onLoop bool
		mode   session.DataMode
	}{{"OffLoop", false, session.DataPassive}, {"OnLoop", true, session.DataPassive}} {
		t.Run(m.name, func(t *testing.T) {
			ftpsClean(t)
			srv, pool := ftpsEmbed(t, false)
			ctx := ftpsCtx(t)
			mem := &transcript.Memory{}
			c, err := client.Dial(ctx, srv.Addr, &client.Options{
				Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: session.TLSExplicit, Transcript: mem, DataMode: m.mode},
				TLS:    ftptls.Options{RootCAs: pool},
				OnLoop: m.onLoop,
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			transfers := 0

			res, err := c.List(ctx, "")
			transfers++
			if err != nil || len(res.Bad) > 0 {
				t.Fatalf("List: %v (unparsed %q)", err, res.Bad)
			}
			var got, want []string
			for _, e := range res.Entries {
				got = append(got, e.Name)
			}
			for _, f := range srv.Files() {
				if !strings.Contains(f.Path, "/") {
					want = append(want, f.Path)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("List names %q, want %q", got, want)
			}

			for _, f := range srv.Files() {
				if f.Dir {
					continue
				}
				h := sha256.New()
				n, err := c.Retr(ctx, f.Path, h)
				transfers++
				if err != nil || n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
					t.Errorf("Retr %s: %d of %d bytes, %v, sum match %v", f.Path, n, f.Size, err, hex.EncodeToString(h.Sum(nil)) == f.SHA256)
				}
			}

			// Last: goftp never closes an upload's data socket (see netdriver).
			up := ftpsPattern("explicit upload", 1<<20+3)
			n, err := c.Stor(ctx, "ftps-upload.bin", bytes.NewReader(up))
			transfers++
			if err != nil || n != int64(len(up)) {
				t.Fatalf("Stor: %d bytes, %v", n, err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatalf("Quit: %v", err)
			}
			if disk, err := os.ReadFile(srv.Root + "/ftps-upload.bin"); err != nil || !bytes.Equal(disk, up) {
				t.Errorf("uploaded file: %d bytes on disk, %v; want the %d bytes sent", len(disk), err, len(up))
			}

			// Empty files: goftp closes without a data handshake; those
			// connections carry no data and resume nothing.
			empty := 0
			for _, f := range srv.Files() {
				if !f.Dir && f.Size == 0 {
					empty++
				}
			}
			if got := len(ftpsNotes(mem, "data connection TLS: resumed")); got != transfers-empty {
				t.Errorf("%d data connections resumed the control session, want %d: %q", got, transfers-empty, ftpsNotes(mem, "data connection"))
			}
			ftpsNothingClearAfterAuth(t, mem)
		})
	}
}

// goftp answers PROT P with 200 but, in active mode, sends the data of the
// connection it opens in clear text. The client is the TLS client there
// (RFC 4217) and must refuse it: the listing fails with a typed TLS error,
// not one clear byte reaches the caller, and the session goes on.
func TestFTPSActiveEmbeddedClearDataRefused(t *testing.T) {
	for _, onLoop := range []bool{false, true} {
		t.Run(fmt.Sprintf("onLoop=%v", onLoop), func(t *testing.T) {
			ftpsClean(t)
			srv, pool := ftpsEmbed(t, false)
			ctx := ftpsCtx(t)
			c, err := client.Dial(ctx, srv.Addr, &client.Options{
				Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: session.TLSExplicit, DataMode: session.DataActive},
				TLS:    ftptls.Options{RootCAs: pool},
				OnLoop: onLoop,
			})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			var buf bytes.Buffer
			_, err = c.Retr(ctx, "README.txt", &buf)
			var rh tls.RecordHeaderError
			if !errors.As(err, &rh) || buf.Len() != 0 {
				t.Fatalf("Retr over a clear-text active connection: %v, %d bytes delivered; want a tls.RecordHeaderError and nothing", err, buf.Len())
			}
			if _, err := c.Pwd(ctx); err != nil {
				t.Errorf("the session did not survive the refused data connection: %v", err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Errorf("Quit: %v", err)
			}
		})
	}
}

// ---- implicit FTPS ----

// goftp's implicit mode encrypts the control connection but refuses PBSZ and
// PROT and sends data in clear. The session must stop there: nothing is
// transferred unprotected.
func TestFTPSImplicitEmbeddedRefusesClearData(t *testing.T) {
	ftpsClean(t)
	srv, pool := ftpsEmbed(t, true)
	ctx := ftpsCtx(t)
	mem := &transcript.Memory{}
	_, err := client.Dial(ctx, srv.Addr, &client.Options{
		Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: session.TLSImplicit, Transcript: mem},
		TLS:    netdriver.TLSOptions{RootCAs: pool},
	})
	var fe *ftp.Error
	if !errors.Is(err, ftp.ErrUnsupported) || !errors.As(err, &fe) || fe.Verb != "PBSZ" {
		t.Fatalf("Dial: %v; want ErrUnsupported from the refused PBSZ", err)
	}
	if got, want := ftpsSent(mem), []string{"USER asyncftp", "PASS ****", "PBSZ 0"}; !slices.Equal(got, want) {
		t.Errorf("client sent %q, want %q and nothing after the refusal", got, want)
	}
	if first := mem.Entries()[0]; first.Dir != transcript.Note || !strings.HasPrefix(first.Line, "connected") {
		t.Errorf("first transcript line %q", first.Line)
	}
	if len(ftpsNotes(mem, "TLS TLS 1.3")) != 1 {
		t.Errorf("no TLS note: %q", mem.Lines())
	}
}

// Implicit FTPS with protected data against a scripted TLS server: TLS from
// the first byte, no AUTH, then LIST, RETR and STOR over TLS data connections.
func TestFTPSImplicitScripted(t *testing.T) {
	ftpsClean(t)
	srvCfg, pool := ftptest.SelfSignedTLS()
	listing := "-rw-r--r-- 1 ftp ftp 70000 Jan 02  2024 data.bin\r\n"
	down := ftpsPattern("implicit download", 70000)
	up := ftpsPattern("implicit upload", 200001)
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.StartTLS(srvCfg),
		ftptest.Reply("220 implicit FTPS ready"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("PBSZ 0"), ftptest.Reply("200 PBSZ=0"),
		ftptest.Expect("PROT P"), ftptest.Reply("200 private"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("LIST"), ftptest.Reply("150 listing"),
		ftptest.DataAcceptTLS(nil), ftptest.DataSend([]byte(listing)), ftptest.DataClose(),
		ftptest.Reply("226 listed"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR data.bin"), ftptest.Reply("150 sending"),
		ftptest.DataAcceptTLS(nil), ftptest.DataSend(down), ftptest.DataClose(),
		ftptest.Reply("226 sent"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("STOR up.bin"), ftptest.Reply("150 receiving"),
		ftptest.DataAcceptTLS(nil), ftptest.DataReceive(), ftptest.DataClose(),
		ftptest.Reply("226 stored"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}, ftptest.WithoutLog())
	ctx := ftpsCtx(t)
	mem := &transcript.Memory{}
	c, err := client.Dial(ctx, srv.Addr, &client.Options{
		Config:   session.Config{TLS: session.TLSImplicit, Transcript: mem},
		TLS:      netdriver.TLSOptions{RootCAs: pool},
		SkipSize: true,
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	body, err := c.ListRaw(ctx, "LIST", "")
	if err != nil || string(body) != listing {
		t.Fatalf("LIST: %q, %v", body, err)
	}
	var buf bytes.Buffer
	if n, err := c.Retr(ctx, "data.bin", &buf); err != nil || !bytes.Equal(buf.Bytes(), down) {
		t.Fatalf("Retr: %d bytes, %v, equal %v", n, err, bytes.Equal(buf.Bytes(), down))
	}
	if n, err := c.Stor(ctx, "up.bin", bytes.NewReader(up)); err != nil || n != int64(len(up)) {
		t.Fatalf("Stor: %d bytes, %v", n, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	srv.Wait()
	if got := srv.Received(); len(got) != 1 || !bytes.Equal(got[0], up) {
		t.Errorf("server received %d uploads or other bytes", len(got))
	}
	if got := len(ftpsNotes(mem, "data connection TLS: resumed")); got != 3 {
		t.Errorf("%d of 3 data connections resumed: %q", got, ftpsNotes(mem, "data connection"))
	}
	if slices.Contains(srv.Commands(), "AUTH TLS") {
		t.Errorf("AUTH TLS sent inside implicit TLS: %q", srv.Commands())
	}
}

// ---- no silent downgrade ----

// A server that answers AUTH TLS with 500 while TLS is required: a typed
// error, and not one more byte sent in clear.
func TestFTPSAuthRefused(t *testing.T) {
	ftpsClean(t)
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 no TLS here"),
		ftptest.Expect("AUTH TLS"), ftptest.Reply("500 AUTH not understood"),
	}, ftptest.WithoutLog())
	ctx := ftpsCtx(t)
	_, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{TLS: session.TLSExplicit}})
	var fe *ftp.Error
	if !errors.Is(err, ftp.ErrUnsupported) || !errors.As(err, &fe) || fe.Code != 500 {
		t.Fatalf("Dial: %v; want ErrUnsupported carrying the 500", err)
	}
	srv.Wait()
	if got := srv.Commands(); !slices.Equal(got, []string{"AUTH TLS"}) {
		t.Errorf("server read %q, want only AUTH TLS", got)
	}
}

// PROT P refused after a TLS login: the session ends before any data command.
func TestFTPSProtRefused(t *testing.T) {
	ftpsClean(t)
	srvCfg, pool := ftptest.SelfSignedTLS()
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("AUTH TLS"), ftptest.Reply("234 go ahead"),
		ftptest.StartTLS(srvCfg),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("PBSZ 0"), ftptest.Reply("200 PBSZ=0"),
		ftptest.Expect("PROT P"), ftptest.Reply("534 PROT P not allowed"),
	}, ftptest.WithoutLog())
	ctx := ftpsCtx(t)
	_, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{TLS: session.TLSExplicit}, TLS: netdriver.TLSOptions{RootCAs: pool}})
	var fe *ftp.Error
	if !errors.Is(err, ftp.ErrUnsupported) || !errors.As(err, &fe) || fe.Code != 534 {
		t.Fatalf("Dial: %v; want ErrUnsupported carrying the 534", err)
	}
	srv.Wait()
	if got, want := srv.Commands(), []string{"AUTH TLS", "USER anonymous", "PASS anonymous@", "PBSZ 0", "PROT P"}; !slices.Equal(got, want) {
		t.Errorf("server read %q, want %q", got, want)
	}
}

// The 234 to AUTH TLS comes with forged lines in the same write. They were
// read in clear, so they are dropped: the login runs over TLS, and the forged
// 230 is never taken for the answer to USER.
func TestFTPSInjectedAfter234(t *testing.T) {
	ftpsClean(t)
	srvCfg, pool := ftptest.SelfSignedTLS()
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("AUTH TLS"),
		ftptest.Reply("234 go ahead", "331 injected: password please", "230 injected: logged in"),
		ftptest.StartTLS(srvCfg),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 real: password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 real: logged in"),
		ftptest.Expect("PBSZ 0"), ftptest.Reply("200 PBSZ=0"),
		ftptest.Expect("PROT P"), ftptest.Reply("200 private"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("PWD"), ftptest.Reply(`257 "/real" is the directory`),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}, ftptest.WithoutLog())
	ctx := ftpsCtx(t)
	mem := &transcript.Memory{}
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{TLS: session.TLSExplicit, Transcript: mem}, TLS: netdriver.TLSOptions{RootCAs: pool}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if p, err := c.Pwd(ctx); err != nil || p != "/real" {
		t.Errorf("Pwd: %q, %v: replies are out of step", p, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	for _, l := range mem.Lines() {
		if strings.Contains(l, "injected") {
			t.Errorf("an injected line reached the session: %q", l)
		}
	}
	if len(ftpsNotes(mem, "clear-text")) == 0 && len(ftpsNotes(mem, "TLS handshake done")) != 1 {
		t.Errorf("transcript: %q", mem.Lines())
	}
	srv.Wait()
	if got, want := srv.Commands(), []string{"AUTH TLS", "USER anonymous", "PASS anonymous@", "PBSZ 0", "PROT P", "TYPE I", "PWD", "QUIT"}; !slices.Equal(got, want) {
		t.Errorf("server read %q, want %q", got, want)
	}
}

// ---- certificates ----

// A certificate nobody vouches for, or one for another name, fails the
// handshake with an error naming the host, before any credentials are sent.
func TestFTPSWrongCertificate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
		opts     func(pool *x509.CertPool) netdriver.TLSOptions
		host     string // the name the error must give
		check    func(error) bool
	}{
		{"UnknownAuthority", false, func(*x509.CertPool) netdriver.TLSOptions { return netdriver.TLSOptions{} }, "127.0.0.1",
			func(err error) bool { var ua x509.UnknownAuthorityError; return errors.As(err, &ua) }},
		{"UnknownAuthorityImplicit", true, func(*x509.CertPool) netdriver.TLSOptions { return netdriver.TLSOptions{} }, "127.0.0.1",
			func(err error) bool { var ua x509.UnknownAuthorityError; return errors.As(err, &ua) }},
		{"OtherName", false, func(p *x509.CertPool) netdriver.TLSOptions {
			return netdriver.TLSOptions{RootCAs: p, ServerName: "ftp.example.net"}
		}, "ftp.example.net",
			func(err error) bool {
				var he x509.HostnameError
				return errors.As(err, &he) && he.Host == "ftp.example.net"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ftpsClean(t)
			srv, pool := ftpsEmbed(t, tc.implicit)
			ctx := ftpsCtx(t)
			mem := &transcript.Memory{}
			mode := session.TLSExplicit
			if tc.implicit {
				mode = session.TLSImplicit
			}
			_, err := client.Dial(ctx, srv.Addr, &client.Options{
				Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: mode, Transcript: mem},
				TLS:    tc.opts(pool),
			})
			var cve *tls.CertificateVerificationError
			if !errors.As(err, &cve) || !tc.check(err) {
				t.Fatalf("Dial: %v; want a certificate verification error of the expected kind", err)
			}
			if !strings.Contains(err.Error(), tc.host) {
				t.Errorf("error does not name %s: %v", tc.host, err)
			}
			for _, l := range ftpsSent(mem) {
				if l != "AUTH TLS" {
					t.Errorf("sent %q after the failed handshake", l)
				}
			}
		})
	}
}

// ---- real servers ----

// vsftpd with require_ssl_reuse=YES, strict_ssl_read_eof=YES (an upload must
// end with close_notify) and strict_ssl_write_shutdown=YES (a download's
// close_notify must be answered), and pure-ftpd with TLS required: login,
// LIST, byte-exact RETR of the served tree, STOR and RETR back, over PROT P;
// on the engine with bytes on the loop and off it, and on netdriver.
func TestFTPSRealServers(t *testing.T) {
	for _, s := range []struct {
		name, env string
		reuse     bool // the server demands that data connections resume the control session
	}{
		{"vsftpd", "ASYNCFTP_VSFTPD_TLS_ADDR", true},
		{"pure-ftpd", "ASYNCFTP_PUREFTPD_TLS_ADDR", false},
	} {
		for _, d := range []struct {
			name              string
			onLoop, netDriver bool
			active            bool
		}{{"engine-offloop", false, false, false}, {"engine-onloop", true, false, false}, {"netdriver", false, true, false},
			{"engine-active", true, false, true}} {
			t.Run(s.name+"/"+d.name, func(t *testing.T) {
				addr := ftpsNeedEnv(t, s.env)
				user := ftpsNeedEnv(t, "ASYNCFTP_SERVERS_USER")
				pass := ftpsNeedEnv(t, "ASYNCFTP_SERVERS_PASS")
				pemFile := ftpsNeedEnv(t, "ASYNCFTP_SERVERS_CA")
				manifest := ftpsManifest(t, ftpsNeedEnv(t, "ASYNCFTP_SERVERS_MANIFEST"))
				ftpsClean(t)
				pem, err := os.ReadFile(pemFile)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					t.Fatalf("no certificate in %s", pemFile)
				}
				ctx := ftpsCtx(t)
				mem := &transcript.Memory{}
				c, err := client.Dial(ctx, addr, &client.Options{
					Config:    session.Config{User: user, Password: session.Secret(pass), TLS: session.TLSExplicit, Transcript: mem, DataMode: dataMode(d.active)},
					TLS:       ftptls.Options{RootCAs: pool},
					OnLoop:    d.onLoop,
					NetDriver: d.netDriver,
				})
				if err != nil {
					t.Fatalf("Dial %s: %v", addr, err)
				}
				defer c.Close()

				res, err := c.List(ctx, "")
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				var names []string
				for _, e := range res.Entries {
					names = append(names, e.Name)
				}
				for _, m := range manifest {
					if !strings.Contains(m.path, "/") && !slices.Contains(names, m.path) {
						t.Errorf("List lacks %q: %q", m.path, names)
					}
				}
				for _, m := range manifest {
					if m.kind == "dir" || m.kind == "dirlink" || strings.HasPrefix(m.path, " ") {
						continue // a leading space does not survive the command line on every server
					}
					h := sha256.New()
					n, err := c.Retr(ctx, "/"+m.path, h)
					if err != nil || n != m.size || hex.EncodeToString(h.Sum(nil)) != m.sum {
						t.Errorf("Retr %s: %d of %d bytes, %v", m.path, n, m.size, err)
					}
				}
				name := fmt.Sprintf("ftps-%s-%d.bin", s.name, time.Now().UnixNano())
				up := ftpsPattern(name, 1<<20+5)
				if n, err := c.Stor(ctx, name, bytes.NewReader(up)); err != nil || n != int64(len(up)) {
					t.Fatalf("Stor: %d bytes, %v", n, err)
				}
				var back bytes.Buffer
				if _, err := c.Retr(ctx, name, &back); err != nil || !bytes.Equal(back.Bytes(), up) {
					t.Errorf("Retr of the upload: %d bytes, %v, equal %v", back.Len(), err, bytes.Equal(back.Bytes(), up))
				}
				if err := c.Delete(ctx, name); err != nil {
					t.Errorf("Delete: %v", err)
				}
				if err := c.Quit(ctx); err != nil {
					t.Errorf("Quit: %v", err)
				}
				resumed := len(ftpsNotes(mem, "data connection TLS: resumed"))
				full := len(ftpsNotes(mem, "NOT resumed"))
				t.Logf("%s: %d data connections resumed the control session, %d did not", s.name, resumed, full)
				if s.reuse && (full != 0 || resumed == 0) {
					t.Errorf("%s demands session reuse: %d resumed, %d full handshakes", s.name, resumed, full)
				}
				if got := ftpsNotes(mem, "TLS certificate verification DISABLED"); len(got) > 0 {
					t.Errorf("verification was off: %q", got)
				}
			})
		}
	}
}

// ---- helpers (prefixed: this package is shared) ----

// ftpsClean fails the test if it leaves goroutines or file descriptors
// behind. Call it first, so that its cleanup runs after the servers'.
func ftpsClean(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	before := ftpsFDs(t)
	t.Cleanup(func() {
		goleak.VerifyNone(t, opt)
		after := ftpsFDs(t)
		for i := 0; i < 50 && after > before; i++ {
			time.Sleep(20 * time.Millisecond)
			after = ftpsFDs(t)
		}
		if after != before {
			t.Errorf("%d file descriptors open after the test, %d before", after, before)
		}
	})
}

func ftpsFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting descriptors: %v", err)
	}
	return len(ents)
}

func ftpsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ftpsEmbed starts goftp with a fresh self-signed certificate, explicit or
// implicit, and returns a pool that trusts it.
func ftpsEmbed(t *testing.T, implicit bool) (*embedserver.Server, *x509.CertPool) {
	t.Helper()
	scfg, ccfg, err := embedserver.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := embedserver.Start(embedserver.Options{TLS: scfg, Implicit: implicit})
	if err != nil {
		t.Fatalf("embedserver.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("embedserver.Close: %v", err)
		}
	})
	return srv, ccfg.RootCAs
}

// ftpsNeedEnv returns an environment variable set by the real-server script,
// or skips (fails under ASYNCFTP_REQUIRE_SERVERS) when it is missing.
func ftpsNeedEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		msg := name + " is not set: .ci/run starts the real servers (fsm_test/servers/servers.sh start, then source fsm_test/servers/run/env)"
		if os.Getenv("ASYNCFTP_REQUIRE_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

type ftpsEntry struct {
	path, kind, sum string
	size            int64
}

// ftpsManifest reads the real servers' manifest: path, type, size, sha256.
func ftpsManifest(t *testing.T, file string) []ftpsEntry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ftpsEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Split(sc.Text(), "\t")
		if len(fl) != 4 {
			t.Fatalf("manifest line %q", sc.Text())
		}
		size, err := strconv.ParseInt(fl[2], 10, 64)
		if err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		out = append(out, ftpsEntry{path: path.Clean(fl[0]), kind: fl[1], size: size, sum: fl[3]})
	}
	if len(out) == 0 {
		t.Fatalf("empty manifest %s", file)
	}
	return out
}

// ftpsPattern is n reproducible bytes that differ with seed.
func ftpsPattern(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	block := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

func ftpsNotes(mem *transcript.Memory, s string) []string {
	var out []string
	for _, e := range mem.Entries() {
		if e.Dir == transcript.Note && strings.Contains(e.Line, s) {
			out = append(out, e.Line)
		}
	}
	return out
}

func ftpsSent(mem *transcript.Memory) []string {
	var out []string
	for _, e := range mem.Entries() {
		if e.Dir == transcript.Client {
			out = append(out, e.Line)
		}
	}
	return out
}

// ftpsNothingClearAfterAuth checks the transcript's order: AUTH TLS, the
// handshake, and only then USER.
func ftpsNothingClearAfterAuth(t *testing.T, mem *transcript.Memory) {
	t.Helper()
	auth, done, user := -1, -1, -1
	for i, e := range mem.Entries() {
		switch {
		case e.Dir == transcript.Client && e.Line == "AUTH TLS" && auth < 0:
			auth = i
		case e.Dir == transcript.Note && e.Line == "TLS handshake done" && done < 0:
			done = i
		case e.Dir == transcript.Client && strings.HasPrefix(e.Line, "USER ") && user < 0:
			user = i
		}
	}
	if auth < 0 || done < auth || user < done {
		t.Errorf("AUTH TLS at %d, handshake done at %d, USER at %d: want that order", auth, done, user)
	}
}

func dataMode(active bool) session.DataMode {
	if active {
		return session.DataActive
	}
	return session.DataPassive
}
