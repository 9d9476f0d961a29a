package netdriver_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		runBenchServer()
		return
	}
	// Start the network poller before any test counts descriptors: it keeps
	// its own for the life of the process.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	// gnet's default worker pool (imported through the client) starts its
	// goroutines at init; they are not ours.
	// The gnet engine (benchmarks) leaves idle workers in that pool for a while.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

// clean makes the test fail if it leaves a goroutine running or a file
// descriptor open. Call it first: its cleanup must run after the servers'.
func clean(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	before := openFDs(t)
	t.Cleanup(func() {
		goleak.VerifyNone(t, opt)
		after := openFDs(t)
		for i := 0; i < 50 && after > before; i++ { // a closed socket may linger in a goroutine's last step
			time.Sleep(20 * time.Millisecond)
			after = openFDs(t)
		}
		if after != before {
			t.Errorf("%d file descriptors open after the test, %d before", after, before)
			fds, _ := os.ReadDir("/proc/self/fd")
			b, _ := os.ReadFile("/proc/net/tcp")
			b6, _ := os.ReadFile("/proc/net/tcp6")
			b = append(b, b6...)
			for _, fd := range fds {
				l, _ := os.Readlink("/proc/self/fd/" + fd.Name())
				t.Logf("fd %s -> %s", fd.Name(), l)
				if ino, ok := strings.CutPrefix(l, "socket:["); ok {
					ino = strings.TrimSuffix(ino, "]")
					for _, line := range strings.Split(string(b), "\n") {
						if f := strings.Fields(line); len(f) > 9 && f[9] == ino {
							t.Logf("   %s", line)
						}
					}
				}
			}
		}
	})
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting descriptors: %v", err)
	}
	return len(ents)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startEmbed starts goftp, with explicit (or implicit) FTPS when tlsOn, and
// returns it with a pool that trusts its certificate.
func startEmbed(t *testing.T, tlsOn, implicit bool) (*embedserver.Server, *x509.CertPool) {
	t.Helper()
	opts := embedserver.Options{}
	var pool *x509.CertPool
	if tlsOn {
		scfg, ccfg, err := embedserver.SelfSignedTLS()
		if err != nil {
			t.Fatal(err)
		}
		opts.TLS, opts.Implicit, pool = scfg, implicit, ccfg.RootCAs
	}
	srv, err := embedserver.Start(opts)
	if err != nil {
		t.Fatalf("embedserver.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("embedserver.Close: %v", err)
		}
	})
	return srv, pool
}

// userConfig is the embedded server's read-write account.
func userConfig(mode session.TLSMode, mem *transcript.Memory) session.Config {
	cfg := session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword, TLS: mode}
	if mem != nil {
		cfg.Transcript = mem
	}
	return cfg
}

// dial opens a session on the net.Conn driver and wraps it in a client that
// waits for the driver's goroutines on Quit and Close.
func dial(ctx context.Context, addr string, cfg session.Config, opts netdriver.Options, copts client.Options) (*client.Client, *netdriver.Conn, error) {
	conn, login, err := netdriver.Open(addr, &cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	copts.Config = cfg
	c, err := client.NewFromRunner(ctx, conn, copts, login, func() {
		conn.Close()
		<-conn.Done()
	})
	return c, conn, err
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func embedFile(t *testing.T, srv *embedserver.Server, path string) embedserver.File {
	t.Helper()
	for _, f := range srv.Files() {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no generated file %q", path)
	return embedserver.File{}
}

func onDisk(srv *embedserver.Server, name string) string { return filepath.Join(srv.Root, name) }

// notes returns the transcript's notes that contain s.
func notes(mem *transcript.Memory, s string) []string {
	var out []string
	for _, e := range mem.Entries() {
		if e.Dir == transcript.Note && strings.Contains(e.Line, s) {
			out = append(out, e.Line)
		}
	}
	return out
}

// sent returns the command lines the client sent, as recorded.
func sent(mem *transcript.Memory) []string {
	var out []string
	for _, e := range mem.Entries() {
		if e.Dir == transcript.Client {
			out = append(out, e.Line)
		}
	}
	return out
}
