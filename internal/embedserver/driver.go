package embedserver

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	server "goftp.io/server/v2"
)

// errReadOnly is what the driver returns for a change attempted by a user
// without write access. The command wrappers normally refuse such requests
// with 550 before goftp reaches the driver; this is the second line.
var errReadOnly = errors.New("permission denied: read-only account")

// fsDriver wraps goftp's file driver (driver/file) to add write permission
// checks and UTC modification times, to show what symbolic links point to,
// and to observe when an upload reads its data connection.
type fsDriver struct {
	inner server.Driver
	root  string // the absolute folder served
	srv   *Server
}

var _ server.Driver = (*fsDriver)(nil)

// sessionKey returns the remote address of the session behind ctx, the key
// under which the Server tracks that control connection.
func sessionKey(ctx *server.Context) string {
	if ctx == nil || ctx.Sess == nil {
		return ""
	}
	return ctx.Sess.RemoteAddr().String()
}

// checkWrite refuses changes by anonymous (read-only) users.
func (d *fsDriver) checkWrite(ctx *server.Context) error {
	if ctx == nil || ctx.Sess == nil || !d.srv.canWrite(ctx.Sess.LoginUser()) {
		return errReadOnly
	}
	return nil
}

// Stat implements server.Driver. Times are reported in UTC: goftp formats
// MDTM and MLSD "Modify" facts from ModTime without converting, and RFC 3659
// wants UTC. A symbolic link is described by what it points to: goftp
// would give the link's own lstat facts, which its listings show as a plain
// file of the link's length while RETR reads the target.
func (d *fsDriver) Stat(ctx *server.Context, p string) (os.FileInfo, error) {
	fi, err := d.inner.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if t, err := os.Stat(d.real(p)); err == nil {
			fi = t // a dangling link keeps its own facts
		}
	}
	return utcInfo{fi}, nil
}

// ListDir implements server.Driver: the folder's entries in name order,
// links described by what they point to and times in UTC, as Stat. goftp's
// own ListDir walks with lstat and lists nothing in a folder reached
// through a link.
func (d *fsDriver) ListDir(ctx *server.Context, p string, cb func(os.FileInfo) error) error {
	dir := d.real(p)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // gone since the folder was read
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if t, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
				fi = t
			}
		}
		if err := cb(utcInfo{fi}); err != nil {
			return err
		}
	}
	return nil
}

// real maps a server path to the local one, as goftp's file driver does.
func (d *fsDriver) real(p string) string {
	return filepath.Join(d.root, filepath.FromSlash(path.Clean("/"+p)))
}

// DeleteDir implements server.Driver for users with write access.
func (d *fsDriver) DeleteDir(ctx *server.Context, p string) error {
	if err := d.checkWrite(ctx); err != nil {
		return err
	}
	return d.inner.DeleteDir(ctx, p)
}

// DeleteFile implements server.Driver for users with write access.
func (d *fsDriver) DeleteFile(ctx *server.Context, p string) error {
	if err := d.checkWrite(ctx); err != nil {
		return err
	}
	return d.inner.DeleteFile(ctx, p)
}

// Rename implements server.Driver for users with write access.
func (d *fsDriver) Rename(ctx *server.Context, from, to string) error {
	if err := d.checkWrite(ctx); err != nil {
		return err
	}
	return d.inner.Rename(ctx, from, to)
}

// MakeDir implements server.Driver for users with write access.
func (d *fsDriver) MakeDir(ctx *server.Context, p string) error {
	if err := d.checkWrite(ctx); err != nil {
		return err
	}
	return d.inner.MakeDir(ctx, p)
}

// GetFile implements server.Driver (unchanged goftp file driver).
func (d *fsDriver) GetFile(ctx *server.Context, p string, offset int64) (int64, io.ReadCloser, error) {
	return d.inner.GetFile(ctx, p, offset)
}

