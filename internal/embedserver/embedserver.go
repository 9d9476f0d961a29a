package embedserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	server "goftp.io/server/v2"
	"goftp.io/server/v2/driver/file"
)

// DefaultUser and DefaultPassword are the read-write account created when
// Options.Users is nil.
const (
	DefaultUser     = "asyncftp"
	DefaultPassword = "secret"
)

// closeGrace bounds how long Close waits for sessions to finish after it has
// closed their control connections. Only a session stuck in a data transfer
// whose client neither reads nor closes can take that long. A variable only
// so that tests can shorten it.
var closeGrace = 10 * time.Second

// Options configure Start. The zero value serves a fresh generated sample
// tree over plain FTP, with anonymous read-only access and the read-write
// user DefaultUser / DefaultPassword.
type Options struct {
	// Root is the folder to serve. "" means a new temporary folder holding
	// the GenerateTree sample tree, removed again by Close. A given Root is
	// served as it is and never removed.
	Root string

	// Users maps user names to passwords; these users may read and write.
	// nil means {DefaultUser: DefaultPassword}; an empty non-nil map means
	// no named users at all.
	Users map[string]string

	// NoAnonymous disables anonymous login. By default the users
	// "anonymous" and "ftp" (any case) log in with any non-empty password
	// and are read-only: STOR, APPE, DELE, MKD, RMD, RNFR and RNTO get 550.
	NoAnonymous bool

	// TLS enables FTPS with this configuration (it needs a certificate;
	// see SelfSignedTLS). nil means plain FTP. The config is cloned.
	TLS *tls.Config

	// Implicit selects implicit FTPS (TLS from the first byte) when TLS is
	// set; otherwise FTPS is explicit (the client sends AUTH TLS). See the
	// package documentation for how goftp treats data connections in each.
	Implicit bool

	// PassivePorts limits passive data ports to "LOW-HIGH". goftp picks
	// LOW + rand(HIGH-LOW), so HIGH itself is never used, and retries 10
	// times if a port is busy. "" lets the kernel choose a free port.
	PassivePorts string

	// Logger receives goftp's log: every command (PASS masked), every
	// reply and connection events, one entry per line (the inner lines of
	// multi-line replies follow, indented). nil means silent. Nothing is
	// written after Close returns.
	Logger io.Writer

	// WelcomeMessage is the text of the 220 greeting (one line). "" keeps
	// goftp's "Welcome to the Go FTP Server".
	WelcomeMessage string
}

// Server is a running goftp server on 127.0.0.1.
type Server struct {
	// Addr is the control address, "127.0.0.1:PORT".
	Addr string
	// Root is the absolute path of the served folder.
	Root string

	files     []File
	ownRoot   bool
	users     map[string]string
	anonymous bool
	driver    *fsDriver
	ln        net.Listener
	log       *logSink
	serveDone chan struct{}

	mu      sync.Mutex
	closing bool
	conns   map[string]*trackedConn // live control connections by remote address
	active  int                     // sessions not yet released
	drained chan struct{}           // closed when active drops to 0 during Close
	orphans []pendingPort           // passive ports of ended sessions that may still wait

	closeOnce sync.Once
	closeErr  error
}

