package ftpfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftpfs"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

// leakCheck fails the test if it leaves goroutines or file descriptors behind.
func leakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	fds := countFDs(t)
	t.Cleanup(func() {
		goleak.VerifyNone(t, opt, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
		// Closing is synchronous for every descriptor we own; fewer than
		// before is fine (something earlier may have closed since).
		if n := countFDs(t); n > fds {
			t.Errorf("%d file descriptors open, %d before the test", n, fds)
		}
	})
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err) // not Linux
	}
	return len(ents)
}

// The tree the tests serve: the embedded server's sample tree (spaces,
// UTF-8, empty file and folder, nested folders, files around 64 KiB) with
// a UTF-8 folder and symbolic links to a file and to a folder added.
var extraFiles = map[string]string{
	"日本/ファイル 1.txt": "こんにちは\n",
	"日本/空.txt":      "",
}

var extraLinks = map[string]string{
	"link-to-hello":        "pub/hello.txt",
	"pub/link-to-deeper":   "nested/deeper",
	"日本/link up to readme": "../README.txt",
}

// serveTree writes the test tree, starts the embedded server on it and
// returns the server, its root and the paths fstest must find.
func serveTree(t *testing.T) (*embedserver.Server, string, []string) {
	t.Helper()
	root := t.TempDir()
	files, err := embedserver.GenerateTree(root)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, f.Path)
	}
	for p, body := range extraFiles {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	for p, target := range extraLinks {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	// Files through the link to a folder are found too.
	want = append(want, "pub/link-to-deeper/deep file.bin")
	srv, err := embedserver.Start(embedserver.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	return srv, root, want
}

// newPool logs in to addr with user and password.
func newPool(t *testing.T, addr, user, pass string, size int) *pool.Pool {
	t.Helper()
	p, err := pool.New(nil, addr, session.Config{User: user, Password: session.Secret(pass)}, pool.Options{Size: size})
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("closing the pool: %v", err)
		}
	})
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestFSEmbedded runs fstest.TestFS (every folder listed three ways, every
// file read whole, by ReadFile, in small pieces and after seeks) on the
// embedded server, at its top and at a relative root.
func TestFSEmbedded(t *testing.T) {
	leakCheck(t)
	srv, _, want := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 4)
	ctx := testCtx(t)
	fsys, err := ftpfs.New(ctx, p, "/")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, want...); err != nil {
		t.Fatal(err)
	}
	sub, err := ftpfs.New(ctx, p, "pub") // relative: from the login folder
	if err != nil {
		t.Fatal(err)
	}
	if sub.Root() != "/pub" {
		t.Errorf("Root() = %q, want /pub", sub.Root())
	}
	if err := fstest.TestFS(sub, "hello.txt", "nested/deeper/deep file.bin", "link-to-deeper/deep file.bin"); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Replaced != 0 {
		t.Errorf("%d sessions replaced: a stopped read must leave its session logged in", st.Replaced)
	}
}

// TestFSContent: what the FS reads is what the server holds, byte for byte,
// through names with spaces and UTF-8 and through links.
func TestFSContent(t *testing.T) {
	leakCheck(t)
	srv, root, _ := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 2)
	fsys, err := ftpfs.New(testCtx(t), p, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"1MiB.bin", "name with spaces.txt", "ünïcødé-日本語.txt", "日本/ファイル 1.txt",
		"日本/空.txt", "link-to-hello", "pub/link-to-deeper/deep file.bin", "日本/link up to readme"} {
		local, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(fsys, name)
		if err != nil || !bytes.Equal(got, local) {
			t.Errorf("ReadFile(%q): %d bytes, err %v; want %d bytes", name, len(got), err, len(local))
		}
		fi, err := fs.Stat(fsys, name)
		if err != nil || fi.Size() != int64(len(local)) || fi.IsDir() {
			t.Errorf("Stat(%q) = %v, %v", name, fi, err)
		}
	}
	// A link shows as a link in its folder's listing, and as its target to Stat.
	ents, err := fs.ReadDir(fsys, "pub")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"hello.txt", "link-to-deeper", "nested"}; !slices.Equal(names, want) {
		t.Errorf("ReadDir(pub) = %q, want %q", names, want)
	}
	if fi, err := fs.Stat(fsys, "pub/link-to-deeper"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(link to a folder) = %v, %v", fi, err)
	}
}

// TestFSReadDirN: ReadDir(n > 0) hands out at most n entries, then io.EOF;
// ReadDir(-1) the rest, never io.EOF.
func TestFSReadDirN(t *testing.T) {
	leakCheck(t)
	srv, _, _ := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 1)
	fsys, err := ftpfs.New(testCtx(t), p, "/pub/nested")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	d := f.(fs.ReadDirFile)
	if es, err := d.ReadDir(5); len(es) != 1 || es[0].Name() != "deeper" || !es[0].IsDir() || err != nil {
		t.Errorf("ReadDir(5) = %v, %v", es, err)
	}
	if es, err := d.ReadDir(5); len(es) != 0 || err != io.EOF {
		t.Errorf("ReadDir(5) at the end = %v, %v; want io.EOF", es, err)
	}
	if es, err := d.ReadDir(-1); len(es) != 0 || err != nil {
		t.Errorf("ReadDir(-1) at the end = %v, %v; want nothing, nil", es, err)
	}
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Error("Read of a folder succeeded")
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if _, err := d.ReadDir(1); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadDir after Close: %v", err)
	}
	// Empty folder: EOF at once.
	e, err := fsys.Sub("../../empty-dir")
	if err == nil {
		t.Errorf("Sub(%q) accepted a name with ..: %v", "../../empty-dir", e)
	}
}

