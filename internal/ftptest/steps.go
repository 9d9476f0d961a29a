package ftptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// A Step is one action of a Script. The functions of this package make them;
// Func makes one from any function.
type Step struct {
	name string
	run  func(c *Conn) error
}

// String returns the step as error messages name it, e.g. Expect("QUIT").
func (s Step) String() string { return s.name }

func (s Step) do(c *Conn) error {
	if s.run == nil {
		return errors.New("zero Step: make steps with this package's functions")
	}
	return s.run(c)
}

// A Script is the list of steps that a control connection plays, in order.
// Scripts are plain slices: append joins them.
type Script []Step

func newStep(name string, run func(c *Conn) error) Step { return Step{name: name, run: run} }

// ---- control connection: sending ----

// Reply writes each line followed by CRLF, all in one write. Give several
// lines for a multi-line reply: Reply("211-Features:", " EPSV", "211 End").
func Reply(lines ...string) Step {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	msg := []byte(b.String())
	return newStep("Reply("+quoteList(lines)+")", func(c *Conn) error {
		if err := c.write(msg); err != nil {
			return err
		}
		for _, l := range lines {
			c.srv.logf(c.n, "S: %s", l)
		}
		return nil
	})
}

// RawSend writes s as it is, with no CRLF added: for garbage, partial lines,
// NUL bytes, bare LFs and the like.
func RawSend(s string) Step {
	return newStep(fmt.Sprintf("RawSend(%q)", abbrev(s)), func(c *Conn) error {
		_, err := c.Write([]byte(s))
		return err
	})
}

// SendSlowly writes s one byte at a time, waiting perByte between bytes, so
// that the client gets it split across many reads (a slow-loris server).
func SendSlowly(s string, perByte time.Duration) Step {
	return newStep(fmt.Sprintf("SendSlowly(%q, %v)", abbrev(s), perByte), func(c *Conn) error {
		c.srv.logf(c.n, "S: %q (one byte every %v)", abbrev(s), perByte)
		return c.writeSlowly(c.ctrl, []byte(s), perByte)
	})
}

// writeSlowly writes p to w one byte at a time with a pause between bytes.
func (c *Conn) writeSlowly(w net.Conn, p []byte, perByte time.Duration) error {
	for i := range p {
		if i > 0 {
			if err := c.sleep(perByte); err != nil {
				return err
			}
		}
		w.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := w.Write(p[i : i+1]); err != nil {
			return c.writeErr(err)
		}
	}
	return nil
}

// sleep waits for d, or fails when the server is closed first.
func (c *Conn) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.srv.done:
		return errClosed
	}
}

// SetTimeout sets how long the following steps on this connection wait for
// the client (WithTimeout sets where every connection starts).
func SetTimeout(d time.Duration) Step {
	return newStep(fmt.Sprintf("SetTimeout(%v)", d), func(c *Conn) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v is not positive", d)
		}
		c.timeout = d
		return nil
	})
}

// Delay waits for d (or until the server is closed) before the next step.
func Delay(d time.Duration) Step {
	return newStep(fmt.Sprintf("Delay(%v)", d), func(c *Conn) error { return c.sleep(d) })
}

// InfiniteReply writes prefix and then 'a' bytes with no line end ever, until
// limit bytes have been written in all (limit <= 0: no limit) or the client
// closes the connection; then the script goes on. It reports an error if
// the client stops reading for longer than the timeout while the connection
// stays open.
func InfiniteReply(prefix string, limit int64) Step {
	return newStep(fmt.Sprintf("InfiniteReply(%q, %d)", abbrev(prefix), limit), func(c *Conn) error {
		chunk := bytes.Repeat([]byte{'a'}, 32<<10)
		first := append([]byte(prefix), chunk...)
		var sent int64
		for limit <= 0 || sent < limit {
			p := chunk
			if sent == 0 {
				p = first
			}
			if limit > 0 && int64(len(p)) > limit-sent {
				p = p[:limit-sent]
			}
			c.ctrl.SetWriteDeadline(time.Now().Add(c.timeout))
			n, err := c.ctrl.Write(p)
			sent += int64(n)
			if err != nil {
				if isPeerGone(err) && !c.srv.isClosed() {
					c.srv.logf(c.n, "S: %q + %d bytes of 'a', then the client left", prefix, sent-int64(len(prefix)))
					return nil
				}
				return c.writeErr(err)
			}
		}
		c.srv.logf(c.n, "S: %q + 'a' up to %d bytes in all (no line end)", prefix, sent)
		return nil
	})
}

