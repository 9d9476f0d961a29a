package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "bench",
		args:    "[HOST:PORT]",
		summary: "measure the engine: many sessions against a loopback server",
		help: `
Run one benchmark scenario with the asyncftp engine and print one table row
(or, with --json, one JSON line): sessions, errors, wall time, the CPU seconds
of this process, peak RSS, RSS per idle session, p50/p99 session latency.

Scenarios:
  lifecycle  connect, log in, PWD, TYPE I, EPSV+LIST, EPSV+RETR of 1k.bin, QUIT;
             -n sessions, -c at a time
  idle       log -n sessions in and hold them all; RSS per session is
             (RSS with all open - RSS before) / n, after a GC
  bigretr    one download of big.bin (--bigsize bytes) to a discard sink; MB/s

Without HOST:PORT, bench starts its own lean FTP server in a separate process
(so that the CPU figures are the client's alone) and stops it at the end. A
server given as HOST:PORT must serve 1k.bin (1024 bytes) and, for bigretr,
big.bin; any user name and password are sent (--user, --password).

Leave a minute between runs: each lifecycle session leaves three sockets in
TIME_WAIT, and connecting gets dearer while thousands are there. The
comparison with goroutine-per-session clients lives in the bench module:
  cd bench && go run ./cmd/ftpbench run

Examples:
  asyncftp bench                                   lifecycle, 5000 sessions, 100 at a time
  asyncftp bench --scenario idle -n 10000          hold 10,000 sessions on one loop
  asyncftp bench --scenario lifecycle --loops 2 -c 1000
  asyncftp bench --json 127.0.0.1:2121
  asyncftp bench --tls -n 2000 -c 100              explicit FTPS: AUTH TLS, PBSZ 0, PROT P
  asyncftp bench --tls --ca cert.pem 127.0.0.1:2121

With --tls every session speaks explicit FTPS on the engine's loops; the own
lean server then serves FTPS with a fresh self-signed certificate, and a
server given as HOST:PORT is authenticated as for the other commands: the
system roots, or --ca, --pin, or (loudly) --insecure.`,
		maxArgs: 1,
		flags:   benchFlags,
	})
}

// benchOptions are the flags of bench.
type benchOptions struct {
	p             benchrun.Params
	asJSON, serve bool
	big           int64
	serveCA       string
	tls           common // only its FTPS flags
}

func benchFlags(f *pflag.FlagSet) runFunc {
	o := &benchOptions{p: benchrun.Params{Scenario: benchrun.Lifecycle, Sessions: 5000, Concurrency: 100, Loops: 1}, big: 1 << 30}
	p := &o.p
	f.StringVar(&p.Scenario, "scenario", p.Scenario, "`NAME`: lifecycle, idle or bigretr")
	f.IntVarP(&p.Sessions, "sessions", "n", p.Sessions, "sessions (`N`; lifecycle, idle)")
	f.IntVarP(&p.Concurrency, "concurrency", "c", p.Concurrency, "sessions at once (`N`; lifecycle)")
	f.IntVar(&p.Loops, "loops", p.Loops, "event loops (`N`); 0 = one per core")
	f.StringVar(&p.User, "user", "", "user `NAME` to log in with (default bench)")
	f.StringVar(&p.Password, "password", "", "password (`PW`, default bench)")
	f.StringVar(&p.Profile, "cpuprofile", "", "write a CPU profile of the run to `FILE`")
	f.BoolVar(&o.asJSON, "json", false, "print the result as one JSON line")
	f.Int64Var(&o.big, "bigsize", o.big, "size of big.bin in bytes (own server; checked)")
	o.tls.registerTLS(f)
	f.BoolVar(&o.serve, "serve-lean", false, "internal: run the lean server for a parent bench")
	f.StringVar(&o.serveCA, "serve-ca", "", "internal: with --serve-lean --tls, write the certificate here")
	f.MarkHidden("bigsize")
	f.MarkHidden("serve-lean")
	f.MarkHidden("serve-ca")
	return func(ctx context.Context, e *Env, pos []string) error { return runBench(ctx, e, *o, pos) }
}

