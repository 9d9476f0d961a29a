package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// common holds the flags every network command takes.
type common struct {
	verbose  bool
	json     bool
	quiet    bool
	tls      bool
	ca       string
	pin      string
	insecure bool
	timeout  time.Duration
	noEPSV   bool

	transfers bool // the command moves file data: progress flags apply
}

func (o *common) register(f *flagSet) {
	f.boolVar(&o.verbose, "v,verbose", "print the live FTP transcript (C:/S: lines) on stderr; passwords masked")
	f.boolVar(&o.json, "json", "print one JSON object per line on stdout, for scripts")
	if o.transfers {
		f.boolVar(&o.quiet, "q,quiet", "no progress bar and no messages, only errors")
	}
	f.boolVar(&o.tls, "tls", "explicit FTPS: AUTH TLS on an ftp:// URL (ftps:// is implicit FTPS)")
	f.stringVar(&o.ca, "ca", "FILE", "FTPS: trust the PEM certificates in FILE instead of the system roots")
	f.stringVar(&o.pin, "pin", "SHA256", "FTPS: trust only a server whose public key has this pin (sha256//BASE64 or hex; comma-separated for several)")
	f.boolVar(&o.insecure, "insecure", "FTPS: do not verify the server's certificate (unsafe; says so on stderr)")
	f.durationVar(&o.timeout, "timeout", "DURATION", "connect and reply timeout (default 15s to connect, 30s per reply)")
	f.boolVar(&o.noEPSV, "no-epsv", "use PASV only (some firewalls and old servers mishandle EPSV)")
}

// session is one connection the command opened.
type conn struct {
	*client.Client
	target *Target
	ended  bool
}

// target parses a URL argument and applies --tls.
func (o *common) target(raw string) (*Target, error) {
	t, err := ParseURL(raw)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	if o.tls {
		if t.TLS == session.TLSImplicit {
			return nil, usageErrorf("--tls asks for explicit FTPS, but an ftps:// URL is implicit FTPS: use one or the other")
		}
		t.TLS = session.TLSExplicit
	}
	if t.TLS == session.TLSNone && (o.ca != "" || o.pin != "" || o.insecure) {
		return nil, usageErrorf("--ca, --pin and --insecure apply to FTPS only: add --tls or use an ftps:// URL")
	}
	return t, nil
}

// tlsOptions builds how an FTPS server is authenticated: the system roots and
// the URL's host name by default, the certificates of --ca, the keys of --pin,
// or (with --insecure) nothing at all.
func (o *common) tlsOptions() (netdriver.TLSOptions, error) {
	var opts netdriver.TLSOptions
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return opts, usageErrorf("--ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return opts, usageErrorf("--ca: no PEM certificate in %s", o.ca)
		}
		opts.RootCAs = pool
	}
	if o.pin != "" {
		for _, s := range strings.Split(o.pin, ",") {
			p, err := netdriver.ParsePin(s)
			if err != nil {
				return opts, usageErrorf("--pin: %v", err)
			}
			opts.Pins = append(opts.Pins, p)
		}
	}
	if o.insecure && (o.pin != "" || o.ca != "") {
		return opts, usageErrorf("--insecure turns verification off: it cannot be combined with --ca or --pin")
	}
	opts.Insecure = o.insecure
	return opts, nil
}

// config builds the session configuration for t.
func (o *common) config(e *Env, t *Target, sink transcript.Sink) (session.Config, Creds, error) {
	creds, warnings := ResolveCreds(t, e.Getenv)
	for _, w := range warnings {
		fmt.Fprintf(e.Stderr, "asyncftp: warning: %s\n", w)
	}
	cfg := session.Config{
		User:        creds.User,
		Password:    creds.Password,
		Account:     session.Secret(creds.Account),
		TLS:         t.TLS,
		DisableEPSV: o.noEPSV,
		Transcript:  sink,
	}
	if o.timeout > 0 {
		cfg.Timeouts.Greeting = o.timeout
		cfg.Timeouts.Reply = o.timeout
		cfg.Timeouts.DataConnect = o.timeout
	}
	if err := cfg.Validate(); err != nil {
		return cfg, creds, usageErrorf("credentials: %v", err)
	}
	return cfg, creds, nil
}

// transcriptSink returns the -v sink (nil without -v). withIDs prefixes each
// line with its session id, for commands that run several sessions.
func (o *common) transcriptSink(e *Env, withIDs bool) transcript.Sink {
	if !o.verbose {
		return nil
	}
	return newLineSink(e.Stderr, withIDs)
}

// dial connects and logs in. eng may be nil (a private engine). Failures are
// connection errors (exit code 3).
func (o *common) dial(ctx context.Context, e *Env, t *Target, eng *engine.Engine, sink transcript.Sink) (*conn, error) {
	cfg, creds, err := o.config(e, t, sink)
	if err != nil {
		return nil, err
	}
	opts := &client.Options{Config: cfg, Engine: eng}
	if t.TLS != session.TLSNone {
		if opts.TLS, err = o.tlsOptions(); err != nil {
			return nil, err
		}
		if o.insecure {
			fmt.Fprintln(e.Stderr, "asyncftp: warning: --insecure: the server's certificate is NOT verified; anyone on the path can read and change this session")
		}
	}
	c, err := client.Dial(ctx, t.Addr(), opts)
	if err != nil {
		return nil, connectError(describeDialError(t, creds, err))
	}
	return &conn{Client: c, target: t}, nil
}

// describeDialError adds what the user can do about a failed login.
func describeDialError(t *Target, creds Creds, err error) error {
	var fe *ftp.Error
	switch {
	case errors.As(err, &fe) && creds.Source == "none":
		return fmt.Errorf("login to %s failed (no password for %s: set %s or add it to ~/.netrc): %w", t.Addr(), creds.User, PasswordEnv, err)
	case errors.As(err, &fe) && fe.Code == 530:
		hint := ""
		switch creds.Source {
		case "anonymous":
			hint = " (anonymous login refused: put a user in the URL)"
		default:
			hint = fmt.Sprintf(" (user %s, password from %s)", creds.User, creds.Source)
		}
		return fmt.Errorf("login to %s failed%s: %w", t.Addr(), hint, err)
	}
	return fmt.Errorf("connect to %s: %w", t.Addr(), err)
}

// quit ends the session politely (QUIT, or a plain close once ctx is done).
// It is idempotent, so commands defer it and also call it to see its error.
// Not safe for concurrent use: each goroutine owns its conn.
func (c *conn) quit(ctx context.Context) error {
	if c.ended {
		return nil
	}
	c.ended = true
	if ctx.Err() != nil {
		return c.Close()
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return c.Quit(qctx)
}