// Start launches the goftp server on 127.0.0.1 with a kernel-chosen port
// and returns once it accepts connections. Close it when done.
func Start(opts Options) (*Server, error) {
	if err := validate(opts); err != nil {
		return nil, err
	}
	s := &Server{
		users:     map[string]string{DefaultUser: DefaultPassword},
		anonymous: !opts.NoAnonymous,
		log:       &logSink{w: opts.Logger},
		serveDone: make(chan struct{}),
		conns:     make(map[string]*trackedConn),
	}
	if opts.Users != nil {
		s.users = make(map[string]string, len(opts.Users))
		for u, p := range opts.Users {
			s.users[u] = p
		}
	}

	if opts.Root == "" {
		dir, err := os.MkdirTemp("", "asyncftp-embedserver-")
		if err != nil {
			return nil, fmt.Errorf("embedserver: temp root: %w", err)
		}
		files, err := GenerateTree(dir)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		s.Root, s.files, s.ownRoot = dir, files, true
	} else {
		abs, err := filepath.Abs(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("embedserver: root: %w", err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("embedserver: root: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("embedserver: root %s is not a directory", abs)
		}
		s.Root = abs
	}

	srv, err := s.start(opts)
	if err != nil {
		if s.ownRoot {
			_ = os.RemoveAll(s.Root)
		}
		return nil, err
	}
	return srv, nil
}

// start creates the listener and the goftp server and begins serving.
func (s *Server) start(opts Options) (*Server, error) {
	inner, err := file.NewDriver(s.Root)
	if err != nil {
		return nil, fmt.Errorf("embedserver: file driver: %w", err)
	}
	s.driver = &fsDriver{inner: inner, root: inner.(*file.Driver).RootPath, srv: s}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedserver: listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	var cfg *tls.Config
	if opts.TLS != nil {
		cfg = opts.TLS.Clone()
	}
	gopts := &server.Options{
		Commands:       s.commands(),
		Driver:         s.driver,
		Auth:           &authenticator{users: s.users, anonymous: s.anonymous},
		Perm:           server.NewSimplePerm("ftp", "ftp"),
		Name:           "asyncftp embedserver",
		Hostname:       "127.0.0.1",
		Port:           port,
		PassivePorts:   strings.ReplaceAll(opts.PassivePorts, " ", ""),
		TLS:            cfg != nil,
		TLSConfig:      cfg,
		ExplicitFTPS:   cfg != nil && !opts.Implicit,
		WelcomeMessage: opts.WelcomeMessage,
		Logger:         s.log,
	}
	if cfg != nil {
		// goftp copies TLSConfig into the field that AUTH TLS and the data
		// sockets read only inside ListenAndServe, which also insists on
		// opening its own listener. We want our own (port 0, connection
		// tracking), so we let ListenAndServe run with an invalid port: it
		// stores the TLS config, then fails in net.Listen ("invalid port",
		// no I/O at all) before serving anything.
		gopts.Port = -1
	}
	ftp, err := server.NewServer(gopts)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("embedserver: %w", err)
	}
	if cfg != nil {
		if err := ftp.ListenAndServe(); err == nil || errors.Is(err, server.ErrServerClosed) {
			_ = ln.Close()
			return nil, errors.New("embedserver: goftp ListenAndServe did not fail as expected")
		}
	}

	s.ln = &trackingListener{Listener: ln, srv: s}
	var serveLn net.Listener = s.ln
	if cfg != nil && opts.Implicit {
		serveLn = tls.NewListener(s.ln, cfg)
	}
	go func() {
		defer close(s.serveDone)
		// Serve returns when Close closes the listener. goftp's Shutdown
		// is not used: it reads fields that Serve writes on this
		// goroutine without synchronisation (a data race), and it would
		// leave live sessions running anyway.
		_ = ftp.Serve(serveLn)
	}()
	return s, nil
}

// validate checks Options for values goftp would mishandle (a malformed
// PassivePorts makes goftp log to stderr and pick port 0; LOW == HIGH makes
// it panic; a multi-line greeting is sent as broken reply lines).
func validate(opts Options) error {
	if opts.Implicit && opts.TLS == nil {
		return errors.New("embedserver: Implicit needs TLS")
	}
	if opts.TLS != nil && len(opts.TLS.Certificates) == 0 && opts.TLS.GetCertificate == nil && opts.TLS.GetConfigForClient == nil {
		return errors.New("embedserver: TLS config has no certificate")
	}
	if strings.ContainsAny(opts.WelcomeMessage, "\r\n") {
		return errors.New("embedserver: WelcomeMessage must be one line")
	}
	if pp := strings.ReplaceAll(opts.PassivePorts, " ", ""); pp != "" {
		lo, hi, ok := strings.Cut(pp, "-")
		low, err1 := strconv.Atoi(lo)
		high, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || low < 1 || high > 65535 || low >= high {
			return fmt.Errorf("embedserver: PassivePorts %q: want LOW-HIGH with 1 <= LOW < HIGH <= 65535", opts.PassivePorts)
		}
	}
	return nil
}

// canWrite reports whether the logged-in user may change the tree.
func (s *Server) canWrite(user string) bool {
	_, ok := s.users[user]
	return ok
}

// Files returns the generated sample tree (sorted by Path, directories
// included) when the server made its own root, or nil when Options.Root
// was given. Uploads made since Start are not reflected.
func (s *Server) Files() []File {
	if s.files == nil {
		return nil
	}
	out := make([]File, len(s.files))
	copy(out, s.files)
	return out
}

// Close stops the server: it closes the listener and every control
// connection, unblocks passive data listeners that still wait for a client,
// waits for all session goroutines to finish, and removes the temporary
// root if Start made one. Close is idempotent.
//
// A session in the middle of a data transfer ends when that transfer ends.
// If a client holds a data connection open without reading or closing it,
// goftp cannot be interrupted; Close then gives up after 10 s and returns an
// error, and that goroutine ends when the client closes the connection.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

// close does the work of Close once.
func (s *Server) close() error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*trackedConn, 0, len(s.conns))
	var ports []pendingPort
	for _, c := range s.conns {
		conns = append(conns, c)
		ports = append(ports, c.pending...)
	}
	ports = append(ports, s.orphans...)
	s.orphans = nil
	drained := make(chan struct{})
	if s.active == 0 {
		close(drained)
	} else {
		s.drained = drained
	}
	s.mu.Unlock()

	errLn := s.ln.Close()
	<-s.serveDone
	for _, c := range conns {
		// Close the raw connection, not the trackedConn: goftp's session
		// notices the failed read and closes (and so releases) it itself.
		_ = c.Conn.Close()
	}
	now := time.Now()
	for _, p := range ports {
		if now.Sub(p.at) < passiveAcceptWindow {
			poke(p.port)
		}
	}

	var err error
	timer := time.NewTimer(closeGrace)
	select {
	case <-drained:
	case <-timer.C:
		s.mu.Lock()
		n := s.active
		s.mu.Unlock()
		err = fmt.Errorf("embedserver: %d session(s) still in a data transfer after %v; they end when their clients close the data connection", n, closeGrace)
	}
	timer.Stop()
	s.log.close()

	if errLn != nil && !errors.Is(errLn, net.ErrClosed) && err == nil {
		err = fmt.Errorf("embedserver: close listener: %w", errLn)
	}
	if s.ownRoot {
		if rerr := os.RemoveAll(s.Root); rerr != nil && err == nil {
			err = fmt.Errorf("embedserver: remove temp root: %w", rerr)
		}
	}
	return err
}