// PutFile implements server.Driver for users with write access. The data
// reader is wrapped to note that the passive data socket has been used.
func (d *fsDriver) PutFile(ctx *server.Context, p string, data io.Reader, offset int64) (int64, error) {
	if err := d.checkWrite(ctx); err != nil {
		return 0, err
	}
	if data == nil {
		// goftp passes a nil data socket when STOR/APPE come without
		// PASV/EPSV/PORT; its file driver would panic in io.Copy.
		return 0, errors.New("no data connection")
	}
	return d.inner.PutFile(ctx, p, &touchReader{r: data, srv: d.srv, key: sessionKey(ctx)}, offset)
}

// touchReader reports the first completed Read to the server: goftp's
// passive socket only returns from Read once its Accept has finished.
type touchReader struct {
	r    io.Reader
	srv  *Server
	key  string
	done bool
}

// Read implements io.Reader.
func (t *touchReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if !t.done {
		t.done = true
		t.srv.setTouched(t.key, true)
	}
	return n, err
}

// utcInfo reports a file's modification time in UTC.
type utcInfo struct{ os.FileInfo }

// ModTime implements os.FileInfo.
func (u utcInfo) ModTime() time.Time { return u.FileInfo.ModTime().UTC() }

// authenticator implements server.Auth: named users with their password,
// plus (when enabled) "anonymous" and "ftp" with any password.
type authenticator struct {
	users     map[string]string
	anonymous bool
}

// CheckPasswd implements server.Auth.
func (a *authenticator) CheckPasswd(_ *server.Context, name, pass string) (bool, error) {
	if want, ok := a.users[name]; ok {
		return subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1, nil
	}
	return a.anonymous && isAnonymousName(name), nil
}

// isAnonymousName reports whether name is one of the anonymous login names.
func isAnonymousName(name string) bool {
	return strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")
}

// writeCmd guards a command that changes the tree: users without write
// access get "550 Permission denied" before goftp does anything (goftp's
// STOR would otherwise send "150" first and fail with 450 afterwards).
type writeCmd struct {
	server.Command
	srv *Server
}

// Execute implements server.Command.
func (c writeCmd) Execute(sess *server.Session, param string) {
	if !c.srv.canWrite(sess.LoginUser()) {
		sess.WriteMessage(550, "Permission denied: read-only account")
		return
	}
	c.Command.Execute(sess, param)
}

// passiveCmd wraps PASV and EPSV to remember the announced port, so that
// Close can unblock goftp if the client never connects to it.
type passiveCmd struct {
	server.Command
	srv *Server
}

// Execute implements server.Command.
func (c passiveCmd) Execute(sess *server.Session, param string) {
	before := sess.DataConn()
	c.Command.Execute(sess, param)
	if ds := sess.DataConn(); ds != nil && ds != before {
		c.srv.notePassive(sess.RemoteAddr().String(), ds, ds.Port())
	}
}

// dataCmd wraps the commands that use the data connection (RETR, STOR,
// APPE, LIST, NLST, MLSD). Without a fresh data connection it answers 425.
// Otherwise it notices when the current passive socket has been used: goftp
// drops it (DataConn becomes nil) after a download or a listing, and an
// upload reads it through touchReader.
type dataCmd struct {
	server.Command
	srv *Server
}

// Execute implements server.Command.
func (c dataCmd) Execute(sess *server.Session, param string) {
	key := sess.RemoteAddr().String()
	before := sess.DataConn()
	if before == nil || c.srv.isSpent(key, before) {
		// goftp would panic (recovered, no reply: the client hangs), or
		// for listings claim "226 ... sent N bytes" having sent nothing,
		// or after an upload reuse the finished data connection.
		sess.WriteMessage(425, "Use PASV, EPSV, PORT or EPRT first")
		return
	}
	c.srv.setTouched(key, false)
	c.Command.Execute(sess, param)
	if sess.DataConn() == nil || c.srv.wasTouched(key) {
		c.srv.markUsed(key, before)
	}
}

// quietStatCmd wraps SIZE and STAT <path>. goftp reports a missing path on
// these through the global log package (stderr) besides replying; this
// wrapper sends goftp's exact reply itself for a missing path, and hands
// every other case to goftp.
type quietStatCmd struct {
	server.Command
	srv  *Server
	name string // "SIZE" or "STAT"
}

