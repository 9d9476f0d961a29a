// Package activemode holds the socket side of FTP active mode that the
// drivers share: listening in a port range and accepting only the server.
//
// The session (package session) decides when to listen and what to send; the
// drivers (engine, netdriver) call Listen and Accept on a goroutine of their
// own, since both block.
package activemode

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// Listen opens a TCP listener on addr's host: on addr's port when min and max
// are zero, else on the first free port of min..max, tried from a random
// starting point so that concurrent sessions rarely collide.
func Listen(ctx context.Context, addr string, min, max int) (*net.TCPListener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	if min == 0 && max == 0 {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, err
		}
		return ln.(*net.TCPListener), nil
	}
	n := max - min + 1
	if min < 1 || max > 65535 || n < 1 {
		return nil, fmt.Errorf("%w: bad port range %d-%d", ftp.ErrInvalidArgument, min, max)
	}
	start := rand.IntN(n)
	for i := range n {
		p := min + (start+i)%n
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return ln.(*net.TCPListener), nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("ftp: no free port in %d-%d on %s", min, max, host)
}

// MaxRefused bounds how many connections from strangers Accept closes before
// it gives up, so that a flood cannot keep it busy until the deadline.
const MaxRefused = 64

// Accept waits until deadline for one connection from peer (an IP address)
// and returns it. Connections from any other address are closed at once and
// reported to refused (which may be nil); then Accept waits on. On a deadline
// it returns an *ftp.TimeoutError. It does not close ln.
func Accept(ln *net.TCPListener, peer string, deadline time.Time, refused func(from string)) (*net.TCPConn, error) {
	want := net.ParseIP(peer)
	if want == nil {
		return nil, fmt.Errorf("%w: peer %q is not an IP address", ftp.ErrInvalidArgument, peer)
	}
	if err := ln.SetDeadline(deadline); err != nil {
		return nil, err
	}
	for range MaxRefused + 1 {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, &ftp.TimeoutError{Op: "waiting for the server's data connection on " + ln.Addr().String()}
			}
			return nil, err
		}
		from, _ := c.RemoteAddr().(*net.TCPAddr)
		if from != nil && from.IP.Equal(want) {
			return c, nil
		}
		c.SetLinger(0)
		c.Close()
		if refused != nil {
			refused(c.RemoteAddr().String())
		}
	}
	return nil, &ftp.ProtocolError{Reason: fmt.Sprintf("more than %d data connections from other hosts than %s", MaxRefused, peer)}
}
