package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
)

// Retr downloads path into w and returns the number of bytes written. If the
// session dies during the download, a fresh one resumes it with REST from the
// bytes w has taken, so w sees every byte once, in order.
func (p *Pool) Retr(ctx context.Context, path string, w io.Writer) (int64, error) {
	return p.RetrFrom(ctx, path, w, 0)
}

// RetrFrom is Retr from offset (REST offset, then RETR); w receives the bytes
// from offset on.
func (p *Pool) RetrFrom(ctx context.Context, path string, w io.Writer, offset int64) (int64, error) {
	return p.retr(ctx, path, w, offset, -1)
}

// RetrFromSize is RetrFrom for a caller that already knows the file's size
// (from a listing): no SIZE is sent, and a download of another length fails
// (see client.Client.RetrFromSize). A negative size means unknown.
func (p *Pool) RetrFromSize(ctx context.Context, path string, w io.Writer, offset, size int64) (int64, error) {
	return p.retr(ctx, path, w, offset, size)
}

func (p *Pool) retr(ctx context.Context, path string, w io.Writer, offset, size int64) (int64, error) {
	cw := &countingWriter{w: w}
	err := p.run(ctx, "RETR", path, true, func(ctx context.Context, c *client.Client, a *attempt) error {
		done := cw.n()
		if done > 0 && p.opts.Client.ASCII {
			return noRetry{fmt.Errorf("%w: %s: cannot resume an ASCII download after %d bytes", ftp.ErrUnsupported, path, done)}
		}
		aw := cw.attempt()
		defer cw.seal()
		a.sent = true
		var err error
		if size >= 0 {
			_, err = c.RetrFromSize(ctx, path, aw, offset+done, size)
		} else {
			_, err = c.RetrFrom(ctx, path, aw, offset+done)
		}
		if werr := cw.failed(); werr != nil {
			return noRetry{err} // the caller's writer failed: its error is in err
		}
		return err
	})
	return cw.n(), err
}

// countingWriter counts the bytes the caller's writer has taken, across
// tries. Each try writes through its own generation; seal ends it, so that a
// transfer goroutine of a try that has been given up can never write to w
// after the next try has started.
type countingWriter struct {
	w io.Writer

	mu    sync.Mutex
	count int64
	gen   int
	err   error // the caller's writer failed
}

type attemptWriter struct {
	cw  *countingWriter
	gen int
}

var errStale = errors.New("pool: write from an abandoned transfer")

func (cw *countingWriter) attempt() *attemptWriter {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return &attemptWriter{cw: cw, gen: cw.gen}
}

func (cw *countingWriter) seal() {
	cw.mu.Lock()
	cw.gen++
	cw.mu.Unlock()
}

func (cw *countingWriter) n() int64 {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.count
}

func (cw *countingWriter) failed() error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.err
}

func (aw *attemptWriter) Write(b []byte) (int, error) {
	cw := aw.cw
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if aw.gen != cw.gen {
		return 0, errStale
	}
	n, err := cw.w.Write(b)
	cw.count += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		cw.err = err
	}
	return n, err
}

// Stor uploads r to path. If the session dies during the upload, the pool
// resumes it only where that is safe (see the package doc); otherwise the
// error, wrapped in a *NotResumedError, reaches the caller. It returns the
// bytes read from r.
func (p *Pool) Stor(ctx context.Context, path string, r io.Reader) (int64, error) {
	return p.store(ctx, "STOR", path, r)
}

// Append appends r to path (APPE), resumed like Stor.
func (p *Pool) Append(ctx context.Context, path string, r io.Reader) (int64, error) {
	return p.store(ctx, "APPE", path, r)
}

