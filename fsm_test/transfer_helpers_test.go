package fsm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// Helpers of the transfer tests (transfer_test.go): servers, clients, hashes.

// leakCheck makes t fail if goroutines started during the test outlive it. It
// runs after every cleanup registered later (servers, clients), so call it
// first.
func leakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, opt, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
	})
}

// testCtx bounds a test's FTP calls; a hung transfer fails instead of hanging.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mode is one of the two ways the client moves a transfer's bytes.
type mode struct {
	name   string
	onLoop bool
}

// modes lists both data modes: the client default (bytes on a goroutine of
// their own, real TCP back-pressure) and on the event loop.
var modes = []mode{{"OffLoop", false}, {"OnLoop", true}}

// startEmbed starts the embedded goftp server with its generated tree and
// closes it at cleanup, failing the test if Close reports an error.
func startEmbed(t *testing.T) *embedserver.Server {
	t.Helper()
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatalf("embedserver.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("embedserver.Close: %v", err)
		}
	})
	return srv
}

// embedFile returns the generated file at path (without a leading slash).
func embedFile(t *testing.T, srv *embedserver.Server, path string) embedserver.File {
	t.Helper()
	for _, f := range srv.Files() {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no generated file %q", path)
	return embedserver.File{}
}

// dialEmbed logs in to srv as the read-write user, in the given data mode, and
// closes the client at cleanup. mem, if not nil, receives the transcript.
func dialEmbed(t *testing.T, ctx context.Context, srv *embedserver.Server, onLoop bool, mem *transcript.Memory) *client.Client {
	t.Helper()
	opts := &client.Options{
		Config: session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword},
		OnLoop: onLoop,
	}
	if mem != nil {
		opts.Config.Transcript = mem
	}
	c, err := client.Dial(ctx, srv.Addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// hashSink is a non-blocking io.Writer that hashes what it is given: a sink that
// may run on the event loop.
type hashSink struct {
	h hash.Hash
	n int64
}

func newHashSink() *hashSink { return &hashSink{h: sha256.New()} }

func (s *hashSink) Write(p []byte) (int, error) {
	s.h.Write(p)
	s.n += int64(len(p))
	return len(p), nil
}

func (s *hashSink) Sum() string { return hex.EncodeToString(s.h.Sum(nil)) }

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sumReader hashes r to its end.
func sumReader(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// sumFile hashes the file at path, streaming.
func sumFile(t *testing.T, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return sumReader(t, f)
}

// pattern returns size bytes of the deterministic embedserver pattern for seed.
func pattern(t *testing.T, seed string, size int64) []byte {
	t.Helper()
	b, err := io.ReadAll(embedserver.PatternReader(seed, size))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failingWriter accepts limit bytes, then fails every Write: a sink that breaks
// in the middle of a download.
type failingWriter struct {
	w     io.Writer
	limit int64
	n     int64
}

var errSinkFull = errorString("test sink refuses more bytes")

type errorString string

func (e errorString) Error() string { return string(e) }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n+int64(len(p)) > f.limit {
		k := int(f.limit - f.n)
		if k > 0 {
			f.w.Write(p[:k])
			f.n += int64(k)
		}
		return k, errSinkFull
	}
	f.n += int64(len(p))
	return f.w.Write(p)
}

// slowWriter sleeps before each Write: a blocking sink, only for off-loop use.
// n counts the bytes written, readable from any goroutine.
type slowWriter struct {
	w     io.Writer
	delay time.Duration
	n     atomic.Int64
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.delay)
	n, err := s.w.Write(p)
	s.n.Add(int64(n))
	return n, err
}

// ---- scripted servers ----

// scriptLogin is the login a client.Dial makes as anonymous: greeting, USER,
// PASS, then TYPE I.
func scriptLogin() ftptest.Script {
	return ftptest.Script{
		ftptest.Reply("220 scripted server ready"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 logged in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
	}
}

// scriptQuit answers QUIT and ends the script.
func scriptQuit() ftptest.Script {
	return ftptest.Script{ftptest.Expect("QUIT"), ftptest.Reply("221 bye")}
}

// loginCommands are the command lines scriptLogin expects.
var loginCommands = []string{"USER anonymous", "PASS anonymous@", "TYPE I"}

// script joins script parts.
func script(parts ...ftptest.Script) ftptest.Script {
	var s ftptest.Script
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// steps makes a script part of steps.
func steps(s ...ftptest.Step) ftptest.Script { return s }

// dialScripted starts srv for sc and logs in to it. SkipSize is set unless the
// caller's opts say otherwise through the returned *client.Options hook.
func dialScripted(t *testing.T, ctx context.Context, sc ftptest.Script, mem *transcript.Memory, tweak func(*client.Options)) (*ftptest.Server, *client.Client) {
	t.Helper()
	srv := ftptest.NewServer(t, sc, ftptest.WithTimeout(10*time.Second))
	opts := &client.Options{SkipSize: true}
	if mem != nil {
		opts.Config.Transcript = mem
	}
	if tweak != nil {
		tweak(opts)
	}
	c, err := client.Dial(ctx, srv.Addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

// quitAndCheck sends QUIT, waits for the server to finish reading, and
// compares the commands it saw after the login with want.
func quitAndCheck(t *testing.T, ctx context.Context, srv *ftptest.Server, c *client.Client, want ...string) {
	t.Helper()
	if err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
	srv.Wait()
	got := srv.Commands()
	full := append(append([]string(nil), loginCommands...), append(want, "QUIT")...)
	if !slices.Equal(got, full) {
		t.Errorf("server saw commands\n  %q\nwant\n  %q", got, full)
	}
}

// hasNote reports whether the transcript holds a note containing s.
func hasNote(mem *transcript.Memory, s string) bool {
	for _, e := range mem.Entries() {
		if e.Dir == transcript.Note && strings.Contains(e.Line, s) {
			return true
		}
	}
	return false
}

// noteIndex returns the index of the first entry of dir containing s, or -1.
func entryIndex(mem *transcript.Memory, dir transcript.Dir, s string) int {
	for i, e := range mem.Entries() {
		if e.Dir == dir && strings.Contains(e.Line, s) {
			return i
		}
	}
	return -1
}
