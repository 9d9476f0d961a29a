package ftpfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/pool"
)

// maxLinks is how many symbolic links in a row Stat and Open follow.
const maxLinks = 8

// FS is a read-only view of one remote folder and everything below it. Its
// methods may be called from any number of goroutines; each runs on a free
// session of the pool.
type FS struct {
	sh   *shared
	root string // absolute remote path of the folder "." names
	ctx  context.Context
}

// shared is what an FS and the FSs made from it by Sub and WithContext share.
type shared struct {
	p      *pool.Pool
	mlst   bool        // FEAT announces MLST: Stat asks MLST
	noRest atomic.Bool // the server refused REST once: Seek away from 0 fails
}

var (
	_ fs.FS         = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.SubFS      = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)

// New returns the FS whose root is the remote folder root on p's server.
// A relative root (or "") is taken from the login folder, which New asks
// with PWD; ctx bounds New's own commands only. The root must be a folder
// (a link to one is followed). The FS does not own p: close the pool when
// done with every FS made from it.
func New(ctx context.Context, p *pool.Pool, root string) (*FS, error) {
	feat, err := p.Feat(ctx)
	if err != nil {
		return nil, err
	}
	s := &FS{sh: &shared{p: p, mlst: feat.Has("MLST")}, ctx: ctx}
	if !path.IsAbs(root) {
		var pwd string
		err := p.Do(ctx, func(ctx context.Context, c *client.Client) error {
			var err error
			pwd, err = c.Pwd(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !path.IsAbs(pwd) {
			return nil, fmt.Errorf("ftpfs: %w: PWD gave %q, not an absolute path", ftp.ErrUnsupported, pwd)
		}
		root = path.Join(pwd, root)
	}
	root = path.Clean(root)
	info, rpath, err := s.follow(root, ".")
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: classify(err)}
	}
	if !info.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: root, Err: errNotDir}
	}
	s.root, s.ctx = rpath, context.Background()
	return s, nil
}

// Root returns the absolute remote path of the FS's root folder, with links
// resolved.
func (s *FS) Root() string { return s.root }

// WithContext returns a view of the same folder whose operations (and the
// transfers of files it opens) end when ctx ends. Cancelling ctx during a
// transfer ends that session, which the pool replaces.
func (s *FS) WithContext(ctx context.Context) *FS {
	c := *s
	c.ctx = ctx
	return &c
}

// Sub returns the FS rooted at the folder dir names, without asking the
// server whether it exists: its calls fail as those of a missing name do.
func (s *FS) Sub(dir string) (fs.FS, error) {
	if !fs.ValidPath(dir) {
		return nil, &fs.PathError{Op: "sub", Path: dir, Err: fs.ErrInvalid}
	}
	c := *s
	c.root = s.remote(dir)
	return &c, nil
}

// remote maps a valid name to the absolute remote path.
func (s *FS) remote(name string) string { return path.Join(s.root, name) }

