// Package leanserver is a small, fast FTP server on loopback for benchmarks and
// swarm tests: a goroutine per session, reusable data listeners, a fixed tree.
//
// It answers just what a benchmark session asks (USER, PASS, PWD, TYPE, FEAT, EPSV,
// PASV, LIST, NLST, RETR, SIZE, CWD, NOOP, SYST, OPTS, QUIT, and with Options.TLS
// the explicit FTPS commands AUTH TLS, PBSZ and PROT) with the least work:
// replies are prebuilt byte slices, commands are matched without allocating, and
// the data listener a session leases for EPSV goes back to a pool once used, so a
// transfer costs one accept instead of a socket, a bind, a listen and a close.
//
// Faults are chosen by the user name, so one server can serve a swarm in which
// some sessions fail: "fail…" gets 530 to PASS, "stall…" gets no answer to USER
// (the server holds the connection until the client gives up), and "drop…" has
// its connection closed right after USER.
package leanserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value serves on a free port of 127.0.0.1.
type Options struct {
	// Addr is the control listener's address (default "127.0.0.1:0").
	Addr string
	// BigSize is the size of /big.bin, which is generated as it is sent
	// (default 1 GiB).
	BigSize int64
	// PoolSize bounds the idle data listeners kept for reuse (default 4096).
	PoolSize int
	// DataTimeout bounds the wait for a client's data connection (default 10s).
	DataTimeout time.Duration
	// Accepted, if set, sees every connection the server accepts: a control
	// connection with data nil, a data connection with the control connection
	// it belongs to (tests check where clients connect from). It runs on the
	// connection's goroutine and must not block.
	Accepted func(ctrl, data net.Conn)
	// HandshakeTimeout bounds each TLS handshake, control or data (default
	// 2 minutes: thousands of sessions that log in at once queue for the
	// CPU, and a server that gives up first tests the clients' error paths,
	// not their cost).
	HandshakeTimeout time.Duration
	// TLS, when set, turns on explicit FTPS (RFC 4217): AUTH TLS answers 234
	// and the control connection continues in TLS, PBSZ 0 and PROT P/C answer
	// 200, and after PROT P every data connection is a TLS server with this
	// same config, so that with session tickets on (the default) a client's
	// data handshakes can resume its control session. Set
	// SessionTicketsDisabled in it to make every handshake a full one.
	TLS *tls.Config
}

// Files served besides /big.bin.
const (
	SmallName = "1k.bin" // 1024 bytes
	BigName   = "big.bin"
)

// Small is the content of /1k.bin.
var Small = func() []byte {
	b := make([]byte, 1024)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

// Listing is the body of LIST for any directory.
var Listing = []byte("" +
	"drwxr-xr-x 2 ftp ftp 4096 Jan 02 10:00 pub\r\n" +
	"-rw-r--r-- 1 ftp ftp 1024 Jan 02 10:00 1k.bin\r\n" +
	"-rw-r--r-- 1 ftp ftp 1073741824 Jan 02 10:00 big.bin\r\n" +
	"-rw-r--r-- 1 ftp ftp 12 Jan 02 10:00 readme.txt\r\n")

var nameList = []byte("pub\r\n1k.bin\r\nbig.bin\r\nreadme.txt\r\n")

// Stats counts what the server has seen.
type Stats struct {
	Accepted  int64 // control connections accepted
	Active    int64 // control connections open now
	LoggedIn  int64 // successful logins
	Quits     int64 // QUIT commands answered
	Transfers int64 // LIST, NLST and RETR data connections completed
	// FTPS: handshakes completed on control and data connections, and how
	// many of them resumed an earlier session.
	CtrlTLS, CtrlResumed int64
	DataTLS, DataResumed int64
}

// Server is a running lean FTP server.
type Server struct {
	// Addr is the control listener's host:port.
	Addr string

	opts  Options
	ln    net.Listener
	pool  chan *net.TCPListener
	big   []byte
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool

	accepted, active, loggedIn, quits, transfers atomic.Int64
	ctrlTLS, ctrlResumed, dataTLS, dataResumed   atomic.Int64
}

// Start listens and serves in the background until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.BigSize <= 0 {
		opts.BigSize = 1 << 30
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 4096
	}
	if opts.DataTimeout <= 0 {
		opts.DataTimeout = 10 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 2 * time.Minute
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:  ln.Addr().String(),
		opts:  opts,
		ln:    ln,
		pool:  make(chan *net.TCPListener, opts.PoolSize),
		conns: map[net.Conn]struct{}{},
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted:  s.accepted.Load(),
		Active:    s.active.Load(),
		LoggedIn:  s.loggedIn.Load(),
		Quits:     s.quits.Load(),
		Transfers: s.transfers.Load(),

		CtrlTLS:     s.ctrlTLS.Load(),
		CtrlResumed: s.ctrlResumed.Load(),
		DataTLS:     s.dataTLS.Load(),
		DataResumed: s.dataResumed.Load(),
	}
}

