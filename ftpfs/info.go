package ftpfs

import (
	"errors"
	"io/fs"
	"strconv"
	"time"

	"github.com/asyncftp/asyncftp/listing"
)

var (
	errIsDir  = errors.New("is a directory")
	errNotDir = errors.New("not a directory")
)

// fileInfo is an fs.FileInfo made from a listing entry or an MLST reply.
type fileInfo struct {
	name  string
	size  int64 // 0 for folders and unknown sizes
	want  int64 // the size a download must have; -1 unknown
	mode  fs.FileMode
	mtime time.Time
	entry listing.Entry // what the server said; Sys returns it
}

// newInfo makes the facts of e, under name. Folders have size 0 (servers
// disagree on what a folder's size is, and MLST and MLSD of one server may
// too). Permissions come from MLSx's UNIX.mode or the mode column of a Unix
// listing; without either, files are 0444 and folders 0555, read-only as
// this view is.
func newInfo(name string, e listing.Entry) *fileInfo {
	fi := &fileInfo{name: name, want: -1, mtime: e.Time, entry: e}
	var typ fs.FileMode
	switch e.Type {
	case listing.Dir:
		typ = fs.ModeDir
	case listing.Link:
		typ = fs.ModeSymlink
	case listing.Other:
		typ = fs.ModeIrregular
	}
	perm, ok := permOf(e)
	if !ok {
		perm = 0o444
		if typ == fs.ModeDir {
			perm = 0o555
		}
	}
	fi.mode = typ | perm
	if typ != fs.ModeDir && e.Size >= 0 {
		fi.size, fi.want = e.Size, e.Size
	}
	return fi
}

// permOf reads the permission bits the entry shows, if any.
func permOf(e listing.Entry) (fs.FileMode, bool) {
	if v, ok := e.Facts["unix.mode"]; ok {
		if n, err := strconv.ParseUint(v, 8, 32); err == nil {
			return fs.FileMode(n) & fs.ModePerm, true
		}
	}
	if e.Format != listing.Unix || len(e.Raw) < 10 {
		return 0, false
	}
	var m fs.FileMode
	for i := 0; i < 9; i++ {
		switch c := e.Raw[1+i]; {
		case c == '-':
		case c == "rwxrwxrwx"[i], i%3 == 2 && (c == 's' || c == 't'):
			m |= 1 << (8 - i)
		case i%3 == 2 && (c == 'S' || c == 'T'):
			// set-id or sticky without execute
		default:
			return 0, false
		}
	}
	return m, true
}

// Name returns the last element of the name it was asked by.
func (fi *fileInfo) Name() string { return fi.name }

// Size returns the size in bytes of a file; 0 for a folder.
func (fi *fileInfo) Size() int64 { return fi.size }

// Mode returns the type bits and the permissions the listing shows.
func (fi *fileInfo) Mode() fs.FileMode { return fi.mode }

// ModTime returns the modification time the listing or MLST shows; zero
// when it shows none.
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }

// IsDir reports whether it is a folder.
func (fi *fileInfo) IsDir() bool { return fi.mode.IsDir() }

// Sys returns the listing.Entry the facts came from (zero when a link was
// followed by asking SIZE and MDTM).
func (fi *fileInfo) Sys() any { return fi.entry }

// dirEntry is a ReadDir entry; its facts come from the folder's listing.
type dirEntry struct{ fi *fileInfo }

func (d dirEntry) Name() string               { return d.fi.name }
func (d dirEntry) IsDir() bool                { return d.fi.IsDir() }
func (d dirEntry) Type() fs.FileMode          { return d.fi.mode.Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.fi, nil }
func (d dirEntry) String() string             { return fs.FormatDirEntry(d) }