// EndlessMultiline writes the lines of a multi-line reply with the given code
// ("123-line 1", "123-line 2", ...) and never its last line, until count
// lines have been written (count <= 0: no limit) or the client closes the
// connection; then the script goes on. It reports an error if the client
// stops reading for longer than the timeout while the connection stays open.
func EndlessMultiline(code, count int) Step {
	return newStep(fmt.Sprintf("EndlessMultiline(%d, %d)", code, count), func(c *Conn) error {
		var buf []byte
		n := 0
		for count <= 0 || n < count {
			buf = buf[:0]
			for len(buf) < 16<<10 && (count <= 0 || n < count) {
				n++
				buf = fmt.Appendf(buf, "%d-line %d\r\n", code, n)
			}
			c.ctrl.SetWriteDeadline(time.Now().Add(c.timeout))
			if _, err := c.ctrl.Write(buf); err != nil {
				if isPeerGone(err) && !c.srv.isClosed() {
					c.srv.logf(c.n, "S: %d-line 1 .. %d-line %d, then the client left", code, code, n)
					return nil
				}
				return c.writeErr(err)
			}
		}
		c.srv.logf(c.n, "S: %d-line 1 .. %d-line %d (no last line)", code, code, n)
		return nil
	})
}

// ---- control connection: ending ----

// Close ends the script and closes the server's side of the control
// connection in order (TLS close_notify if TLS is on, then a TCP FIN). The
// server still reads and records what the client sends until the client
// closes too. Data connections stay open until then. A script that runs out
// ends as if it had a Close at its end.
func Close() Step {
	return newStep("Close()", func(c *Conn) error {
		c.hangUp()
		c.srv.logf(c.n, "S: <close>")
		return errHangUp
	})
}

// Reset ends the script and aborts the control connection with a TCP RST
// (SO_LINGER 0, then close), so the client's next read or write fails with
// ECONNRESET.
func Reset() Step {
	return newStep("Reset()", func(c *Conn) error {
		c.raw.SetLinger(0)
		c.raw.Close()
		c.srv.logf(c.n, "S: <reset>")
		return errGone
	})
}

// Stall ends the script and holds the connection open and silent, data
// connections included, until the client closes the control connection or
// the server is closed. What the client sends meanwhile is read and recorded.
func Stall() Step {
	return newStep("Stall()", func(c *Conn) error {
		c.srv.logf(c.n, "S: <stalling>")
		return errStall
	})
}

// ---- control connection: reading ----

// Expect reads one command line and fails unless it is exactly line
// (without its CRLF) and ends with CRLF.
func Expect(line string) Step {
	return expect(fmt.Sprintf("Expect(%q)", line), func(got string) bool { return got == line })
}

// ExpectPrefix reads one command line and fails unless it starts with prefix
// and ends with CRLF.
func ExpectPrefix(prefix string) Step {
	return expect(fmt.Sprintf("ExpectPrefix(%q)", prefix), func(got string) bool { return strings.HasPrefix(got, prefix) })
}

// ExpectAny reads one command line, whatever it says; it fails only if the
// line does not end with CRLF or none comes.
func ExpectAny() Step {
	return expect("ExpectAny()", func(string) bool { return true })
}

func expect(name string, ok func(string) bool) Step {
	return newStep(name, func(c *Conn) error {
		line, crlf, err := c.readLine(true)
		if err != nil {
			return err
		}
		if !ok(line) {
			return fmt.Errorf("client sent %q", line)
		}
		if !crlf {
			return fmt.Errorf("client ended %q with a bare LF, not CRLF", line)
		}
		return nil
	})
}

// ExpectEOF waits for the client to close (or reset) the control connection
// and fails if it sends anything instead or is still there after the timeout.
func ExpectEOF() Step {
	return newStep("ExpectEOF()", func(c *Conn) error {
		line, _, err := c.readLine(true)
		switch {
		case err == nil:
			return fmt.Errorf("client sent %q instead of closing the connection", line)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return err
		case isPeerGone(err):
			c.srv.logf(c.n, "C: <closed>")
			return nil
		}
		return err
	})
}

// ---- TLS ----

