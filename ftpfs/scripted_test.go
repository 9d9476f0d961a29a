package ftpfs_test

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftpfs"
	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// listing is the script part of one listing command answered with body.
func listing(cmd, body string) []ftptest.Step {
	return []ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect(cmd), ftptest.Reply("150 listing"),
		ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
		ftptest.Reply("226 done"),
	}
}

func login(feat ...string) []ftptest.Step {
	return []ftptest.Step{
		ftptest.Reply("220 scripted"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("FEAT"), ftptest.Reply(append(append([]string{"211-Features:"}, feat...), "211 End")...),
	}
}

func join(parts ...[]ftptest.Step) ftptest.Script {
	var s ftptest.Script
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// A server without MLST, whose LIST shows "." and "..", a link with its
// target, and a file it refuses to send.
const (
	listRoot = "drwxr-xr-x  3 ftp ftp 4096 Jan 02  2024 .\r\n" +
		"drwxr-xr-x  3 ftp ftp 4096 Jan 02  2024 ..\r\n" +
		"drwxr-x---  2 ftp ftp 4096 Jan 02  2024 dir\r\n"
	listDir = "total 3\r\n" +
		"drwxr-x---  2 ftp ftp 4096 Jan 02  2024 .\r\n" +
		"drwxr-xr-x  3 ftp ftp 4096 Jan 02  2024 ..\r\n" +
		"-rw-r-----  1 ftp ftp    5 Jan 02  2024 a b.txt\r\n" +
		"lrwxrwxrwx  1 ftp ftp    7 Jan 02  2024 link -> a b.txt\r\n" +
		"-rw-------  1 ftp ftp    3 Jan 02  2024 locked\r\n"
)

// TestFSScriptedLIST: on a server without MLST, Stat reads the parent's LIST,
// a link is followed through its target, ReadDir leaves out "." and "..",
// Seek needs REST (refused here: a clear error, then Seek fails at once), and
// "550 Permission denied" is fs.ErrPermission with the reply kept.
func TestFSScriptedLIST(t *testing.T) {
	leakCheck(t)
	srv := ftptest.NewServer(t, join(
		login(" SIZE"),
		// Stat("dir/link"): the link, then its target, from LIST /dir.
		listing("LIST /dir", listDir), listing("LIST /dir", listDir),
		// ReadDir("dir"): dir from LIST /, then LIST /dir.
		listing("LIST /", listRoot), listing("LIST /dir", listDir),
		// Open("dir/a b.txt"), read it whole.
		listing("LIST /dir", listDir),
		[]ftptest.Step{
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("RETR /dir/a b.txt"), ftptest.Reply("150 here"),
			ftptest.DataAccept(), ftptest.DataSend([]byte("hello")), ftptest.DataClose(),
			ftptest.Reply("226 done"),
			// Seek(2), Read: REST refused.
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("REST 2"), ftptest.Reply("502 REST not implemented"),
			// Seek(0), Read: from the start again, no REST.
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("RETR /dir/a b.txt"), ftptest.Reply("150 here"),
			ftptest.DataAccept(), ftptest.DataSend([]byte("hello")), ftptest.DataClose(),
			ftptest.Reply("226 done"),
		},
		// Open("dir/locked"), Read: refused.
		listing("LIST /dir", listDir),
		[]ftptest.Step{
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("RETR /dir/locked"), ftptest.Reply("550 /dir/locked: Permission denied"),
		},
		// Stat("dir/nothing"): not in the listing.
		listing("LIST /dir", listDir),
		// Lstat("dir/link"), ReadLink("dir/link"), ReadLink("dir/a b.txt"):
		// the folder from LIST /, the name from LIST /dir.
		listing("LIST /", listRoot), listing("LIST /dir", listDir),
		listing("LIST /", listRoot), listing("LIST /dir", listDir),
		listing("LIST /", listRoot), listing("LIST /dir", listDir),
		[]ftptest.Step{ftptest.Expect("QUIT"), ftptest.Reply("221 bye")},
	), ftptest.WithoutLog())
	p := newPool(t, srv.Addr, "", "", 1)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}

	fi, err := fsys.Stat("dir/link")
	if err != nil || fi.Name() != "link" || fi.Size() != 5 || fi.Mode() != 0o640 || fi.IsDir() {
		t.Fatalf("Stat(dir/link) = %v, %v; want the target's facts (5 bytes, 0640) under the link's name", fi, err)
	}

	ents, err := fsys.ReadDir("dir")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, fs.FormatDirEntry(e))
	}
	if want := []string{"- a b.txt", "L link", "- locked"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir(dir) = %q, want %q", got, want)
	}
	if info, _ := ents[1].Info(); info.Size() != 7 || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link entry's Info = %v; want the link itself", info)
	}

	f, err := fsys.Open("dir/a b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); string(b) != "hello" || err != nil {
		t.Errorf("ReadAll = %q, %v", b, err)
	}
	s := f.(io.ReadSeeker)
	if _, err := s.Seek(2, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(make([]byte, 10))
	var fe *ftp.Error
	if !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, ftp.ErrUnsupported) || !errors.As(err, &fe) || fe.Code != 502 {
		t.Errorf("Read after Seek on a server that refuses REST: %v", err)
	}
	if _, err := s.Seek(3, io.SeekStart); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("second Seek: %v; want it refused at once", err)
	}
	if _, err := s.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); string(b) != "hello" || err != nil {
		t.Errorf("ReadAll after Seek(0) = %q, %v", b, err)
	}
	f.Close()

	f, err = fsys.Open("dir/locked")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Read(make([]byte, 10))
	if !errors.Is(err, fs.ErrPermission) || !errors.As(err, &fe) || fe.Code != 550 {
		t.Errorf("Read of a refused file: %v; want fs.ErrPermission and the 550", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "read" || pe.Path != "dir/locked" {
		t.Errorf("error %v is no *fs.PathError for read dir/locked", err)
	}
	f.Close()

	if _, err := fsys.Stat("dir/nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a name the listing lacks: %v", err)
	}

	if fi, err := fsys.Lstat("dir/link"); err != nil || fi.Mode() != fs.ModeSymlink|0o777 || fi.Size() != 7 || fi.Name() != "link" {
		t.Errorf("Lstat(dir/link) = %v, %v; want the link itself", fi, err)
	}
	if target, err := fsys.ReadLink("dir/link"); target != "a b.txt" || err != nil {
		t.Errorf("ReadLink(dir/link) = %q, %v", target, err)
	}
	if _, err := fsys.ReadLink("dir/a b.txt"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink of a file: %v; want fs.ErrInvalid", err)
	}
}