func (p *Pool) store(ctx context.Context, verb, path string, r io.Reader) (int64, error) {
	cr := newCountingReader(r)
	var last error // the error of the try that sent the command
	err := p.run(ctx, verb, path, true, func(ctx context.Context, c *client.Client, a *attempt) error {
		offset := int64(0)
		if last != nil {
			var err error
			if offset, err = p.resumePoint(ctx, c, verb, path, cr, last); err != nil {
				return err
			}
		}
		a.sent = true
		ar := cr.attempt()
		defer cr.seal()
		var err error
		switch {
		case offset > 0:
			_, err = c.StorFrom(ctx, path, ar, offset) // REST offset + STOR: append at offset
		case verb == "APPE":
			_, err = c.Append(ctx, path, ar)
		default:
			_, err = c.Stor(ctx, path, ar)
		}
		if err != nil {
			last = err
		}
		if rerr := cr.failed(); rerr != nil {
			return noRetry{err} // the caller's reader failed
		}
		return err
	})
	return cr.n(), err
}

// resumePoint decides, on a fresh session, whether an upload that failed with
// last can go on, and from where: only if the server announces REST STREAM
// and the remote file holds exactly what was read from the source, or the
// source can seek back to the remote size. A fresh APPE cannot be resumed
// with REST (REST+APPE is not defined), unless nothing had been sent.
func (p *Pool) resumePoint(ctx context.Context, c *client.Client, verb, path string, cr *countingReader, last error) (int64, error) {
	sent := cr.n()
	refuse := func(why string) (int64, error) {
		return 0, noRetry{&NotResumedError{Op: verb, Path: path, Reason: why, Err: last}}
	}
	f, err := c.Feat(ctx)
	if err != nil {
		return 0, err
	}
	if !strings.EqualFold(f["REST"], "STREAM") {
		return refuse("the server does not announce REST STREAM")
	}
	remote, err := c.Size(ctx, path)
	var fe *ftp.Error
	switch {
	case err != nil && errors.As(err, &fe) && fe.Code/100 == 5 && sent == 0:
		remote = 0 // nothing arrived, not even an empty file
	case err != nil:
		return 0, err
	}
	switch {
	case remote == sent:
	case remote < sent && cr.canSeek():
		if err := cr.rewind(remote); err != nil {
			return refuse("cannot seek the source back to " + fmt.Sprint(remote) + ": " + err.Error())
		}
	default:
		return refuse(fmt.Sprintf("the server holds %d bytes, %d were sent", remote, sent))
	}
	if verb == "APPE" && remote > 0 {
		return refuse("APPE cannot be resumed at an offset")
	}
	return remote, nil
}

// countingReader counts the bytes read from the caller's reader, across
// tries, with the same generations as countingWriter.
type countingReader struct {
	r      io.Reader
	seeker io.Seeker
	start  int64 // the seeker's position when the upload began

	mu    sync.Mutex
	count int64
	gen   int
	err   error
}

type attemptReader struct {
	cr  *countingReader
	gen int
}

func newCountingReader(r io.Reader) *countingReader {
	cr := &countingReader{r: r}
	if r == nil {
		cr.r = strings.NewReader("")
	}
	if s, ok := r.(io.Seeker); ok {
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
			cr.seeker, cr.start = s, pos
		}
	}
	return cr
}

func (cr *countingReader) attempt() *attemptReader {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return &attemptReader{cr: cr, gen: cr.gen}
}

func (cr *countingReader) seal() {
	cr.mu.Lock()
	cr.gen++
	cr.mu.Unlock()
}

func (cr *countingReader) n() int64 {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.count
}

func (cr *countingReader) failed() error {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.err
}

func (cr *countingReader) canSeek() bool { return cr.seeker != nil }

func (cr *countingReader) rewind(to int64) error {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if _, err := cr.seeker.Seek(cr.start+to, io.SeekStart); err != nil {
		return err
	}
	cr.count = to
	return nil
}

func (ar *attemptReader) Read(b []byte) (int, error) {
	cr := ar.cr
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if ar.gen != cr.gen {
		return 0, errStale
	}
	n, err := cr.r.Read(b)
	cr.count += int64(n)
	if err != nil && err != io.EOF {
		cr.err = err
	}
	return n, err
}
