package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
	"github.com/spf13/pflag"
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

	active      bool          // --active: the same as --data-mode active
	dataMode    string        // --data-mode: passive, active or auto ("" = passive, or active with --active)
	activePorts string        // --active-ports MIN-MAX
	activeAddr  string        // --active-addr IP: the address to advertise in EPRT/PORT
	keepalive   time.Duration // --keepalive: NOOP interval during transfers and in idle pooled sessions; 0 = off

	transfers bool // the command moves file data: progress flags apply
}

// defaultKeepalive is the CLI's --keepalive: long downloads keep their control
// connection alive through NAT boxes and servers with short idle timeouts.
const defaultKeepalive = 30 * time.Second

// register defines the flags of o on f. A word in backquotes in a usage text
// is the flag's argument in --help (pflag's convention).
func (o *common) register(f *pflag.FlagSet) {
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print the live FTP transcript (C:/S: lines) on stderr; passwords masked")
	f.BoolVar(&o.json, "json", false, "print one JSON object per line on stdout, for scripts")
	if o.transfers {
		f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar and no messages, only errors")
	}
	o.registerTLS(f)
	f.DurationVar(&o.timeout, "timeout", 0, timeoutHelp)
	f.BoolVar(&o.noEPSV, "no-epsv", false, "use PASV only (some firewalls and old servers mishandle EPSV)")
	f.BoolVar(&o.active, "active", false, "active mode: the server connects to us for data (EPRT, or PORT); the same as --data-mode active")
	f.StringVar(&o.dataMode, "data-mode", "", "data `MODE`: passive (EPSV/PASV, the default), active (EPRT/PORT) or auto (passive; active once the server refuses EPSV and PASV)")
	f.StringVar(&o.activePorts, "active-ports", "", "active mode: listen on a port in the range `MIN-MAX` (a firewall opening)")
	f.StringVar(&o.activeAddr, "active-addr", "", "active mode: advertise the address `IP` in EPRT/PORT (a public address behind NAT)")
	f.DurationVar(&o.keepalive, "keepalive", defaultKeepalive, "send NOOP every `DURATION` on the control connection during long transfers and while pooled sessions wait; 0 turns it off")
}

// registerTLS defines the FTPS flags: --tls, --ca, --pin, --insecure.
func (o *common) registerTLS(f *pflag.FlagSet) {
	f.BoolVar(&o.tls, "tls", false, "explicit FTPS: AUTH TLS on an ftp:// URL (ftps:// is implicit FTPS)")
	f.StringVar(&o.ca, "ca", "", "FTPS: trust the PEM certificates in `FILE` instead of the system roots")
	f.StringVar(&o.pin, "pin", "", "FTPS: trust only a server whose public key has this pin `SHA256` (sha256//BASE64 or hex; comma-separated for several)")
	f.BoolVar(&o.insecure, "insecure", false, "FTPS: do not verify the server's certificate (unsafe; says so on stderr)")
}

// timeoutHelp says what --timeout bounds.
const timeoutHelp = "bound every network wait by `DURATION`: the TCP connect, each reply, a data connection's setup, and a data connection that stops moving bytes (without it: 10s to connect, 15s for the greeting and for a data connection, 30s per reply, 60s without data bytes)"