// Close stops accepting, closes every connection and pooled listener, and waits
// for the session goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.done = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	for {
		select {
		case l := <-s.pool:
			l.Close()
		default:
			return err
		}
	}
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off a little rather than spin.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.accepted.Add(1)
		s.active.Add(1)
		go s.serve(c)
	}
}

func (s *Server) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Add(-1)
	c.Close()
}

// lease returns a data listener: a pooled one if any, else a new one.
func (s *Server) lease() (*net.TCPListener, error) {
	select {
	case l := <-s.pool:
		return l, nil
	default:
	}
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// give returns a cleanly used listener to the pool (or closes it if the pool is
// full or the server is closing).
func (s *Server) give(l *net.TCPListener) {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done {
		l.Close()
		return
	}
	select {
	case s.pool <- l:
	default:
		l.Close()
	}
}

// Prebuilt replies.
var (
	rGreeting = []byte("220 lean FTP server ready\r\n")
	rUserOK   = []byte("331 Password required\r\n")
	rLoggedIn = []byte("230 Logged in\r\n")
	rBadLogin = []byte("530 Login incorrect\r\n")
	rNotIn    = []byte("530 Please log in with USER and PASS\r\n")
	rPwd      = []byte("257 \"/\" is the current directory\r\n")
	rTypeOK   = []byte("200 Type set\r\n")
	rOK       = []byte("200 OK\r\n")
	rCwd      = []byte("250 Directory changed\r\n")
	rSyst     = []byte("215 UNIX Type: L8\r\n")
	rFeat     = []byte("211-Features:\r\n SIZE\r\n EPSV\r\n211 End\r\n")
	rOpening  = []byte("150 Opening data connection\r\n")
	rDone     = []byte("226 Transfer complete\r\n")
	rNoFile   = []byte("550 No such file\r\n")
	rNoData   = []byte("425 Use EPSV or PASV first\r\n")
	rDataFail = []byte("425 Cannot open data connection\r\n")
	rAborted  = []byte("426 Connection closed; transfer aborted\r\n")
	rBye      = []byte("221 Goodbye\r\n")
	rUnknown  = []byte("502 Command not implemented\r\n")
	rSyntax   = []byte("501 Syntax error\r\n")
	rNoPort   = []byte("421 No data port available\r\n")
	rAuthOK   = []byte("234 Proceed with TLS negotiation\r\n")
	rNoTLS    = []byte("504 Only AUTH TLS is supported\r\n")
	rPbsz     = []byte("200 PBSZ=0\r\n")
	rProt     = []byte("200 Protection level set\r\n")
	rNoProt   = []byte("536 Only PROT C and PROT P are supported\r\n")
	rNeedAuth = []byte("503 AUTH TLS first\r\n")
)

type conn struct {
	s      *Server
	c      net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	user   []byte
	logged bool
	data   *net.TCPListener // leased by EPSV/PASV, not yet used
	secure bool             // the control connection runs TLS (after AUTH TLS)
	prot   bool             // PROT P: data connections run TLS
}

func (s *Server) serve(nc net.Conn) {
	defer s.wg.Done()
	defer s.forget(nc)
	c := &conn{s: s, c: nc, r: bufio.NewReaderSize(nc, 512), w: bufio.NewWriterSize(nc, 512)}
	defer c.dropData()
	if s.opts.Accepted != nil {
		s.opts.Accepted(nc, nil)
	}
	if !c.reply(rGreeting) {
		return
	}
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return
		}
		line = bytes.TrimRight(line, "\r\n")
		verb, arg := line, []byte(nil)
		if i := bytes.IndexByte(line, ' '); i >= 0 {
			verb, arg = line[:i], line[i+1:]
		}
		if !c.command(verb, arg) {
			return
		}
	}
}

