package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// partSuffix marks a download in progress: NAME.part becomes NAME only once
// every byte has arrived, so a file under its real name is always complete.
const partSuffix = ".part"

// fetchJob is one download into a folder opened as an *os.Root, so that
// nothing can be written outside it, whatever symbolic links the folder holds.
type fetchJob struct {
	root   *os.Root
	name   string // local name relative to root, slash-separated
	remote string // remote path
	size   int64  // remote size, -1 if unknown
	mtime  time.Time
	resume bool // -c: continue NAME.part, and keep it on failure
	bar    *progress
}

// fetchResult says what a fetch did.
type fetchResult struct {
	bytes  int64 // moved in this run
	offset int64 // resumed from
	total  int64 // size of the finished file
	sha256 string
}

func replyCode(err error) int {
	var fe *ftp.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return 0
}

// retriever downloads a file from an offset: a *client.Client, or a
// *pool.Pool, which also resumes the download on a fresh session when its
// session dies, so that w sees every byte once, in order.
type retriever interface {
	RetrFromSize(ctx context.Context, path string, w io.Writer, offset, size int64) (int64, error)
}

// fetch downloads j.remote into j.root/j.name by way of j.name+".part".
func fetch(ctx context.Context, c retriever, j fetchJob) (res fetchResult, err error) {
	part := j.name + partSuffix
	h := sha256.New()
	f, offset, err := openPart(j.root, part, j.size, j.resume, h)
	if err != nil {
		return res, err
	}
	res.offset = offset
	j.bar.add(offset)
	keep := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil && !keep && !j.resume {
			j.root.Remove(part)
		}
	}()

	if j.size < 0 || offset < j.size || j.size == 0 {
		w := io.MultiWriter(f, h, j.bar.writer())
		n, err := c.RetrFromSize(ctx, j.remote, w, offset, j.size)
		res.bytes = n
		if err != nil {
			return res, err
		}
	}
	if err := f.Sync(); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		f = nil
		return res, err
	}
	f = nil
	if err := j.root.Rename(part, j.name); err != nil {
		keep = true // every byte is there: a retry can pick it up with -c
		return res, err
	}
	if !j.mtime.IsZero() {
		j.root.Chtimes(j.name, j.mtime, j.mtime) // best effort
	}
	res.total = offset + res.bytes
	res.sha256 = hex.EncodeToString(h.Sum(nil))
	return res, nil
}

// openPart opens the .part file: a new one, or with resume an existing one to
// continue (whose bytes are fed to h first). It never follows a symbolic link
// at the .part name: without resume an old entry is removed and the file made
// with O_EXCL; with resume it must be a regular file.
func openPart(root *os.Root, part string, size int64, resume bool, h hash.Hash) (*os.File, int64, error) {
	if resume {
		fi, err := root.Lstat(part)
		switch {
		case err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() <= size):
			f, err := root.OpenFile(part, os.O_RDWR, 0)
			if err != nil {
				return nil, 0, err
			}
			n, err := io.Copy(h, f) // hash what is already there; leaves f at its end
			if err != nil {
				f.Close()
				return nil, 0, err
			}
			return f, n, nil
		case err == nil && !fi.Mode().IsRegular():
			return nil, 0, fmt.Errorf("%w: %s is not a regular file", ftp.ErrUnsafePath, part)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return nil, 0, err
		}
		// Missing, or longer than the remote file (it changed): start again.
	}
	if err := root.Remove(part); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	f, err := root.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	return f, 0, err
}
