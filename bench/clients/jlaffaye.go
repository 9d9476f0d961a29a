package clients

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/asyncftp/asyncftp/internal/benchrun"
)

// RunJlaffaye runs p's scenario with github.com/jlaffaye/ftp, one goroutine per
// session in flight, used the way its documentation shows. Its Login also sends
// FEAT and TYPE I (and OPTS UTF8 ON when FEAT announces UTF8): two commands more
// than the other clients send per lifecycle session.
func RunJlaffaye(ctx context.Context, p benchrun.Params) (benchrun.Report, error) {
	return runBlocking(ctx, p, "jlaffaye", jlImpl{})
}

type jlImpl struct{}

func jlDial(p benchrun.Params) (*ftp.ServerConn, error) {
	opts := []ftp.DialOption{ftp.DialWithTimeout(10 * time.Second)}
	if p.TLS {
		// AUTH TLS after the greeting; its Login then sends PBSZ 0 and PROT P,
		// and its data connections use the same config (and so the same
		// session cache) as the control connection.
		opts = append(opts, ftp.DialWithExplicitTLS(sessionTLS(p)))
	}
	c, err := ftp.Dial(p.Addr, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Login(p.User, p.Password); err != nil {
		c.Quit()
		return nil, err
	}
	return c, nil
}

func (jlImpl) lifecycle(p benchrun.Params) (n int64, err error) {
	c, err := jlDial(p)
	if err != nil {
		return 0, err
	}
	defer func() {
		if qerr := c.Quit(); err == nil {
			err = qerr
		}
	}()
	if _, err := c.CurrentDir(); err != nil {
		return 0, err
	}
	if err := c.Type(ftp.TransferTypeBinary); err != nil {
		return 0, err
	}
	// List reads the whole listing and parses it: what a user calls.
	entries, err := c.List("")
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, fmt.Errorf("LIST: no entries")
	}
	resp, err := c.Retr(p.SmallFile)
	if err != nil {
		return 0, err
	}
	n, err = io.Copy(io.Discard, resp)
	if cerr := resp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != p.SmallSize {
		err = fmt.Errorf("RETR moved %d bytes, want %d", n, p.SmallSize)
	}
	return n, err
}

func (jlImpl) hold(p benchrun.Params, logged func(error), release <-chan struct{}) error {
	c, err := jlDial(p)
	logged(err)
	if err != nil {
		return err
	}
	<-release
	return c.Quit()
}

func (jlImpl) big(p benchrun.Params) (n int64, err error) {
	c, err := jlDial(p)
	if err != nil {
		return 0, err
	}
	defer func() {
		if qerr := c.Quit(); err == nil {
			err = qerr
		}
	}()
	resp, err := c.Retr(p.BigFile)
	if err != nil {
		return 0, err
	}
	n, err = benchrun.CopyDiscard(resp, ReadBuf)
	if cerr := resp.Close(); err == nil {
		err = cerr
	}
	return n, err
}