// TestFSScriptedMLST: with MLST, Stat asks it; a link whose MLST names no
// target (proftpd) is looked up in LIST of its folder and followed; a 550
// that says "Permission denied" is fs.ErrPermission, a 550 that does not is
// fs.ErrNotExist.
func TestFSScriptedMLST(t *testing.T) {
	leakCheck(t)
	srv := ftptest.NewServer(t, join(
		login(" MLST type*;size*;modify*;UNIX.mode;", " SIZE", " REST STREAM"),
		[]ftptest.Step{
			ftptest.Expect("MLST /"), ftptest.Reply("250-Listing /", " type=dir;modify=20240102030405;UNIX.mode=0755; /", "250 End"),
			// Stat("l"): a link without target, its LIST line, the target.
			ftptest.Expect("MLST /l"), ftptest.Reply("250-Listing /l", " type=OS.unix=symlink;modify=20240102030405;UNIX.mode=0777; /l", "250 End"),
		},
		listing("LIST /", "lrwxrwxrwx 1 ftp ftp 5 Jan 02  2024 l -> t.txt\r\n-rw-r--r-- 1 ftp ftp 12 Jan 02  2024 t.txt\r\n"),
		[]ftptest.Step{
			ftptest.Expect("MLST /t.txt"), ftptest.Reply("250-Listing /t.txt", " type=file;size=12;modify=20240102030405;UNIX.mode=0644; /t.txt", "250 End"),
			ftptest.Expect("MLST /secret"), ftptest.Reply("550 /secret: Permission denied"),
			ftptest.Expect("MLST /gone"), ftptest.Reply("550 /gone: No such file or directory"),
			ftptest.Expect("MLST /who"), ftptest.Reply("530 Please login with USER and PASS"),
			ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
		},
	), ftptest.WithoutLog())
	p := newPool(t, srv.Addr, "", "", 1)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := fsys.Stat("l")
	if err != nil || fi.Name() != "l" || fi.Size() != 12 || fi.Mode() != 0o644 || fi.ModTime().IsZero() {
		t.Errorf("Stat(l) = %v, %v; want t.txt's facts under the name l", fi, err)
	}
	var fe *ftp.Error
	if _, err := fsys.Stat("secret"); !errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) || !errors.As(err, &fe) {
		t.Errorf("Stat(secret): %v; want fs.ErrPermission", err)
	}
	if _, err := fsys.Stat("gone"); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &fe) || fe.Code != 550 {
		t.Errorf("Stat(gone): %v; want fs.ErrNotExist", err)
	}
	if _, err := fsys.Stat("who"); !errors.Is(err, fs.ErrPermission) || !errors.As(err, &fe) || fe.Code != 530 {
		t.Errorf("Stat(who): %v; want fs.ErrPermission", err)
	}
}