// check refuses names fs.ValidPath refuses, and names FTP cannot carry.
func check(op, name string) error {
	if !fs.ValidPath(name) || strings.ContainsAny(name, "\r\n\x00") {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

// Stat returns the facts of the file or folder name, following links.
func (s *FS) Stat(name string) (fs.FileInfo, error) {
	if err := check("stat", name); err != nil {
		return nil, err
	}
	info, _, err := s.follow(s.remote(name), name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return info, nil
}

// Open opens name for reading. A folder gives an fs.ReadDirFile; nothing
// is transferred until the first Read or ReadDir.
func (s *FS) Open(name string) (fs.File, error) {
	if err := check("open", name); err != nil {
		return nil, err
	}
	info, rpath, err := s.follow(s.remote(name), name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if info.IsDir() {
		return &dir{fsys: s, name: name, rpath: rpath, info: info}, nil
	}
	return &file{fsys: s, name: name, rpath: rpath, info: info, eofAt: -1}, nil
}

// ReadDir lists the folder name, sorted by name, without "." and "..".
func (s *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := check("readdir", name); err != nil {
		return nil, err
	}
	info, rpath, err := s.follow(s.remote(name), name)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	if !info.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	list, err := s.readDir(rpath)
	if err != nil {
		return list, pathErr("readdir", name, err)
	}
	return list, nil
}

// ReadFile downloads the file name. A session that dies on the way is
// replaced and the download resumes where it stopped.
func (s *FS) ReadFile(name string) ([]byte, error) {
	if err := check("readfile", name); err != nil {
		return nil, err
	}
	info, rpath, err := s.follow(s.remote(name), name)
	if err != nil {
		return nil, pathErr("readfile", name, err)
	}
	if info.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	var buf bytes.Buffer
	buf.Grow(int(min(max(info.want, 0), 64<<20)) + bytes.MinRead)
	if _, err := s.sh.p.RetrFromSize(s.ctx, rpath, &buf, 0, info.want); err != nil {
		return nil, pathErr("readfile", name, err)
	}
	return buf.Bytes(), nil
}

// readDir lists the remote folder rpath as sorted DirEntries.
func (s *FS) readDir(rpath string) ([]fs.DirEntry, error) {
	res, err := s.sh.p.List(s.ctx, rpath)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(res.Entries))
	var bad []error
	for _, e := range res.Entries {
		if e.Name == "" || strings.Contains(e.Name, "/") {
			bad = append(bad, fmt.Errorf("%w: entry %q is no name in a folder", ftp.ErrUnsafePath, e.Name))
			continue
		}
		out = append(out, dirEntry{newInfo(e.Name, e)})
	}
	for _, b := range res.Bad {
		bad = append(bad, b)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	out = slices.CompactFunc(out, func(a, b fs.DirEntry) bool { return a.Name() == b.Name() })
	if len(bad) > 0 {
		return out, fmt.Errorf("listing of %s: %w", rpath, errors.Join(bad...))
	}
	return out, nil
}

// lstat returns the facts of rpath without following a link, named name's
// last element.
func (s *FS) lstat(rpath, name string) (*fileInfo, error) {
	if s.sh.mlst {
		e, err := s.sh.p.Stat(s.ctx, rpath)
		if err != nil {
			return nil, err
		}
		if rpath != "/" && linkLike(e) {
			// proftpd answers MLST of a symbolic link with the target's
			// type and the link's own size and mode (0777), so such an
			// entry is checked against the folder's listing, which shows
			// links as links.
			if fi, err := s.fromParent(rpath, name); err == nil {
				return fi, nil
			}
		}
		return newInfo(path.Base(name), e), nil
	}
	if rpath == "/" {
		// Nothing lists the top folder; it exists.
		return &fileInfo{name: path.Base(name), mode: fs.ModeDir | 0o555, want: -1}, nil
	}
	return s.fromParent(rpath, name)
}

// linkLike reports an MLST entry that may describe a symbolic link by its
// lstat mode: UNIX.mode 0777 on something that is not a link.
func linkLike(e listing.Entry) bool {
	return e.Type != listing.Link && e.Facts["unix.mode"] != "" && strings.TrimLeft(e.Facts["unix.mode"], "0") == "777"
}

// fromParent finds rpath in the listing of its folder.
func (s *FS) fromParent(rpath, name string) (*fileInfo, error) {
	parent, base := path.Dir(rpath), path.Base(rpath)
	res, err := s.sh.p.List(s.ctx, parent)
	if err != nil {
		return nil, err
	}
	for _, e := range res.Entries {
		if e.Name == base {
			return newInfo(path.Base(name), e), nil
		}
	}
	if len(res.Bad) > 0 {
		// The name may be on a line no parser understood.
		return nil, fmt.Errorf("%s not in the listing of %s, which has lines not understood: %w", base, parent, res.Bad[0])
	}
	return nil, fmt.Errorf("%w: %s not in the listing of %s", fs.ErrNotExist, base, parent)
}

// follow states rpath, following links, and returns the facts under name's
// last element and the remote path they came from.
func (s *FS) follow(rpath, name string) (*fileInfo, string, error) {
	info, err := s.lstat(rpath, name)
	if err != nil {
		return nil, "", err
	}
	for hops := 0; info.mode&fs.ModeSymlink != 0; hops++ {
		if hops == maxLinks {
			return nil, "", fmt.Errorf("%w: more than %d symbolic links in a row at %s", ftp.ErrUnsupported, maxLinks, rpath)
		}
		target := info.entry.Target
		if target == "" {
			target = s.linkTarget(rpath)
		}
		if target != "" {
			next := target
			if !path.IsAbs(next) {
				next = path.Join(path.Dir(rpath), target)
			}
			ni, err := s.lstat(next, name)
			if err == nil {
				rpath, info = next, ni
				continue
			}
			if !errors.Is(classify(err), fs.ErrNotExist) {
				return nil, "", err
			}
		}
		// No target, or one this view cannot see (outside a chroot): the
		// server follows the link itself.
		info, err = s.probe(rpath, name)
		if err != nil {
			return nil, "", err
		}
	}
	return info, rpath, nil
}

// linkTarget looks the link rpath up in LIST of its folder, for servers whose
// MLSD and MLST name no target. "" when LIST does not say either.
func (s *FS) linkTarget(rpath string) string {
	parent, base := path.Dir(rpath), path.Base(rpath)
	body, err := s.sh.p.ListRaw(s.ctx, "LIST", parent)
	if err != nil {
		return ""
	}
	for _, e := range listing.Parse(body, time.Now()).Entries {
		if e.Name == base && e.Type == listing.Link {
			return e.Target
		}
	}
	return ""
}

// probe asks the server what the link rpath leads to: SIZE answers for a
// file, CWD for a folder. A listing would not do: vsftpd lists a missing
// path as an empty folder. The session goes back to its folder at once.
func (s *FS) probe(rpath, name string) (*fileInfo, error) {
	if n, err := s.sh.p.Size(s.ctx, rpath); err == nil {
		t, _ := s.sh.p.ModTime(s.ctx, rpath) // zero when MDTM fails
		return &fileInfo{name: path.Base(name), size: n, want: n, mode: 0o444, mtime: t}, nil
	}
	err := s.sh.p.Do(s.ctx, func(ctx context.Context, c *client.Client) error {
		back, err := c.Pwd(ctx)
		if err != nil {
			return err
		}
		if err := c.Cwd(ctx, rpath); err != nil {
			return err
		}
		if err := c.Cwd(ctx, back); err != nil {
			c.Close() // in another folder now: the pool replaces the session
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("symbolic link %s leads nowhere: %w", rpath, err)
	}
	return &fileInfo{name: path.Base(name), mode: fs.ModeDir | 0o555, want: -1}, nil
}

// Lstat returns the facts of name without following a final link: a link
// is described as its folder's listing shows it (MLST cannot say, since
// pure-ftpd follows links there). Links in the folders above it are
// followed.
func (s *FS) Lstat(name string) (fs.FileInfo, error) {
	if err := check("lstat", name); err != nil {
		return nil, err
	}
	fi, _, err := s.lstatName(name)
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	return fi, nil
}

// ReadLink returns the target of the link name as the server shows it
// (relative to the link's folder, or an absolute path on the server).
func (s *FS) ReadLink(name string) (string, error) {
	if err := check("readlink", name); err != nil {
		return "", err
	}
	fi, rpath, err := s.lstatName(name)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	if fi.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fmt.Errorf("%w: not a symbolic link", fs.ErrInvalid)}
	}
	target := fi.entry.Target
	if target == "" {
		target = s.linkTarget(rpath)
	}
	if target == "" {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fmt.Errorf("%w: the server does not show the target", errors.ErrUnsupported)}
	}
	return target, nil
}

// lstatName finds name in the listing of its folder (reached through any
// links) and returns its facts and remote path.
func (s *FS) lstatName(name string) (*fileInfo, string, error) {
	if name == "." {
		return s.follow(s.root, name)
	}
	pinfo, parent, err := s.follow(s.remote(path.Dir(name)), path.Dir(name))
	if err != nil {
		return nil, "", err
	}
	if !pinfo.IsDir() {
		return nil, "", errNotDir
	}
	rpath := path.Join(parent, path.Base(name))
	fi, err := s.fromParent(rpath, name)
	return fi, rpath, err
}
