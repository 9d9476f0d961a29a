// Package ftpfs shows a folder of an FTP server as a read-only io/fs file system,
// over the sessions of a pool: fs.WalkDir, http.FileServerFS and fstest work on it.
//
// An [FS] implements fs.FS, fs.StatFS, fs.ReadDirFS, fs.ReadFileFS,
// fs.SubFS and fs.ReadLinkFS. Names are the slash-separated paths
// fs.ValidPath accepts, relative to the FS's root, a remote folder chosen at
// [New]; each becomes the absolute remote path root/name, so names with
// spaces or any UTF-8 go to the server as they are.
//
// # What each call sends
//
//   - Stat and Open ask MLST when the server announces it in FEAT, and
//     otherwise list the parent folder (MLSD or LIST, as client.List
//     chooses) and pick the name out of it. Both give the same facts the
//     parent's ReadDir gives, which fs.WalkDir and fstest rely on.
//   - ReadDir lists the folder with MLSD or LIST, leaves out its "." and
//     ".." (cdir and pdir), and sorts the entries by name.
//   - A file's Read streams RETR: the transfer runs on a session of its own
//     and hands its bytes through an io.Pipe, so memory stays bounded
//     whatever the file's size, and a file open for reading holds one
//     session of the pool until it reaches its end or is closed. Several
//     files read at once need as many sessions (pool.Options.Size); more
//     wait for a free one. Closing a file before its end closes the data
//     connection: the server answers 426 or 226 and the session goes back
//     to the pool, still logged in.
//   - Seek moves the offset only; the next Read sends REST offset before
//     RETR. A server that refuses REST fails that Read with an error that
//     wraps errors.ErrUnsupported and ftp.ErrUnsupported, and every later
//     Seek away from offset 0 fails the same way at once.
//   - ReadFile downloads with pool.RetrFromSize: a session that dies on
//     the way is replaced and the download resumes with REST.
//
// A download of another length than the listing or MLST announced fails
// (ftp.ErrIncomplete): an incomplete file is never read as complete. Sessions
// should use TYPE I (the default), since sizes count bytes as stored.
//
// # Errors
//
// Every error is an *fs.PathError. Its Err wraps fs.ErrInvalid for names
// fs.ValidPath refuses (and names holding CR, LF or NUL, which FTP cannot
// send); fs.ErrNotExist for a 550 reply, and for 450, 451 and 551 replies
// whose text says the file is missing; fs.ErrPermission for 530, 532 and 553,
// and for any failure reply whose text says "permission denied", "access
// denied" or "not allowed". The server's reply stays reachable with
// errors.As(err, new(*ftp.Error)).
//
// # Symbolic links
//
// A symbolic link that the listing shows as one (LIST "l" lines with their
// "-> target", MLSD type=OS.unix=slink:target or type=OS.unix=symlink)
// appears in ReadDir with fs.ModeSymlink, and its DirEntry.Info and Lstat
// describe the link itself; ReadLink gives its target. Stat and Open follow
// it, as os.DirFS does, up to 8 links in a row: the target is resolved
// relative to the link's folder (an absolute target is a path on the server)
// and stated like any name; when the listing gives no target (proftpd's
// MLSD), LIST of the parent is asked for it. When the target cannot be
// stated (outside the server's chroot, or missing), the server is asked to
// follow the link itself: SIZE succeeds for a file, CWD into it (and back)
// for a folder; otherwise the link leads nowhere (fs.ErrNotExist). Reads and
// listings of a link go to the resolved path.
//
// Servers differ (docs/fs.md has the table): vsftpd, pure-ftpd and proftpd
// list links as links; proftpd answers MLST of a link with the target's
// type but the link's own size and mode 0777, so an MLST entry with
// UNIX.mode 0777 is checked against its folder's listing; goftp would show
// a link's lstat facts as a plain file, so the embedded test server shows
// what links point to.
//
// # Limits
//
// The tree must not change while it is read: a listing, a Stat and a RETR
// are separate commands. LIST hides names that begin with a dot on most
// servers; MLSD shows them. vsftpd treats *, ? and [ in a LIST argument as
// a pattern, so a folder whose name holds them cannot be listed there.
// Operations are bounded by the sessions' timeouts (session.Config), and by
// the context given to WithContext.
package ftpfs
