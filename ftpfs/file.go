package ftpfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
)

// errStopped ends a stream the reader gave up (Close, Seek).
var errStopped = errors.New("ftpfs: read stopped")

// file is an open remote file. Read streams RETR from the current offset;
// Seek only moves the offset. Read and Seek must not be called at once from
// two goroutines; Close may be called from any.
type file struct {
	fsys  *FS
	name  string
	rpath string
	info  *fileInfo

	mu     sync.Mutex
	pos    int64
	eofAt  int64   // the offset where a stream ended cleanly; -1 none
	x      *stream // the running download, nil before the first Read and after Seek
	closed bool
}

// stream is one RETR from an offset, on a goroutine that holds a session
// and writes into a pipe the reader drains.
type stream struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine is gone and its session released

	mu      sync.Mutex
	started bool // the goroutine holds a session and has begun the download
	stopped bool // the reader gave up
}

// start begins a download from off.
func (f *file) start(off int64) *stream {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(f.fsys.ctx)
	x := &stream{pr: pr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(x.done)
		defer cancel()
		err := f.fsys.sh.p.Do(ctx, func(ctx context.Context, c *client.Client) error {
			if !x.begin() {
				return errStopped
			}
			_, err := c.RetrFromSize(ctx, f.rpath, pw, off, f.info.want)
			return err
		})
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	return x
}

// begin marks the download as started, unless the reader has given up.
func (x *stream) begin() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stopped {
		return false
	}
	x.started = true
	return true
}

// stop gives the download up and waits until its session is back in the
// pool. A download that has begun ends by its writes failing: the client
// closes the data connection and waits for the server's reply, so the
// session stays logged in. Cancelling it instead would end the session. One
// still waiting for a session is cancelled.
func (x *stream) stop() {
	x.mu.Lock()
	x.stopped = true
	started := x.started
	x.mu.Unlock()
	x.pr.CloseWithError(errStopped)
	if !started {
		x.cancel()
	}
	<-x.done
}

// Read reads from the current offset, starting a download if none runs.
func (f *file) Read(p []byte) (int, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	if len(p) == 0 {
		f.mu.Unlock()
		return 0, nil
	}
	if f.x == nil {
		switch {
		case f.pos == f.eofAt, f.pos > 0 && f.info.want >= 0 && f.pos >= f.info.want:
			f.mu.Unlock()
			return 0, io.EOF
		case f.pos > 0 && f.fsys.sh.noRest.Load():
			f.mu.Unlock()
			return 0, f.noRest("read")
		}
		f.x = f.start(f.pos)
	}
	x := f.x
	f.mu.Unlock()

	n, err := x.pr.Read(p) // outside the lock: Close must be able to end it

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.x != x {
		// Closed or moved meanwhile: these bytes belong to no offset.
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	f.pos += int64(n)
	if err == nil {
		return n, nil
	}
	f.x = nil
	<-x.done // the writer has closed the pipe: the goroutine is ending
	if err == io.EOF {
		f.eofAt = f.pos
		return n, io.EOF
	}
	var re *ftp.Error
	if errors.As(err, &re) && re.Verb == "REST" && re.Code/100 == 5 {
		f.fsys.sh.noRest.Store(true)
	}
	return n, pathErr("read", f.name, err)
}

// noRest is the error of a Seek or Read that would need REST, which the
// server refused.
func (f *file) noRest(op string) error {
	return &fs.PathError{Op: op, Path: f.name, Err: classify(&ftp.Error{Code: 502, Verb: "REST", Msg: "refused earlier by this server"})}
}

// Seek sets the offset of the next Read. It sends nothing: the next Read
// starts a download there with REST. io.SeekEnd counts from the size the
// listing or MLST gave.
func (f *file) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrClosed}
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.pos + offset
	case io.SeekEnd:
		if f.info.want < 0 {
			return 0, &fs.PathError{Op: "seek", Path: f.name, Err: errors.New("size unknown: cannot seek from the end")}
		}
		abs = f.info.want + offset
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if abs < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if abs == f.pos {
		return abs, nil
	}
	if abs > 0 && f.fsys.sh.noRest.Load() {
		return 0, f.noRest("seek")
	}
	if f.x != nil {
		x := f.x
		f.x = nil
		x.stop()
	}
	f.pos = abs
	return abs, nil
}

// Stat returns the facts Open found.
func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }

// Close ends a running download and returns its session to the pool.
func (f *file) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	x := f.x
	f.x = nil
	f.mu.Unlock()
	if x != nil {
		x.stop()
	}
	return nil
}

// dir is an open remote folder. Its listing is read at the first ReadDir.
type dir struct {
	fsys  *FS
	name  string
	rpath string
	info  *fileInfo

	mu      sync.Mutex
	entries []fs.DirEntry
	loaded  bool
	off     int
	closed  bool
}

// ReadDir returns the next n entries (all that are left for n <= 0), in
// name order. With n > 0 it returns io.EOF at the end.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: fs.ErrClosed}
	}
	if !d.loaded {
		list, err := d.fsys.readDir(d.rpath)
		if err != nil {
			return nil, pathErr("readdir", d.name, err)
		}
		d.entries, d.loaded = list, true
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.off += len(rest)
	return rest, nil
}

// Read fails: a folder has no bytes.
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errIsDir}
}

// Stat returns the facts Open found.
func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }

// Close releases nothing remote: the listing was read whole.
func (d *dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.name, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}