// Execute implements server.Command.
func (c quietStatCmd) Execute(sess *server.Session, param string) {
	if c.name == "STAT" && param == "" {
		c.Command.Execute(sess, param)
		return
	}
	p := sess.BuildPath(param)
	ctx := &server.Context{Sess: sess, Cmd: c.name, Param: param, Data: map[string]any{}}
	if _, err := c.srv.driver.Stat(ctx, p); err != nil {
		if c.name == "SIZE" {
			sess.WriteMessage(450, fmt.Sprintf("path %s not found", param))
		} else {
			sess.WriteMessage(450, fmt.Sprintf("path %s not found", p))
		}
		return
	}
	c.Command.Execute(sess, param)
}

// activeCmd guards PORT and EPRT: the address must parse and be the
// client's own IP. goftp dials whatever address it is given (an FTP bounce)
// and panics on malformed arguments (recovered, but no reply is sent).
type activeCmd struct {
	server.Command
	name string
}

// Execute implements server.Command.
func (c activeCmd) Execute(sess *server.Session, param string) {
	host, ok := activeHost(c.name, param)
	if !ok {
		sess.WriteMessage(501, "Syntax error in "+c.name+" argument")
		return
	}
	remote, _ := sess.RemoteAddr().(*net.TCPAddr)
	if ip := net.ParseIP(host); ip == nil || remote == nil || !ip.Equal(remote.IP) {
		sess.WriteMessage(501, "Data connections may only go to the client's own address")
		return
	}
	c.Command.Execute(sess, param)
}

// activeHost extracts and sanity-checks the host of a PORT ("h1,h2,h3,h4,
// p1,p2") or EPRT ("|af|host|port|") argument, in the shapes goftp's
// parsers index without checking.
func activeHost(cmd, param string) (string, bool) {
	byteList := func(parts []string) bool {
		for _, p := range parts {
			if n, err := strconv.Atoi(strings.TrimSpace(p)); err != nil || n < 0 || n > 255 {
				return false
			}
		}
		return true
	}
	switch cmd {
	case "PORT":
		parts := strings.Split(param, ",")
		if len(parts) != 6 || !byteList(parts) {
			return "", false
		}
		return strings.Join(parts[:4], "."), true
	case "EPRT":
		if len(param) < 2 {
			return "", false
		}
		parts := strings.Split(param, param[:1])
		if len(parts) != 5 || (parts[1] != "1" && parts[1] != "2") {
			return "", false
		}
		if n, err := strconv.Atoi(parts[3]); err != nil || n < 1 || n > 65535 {
			return "", false
		}
		return parts[2], true
	}
	return "", false
}

// commands returns goftp's default command table with this package's
// wrappers installed. Every wrapper keeps the wrapped command's IsExtend,
// RequireParam and RequireAuth, so FEAT is unchanged apart from LPRT,
// which is removed.
func (s *Server) commands() map[string]server.Command {
	cmds := make(map[string]server.Command, len(server.DefaultCommands()))
	for name, cmd := range server.DefaultCommands() {
		cmds[name] = cmd
	}
	for _, name := range []string{"RETR", "LIST", "NLST", "MLSD", "STOR", "APPE"} {
		cmds[name] = dataCmd{Command: cmds[name], srv: s}
	}
	for _, name := range []string{"STOR", "APPE", "DELE", "MKD", "XMKD", "RMD", "XRMD", "RNFR", "RNTO"} {
		cmds[name] = writeCmd{Command: cmds[name], srv: s}
	}
	for _, name := range []string{"PASV", "EPSV"} {
		cmds[name] = passiveCmd{Command: cmds[name], srv: s}
	}
	for _, name := range []string{"SIZE", "STAT"} {
		cmds[name] = quietStatCmd{Command: cmds[name], srv: s, name: name}
	}
	for _, name := range []string{"PORT", "EPRT"} {
		cmds[name] = activeCmd{Command: cmds[name], name: name}
	}
	// goftp's LPRT calls a method on the data socket before checking that
	// there is one: without an earlier PASV/PORT it panics (recovered, no
	// reply). Nobody needs LPRT; without it FEAT no longer lists it and the
	// command gets "500 Command not found".
	delete(cmds, "LPRT")
	return cmds
}
