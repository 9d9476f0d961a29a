// Package idleconn gives a data connection that runs on a goroutine of its own
// (an off-loop transfer on the gnet engine, every transfer on the net.Conn
// driver) an idle timeout: each read and write must make progress within it,
// however long the whole transfer takes. Both drivers use it, so a stalled
// server ends the same way on either: an *ftp.TimeoutError for "data idle".
package idleconn

import (
	"errors"
	"net"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// Chunk is the most one Write sends under one deadline. A source with WriteTo
// (bytes.Reader) hands io.Copy its whole content in one Write; a slow but
// steady server must not make that one call look idle.
const Chunk = 256 << 10

// Conn renews its idle deadline before every read and before every Chunk
// written.
type Conn struct {
	net.Conn
	Idle time.Duration
}

// Read reads with a fresh read deadline.
func (c *Conn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.Idle))
	n, err := c.Conn.Read(p)
	return n, Timeout(err)
}

// Write sends p in pieces of at most Chunk bytes, each with a fresh write
// deadline.
func (c *Conn) Write(p []byte) (int, error) {
	var sent int
	for len(p) > 0 {
		k := min(len(p), Chunk)
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.Idle))
		n, err := c.Conn.Write(p[:k])
		sent += n
		if err != nil {
			return sent, Timeout(err)
		}
		p = p[k:]
	}
	return sent, nil
}

// Timeout turns a network time-out (the deadline passing) into the typed
// *ftp.TimeoutError; other errors, and nil, pass unchanged.
func Timeout(err error) error {
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		return &ftp.TimeoutError{Op: "data idle"}
	}
	return err
}