// TestFSScriptedProbe: a link whose target this view cannot see (an
// absolute target outside a chroot) is asked of the server: SIZE fails, CWD
// into it works, so it is a folder, and the session goes back to its folder;
// where CWD fails too, the link leads nowhere: fs.ErrNotExist.
func TestFSScriptedProbe(t *testing.T) {
	leakCheck(t)
	root := "lrwxrwxrwx 1 ftp ftp 9 Jan 02  2024 d -> /srv/pub/d\r\n" +
		"lrwxrwxrwx 1 ftp ftp 7 Jan 02  2024 gone -> nowhere\r\n"
	srv := ftptest.NewServer(t, join(
		login(" SIZE"),
		listing("LIST /", root), // Stat("d"): the link
		[]ftptest.Step{
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("LIST /srv/pub"), ftptest.Reply("550 /srv/pub: No such file or directory"),
			ftptest.Expect("SIZE /d"), ftptest.Reply("550 /d: not a regular file"),
			ftptest.Expect("PWD"), ftptest.Reply(`257 "/home/ftp" is the current directory`),
			ftptest.Expect("CWD /d"), ftptest.Reply("250 OK"),
			ftptest.Expect("CWD /home/ftp"), ftptest.Reply("250 OK"),
		},
		listing("LIST /", root), // Stat("gone"): the link, then its target
		listing("LIST /", root),
		[]ftptest.Step{
			ftptest.Expect("SIZE /gone"), ftptest.Reply("550 /gone: No such file or directory"),
			ftptest.Expect("PWD"), ftptest.Reply(`257 "/home/ftp" is the current directory`),
			ftptest.Expect("CWD /gone"), ftptest.Reply("550 /gone: No such file or directory"),
			ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
		},
	), ftptest.WithoutLog())
	p := newPool(t, srv.Addr, "", "", 1)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := fsys.Stat("d"); err != nil || !fi.IsDir() || fi.Name() != "d" {
		t.Errorf("Stat(d) = %v, %v; want a folder", fi, err)
	}
	var fe *ftp.Error
	if _, err := fsys.Stat("gone"); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &fe) || fe.Verb != "CWD" {
		t.Errorf("Stat(gone) = %v; want fs.ErrNotExist from CWD's 550", err)
	}
}