// TestFSErrors: missing names give fs.ErrNotExist with the server's reply
// kept, bad names fs.ErrInvalid, and a file is no folder.
func TestFSErrors(t *testing.T) {
	leakCheck(t)
	srv, _, _ := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 1)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"missing.txt", "pub/missing/deeper", "日本/missing"} {
		_, err := fsys.Open(name)
		var pe *fs.PathError
		var fe *ftp.Error
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != name || !errors.As(err, &fe) || fe.Code != 550 {
			t.Errorf("Open(%q): %v; want a *fs.PathError wrapping fs.ErrNotExist and the 550", name, err)
		}
		if _, err := fs.Stat(fsys, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q): %v", name, err)
		}
		if _, err := fs.ReadFile(fsys, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%q): %v", name, err)
		}
		if _, err := fs.ReadDir(fsys, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadDir(%q): %v", name, err)
		}
	}
	for _, name := range []string{"/README.txt", "pub/", "pub/../README.txt", "./README.txt", "", "a\r\nDELE b", "nul\x00"} {
		if _, err := fsys.Open(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v; want fs.ErrInvalid", name, err)
		}
		if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Stat(%q): %v; want fs.ErrInvalid", name, err)
		}
	}
	if _, err := fsys.ReadDir("README.txt"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
	if _, err := fsys.ReadFile("pub"); err == nil {
		t.Error("ReadFile of a folder succeeded")
	}
	if _, err := ftpfs.New(testCtx(t), p, "/README.txt"); err == nil {
		t.Error("New with a file as root succeeded")
	}
	if _, err := ftpfs.New(testCtx(t), p, "/no such folder"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New with a missing root: %v", err)
	}
}

// TestFSCloseEarly: closing a file in the middle of a download stops the
// transfer and gives the session back, logged in: no session is replaced,
// and the same single session serves the next read at once.
func TestFSCloseEarly(t *testing.T) {
	leakCheck(t)
	srv, _, _ := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 1)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(embedserver.PatternReader("1MiB.bin", 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		f, err := fsys.Open("1MiB.bin")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, want[:1000]) {
			t.Fatalf("round %d: first 1000 bytes: err %v", i, err)
		}
		// Seek forward: the running RETR stops, the next Read resumes with REST.
		if off, err := f.(io.Seeker).Seek(700000, io.SeekStart); off != 700000 || err != nil {
			t.Fatalf("Seek: %d, %v", off, err)
		}
		if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, want[700000:701000]) {
			t.Fatalf("round %d: bytes at 700000: err %v", i, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
		if _, err := f.Read(buf); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
	}
	// The pool's only session is free again.
	if b, err := fs.ReadFile(fsys, "pub/hello.txt"); err != nil || !strings.HasPrefix(string(b), "Hello") {
		t.Errorf("ReadFile after early closes: %q, %v", b, err)
	}
	if st := p.Stats(); st.Replaced != 0 || st.Logins != 1 {
		t.Errorf("stats %+v: want the one session, never replaced", st)
	}
}

// TestFSCloseWhileWaiting: a file whose download waits for a session (both
// are busy with other files) closes at once, without a transfer.
func TestFSCloseWhileWaiting(t *testing.T) {
	leakCheck(t)
	srv, _, _ := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 2)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}
	var busy []fs.File
	for _, name := range []string{"1MiB.bin", "65537-bytes.bin", "65536-bytes.bin"} {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		busy = append(busy, f)
	}
	for _, f := range busy[:2] {
		if _, err := f.Read(make([]byte, 10)); err != nil { // each holds a session now
			t.Fatal(err)
		}
	}
	b := busy[2]
	got := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 10)) // waits for a session
		got <- err
	}()
	for p.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err == nil {
		t.Error("Read of a file closed while it waited succeeded")
	}
	for _, f := range busy[:2] {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.Replaced != 0 {
		t.Errorf("stats %+v: no session should be replaced", st)
	}
}

// TestFSOverHTTP: http.FileServerFS serves a byte range (Seek, then REST)
// and a folder listing from the FTP tree.
func TestFSOverHTTP(t *testing.T) {
	leakCheck(t)
	srv, _, _ := serveTree(t)
	p := newPool(t, srv.Addr, embedserver.DefaultUser, embedserver.DefaultPassword, 2)
	fsys, err := ftpfs.New(testCtx(t), p, "/")
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.FileServerFS(fsys))
	defer web.Close()
	get := func(path, rng string) (int, string) {
		req, err := http.NewRequest("GET", web.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := web.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	want, _ := io.ReadAll(embedserver.PatternReader("1MiB.bin", 1<<20))
	if code, body := get("/1MiB.bin", "bytes=500000-500099"); code != http.StatusPartialContent || body != string(want[500000:500100]) {
		t.Errorf("range GET: %d, %d bytes", code, len(body))
	}
	if code, body := get("/%E6%97%A5%E6%9C%AC/", ""); code != http.StatusOK || !strings.Contains(body, "ファイル 1.txt") || !strings.Contains(body, "link up to readme") {
		t.Errorf("folder GET: %d\n%s", code, body)
	}
	if code, _ := get("/missing.txt", ""); code != http.StatusNotFound {
		t.Errorf("GET of a missing file: %d", code)
	}
}