// dataSettings turns --active, --data-mode, --active-ports and --active-addr
// into the session's data mode and active-mode options.
func (o *common) dataSettings() (session.DataMode, session.ActiveOptions, error) {
	var a session.ActiveOptions
	mode := session.DataPassive
	switch strings.ToLower(o.dataMode) {
	case "":
		if o.active {
			mode = session.DataActive
		}
	case "passive", "pasv":
		mode = session.DataPassive
	case "active", "port":
		mode = session.DataActive
	case "auto":
		mode = session.DataAuto
	default:
		return mode, a, usageErrorf("--data-mode %q: use passive, active or auto", o.dataMode)
	}
	if o.active && mode != session.DataActive {
		return mode, a, usageErrorf("--active contradicts --data-mode %s: give one of them", o.dataMode)
	}
	if o.activePorts != "" {
		lo, hi, ok := strings.Cut(o.activePorts, "-")
		min, err1 := strconv.Atoi(strings.TrimSpace(lo))
		max, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if !ok || err1 != nil || err2 != nil || min < 1 || max > 65535 || min > max {
			return mode, a, usageErrorf("--active-ports %q: write MIN-MAX, two ports from 1 to 65535, MIN not above MAX", o.activePorts)
		}
		a.PortMin, a.PortMax = min, max
	}
	if o.activeAddr != "" {
		if net.ParseIP(o.activeAddr) == nil {
			return mode, a, usageErrorf("--active-addr %q is not an IP address", o.activeAddr)
		}
		a.Advertise = o.activeAddr
	}
	if (a.PortMin != 0 || a.Advertise != "") && mode == session.DataPassive {
		return mode, a, usageErrorf("--active-ports and --active-addr apply to active mode: add --active (or --data-mode auto)")
	}
	if o.keepalive < 0 {
		return mode, a, usageErrorf("--keepalive must not be negative (0 turns it off)")
	}
	return mode, a, nil
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
	if _, _, err := o.dataSettings(); err != nil {
		return nil, err
	}
	return t, nil
}

// tlsOptions builds how an FTPS server is authenticated: the system roots and
// the URL's host name by default, the certificates of --ca, the keys of --pin,
// or (with --insecure) nothing at all.
func (o *common) tlsOptions() (ftptls.Options, error) {
	var opts ftptls.Options
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
			p, err := ftptls.ParsePin(s)
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
	mode, active, err := o.dataSettings()
	if err != nil {
		return session.Config{}, creds, err
	}
	cfg := session.Config{
		User:        creds.User,
		Password:    creds.Password,
		Account:     session.Secret(creds.Account),
		TLS:         t.TLS,
		DisableEPSV: o.noEPSV,
		DataMode:    mode,
		Active:      active,
		Transcript:  sink,
	}
	if o.keepalive > 0 {
		cfg.Keepalive = o.keepalive
		cfg.IdleKeepalive = o.keepalive
	} else {
		cfg.IdleKeepalive = -1 // the pool's default would turn it on
	}
	if o.timeout > 0 {
		// wget's --timeout: every wait on the network, the data connection
		// that goes quiet included (the connect is bounded by the driver:
		// see engine and clientOptions).
		cfg.Timeouts.Greeting = o.timeout
		cfg.Timeouts.Reply = o.timeout
		cfg.Timeouts.DataConnect = o.timeout
		cfg.Timeouts.DataIdle = o.timeout
	}
	if err := cfg.Validate(); err != nil {
		var ae *ftp.ArgumentError
		if errors.As(err, &ae) && ae.Verb == "EPRT" {
			return cfg, creds, usageErrorf("active mode: %v", err)
		}
		return cfg, creds, usageErrorf("credentials: %v", err)
	}
	return cfg, creds, nil
}

// engine starts the event loop a command's sessions share, its TCP connects
// bounded by --timeout.
func (o *common) engine() (*engine.Engine, error) {
	return engine.New(engine.Options{Loops: 1, ConnectTimeout: o.timeout})
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
	opts := &client.Options{Config: cfg, Engine: eng, ConnectTimeout: o.timeout}
	if opts.TLS, err = o.clientTLS(e, t); err != nil {
		return nil, err
	}
	c, err := client.Dial(ctx, t.Addr(), opts)
	if err != nil {
		return nil, connectError(describeDialError(t, creds, err))
	}
	return &conn{Client: c, target: t}, nil
}

// clientTLS returns the FTPS options for t (none for plain FTP), warning on
// stderr about --insecure.
func (o *common) clientTLS(e *Env, t *Target) (ftptls.Options, error) {
	if t.TLS == session.TLSNone {
		return ftptls.Options{}, nil
	}
	opts, err := o.tlsOptions()
	if err != nil {
		return opts, err
	}
	if o.insecure {
		fmt.Fprintln(e.Stderr, "asyncftp: warning: --insecure: the server's certificate is NOT verified; anyone on the path can read and change this session")
	}
	return opts, nil
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
