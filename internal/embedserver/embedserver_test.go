package embedserver

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer starts a server with opts and closes it at cleanup,
// failing the test if Close reports an error.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// fileByPath finds a generated file or fails the test.
func fileByPath(t *testing.T, files []File, p string) File {
	t.Helper()
	for _, f := range files {
		if f.Path == p {
			return f
		}
	}
	t.Fatalf("no generated file %q", p)
	return File{}
}

func TestStartClose(t *testing.T) {
	defer goleak.VerifyNone(t)

	s, err := Start(Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr = %q, want 127.0.0.1:<port>", s.Addr)
	}
	if fi, err := os.Stat(filepath.Join(s.Root, "README.txt")); err != nil || fi.Size() == 0 {
		t.Fatalf("generated tree missing in %s: %v", s.Root, err)
	}
	if len(s.Files()) == 0 {
		t.Fatal("Files() is empty for a generated root")
	}

	// Sessions left open by clients: idle, logged in, and one that has
	// announced a passive port it never connects to (goftp waits 60 s).
	idle := dialRaw(t, s.Addr, nil)
	busy := dialRaw(t, s.Addr, nil)
	busy.login("anonymous", "guest@")
	busy.pasv()
	_ = idle

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(s.Root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp root %s still there after Close (err=%v)", s.Root, err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		_ = c.Close()
		t.Error("server still accepts connections after Close")
	}
}

func TestCloseUnblocksAbandonedPassivePorts(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")
	c.pasv() // abandoned: replaced by the next PASV, never connected
	c.expect(229, "EPSV")
	// A failed command leaves the data socket waiting too.
	c.expect(551, "RETR /does-not-exist")
	c.expect(221, "QUIT")

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestCloseWaitsForRunningUpload(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s.Addr, nil)
	c.login(DefaultUser, DefaultPassword)
	d := c.openData(c.pasv())
	c.expect(150, "STOR /slow.bin")
	if _, err := d.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		t.Fatalf("Close returned (%v) while goftp was still reading the upload", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = d.Close() // the transfer ends, so does the session
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the upload ended")
	}
}

