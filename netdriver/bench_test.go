package netdriver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
)

// The cost of one FTPS session against one plain session. The embedded goftp
// server runs in a child process (this test binary, re-executed), so the CPU
// time and allocations measured are the client's alone.
//
//	go test ./netdriver -run '^$' -bench Session -benchtime 2000x -count 5
//
// Each iteration is a whole session: connect, (AUTH TLS,) USER, PASS, (PBSZ 0,
// PROT P,) TYPE I, EPSV, LIST over a new data connection, QUIT, and the
// driver's goroutines and sockets gone. cpu-ms/session is the process's user
// plus system time (getrusage) divided by the sessions.

const benchServerEnv = "ASYNCFTP_NETDRIVER_BENCH_SERVER"

// benchServers is what the child process reports on its first output line.
type benchServers struct {
	Plain, TLS string // addresses
	Cert       []byte // DER of the TLS server's self-signed certificate
}

// runBenchServer is the child: it serves until its standard input closes.
func runBenchServer() {
	scfg, _, err := embedserver.SelfSignedTLS()
	if err != nil {
		panic(err)
	}
	plain, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		panic(err)
	}
	secure, err := embedserver.Start(embedserver.Options{TLS: scfg})
	if err != nil {
		panic(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(benchServers{Plain: plain.Addr, TLS: secure.Addr, Cert: scfg.Certificates[0].Certificate[0]})
	_, _ = io.Copy(io.Discard, os.Stdin)
	plain.Close()
	secure.Close()
}

func startBenchServers(b *testing.B) benchServers {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	var s benchServers
	if err := json.NewDecoder(out).Decode(&s); err != nil {
		b.Fatalf("server process: %v", err)
	}
	return s
}

func BenchmarkSession(b *testing.B) {
	srv := startBenchServers(b)
	cert, err := x509.ParseCertificate(srv.Cert)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	user := session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword}

	b.Run("gnet-plain", func(b *testing.B) {
		e, err := engine.New(engine.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		benchSessions(b, func(ctx context.Context) (*client.Client, error) {
			return client.Dial(ctx, srv.Plain, &client.Options{Config: user, Engine: e})
		})
	})
	b.Run("netdriver-plain", func(b *testing.B) {
		benchSessions(b, func(ctx context.Context) (*client.Client, error) {
			c, _, err := dial(ctx, srv.Plain, user, netdriver.Options{}, client.Options{})
			return c, err
		})
	})
	b.Run("netdriver-tls", func(b *testing.B) {
		cfg := user
		cfg.TLS = session.TLSExplicit
		benchSessions(b, func(ctx context.Context) (*client.Client, error) {
			return client.Dial(ctx, srv.TLS, &client.Options{Config: cfg, TLS: netdriver.TLSOptions{RootCAs: pool}})
		})
	})
	// Classical key exchange only: Go's default key share, X25519MLKEM768,
	// adds a post-quantum KEM to every handshake, resumed ones included.
	b.Run("netdriver-tls-x25519", func(b *testing.B) {
		cfg := user
		cfg.TLS = session.TLSExplicit
		base := &tls.Config{MinVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519}}
		benchSessions(b, func(ctx context.Context) (*client.Client, error) {
			return client.Dial(ctx, srv.TLS, &client.Options{Config: cfg, TLS: netdriver.TLSOptions{Config: base, RootCAs: pool}})
		})
	})
	// Sessions sharing one session cache: each control handshake after the
	// first resumes too, as a swarm of sessions to one server would.
	b.Run("netdriver-tls-shared-cache", func(b *testing.B) {
		cfg := user
		cfg.TLS = session.TLSExplicit
		base := &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(64)}
		benchSessions(b, func(ctx context.Context) (*client.Client, error) {
			return client.Dial(ctx, srv.TLS, &client.Options{Config: cfg, TLS: netdriver.TLSOptions{Config: base, RootCAs: pool}})
		})
	})
}

// benchSessions runs b.N whole sessions, one after the other.
func benchSessions(b *testing.B, open func(context.Context) (*client.Client, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	start := cpuTime()
	b.ResetTimer()
	for range b.N {
		c, err := open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.ListRaw(ctx, "LIST", ""); err != nil {
			b.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/session")
}

// cpuTime is the process's user plus system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