// StartTLS runs the server's side of a TLS handshake on the control
// connection (after, say, Reply("234 AUTH TLS OK")); the following steps
// talk TLS, and DataAcceptTLS(nil) uses cfg too. SelfSignedTLS makes a cfg.
func StartTLS(cfg *tls.Config) Step {
	return newStep("StartTLS()", func(c *Conn) error {
		if cfg == nil {
			return errors.New("nil *tls.Config")
		}
		tc := tls.Server(readerConn{c.ctrl, c.r}, cfg)
		c.ctrl.SetDeadline(time.Now().Add(c.timeout))
		if err := tc.Handshake(); err != nil {
			if c.srv.isClosed() {
				return errClosed
			}
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.ctrl.SetDeadline(time.Time{})
		c.ctrl = tc
		c.r = bufio.NewReader(tc)
		c.tlsCfg = cfg
		c.srv.logf(c.n, "<TLS on: %s>", tls.VersionName(tc.ConnectionState().Version))
		return nil
	})
}

// ---- passive mode ----

// PassiveEPSV opens a data listener on 127.0.0.1 (closing the previous one)
// and replies "229 Entering Extended Passive Mode (|||port|)".
func PassiveEPSV() Step {
	return newStep("PassiveEPSV()", func(c *Conn) error {
		port, err := c.ListenData()
		if err != nil {
			return err
		}
		return c.WriteLine(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", port))
	})
}

// PassivePASV opens a data listener on 127.0.0.1 (closing the previous one)
// and replies "227 Entering Passive Mode (127,0,0,1,p1,p2)".
func PassivePASV() Step { return PassivePASVAt("127,0,0,1") }

// PassivePASVAt is PassivePASV advertising host instead of 127,0,0,1 while
// still listening on 127.0.0.1, as a server behind NAT does. host goes into
// the reply as given, dots turned into commas ("192.0.2.1" or "192,0,2,1");
// it may be malformed on purpose.
func PassivePASVAt(host string) Step {
	h := strings.ReplaceAll(host, ".", ",")
	return newStep(fmt.Sprintf("PassivePASVAt(%q)", host), func(c *Conn) error {
		port, err := c.ListenData()
		if err != nil {
			return err
		}
		return c.WriteLine(fmt.Sprintf("227 Entering Passive Mode (%s,%d,%d)", h, port>>8, port&0xff))
	})
}

// ---- data connections ----

// DataAccept accepts the client's next connection to the data listener and
// makes it the current data connection, which the following Data steps use.
// Run it again to accept a second connection on the same listener.
func DataAccept() Step {
	return newStep("DataAccept()", func(c *Conn) error { return c.acceptData(nil) })
}

// DataAcceptTLS is DataAccept followed by the server's side of a TLS
// handshake on the new connection; a nil cfg means the one given to StartTLS.
func DataAcceptTLS(cfg *tls.Config) Step {
	return newStep("DataAcceptTLS()", func(c *Conn) error {
		if cfg = c.dataTLS(cfg); cfg == nil {
			return errors.New("no TLS config: DataAcceptTLS(nil) needs a StartTLS before it")
		}
		return c.acceptData(cfg)
	})
}

func (c *Conn) dataTLS(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		return c.tlsCfg
	}
	return cfg
}

func (c *Conn) acceptData(cfg *tls.Config) error {
	if c.ln == nil {
		return errors.New("no data listener open (missing Passive step, or DataRefuse closed it)")
	}
	c.ln.SetDeadline(time.Now().Add(c.timeout))
	raw, err := c.ln.AcceptTCP()
	if err != nil {
		switch {
		case c.srv.isClosed():
			return errClosed
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("client did not open a data connection within %v", c.timeout)
		}
		return err
	}
	c.srv.logf(c.n, "data: accepted %s", raw.RemoteAddr())
	return c.addData(raw, cfg)
}

// DataConnect makes the data connection in active mode: it dials the address
// of the client's most recent PORT or EPRT command, which must be a loopback
// address, and makes it the current data connection.
func DataConnect() Step {
	return newStep("DataConnect()", func(c *Conn) error { return c.connectData(nil) })
}

// DataConnectTLS is DataConnect followed by the server's side of a TLS
// handshake (in FTPS the server is the TLS server on data connections in
// active mode too); a nil cfg means the one given to StartTLS.
func DataConnectTLS(cfg *tls.Config) Step {
	return newStep("DataConnectTLS()", func(c *Conn) error {
		if cfg = c.dataTLS(cfg); cfg == nil {
			return errors.New("no TLS config: DataConnectTLS(nil) needs a StartTLS before it")
		}
		return c.connectData(cfg)
	})
}

func (c *Conn) connectData(cfg *tls.Config) error {
	if c.lastPort == "" {
		return errors.New("the client sent no PORT or EPRT command")
	}
	addr, err := parseActive(c.lastPort)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: c.timeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("data connection to %s: %w", addr, err)
	}
	c.srv.logf(c.n, "data: connected to %s", addr)
	return c.addData(nc.(*net.TCPConn), cfg)
}