func TestAnonymousRetrieveGeneratedFiles(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@example.com")
	c.expect(200, "TYPE I")

	n := 0
	for _, f := range s.Files() {
		if f.Dir {
			continue
		}
		data, code, msg := c.retr("/"+f.Path, 0)
		if code != 226 {
			t.Fatalf("RETR %s: %d %s", f.Path, code, msg)
		}
		if int64(len(data)) != f.Size || sha256Hex(data) != f.SHA256 {
			t.Fatalf("RETR %s: got %d bytes sha %s, want %d bytes sha %s", f.Path, len(data), sha256Hex(data), f.Size, f.SHA256)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d files retrieved", n)
	}

	// "ftp" is the other anonymous name.
	c2 := dialRaw(t, s.Addr, nil)
	c2.login("FTP", "x")
	data, code, _ := c2.retr("/pub/hello.txt", 0)
	if code != 226 || string(data) != "Hello from the asyncftp embedded FTP server.\n" {
		t.Fatalf("RETR as ftp: %d %q", code, data)
	}
}

func TestResumedRetrieveMatchesPattern(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")
	f := fileByPath(t, s.Files(), "65537-bytes.bin")
	const off = 40000
	data, code, msg := c.retr("/"+f.Path, off)
	if code != 226 {
		t.Fatalf("REST+RETR: %d %s", code, msg)
	}
	want := make([]byte, f.Size-off)
	if _, err := PatternReader(f.Path, f.Size).ReadAt(want, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("REST %d RETR returned %d bytes that differ from the pattern", off, len(data))
	}
}

func TestUserStoreRetrieveRoundTrip(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.login(DefaultUser, DefaultPassword)
	c.expect(200, "TYPE I")

	const size = 3*65536 + 17
	want, _ := io.ReadAll(PatternReader("upload", size))
	if code, msg := c.store("STOR", "/incoming file.bin", bytes.NewReader(want), -1); code != 226 {
		t.Fatalf("STOR: %d %s", code, msg)
	}
	got, code, msg := c.retr("/incoming file.bin", 0)
	if code != 226 || !bytes.Equal(got, want) {
		t.Fatalf("RETR after STOR: %d %s, %d bytes, equal=%v", code, msg, len(got), bytes.Equal(got, want))
	}
	if onDisk, err := os.ReadFile(filepath.Join(s.Root, "incoming file.bin")); err != nil || !bytes.Equal(onDisk, want) {
		t.Fatalf("file on disk differs (err=%v)", err)
	}

	c.expect(257, "MKD /newdir")
	c.expect(350, "RNFR /incoming file.bin")
	c.expect(250, "RNTO /newdir/moved.bin")
	if msg := c.expect(213, "SIZE /newdir/moved.bin"); msg != strconv.Itoa(size) {
		t.Fatalf("SIZE = %s", msg)
	}
	c.expect(250, "DELE /newdir/moved.bin")
	c.expect(250, "RMD /newdir")
	c.expect(221, "QUIT")
}

func TestAnonymousWritesRefused(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")

	for _, verb := range []string{"STOR", "APPE"} {
		code, msg := c.store(verb, "/forbidden.txt", strings.NewReader("nope"), -1)
		if code != 550 {
			t.Errorf("anonymous %s: %d %s, want 550", verb, code, msg)
		}
	}
	for _, line := range []string{"DELE /README.txt", "MKD /x", "XMKD /x", "RMD /pub", "XRMD /pub", "RNFR /README.txt", "RNTO /y"} {
		if code, msg := c.cmd("%s", line); code != 550 {
			t.Errorf("anonymous %s: %d %s, want 550", line, code, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root, "forbidden.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("anonymous upload reached the disk (err=%v)", err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "README.txt")); err != nil {
		t.Errorf("README.txt was deleted: %v", err)
	}
}

func TestLoginFailures(t *testing.T) {
	s := startServer(t, Options{Users: map[string]string{"alice": "wonderland"}, NoAnonymous: true})

	c := dialRaw(t, s.Addr, nil)
	c.expect(331, "USER alice")
	c.expect(530, "PASS wrong")
	c.expect(331, "USER asyncftp") // the default user is gone when Users is set
	c.expect(530, "PASS secret")
	c.expect(331, "USER anonymous") // anonymous disabled
	c.expect(530, "PASS guest@")
	c.expect(530, "PASV") // still not logged in
	c.login("alice", "wonderland")
	c.expect(257, "MKD /alice-was-here")

	// Default options: wrong password for the default user.
	d := startServer(t, Options{})
	c2 := dialRaw(t, d.Addr, nil)
	c2.expect(331, "USER "+DefaultUser)
	c2.expect(530, "PASS not-the-password")
}

func TestExplicitFTPS(t *testing.T) {
	srvCfg, cliCfg, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{TLS: srvCfg})
	c := dialRaw(t, s.Addr, nil)
	c.authTLS(cliCfg)
	c.login(DefaultUser, DefaultPassword)
	c.expect(200, "PBSZ 0")
	c.expect(200, "PROT P")

	f := fileByPath(t, s.Files(), "65536-bytes.bin")
	data, code, msg := c.retr("/"+f.Path, 0)
	if code != 226 || sha256Hex(data) != f.SHA256 {
		t.Fatalf("RETR over TLS: %d %s, sha %s want %s", code, msg, sha256Hex(data), f.SHA256)
	}
	payload := bytes.Repeat([]byte("tls upload\n"), 1000)
	if code, msg := c.store("STOR", "/tls.txt", bytes.NewReader(payload), -1); code != 226 {
		t.Fatalf("STOR over TLS: %d %s", code, msg)
	}
	listing, code, msg := c.list("NLST", "/")
	if code != 226 || !strings.Contains(listing, "tls.txt\r\n") {
		t.Fatalf("NLST over TLS: %d %s %q", code, msg, listing)
	}
	c.expect(221, "QUIT")
}

func TestImplicitFTPS(t *testing.T) {
	srvCfg, cliCfg, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{TLS: srvCfg, Implicit: true, WelcomeMessage: "implicit hello"})
	c := dialRaw(t, s.Addr, cliCfg)
	if c.Greeting != "implicit hello" {
		t.Fatalf("greeting %q", c.Greeting)
	}
	if st := c.conn.(*tls.Conn).ConnectionState(); !st.HandshakeComplete {
		t.Fatal("control connection is not TLS")
	}
	c.login("anonymous", "guest@")
	// goftp v2.0.3 never marks an implicit session as TLS, so it refuses
	// PBSZ/PROT and runs the data channel in plain text.
	c.expect(550, "PBSZ 0")
	c.expect(550, "PROT P")
	data, code, msg := c.retr("/pub/hello.txt", 0)
	if code != 226 || string(data) != "Hello from the asyncftp embedded FTP server.\n" {
		t.Fatalf("RETR (plain data under implicit FTPS): %d %s %q", code, msg, data)
	}
	c.expect(221, "QUIT")
}

func TestQuietByDefault(t *testing.T) {
	// goftp's default logger and a few of its commands write through the
	// standard log package; capture it to prove nothing reaches it.
	var std bytes.Buffer
	old := log.Writer()
	log.SetOutput(&std)
	defer log.SetOutput(old)

	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.expect(530, "LIST") // before login
	c.login("anonymous", "guest@")
	c.expect(450, "SIZE /missing")
	c.expect(450, "STAT /missing")
	c.expect(450, "MDTM /missing")
	c.expect(550, "CWD /missing")
	c.retr("/missing", 0)
	c.expect(221, "QUIT")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if std.Len() != 0 {
		t.Fatalf("server wrote to the standard logger:\n%s", std.String())
	}
}

func TestLoggerOption(t *testing.T) {
	var buf bytes.Buffer
	s := startServer(t, Options{Logger: &buf})
	c := dialRaw(t, s.Addr, nil)
	c.login(DefaultUser, DefaultPassword)
	c.expect(221, "QUIT")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String() // safe: nothing is written after Close returns
	for _, want := range []string{"> USER asyncftp", "> PASS ****", "< 230 Password ok, continue", "Connection Established"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, DefaultPassword) {
		t.Errorf("log shows the password:\n%s", out)
	}
}

func TestPassivePortRange(t *testing.T) {
	// Find a free-looking block; goftp retries busy ports 10 times.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := probe.Addr().(*net.TCPAddr).Port
	_ = probe.Close()
	if base > 65000 {
		base = 50000
	}
	low, high := base, base+40
	s := startServer(t, Options{PassivePorts: strconv.Itoa(low) + "-" + strconv.Itoa(high)})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")
	for i := 0; i < 3; i++ {
		addr := c.pasv()
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if port < low || port >= high {
			t.Fatalf("PASV port %d outside [%d,%d)", port, low, high)
		}
		d := c.openData(addr)
		c.expect(150, "RETR /one-byte.bin")
		data, _ := io.ReadAll(d)
		_ = d.Close()
		if code, msg := c.read(); code != 226 || len(data) != 1 {
			t.Fatalf("RETR: %d %s, %d bytes", code, msg, len(data))
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	srvCfg, _, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]Options{
		"implicit without TLS": {Implicit: true},
		"TLS without cert":     {TLS: &tls.Config{}},
		"multi-line welcome":   {WelcomeMessage: "a\r\nb"},
		"ports not a range":    {PassivePorts: "40000"},
		"ports empty range":    {PassivePorts: "40000-40000"},
		"ports reversed":       {PassivePorts: "40100-40000"},
		"ports out of range":   {PassivePorts: "0-10"},
		"missing root":         {Root: filepath.Join(t.TempDir(), "nope")},
		"ports with words":     {PassivePorts: "a-b", TLS: srvCfg},
	}
	for name, o := range bad {
		if s, err := Start(o); err == nil {
			_ = s.Close()
			t.Errorf("%s: Start accepted %+v", name, o)
		}
	}
}

func TestGivenRootIsKept(t *testing.T) {
	dir := t.TempDir()
	files, err := GenerateTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{Root: dir})
	if s.Files() != nil {
		t.Errorf("Files() = %d entries for a given root, want nil", len(s.Files()))
	}
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")
	f := fileByPath(t, files, "pub/nested/deeper/deep file.bin")
	data, code, _ := c.retr("/pub/nested/deeper/deep file.bin", 0)
	if code != 226 || sha256Hex(data) != f.SHA256 {
		t.Fatalf("RETR from given root: %d", code)
	}
	c.expect(221, "QUIT")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.txt")); err != nil {
		t.Fatalf("Close removed a caller's root: %v", err)
	}
}

