package embedserver

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawClient is a minimal FTP client for tests: one control connection read
// with net/textproto, passive data connections, optional TLS on both.
type rawClient struct {
	t       testing.TB
	conn    net.Conn
	tp      *textproto.Conn
	tlsCfg  *tls.Config // client config; used for the data channel when dataTLS
	dataTLS bool
	// Greeting is the 220 reply text.
	Greeting string
}

// dialRaw connects to addr (plain; or TLS from the first byte if implicit
// is non-nil), reads the greeting and registers cleanup.
func dialRaw(t testing.TB, addr string, implicit *tls.Config) *rawClient {
	t.Helper()
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if implicit != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, implicit)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	rc := &rawClient{t: t, conn: c, tp: textproto.NewConn(c), tlsCfg: implicit}
	t.Cleanup(func() { _ = rc.tp.Close() })
	code, msg := rc.read()
	if code != 220 {
		t.Fatalf("greeting: %d %s", code, msg)
	}
	rc.Greeting = msg
	return rc
}

// read reads one (possibly multi-line) reply.
func (c *rawClient) read() (int, string) {
	c.t.Helper()
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("read reply: %v", err)
	}
	return code, msg
}

// cmd sends one command and returns the reply.
func (c *rawClient) cmd(format string, args ...any) (int, string) {
	c.t.Helper()
	if err := c.tp.PrintfLine(format, args...); err != nil {
		c.t.Fatalf("send %q: %v", format, err)
	}
	return c.read()
}

// expect sends a command and fails the test unless the reply code is want.
func (c *rawClient) expect(want int, format string, args ...any) string {
	c.t.Helper()
	code, msg := c.cmd(format, args...)
	if code != want {
		c.t.Fatalf("%s: got %d %q, want %d", fmt.Sprintf(format, args...), code, msg, want)
	}
	return msg
}

// login logs in and fails the test on anything but 230.
func (c *rawClient) login(user, pass string) {
	c.t.Helper()
	c.expect(331, "USER %s", user)
	c.expect(230, "PASS %s", pass)
}

// authTLS upgrades the control connection with AUTH TLS (explicit FTPS)
// and makes later data connections use TLS too.
func (c *rawClient) authTLS(cfg *tls.Config) {
	c.t.Helper()
	c.expect(234, "AUTH TLS")
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake on control: %v", err)
	}
	c.conn = tc
	c.tp = textproto.NewConn(tc)
	c.tlsCfg = cfg
	c.dataTLS = true
	c.t.Cleanup(func() { _ = tc.Close() })
}

// pasv sends PASV and returns the announced address.
func (c *rawClient) pasv() string {
	c.t.Helper()
	msg := c.expect(227, "PASV")
	addr, err := parsePASV(msg)
	if err != nil {
		c.t.Fatalf("PASV reply %q: %v", msg, err)
	}
	return addr
}

// parsePASV turns "Entering Passive Mode (h1,h2,h3,h4,p1,p2)" into host:port.
func parsePASV(msg string) (string, error) {
	i, j := strings.Index(msg, "("), strings.Index(msg, ")")
	if i < 0 || j < i {
		return "", fmt.Errorf("no address")
	}
	parts := strings.Split(msg[i+1:j], ",")
	if len(parts) != 6 {
		return "", fmt.Errorf("want 6 numbers")
	}
	p1, err1 := strconv.Atoi(parts[4])
	p2, err2 := strconv.Atoi(parts[5])
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("bad port")
	}
	return net.JoinHostPort(strings.Join(parts[:4], "."), strconv.Itoa(p1*256+p2)), nil
}

// openData connects to a passive address, with TLS when the control
// channel was upgraded by AUTH TLS. The TLS handshake is left to the first
// Read or Write: goftp only starts its side of it when the transfer
// command runs, so handshaking before sending RETR/STOR would deadlock.
func (c *rawClient) openData(addr string) net.Conn {
	c.t.Helper()
	d, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		c.t.Fatalf("data dial %s: %v", addr, err)
	}
	_ = d.SetDeadline(time.Now().Add(60 * time.Second))
	if c.dataTLS {
		d = tls.Client(d, c.tlsCfg)
	}
	return d
}

// retr downloads path through PASV and returns the content and the final
// reply. Preceded by "REST offset" when offset > 0.
func (c *rawClient) retr(path string, offset int64) ([]byte, int, string) {
	c.t.Helper()
	d := c.openData(c.pasv())
	defer d.Close()
	if offset > 0 {
		c.expect(350, "REST %d", offset)
	}
	code, msg := c.cmd("RETR %s", path)
	if code != 150 && code != 125 {
		return nil, code, msg
	}
	data, err := io.ReadAll(d)
	if err != nil {
		c.t.Fatalf("RETR %s: read data: %v", path, err)
	}
	code, msg = c.read()
	return data, code, msg
}

// list runs LIST/NLST/MLSD (verb) on path and returns the raw listing.
func (c *rawClient) list(verb, path string) (string, int, string) {
	c.t.Helper()
	d := c.openData(c.pasv())
	defer d.Close()
	line := verb
	if path != "" {
		line += " " + path
	}
	code, msg := c.cmd("%s", line)
	if code != 150 && code != 125 {
		return "", code, msg
	}
	data, err := io.ReadAll(d)
	if err != nil {
		c.t.Fatalf("%s: read data: %v", line, err)
	}
	code, msg = c.read()
	return string(data), code, msg
}

// store uploads content with verb (STOR or APPE), optionally after
// "REST offset", and returns the reply that ends the transfer (or the
// refusal).
func (c *rawClient) store(verb, path string, content io.Reader, offset int64) (int, string) {
	c.t.Helper()
	d := c.openData(c.pasv())
	defer d.Close()
	if offset >= 0 {
		c.expect(350, "REST %d", offset)
	}
	code, msg := c.cmd("%s %s", verb, path)
	if code != 150 && code != 125 {
		return code, msg
	}
	if _, err := io.Copy(d, content); err != nil {
		c.t.Fatalf("%s %s: write data: %v", verb, path, err)
	}
	if err := d.Close(); err != nil {
		c.t.Fatalf("%s %s: close data: %v", verb, path, err)
	}
	return c.read()
}

// sha256Hex returns the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