// parseActive returns the loopback address named by a PORT or EPRT command.
func parseActive(cmd string) (string, error) {
	bad := fmt.Errorf("cannot parse %q", cmd)
	var ip net.IP
	var port int
	switch arg := cmd[5:]; strings.ToUpper(cmd[:4]) {
	case "PORT":
		f := strings.Split(strings.TrimSpace(arg), ",")
		if len(f) != 6 {
			return "", bad
		}
		var b [6]byte
		for i, s := range f {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || v < 0 || v > 255 {
				return "", bad
			}
			b[i] = byte(v)
		}
		ip = net.IPv4(b[0], b[1], b[2], b[3])
		port = int(b[4])<<8 | int(b[5])
	default: // EPRT |proto|addr|port|
		if arg == "" {
			return "", bad
		}
		f := strings.Split(arg, arg[:1])
		if len(f) != 5 {
			return "", bad
		}
		ip = net.ParseIP(f[2])
		p, err := strconv.Atoi(f[3])
		if ip == nil || err != nil || p <= 0 || p > 65535 {
			return "", bad
		}
		port = p
	}
	if !ip.IsLoopback() {
		return "", fmt.Errorf("%q names %s, not a loopback address: ftptest connects to loopback only", cmd, ip)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port)), nil
}

// DataNeverAccept does nothing, on purpose: put it where DataAccept would be
// to say that the data listener stays open but the client's connection is
// never accepted (the kernel completes the TCP handshake, then nothing comes).
func DataNeverAccept() Step {
	return newStep("DataNeverAccept()", func(c *Conn) error {
		c.srv.logf(c.n, "data: never accepting")
		return nil
	})
}

// DataRefuse closes the data listener so that the client's connection to it
// is refused (a connection already waiting to be accepted is reset). Placed
// before a Passive step, it makes that step advertise a port that is already
// closed, so the refusal does not depend on timing.
func DataRefuse() Step {
	return newStep("DataRefuse()", func(c *Conn) error {
		if c.ln == nil {
			c.refuseNext = true
			return nil
		}
		c.ln.Close()
		c.ln = nil
		c.srv.logf(c.n, "data: listener closed")
		return nil
	})
}

// DataSend writes b on the current data connection.
func DataSend(b []byte) Step {
	return newStep(fmt.Sprintf("DataSend(%d bytes)", len(b)), func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		d.c.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := d.c.Write(b); err != nil {
			return c.writeErr(err)
		}
		c.srv.logf(c.n, "data: sent %d bytes", len(b))
		return nil
	})
}

// DataSendSlowly writes b on the current data connection one byte at a time,
// waiting perByte between bytes.
func DataSendSlowly(b []byte, perByte time.Duration) Step {
	return newStep(fmt.Sprintf("DataSendSlowly(%d bytes, %v)", len(b), perByte), func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		c.srv.logf(c.n, "data: sending %d bytes, one every %v", len(b), perByte)
		return c.writeSlowly(d.c, b, perByte)
	})
}

// DataReceive reads the current data connection until the client closes it
// (as after STOR) and adds what it read to Server.Received. It fails if the
// connection is reset or nothing comes for longer than the timeout.
func DataReceive() Step {
	return newStep("DataReceive()", func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		var got []byte
		buf := make([]byte, 32<<10)
		for {
			d.c.SetReadDeadline(time.Now().Add(c.timeout))
			n, err := d.c.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				switch {
				case c.srv.isClosed():
					return errClosed
				case errors.Is(err, os.ErrDeadlineExceeded):
					return fmt.Errorf("nothing on the data connection for %v (%d bytes received)", c.timeout, len(got))
				}
				return fmt.Errorf("data connection failed after %d bytes: %w", len(got), err)
			}
		}
		c.srv.addReceived(got)
		c.srv.logf(c.n, "data: received %d bytes, then EOF", len(got))
		return nil
	})
}

// DataClose closes the current data connection (TLS close_notify first if it
// is TLS, then a FIN; if the client sent data that was not read, the kernel
// sends a RST instead).
func DataClose() Step {
	return newStep("DataClose()", func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		d.c.SetWriteDeadline(time.Now().Add(c.timeout))
		d.c.Close()
		c.srv.logf(c.n, "data: closed")
		return nil
	})
}

// DataReset aborts the current data connection with a TCP RST (SO_LINGER 0,
// then close).
func DataReset() Step {
	return newStep("DataReset()", func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		d.raw.SetLinger(0)
		d.raw.Close()
		c.srv.logf(c.n, "data: reset")
		return nil
	})
}

// ---- anything else ----

// Func makes a step of f, which runs in the connection's goroutine with the
// Conn to do anything the other steps do not. An error it returns is reported
// and ends the connection.
func Func(f func(c *Conn) error) Step {
	name := "Func()"
	if _, file, line, ok := runtime.Caller(1); ok {
		name = fmt.Sprintf("Func(%s:%d)", filepath.Base(file), line)
	}
	return newStep(name, f)
}

// ---- helpers ----

func quoteList(lines []string) string {
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = strconv.Quote(abbrev(l))
	}
	return strings.Join(q, ", ")
}

// abbrev shortens long strings for step names and the log.
func abbrev(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