func TestConcurrentSessions(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := fileByPath(t, s.Files(), "1MiB.bin")
	const clients = 6
	errs := make(chan string, clients)
	for i := 0; i < clients; i++ {
		go func(i int) {
			// t.Fatal must not be called off the test goroutine; report
			// through the channel via a recovering helper instead.
			errs <- runConcurrentClient(s, big, i)
		}(i)
	}
	for i := 0; i < clients; i++ {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// runConcurrentClient downloads big, uploads a file and reads it back,
// returning "" or a description of the first failure.
func runConcurrentClient(s *Server, big File, i int) (failure string) {
	ft := &fakeTB{}
	defer func() {
		if r := recover(); r != nil {
			failure = fmt.Sprintf("client %d: %v", i, r)
		}
	}()
	c := dialRaw(ft, s.Addr, nil)
	defer c.tp.Close()
	c.login(DefaultUser, DefaultPassword)
	data, code, _ := c.retr("/"+big.Path, 0)
	if code != 226 || sha256Hex(data) != big.SHA256 {
		return fmt.Sprintf("client %d: RETR %d, sha %s", i, code, sha256Hex(data))
	}
	name := fmt.Sprintf("/upload-%d.bin", i)
	want, _ := io.ReadAll(PatternReader(name, 200000+int64(i)))
	if code, msg := c.store("STOR", name, bytes.NewReader(want), -1); code != 226 {
		return fmt.Sprintf("client %d: STOR %d %s", i, code, msg)
	}
	got, code, _ := c.retr(name, 0)
	if code != 226 || !bytes.Equal(got, want) {
		return fmt.Sprintf("client %d: read-back %d, equal=%v", i, code, bytes.Equal(got, want))
	}
	c.expect(221, "QUIT")
	return ""
}

// fakeTB lets rawClient run off the test goroutine: failures panic and
// are turned into messages by the caller; cleanups are not used.
type fakeTB struct{ testing.TB }

func (*fakeTB) Helper()                         {}
func (*fakeTB) Cleanup(func())                  {}
func (*fakeTB) Fatalf(format string, a ...any)  { panic(fmt.Sprintf(format, a...)) }
func (*fakeTB) Errorf(format string, a ...any)  { panic(fmt.Sprintf(format, a...)) }
func (*fakeTB) Logf(format string, args ...any) {}

func TestCloseGivesUpOnStalledUpload(t *testing.T) {
	defer goleak.VerifyNone(t)
	old := closeGrace
	closeGrace = 300 * time.Millisecond
	defer func() { closeGrace = old }()

	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s.Addr, nil)
	c.login(DefaultUser, DefaultPassword)
	d := c.openData(c.pasv())
	c.expect(150, "STOR /stalled.bin") // and then neither data nor close

	err = s.Close()
	if err == nil || !strings.Contains(err.Error(), "1 session(s) still in a data transfer") {
		t.Fatalf("Close = %v, want the stalled-session error", err)
	}
	if err2 := s.Close(); err2 != err {
		t.Errorf("second Close = %v, want the same error", err2)
	}
	_ = d.Close() // now goftp's session can finish; goleak checks it does
}
