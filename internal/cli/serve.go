package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "serve",
		args:    "",
		summary: "run the built-in test FTP server in the foreground",
		hidden:  true,
		help: `
Run the built-in FTP server (goftp.io/server/v2, the one 'asyncftp demo'
uses) in the foreground on 127.0.0.1, on a port the kernel picks, and print
its address. It serves a generated sample tree in a temporary folder (removed
on exit), or --root DIR. Anonymous users ("anonymous", "ftp") may read;
the user asyncftp with password secret may also write. It is a test server
for trying the client out, not for real use: it listens on loopback only.

The first line printed is "asyncftp serve: listening on 127.0.0.1:PORT", so
scripts can read the address (or use --json). Stop it with Ctrl-C, or give
--for to stop after a while.

Examples:
  asyncftp serve
  asyncftp serve --big 8MiB --for 10m       # add big.bin of 8 MiB; stop after 10 minutes
  asyncftp serve --root ./site              # serve a folder of your own
  asyncftp serve --json                     # {"op":"serve","addr":"127.0.0.1:PORT",...}
  asyncftp serve --tls --cert /tmp/cert.pem # then: asyncftp ls --tls --ca /tmp/cert.pem ftp://127.0.0.1:PORT/`,
		flags: serveFlags,
	})
}

// serveOptions are the flags of serve.
type serveOptions struct {
	root, big                           string
	stopAfter                           time.Duration
	verbose, asJSON, explicit, implicit bool
	certOut                             string
}

func serveFlags(f *pflag.FlagSet) runFunc {
	o := &serveOptions{}
	f.StringVar(&o.root, "root", "", "serve `DIR` instead of a generated sample tree")
	f.StringVar(&o.big, "big", "", "also serve big.bin of `SIZE` bytes (suffixes KiB, MiB, GiB)")
	f.DurationVar(&o.stopAfter, "for", 0, "stop after `DURATION` (default: run until Ctrl-C)")
	f.BoolVar(&o.explicit, "tls", false, "explicit FTPS (AUTH TLS), with a fresh self-signed certificate for 127.0.0.1")
	f.BoolVar(&o.implicit, "implicit", false, "implicit FTPS (TLS from the first byte) instead; use ftps:// URLs")
	f.StringVar(&o.certOut, "cert", "", "with --tls or --implicit: write the certificate (PEM) to `FILE`, for 'asyncftp --ca FILE'")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print the server's log (commands and replies) on stderr")
	f.BoolVar(&o.asJSON, "json", false, "print the address as one JSON object")
	return func(ctx context.Context, e *Env, _ []string) error { return runServe(ctx, e, *o) }
}

func runServe(ctx context.Context, e *Env, so serveOptions) error {
	root, big, stopAfter, verbose, asJSON, explicit, implicit, certOut :=
		so.root, so.big, so.stopAfter, so.verbose, so.asJSON, so.explicit, so.implicit, so.certOut
	var bigSize int64 = -1
	if big != "" {
		n, err := parseSize(big)
		if err != nil {
			return usageErrorf("--big: %v", err)
		}
		bigSize = n
	}
	if certOut != "" && !explicit && !implicit {
		return usageErrorf("--cert needs --tls or --implicit")
	}
	opts := embedserver.Options{Root: root, Implicit: implicit}
	var pin string
	if explicit || implicit {
		scfg, _, err := embedserver.SelfSignedTLS()
		if err != nil {
			return failure(err)
		}
		der := scfg.Certificates[0].Certificate[0]
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return failure(err)
		}
		pin = ftptls.PinOf(cert).String()
		if certOut != "" {
			if err := os.WriteFile(certOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
				return failure(err)
			}
		}
		opts.TLS = scfg
	}
	if verbose {
		opts.Logger = e.Stderr
	}
	srv, err := embedserver.Start(opts)
	if err != nil {
		return failure(err)
	}
	defer srv.Close()
	if bigSize >= 0 {
		if _, err := embedserver.WriteBigFile(srv.Root, "big.bin", bigSize); err != nil {
			return failure(err)
		}
	}
	scheme := "ftp"
	if implicit {
		scheme = "ftps"
	}
	if asJSON {
		p := &printer{w: e.Stdout, json: true}
		p.record(Record{Op: "serve", Status: "ok", Addr: srv.Addr, Root: srv.Root, URL: scheme + "://" + srv.Addr + "/", Pin: pin}, "")
	} else {
		fmt.Fprintf(e.Stdout, "asyncftp serve: listening on %s\n", srv.Addr)
		fmt.Fprintf(e.Stdout, "  url:   %s://%s/\n", scheme, srv.Addr)
		fmt.Fprintf(e.Stdout, "  root:  %s\n", srv.Root)
		fmt.Fprintf(e.Stdout, "  users: anonymous (read-only); %s, password %s (read-write)\n", embedserver.DefaultUser, embedserver.DefaultPassword)
		switch {
		case implicit:
			fmt.Fprintf(e.Stdout, "  tls:   implicit FTPS, self-signed; trust it with --pin %s%s\n", pin, caHint(certOut))
		case explicit:
			fmt.Fprintf(e.Stdout, "  tls:   explicit FTPS (use --tls), self-signed; trust it with --pin %s%s\n", pin, caHint(certOut))
		}
		fmt.Fprintf(e.Stdout, "Stop with Ctrl-C.\n")
	}
	if stopAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, stopAfter)
		defer cancel()
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return failure(err)
	}
	if !asJSON {
		fmt.Fprintln(e.Stdout, "asyncftp serve: stopped")
	}
	return nil
}

func caHint(certOut string) string {
	if certOut == "" {
		return ""
	}
	return " or --ca " + certOut
}

// parseSize reads "4096", "64KiB", "8MiB", "1GiB" (also K, M, G, KB, MB, GB
// as powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
