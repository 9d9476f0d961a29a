package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
)

// TestMain fails the package if a goroutine outlives the tests. gnet enrols
// connections through a global ants worker pool, started at init, whose idle
// workers linger for ten seconds; they are not ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

func startServer(t *testing.T) *embedserver.Server {
	t.Helper()
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	return srv
}

func dial(t *testing.T, ctx context.Context, addr string, opts *client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func userOptions() *client.Options {
	return &client.Options{Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword}}
}

func replyCode(err error) int {
	var fe *ftp.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return 0
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestFileCommands runs the non-transfer file commands against goftp: SIZE,
// MDTM, MLST (Stat), MKD, RNFR/RNTO, NLST, DELE, RMD, and checks each against
// the server's disk.
func TestFileCommands(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dial(t, ctx, srv.Addr, userOptions())

	if n, err := c.Size(ctx, "/65537-bytes.bin"); err != nil || n != 65537 {
		t.Errorf("Size: %d %v", n, err)
	}
	if _, err := c.Size(ctx, "/missing"); replyCode(err) != 450 {
		t.Errorf("Size of a missing file: %v, want goftp's 450", err)
	}
	if mt, err := c.ModTime(ctx, "/README.txt"); err != nil || !mt.Equal(embedserver.SampleModTime()) || mt.Location() != time.UTC {
		t.Errorf("ModTime: %v %v", mt, err)
	}
	if _, err := c.ModTime(ctx, "/missing"); replyCode(err) != 450 {
		t.Errorf("ModTime of a missing file: %v", err)
	}

	if err := c.MakeDir(ctx, "/made"); err != nil || !exists(filepath.Join(srv.Root, "made")) {
		t.Fatalf("MakeDir: %v", err)
	}
	if err := c.Rename(ctx, "/one-byte.bin", "/made/moved.bin"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if exists(filepath.Join(srv.Root, "one-byte.bin")) || !exists(filepath.Join(srv.Root, "made", "moved.bin")) {
		t.Errorf("Rename did not move the file on disk")
	}
	if err := c.Rename(ctx, "/missing", "/x"); err == nil {
		t.Errorf("Rename of a missing file succeeded")
	}

	e, err := c.Stat(ctx, "/made/moved.bin")
	if err != nil || e.Name != "moved.bin" || e.Type.String() != "file" || e.Size != 1 || !e.Time.Equal(embedserver.SampleModTime()) {
		t.Errorf("Stat file: %+v %v", e, err)
	}
	if e, err := c.Stat(ctx, "/made"); err != nil || e.Name != "made" || e.Type.String() != "dir" {
		t.Errorf("Stat dir: %+v %v", e, err)
	}
	if _, err := c.Stat(ctx, "/missing"); replyCode(err) != 550 {
		t.Errorf("Stat of a missing path: %v, want 550", err)
	}
	if names, err := c.NameList(ctx, "/made"); err != nil || !slices.Equal(names, []string{"moved.bin"}) {
		t.Errorf("NameList: %q %v", names, err)
	}

	if err := c.Delete(ctx, "/made/moved.bin"); err != nil || exists(filepath.Join(srv.Root, "made", "moved.bin")) {
		t.Errorf("Delete: %v", err)
	}
	if err := c.Delete(ctx, "/made/moved.bin"); replyCode(err) != 550 {
		t.Errorf("Delete of a missing file: %v, want 550", err)
	}
	if err := c.RemoveDir(ctx, "/made"); err != nil || exists(filepath.Join(srv.Root, "made")) {
		t.Errorf("RemoveDir: %v", err)
	}
	if err := c.Cwd(ctx, "/pub/nested"); err != nil {
		t.Errorf("Cwd: %v", err)
	}
	if err := c.Cdup(ctx); err != nil {
		t.Errorf("Cdup: %v", err)
	}
	if p, err := c.Pwd(ctx); err != nil || p != "/pub" {
		t.Errorf("Pwd after Cwd+Cdup: %q %v", p, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestAnonymousWritesRefused: goftp's anonymous user may read but not write;
// each refusal is the server's *ftp.Error and the session goes on.
func TestAnonymousWritesRefused(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dial(t, ctx, srv.Addr, nil)
	if err := c.Delete(ctx, "/README.txt"); replyCode(err) != 550 {
		t.Errorf("anonymous Delete: %v", err)
	}
	if err := c.MakeDir(ctx, "/x"); replyCode(err) != 550 {
		t.Errorf("anonymous MakeDir: %v", err)
	}
	if _, err := c.Stor(ctx, "/x", bytes.NewReader([]byte("x"))); replyCode(err) != 550 || errors.Is(err, ftp.ErrIncomplete) {
		t.Errorf("anonymous Stor: %v, want the 550 refusal", err)
	}
	if n, err := c.Size(ctx, "/README.txt"); err != nil || n <= 0 {
		t.Errorf("Size after the refusals: %d %v", n, err)
	}
	if !exists(filepath.Join(srv.Root, "README.txt")) || exists(filepath.Join(srv.Root, "x")) {
		t.Errorf("anonymous writes changed the tree")
	}
}

// TestStatScripted: Stat reads the entry line of a multi-line 250 (facts in
// any case), and a server without MLST fails it with its 500 reply.
func TestStatScripted(t *testing.T) {
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 ok"),
		ftptest.Expect("MLST dir/a file"),
		ftptest.Reply("250-Listing dir/a file", " TYPE=file;SIZE=1234;MODIFY=20230405060708.5;UNIX.mode=0644; dir/a file", "250 End"),
		ftptest.Expect("MLST"), ftptest.Reply("500 MLST not understood"),
		ftptest.Expect("MLST x"), ftptest.Reply("250-Listing x", "250 End"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dial(t, ctx, srv.Addr, nil)
	e, err := c.Stat(ctx, "dir/a file")
	if err != nil || e.Name != "dir/a file" || e.Type.String() != "file" || e.Size != 1234 ||
		!e.Time.Equal(time.Date(2023, 4, 5, 6, 7, 8, 500e6, time.UTC)) || e.Facts["unix.mode"] != "0644" {
		t.Errorf("Stat: %+v %v", e, err)
	}
	if _, err := c.Stat(ctx, ""); replyCode(err) != 500 {
		t.Errorf("Stat without MLST support: %v", err)
	}
	if _, err := c.Stat(ctx, "x"); !errors.Is(err, ftp.ErrProtocol) {
		t.Errorf("Stat with no entry line: %v, want a protocol error", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
	srv.Wait()
}

// watchWriter fails the test if it is written after Retr has returned.
type watchWriter struct {
	t        *testing.T
	returned atomic.Bool
	n        atomic.Int64
}

func (w *watchWriter) Write(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond) // a slow sink: the cancel finds a Write in progress
	if w.returned.Load() {
		w.t.Errorf("Write of %d bytes still running after Retr returned", len(p))
	}
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// TestCancelOffLoopRetr: a context cancelled during an off-loop download ends
// the session at once; Retr returns an error wrapping ftp.ErrCanceled and
// context.Canceled only when the data goroutine no longer uses the writer.
func TestCancelOffLoopRetr(t *testing.T) {
	srv := startServer(t)
	if _, err := embedserver.WriteBigFile(srv.Root, "big.bin", 32<<20); err != nil {
		t.Fatal(err)
	}
	bg, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	c := dial(t, bg, srv.Addr, nil)
	ctx, cancel := context.WithCancel(bg)
	w := &watchWriter{t: t}
	go func() {
		for w.n.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Retr(ctx, "/big.bin", w)
	w.returned.Store(true)
	if !errors.Is(err, ftp.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("Retr: %v, want canceled", err)
	}
	time.Sleep(100 * time.Millisecond) // a late Write would show up here
	if err := c.Noop(bg); !errors.Is(err, ftp.ErrCanceled) {
		t.Errorf("Noop on the cancelled session: %v", err)
	}
}

var _ io.Writer = (*watchWriter)(nil)
