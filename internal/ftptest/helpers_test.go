package ftptest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// noLeaks checks for leaked goroutines when the test ends. It must be called
// before NewServer, so that its cleanup runs after the server's Close.
func noLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// fakeTB wraps the real test but keeps the errors the server reports, so a
// test can check that the server does report them.
type fakeTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

// wantError fails unless exactly one error was reported and it holds every
// one of parts.
func (f *fakeTB) wantError(t *testing.T, parts ...string) {
	t.Helper()
	errs := f.errors()
	if len(errs) != 1 {
		t.Fatalf("server reported %d errors, want 1: %q", len(errs), errs)
	}
	for _, p := range parts {
		if !strings.Contains(errs[0], p) {
			t.Errorf("error %q does not mention %q", errs[0], p)
		}
	}
}

// client is a bare-hands FTP client for testing the server.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return newClient(t, c)
}

func newClient(t *testing.T, c net.Conn) *client {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

func (c *client) readLine() string {
	c.t.Helper()
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("reply %q does not end with CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

func (c *client) want(line string) {
	c.t.Helper()
	if got := c.readLine(); got != line {
		c.t.Fatalf("got reply %q, want %q", got, line)
	}
}

// cmd sends line and checks the reply.
func (c *client) cmd(line, reply string) {
	c.t.Helper()
	c.send(line)
	c.want(reply)
}

// login plays the login of loginScript.
func (c *client) login() {
	c.t.Helper()
	c.want("220 hello")
	c.cmd("USER anonymous", "331 pw please")
	c.cmd("PASS x", "230 ok")
}

func loginScript() Script {
	return Script{
		Reply("220 hello"),
		Expect("USER anonymous"), Reply("331 pw please"),
		ExpectPrefix("PASS "), Reply("230 ok"),
	}
}

// epsvPort reads a 229 reply and returns the port it gives.
func (c *client) epsvPort() int {
	c.t.Helper()
	line := c.readLine()
	i, j := strings.Index(line, "(|||"), strings.LastIndex(line, "|)")
	if !strings.HasPrefix(line, "229 ") || i < 0 || j < i {
		c.t.Fatalf("bad EPSV reply %q", line)
	}
	p, err := strconv.Atoi(line[i+4 : j])
	if err != nil {
		c.t.Fatalf("bad EPSV reply %q", line)
	}
	return p
}

// pasv reads a 227 reply and returns the host (as a.b.c.d) and port it gives.
func (c *client) pasv() (host string, port int) {
	c.t.Helper()
	line := c.readLine()
	i, j := strings.Index(line, "("), strings.Index(line, ")")
	if !strings.HasPrefix(line, "227 ") || i < 0 || j < i {
		c.t.Fatalf("bad PASV reply %q", line)
	}
	f := strings.Split(line[i+1:j], ",")
	if len(f) != 6 {
		c.t.Fatalf("bad PASV reply %q", line)
	}
	var n [6]int
	for k, s := range f {
		v, err := strconv.Atoi(s)
		if err != nil {
			c.t.Fatalf("bad PASV reply %q", line)
		}
		n[k] = v
	}
	return fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], n[2], n[3]), n[4]<<8 | n[5]
}

// dialData opens a data connection to port on 127.0.0.1.
func dialData(t *testing.T, port int) net.Conn {
	t.Helper()
	d, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatalf("data dial: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	d.SetDeadline(time.Now().Add(30 * time.Second))
	return d
}

// startClientTLS upgrades c's connection to TLS as an FTPS client would.
func (c *client) startTLS(cfg *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("client TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}