func runBench(ctx context.Context, e *Env, o benchOptions, pos []string) error {
	p, asJSON, serve, big := o.p, o.asJSON, o.serve, o.big
	if serve {
		return serveLean(ctx, e, big, o.tls.tls, o.serveCA)
	}
	p.TLS = o.tls.tls
	if (o.tls.ca != "" || o.tls.pin != "" || o.tls.insecure) && (!p.TLS || len(pos) == 0) {
		return usageErrorf("--ca, --pin and --insecure apply to --tls against a server given as HOST:PORT")
	}
	switch p.Scenario {
	case benchrun.Lifecycle, benchrun.Idle, benchrun.BigRetr:
	default:
		return usageErrorf("unknown scenario %q: lifecycle, idle or bigretr", p.Scenario)
	}
	if p.Sessions < 1 || p.Concurrency < 0 || p.Loops < 0 {
		return usageErrorf("-n must be at least 1, -c and --loops at least 0")
	}
	if len(pos) == 1 {
		p.Addr = pos[0]
		if p.TLS {
			host, _, _ := strings.Cut(p.Addr, ":")
			auth, err := o.tls.clientTLS(e, &Target{Host: host, TLS: session.TLSExplicit})
			if err != nil {
				return err
			}
			p.Auth = &auth
		}
	} else {
		addr, pool, stop, err := startLean(big, p.TLS)
		if err != nil {
			return fmt.Errorf("starting the lean server: %w", err)
		}
		defer stop()
		p.Addr, p.RootCAs = addr, pool
		p.BigSize = big
		p.ListSize = int64(len(leanserver.Listing))
	}
	r, err := benchrun.RunAsyncftp(ctx, p)
	if err != nil {
		return connectError(err)
	}
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(e.Stdout, string(b))
	} else {
		printBench(e.Stdout, r)
	}
	if r.Failed > 0 {
		return failure(fmt.Errorf("%d of %d sessions failed (%v); first: %s", r.Failed, r.Sessions, r.Errors, r.FirstError))
	}
	return nil
}

func printBench(w io.Writer, r benchrun.Report) {
	fmt.Fprintf(w, "%-10s %6s %5s %6s %7s %8s %9s %9s %8s %9s %8s %8s\n",
		"scenario", "loops", "conc", "ok", "errors", "wall s", "CPU s", "CPU/1000", "RSS MiB", "idle B/s", "p50 ms", "p99 ms")
	idle := "-"
	if r.IdleRSSPerSessB > 0 {
		idle = strconv.FormatFloat(r.IdleRSSPerSessB, 'f', 0, 64)
	}
	fmt.Fprintf(w, "%-10s %6d %5d %6d %7d %8.2f %9.2f %9.3f %8.1f %9s %8.1f %8.1f\n",
		r.Scenario, r.Loops, r.Concurrency, r.OK, r.Failed, r.WallS, r.RunCPUS, r.CPUPer1000,
		float64(r.MaxRSSKiB)/1024, idle, r.P50Ms, r.P99Ms)
	if r.MBps > 0 {
		fmt.Fprintf(w, "bigretr: %d bytes at %.0f MB/s\n", r.Bytes, r.MBps)
	}
}

// startLean runs `asyncftp bench --serve-lean` as a child process and returns
// its address; stop closes its stdin and waits for it.
func startLean(big int64, withTLS bool) (string, *x509.CertPool, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, nil, err
	}
	args := []string{"bench", "--serve-lean", "--bigsize", strconv.FormatInt(big, 10)}
	var caFile string
	if withTLS {
		dir, err := os.MkdirTemp("", "asyncftp-bench-")
		if err != nil {
			return "", nil, nil, err
		}
		defer os.RemoveAll(dir)
		caFile = filepath.Join(dir, "ca.pem")
		args = append(args, "--tls", "--serve-ca", caFile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop := func() {
		in.Close()
		_ = cmd.Wait()
	}
	m, err := benchrun.WaitForServer(out)
	if err != nil || m["FTP"] == "" {
		stop()
		return "", nil, nil, fmt.Errorf("lean server did not start: %v", err)
	}
	go io.Copy(io.Discard, out)
	var pool *x509.CertPool
	if withTLS {
		if pool, err = readCAs(caFile); err != nil {
			stop()
			return "", nil, nil, err
		}
	}
	return m["FTP"], pool, stop, nil
}

// readCAs reads the lean server's certificate into a pool of roots.
func readCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no PEM certificate in %s", file)
	}
	return pool, nil
}

// serveLean is the child side: serve until stdin closes.
func serveLean(ctx context.Context, e *Env, big int64, withTLS bool, caFile string) error {
	opts := leanserver.Options{BigSize: big}
	if withTLS {
		cfg, pem, err := leanserver.SelfSigned()
		if err != nil {
			return err
		}
		if err := os.WriteFile(caFile, pem, 0o600); err != nil {
			return err
		}
		opts.TLS = cfg
	}
	srv, err := leanserver.Start(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(e.Stdout, "FTP %s\nREADY\n", srv.Addr)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, e.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}