func (c *conn) reply(b []byte) bool {
	if _, err := c.w.Write(b); err != nil {
		return false
	}
	return c.w.Flush() == nil
}

func is(verb []byte, want string) bool { return len(verb) == len(want) && upperEq(verb, want) }

func upperEq(b []byte, s string) bool {
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		if ch != s[i] {
			return false
		}
	}
	return true
}

// command answers one command; false ends the session.
func (c *conn) command(verb, arg []byte) bool {
	switch {
	case is(verb, "USER"):
		c.user = append(c.user[:0], arg...)
		c.logged = false
		switch {
		case bytes.HasPrefix(c.user, []byte("stall")):
			// Say nothing; wait for the client to give up.
			_, _ = io.Copy(io.Discard, c.r)
			return false
		case bytes.HasPrefix(c.user, []byte("drop")):
			return false
		}
		return c.reply(rUserOK)
	case is(verb, "PASS"):
		if len(c.user) == 0 || bytes.HasPrefix(c.user, []byte("fail")) {
			return c.reply(rBadLogin)
		}
		c.logged = true
		c.s.loggedIn.Add(1)
		return c.reply(rLoggedIn)
	case is(verb, "QUIT"):
		c.s.quits.Add(1)
		c.reply(rBye)
		return false
	case is(verb, "FEAT"):
		return c.reply(rFeat)
	case is(verb, "NOOP"):
		return c.reply(rOK)
	case is(verb, "SYST"):
		return c.reply(rSyst)
	case is(verb, "AUTH"):
		return c.authTLS(arg)
	case is(verb, "PBSZ"):
		if !c.secure {
			return c.reply(rNeedAuth)
		}
		return c.reply(rPbsz)
	case is(verb, "PROT"):
		switch {
		case !c.secure:
			return c.reply(rNeedAuth)
		case is(arg, "P"):
			c.prot = true
		case is(arg, "C"):
			c.prot = false
		default:
			return c.reply(rNoProt)
		}
		return c.reply(rProt)
	}
	if !c.logged {
		return c.reply(rNotIn)
	}
	switch {
	case is(verb, "PWD"), is(verb, "XPWD"):
		return c.reply(rPwd)
	case is(verb, "TYPE"):
		return c.reply(rTypeOK)
	case is(verb, "OPTS"), is(verb, "MODE"), is(verb, "STRU"):
		return c.reply(rOK)
	case is(verb, "CWD"), is(verb, "CDUP"):
		return c.reply(rCwd)
	case is(verb, "SIZE"):
		n, ok := c.s.size(arg)
		if !ok {
			return c.reply(rNoFile)
		}
		return c.reply([]byte("213 " + strconv.FormatInt(n, 10) + "\r\n"))
	case is(verb, "EPSV"), is(verb, "PASV"):
		return c.passive(is(verb, "PASV"))
	case is(verb, "LIST"):
		return c.transfer(func(w io.Writer) error { _, err := w.Write(Listing); return err })
	case is(verb, "NLST"):
		return c.transfer(func(w io.Writer) error { _, err := w.Write(nameList); return err })
	case is(verb, "RETR"):
		name := bytes.TrimPrefix(arg, []byte("/"))
		switch string(name) {
		case SmallName:
			return c.transfer(func(w io.Writer) error { _, err := w.Write(Small); return err })
		case BigName:
			return c.transfer(c.s.sendBig)
		}
		c.dropData()
		return c.reply(rNoFile)
	}
	return c.reply(rUnknown)
}

func (s *Server) size(arg []byte) (int64, bool) {
	switch string(bytes.TrimPrefix(arg, []byte("/"))) {
	case SmallName:
		return int64(len(Small)), true
	case BigName:
		return s.opts.BigSize, true
	}
	return 0, false
}

func (c *conn) passive(pasv bool) bool {
	c.dropData()
	l, err := c.s.lease()
	if err != nil {
		return c.reply(rNoPort)
	}
	c.data = l
	port := l.Addr().(*net.TCPAddr).Port
	if pasv {
		return c.reply([]byte("227 Entering Passive Mode (127,0,0,1," +
			strconv.Itoa(port>>8) + "," + strconv.Itoa(port&0xff) + ")\r\n"))
	}
	return c.reply([]byte("229 Entering Extended Passive Mode (|||" + strconv.Itoa(port) + "|)\r\n"))
}

