package ftptest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"
)

// Steps that break TLS from below: they write to the TCP socket under a TLS
// stream, cut a record in two, split every write into single bytes, or make
// the server's own crypto/tls send a fatal alert. The client's TLS must turn
// each into an error (or, for split writes, into the same bytes).

// tapConn sits between a server-side crypto/tls and its TCP socket: it can
// split writes into single bytes, hold writes back (to cut a record), and
// hand the server's TLS bytes to read that the client never sent.
type tapConn struct {
	net.Conn
	split   bool
	capture *bytes.Buffer // not nil: writes go here instead of the socket
	inject  []byte        // read before the socket
}

func (t *tapConn) Write(p []byte) (int, error) {
	if t.capture != nil {
		return t.capture.Write(p)
	}
	if !t.split {
		return t.Conn.Write(p)
	}
	for i := range p {
		if _, err := t.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func (t *tapConn) Read(p []byte) (int, error) {
	if len(t.inject) > 0 {
		n := copy(p, t.inject)
		t.inject = t.inject[n:]
		return n, nil
	}
	return t.Conn.Read(p)
}

// SplitWrites makes every later write of the server go out one byte per
// write call (TCP_NODELAY is on, so mostly one byte per segment): on the
// control connection, through the TLS that a later StartTLS puts on it, and
// on data connections accepted or connected from now on, TLS or not. The
// client then gets records in as many pieces as the network cares to make.
// Put it before StartTLS to split the handshake too.
func SplitWrites() Step {
	return newStep("SplitWrites()", func(c *Conn) error {
		c.split = true
		if c.tlsCfg != nil {
			return errors.New("SplitWrites after StartTLS: the TLS stream would not be split")
		}
		c.ctrl = &tapConn{Conn: c.ctrl, split: true}
		return nil
	})
}

// TCPSend writes b to the control connection's TCP socket, under its TLS if
// TLS is on: a forged or corrupt record, say.
func TCPSend(b []byte) Step {
	return newStep(fmt.Sprintf("TCPSend(%d bytes)", len(b)), func(c *Conn) error {
		c.raw.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := c.raw.Write(b); err != nil {
			return c.writeErr(err)
		}
		c.srv.logf(c.n, "S: %d raw bytes under TLS", len(b))
		return nil
	})
}

// DataTCPSend writes b to the current data connection's TCP socket, under
// its TLS if it has TLS.
func DataTCPSend(b []byte) Step {
	return newStep(fmt.Sprintf("DataTCPSend(%d bytes)", len(b)), func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		d.raw.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := d.raw.Write(b); err != nil {
			return c.writeErr(err)
		}
		c.srv.logf(c.n, "data: %d raw bytes under TLS", len(b))
		return nil
	})
}

// DataSendCut sends b over the current TLS data connection, but only the
// first len(records)-cut bytes of the records that carry it, and then closes
// the TCP socket (a FIN, no close_notify): the last record is cut in two.
func DataSendCut(b []byte, cut int) Step {
	return newStep(fmt.Sprintf("DataSendCut(%d bytes, cut %d)", len(b), cut), func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		if d.tap == nil {
			return errors.New("DataSendCut needs a TLS data connection (DataAcceptTLS or DataConnectTLS)")
		}
		var rec bytes.Buffer
		d.tap.capture = &rec
		_, err = d.c.Write(b)
		d.tap.capture = nil
		if err != nil {
			return err
		}
		if cut <= 0 || cut >= rec.Len() {
			return fmt.Errorf("cut %d: the records are %d bytes", cut, rec.Len())
		}
		d.raw.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := d.raw.Write(rec.Bytes()[:rec.Len()-cut]); err != nil {
			return c.writeErr(err)
		}
		d.raw.Close()
		c.srv.logf(c.n, "data: sent %d of %d record bytes, then a FIN in the middle of a record", rec.Len()-cut, rec.Len())
		return nil
	})
}

// DataTLSAlert makes the server's crypto/tls on the current data connection
// send a real, encrypted fatal alert (bad_record_mac): it is handed a forged
// record as if the client had sent it, fails to authenticate it, and says so
// to the client. The TCP socket is then closed without close_notify.
func DataTLSAlert() Step {
	return newStep("DataTLSAlert()", func(c *Conn) error {
		d, err := c.dataOrErr()
		if err != nil {
			return err
		}
		if d.tap == nil {
			return errors.New("DataTLSAlert needs a TLS data connection (DataAcceptTLS or DataConnectTLS)")
		}
		d.tap.inject = ForgedRecord(64)
		d.c.SetDeadline(time.Now().Add(c.timeout))
		// Records the client sent already (an upload's) come first: TLS
		// reads the forged one once its own buffer is empty.
		buf := make([]byte, 32<<10)
		var rerr error
		for rerr == nil {
			_, rerr = d.c.Read(buf)
		}
		var oe *net.OpError
		if !errors.As(rerr, &oe) || oe.Op != "local error" {
			return fmt.Errorf("the server's TLS took the forged record: %v", rerr)
		}
		d.raw.Close()
		c.srv.logf(c.n, "data: server TLS sent a fatal alert (%v), then closed", rerr)
		return nil
	})
}

// ForgedRecord returns a TLS 1.2/1.3 application_data record of n random
// bytes: well formed, but no key authenticates it.
func ForgedRecord(n int) []byte {
	b := make([]byte, 5+n)
	b[0], b[1], b[2], b[3], b[4] = 0x17, 0x03, 0x03, byte(n>>8), byte(n)
	rand.Read(b[5:])
	return b
}

// OversizedRecordHeader returns the header of an application_data record
// longer than any TLS version allows (2^14 + 2048 bytes of ciphertext), and
// a few bytes of its body.
func OversizedRecordHeader() []byte {
	n := 1<<14 + 2048 + 1
	return []byte{0x17, 0x03, 0x03, byte(n >> 8), byte(n), 1, 2, 3, 4}
}
