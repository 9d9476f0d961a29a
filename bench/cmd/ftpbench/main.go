// Command ftpbench compares asyncftp with two goroutine-per-session clients
// (jlaffaye/ftp and a bare net.Conn "floor" client) on the same loopback FTP
// server, each client in a process of its own, under the same conditions.
//
//	go run ./cmd/ftpbench run [flags]      the whole comparison (see docs/benchmarks.md)
//	go run ./cmd/ftpbench server           the lean server alone (prints its addresses)
//	go run ./cmd/ftpbench client [flags]   one client, one scenario, one JSON line
//	go run ./cmd/ftpbench table [flags]    the markdown summary of a results file
//
// With -tls every session speaks explicit FTPS (AUTH TLS, PBSZ 0, PROT P)
// and the clients are asyncftp on the engine, asyncftp on package netdriver,
// jlaffaye/ftp and the floor over crypto/tls; bigretr's baseline is then a
// crypto/tls sender and receiver pair.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/asyncftp/asyncftp/bench/clients"
	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/internal/rlimit"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ftpbench run|server|client [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runMain(ctx, os.Args[2:])
	case "server":
		err = serverMain(ctx, os.Args[2:])
	case "client":
		err = clientMain(ctx, os.Args[2:])
	case "table":
		err = tableMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ftpbench:", err)
		os.Exit(1)
	}
}

// clientMain runs one client for one scenario and prints its Report.
func clientMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	var p benchrun.Params
	impl := fs.String("impl", "asyncftp", "asyncftp, netdriver, client-engine, floor, jlaffaye or plain")
	caFile := fs.String("ca", "", "with -tls: the server's certificate (PEM) to trust")
	resumption := fs.String("resumption", "", "with -tls: recorded in the report (the server decides)")
	fs.BoolVar(&p.TLS, "tls", false, "explicit FTPS")
	fs.DurationVar(&p.IdleSettle, "settle", 0, "idle: wait this long once all are held before measuring")
	fs.StringVar(&p.HeapProfile, "heapprofile", "", "idle: write a heap profile while the sessions are held")
	fs.StringVar(&p.Scenario, "scenario", benchrun.Lifecycle, "lifecycle, idle or bigretr")
	fs.StringVar(&p.Addr, "addr", "", "FTP server host:port")
	fs.StringVar(&p.RawAddr, "raw", "", "plain TCP sender host:port (impl plain)")
	fs.IntVar(&p.Sessions, "n", 1000, "sessions")
	fs.IntVar(&p.Concurrency, "c", 100, "sessions at once (lifecycle)")
	fs.IntVar(&p.Loops, "loops", 1, "asyncftp event loops (0: one per core)")
	fs.Int64Var(&p.BigSize, "bigsize", 0, "expected size of big.bin")
	fs.Int64Var(&p.ListSize, "listsize", 0, "expected size of the LIST body")
	fs.StringVar(&p.Profile, "cpuprofile", "", "write a CPU profile of the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if p.HeapProfile != "" {
		// Every allocation sampled: exact bytes per type and site, at a CPU
		// cost, so a profiled run's other figures are not comparable.
		runtime.MemProfileRate = 1
	}
	if p.TLS {
		pemCert, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("-tls needs -ca: %w", err)
		}
		p.RootCAs = x509.NewCertPool()
		if !p.RootCAs.AppendCertsFromPEM(pemCert) {
			return fmt.Errorf("no certificate in %s", *caFile)
		}
	}
	// Idle holds a socket per session.
	if _, err := rlimit.Ensure(rlimit.Estimate(p.Sessions, 0)); err != nil {
		return err
	}
	var (
		r   benchrun.Report
		err error
	)
	if p.Profile != "" && *impl != "asyncftp" { // asyncftp profiles the measured part itself
		f, err := os.Create(p.Profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	switch *impl {
	case "asyncftp":
		r, err = benchrun.RunAsyncftp(ctx, p)
	case "netdriver":
		r, err = clients.RunNetdriver(ctx, p)
	case "client-engine":
		r, err = clients.RunClientEngine(ctx, p)
	case "floor":
		r, err = clients.RunFloor(ctx, p)
	case "jlaffaye":
		r, err = clients.RunJlaffaye(ctx, p)
	case "plain":
		r, err = clients.RunPlain(ctx, p)
	default:
		return fmt.Errorf("unknown client %q", *impl)
	}
	if err != nil {
		return err
	}
	r.TLS = p.TLS
	if p.TLS {
		r.Resumption = *resumption
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