// dropData closes a leased listener that was not used: a connection may be
// waiting in its backlog, so it must not go back to the pool.
func (c *conn) dropData() {
	if c.data != nil {
		c.data.Close()
		c.data = nil
	}
}

// transfer accepts the data connection, sends 150, the body, closes the data
// connection and then sends 226.
func (c *conn) transfer(body func(io.Writer) error) bool {
	l := c.data
	if l == nil {
		return c.reply(rNoData)
	}
	c.data = nil
	_ = l.SetDeadline(time.Now().Add(c.s.opts.DataTimeout))
	dc, err := l.AcceptTCP()
	if err != nil {
		l.Close()
		return c.reply(rDataFail)
	}
	_ = l.SetDeadline(time.Time{})
	c.s.give(l)
	if c.s.opts.Accepted != nil {
		c.s.opts.Accepted(c.c, dc)
	}
	var w io.WriteCloser = dc
	if c.prot {
		// The handshake runs on the first Write, after the 150: a client may
		// start its side only once it has seen the reply.
		w = &countingTLS{tc: tls.Server(dc, c.s.opts.TLS), raw: dc, s: c.s}
	}
	if !c.reply(rOpening) {
		dc.Close()
		return false
	}
	err = body(w)
	if err == nil {
		err = w.Close() // TLS: close_notify first, so the client sees a clean end
	} else {
		dc.Close()
	}
	if err != nil {
		return c.reply(rAborted)
	}
	c.s.transfers.Add(1)
	return c.reply(rDone)
}

// sendBig writes BigSize bytes from one shared buffer.
func (s *Server) sendBig(w io.Writer) error {
	s.mu.Lock()
	if s.big == nil {
		s.big = make([]byte, 256<<10)
		for i := range s.big {
			s.big[i] = byte(i * 7)
		}
	}
	buf := s.big
	s.mu.Unlock()
	for left := s.opts.BigSize; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// authTLS answers AUTH TLS and runs the server side of the handshake on the
// control connection; the session goes on in TLS.
func (c *conn) authTLS(arg []byte) bool {
	if c.s.opts.TLS == nil || c.secure {
		return c.reply(rUnknown)
	}
	if !is(arg, "TLS") && !is(arg, "SSL") && !is(arg, "TLS-C") {
		return c.reply(rNoTLS)
	}
	if !c.reply(rAuthOK) {
		return false
	}
	if c.r.Buffered() > 0 {
		return false // clear text after AUTH TLS: no TLS client would send it
	}
	tc := tls.Server(c.c, c.s.opts.TLS)
	_ = c.c.SetDeadline(time.Now().Add(c.s.opts.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return false
	}
	_ = c.c.SetDeadline(time.Time{})
	c.s.ctrlTLS.Add(1)
	if tc.ConnectionState().DidResume {
		c.s.ctrlResumed.Add(1)
	}
	c.secure = true
	c.user, c.logged = c.user[:0], false
	c.r.Reset(tc)
	c.w.Reset(tc)
	return true
}

// countingTLS is a data connection's TLS side: it counts the handshake, and
// whether it resumed, once it is done.
type countingTLS struct {
	tc   *tls.Conn
	raw  net.Conn
	s    *Server
	done bool // handshake done and counted
}

// handshake runs once, bounded by HandshakeTimeout (the body that follows is not).
func (t *countingTLS) handshake() error {
	if t.done {
		return nil
	}
	_ = t.raw.SetDeadline(time.Now().Add(t.s.opts.HandshakeTimeout))
	if err := t.tc.Handshake(); err != nil {
		return err
	}
	_ = t.raw.SetDeadline(time.Time{})
	t.done = true
	t.s.dataTLS.Add(1)
	if t.tc.ConnectionState().DidResume {
		t.s.dataResumed.Add(1)
	}
	return nil
}

func (t *countingTLS) Write(p []byte) (int, error) {
	if err := t.handshake(); err != nil {
		return 0, err
	}
	return t.tc.Write(p)
}

// Close ends the stream with close_notify. An empty body still gets its
// handshake, so that the client does not read an unauthenticated end.
func (t *countingTLS) Close() error {
	if err := t.handshake(); err != nil {
		t.raw.Close()
		return err
	}
	return t.tc.Close()
}
