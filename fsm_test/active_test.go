package fsm_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// Active mode (EPRT/PORT) end to end: byte-exact transfers against goftp and
// the real servers, a third party refused, and no listener left behind.

// listeners counts the TCP sockets of this process in the LISTEN state (the
// test servers' own included: compare with a count taken before).
func listeners(t *testing.T) int {
	t.Helper()
	ours := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("listeners: %v", err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			ours[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && fields[3] == "0A" && ours[fields[9]] {
				n++
			}
		}
		f.Close()
	}
	return n
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// fdsSettle checks, at cleanup (after the servers and clients registered later
// have closed), that the process holds no more descriptors than before the
// test: sockets closed by other goroutines may take a moment, so it waits up to
// five seconds for the count to come down.
func fdsSettle(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		// goftp, in this process, leaves the socket of an active-mode upload
		// to the garbage collector's finalizer once its session has ended.
		runtime.GC()
		n := openFDs(t)
		for i := 0; i < 100 && n > before; i++ {
			time.Sleep(50 * time.Millisecond)
			n = openFDs(t)
		}
		if n > before {
			t.Errorf("%d file descriptors open after the test, %d before", n, before)
		}
	})
}

// noListenerLeft fails t if more sockets listen than base.
func noListenerLeft(t *testing.T, base int, after string) {
	t.Helper()
	if n := listeners(t); n != base {
		t.Errorf("after %s: %d listening sockets, want %d", after, n, base)
	}
}

func activeConfig(user, pass string, mem *transcript.Memory) session.Config {
	cfg := session.Config{User: user, Password: session.Secret(pass), DataMode: session.DataActive}
	if mem != nil {
		cfg.Transcript = mem
	}
	return cfg
}

func TestActiveEmbeddedExact(t *testing.T) {
	leakCheck(t)
	fdsSettle(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 60*time.Second)
	base := listeners(t)
	const bigSize = 3<<20 + 7
	bigSum, err := embedserver.WriteBigFile(srv.Root, "active-big.bin", bigSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mem := &transcript.Memory{}
			c, err := client.Dial(ctx, srv.Addr, &client.Options{OnLoop: m.onLoop, Config: activeConfig(embedserver.DefaultUser, embedserver.DefaultPassword, mem)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, f := range srv.Files() {
				if f.Dir {
					continue
				}
				sink := newHashSink()
				n, err := c.Retr(ctx, f.Path, sink)
				if err != nil || n != f.Size || sink.Sum() != f.SHA256 {
					t.Errorf("RETR %s: %d bytes (want %d), sum ok %v, err %v", f.Path, n, f.Size, sink.Sum() == f.SHA256, err)
				}
				noListenerLeft(t, base, "RETR "+f.Path)
			}
			sink := newHashSink()
			if n, err := c.Retr(ctx, "active-big.bin", sink); err != nil || n != bigSize || sink.Sum() != bigSum {
				t.Errorf("RETR active-big.bin: %d bytes, err %v, sum ok %v", n, err, sink.Sum() == bigSum)
			}
			body := pattern(t, "active-"+m.name, 700<<10+3)
			name := "active-up-" + m.name + ".bin"
			if n, err := c.Stor(ctx, name, bytes.NewReader(body)); err != nil || n != int64(len(body)) {
				t.Fatalf("STOR: %d bytes, %v", n, err)
			}
			noListenerLeft(t, base, "STOR")
			if got, n := sumFile(t, filepath.Join(srv.Root, name)); got != sumOf(body) || n != int64(len(body)) {
				t.Errorf("stored file: %d bytes, want %d, sums differ: %v", n, len(body), got != sumOf(body))
			}
			res, err := c.List(ctx, "")
			if err != nil || len(res.Entries) == 0 {
				t.Errorf("List: %d entries, %v", len(res.Entries), err)
			}
			if entryIndex(mem, transcript.Client, "EPRT |1|127.0.0.1|") < 0 || entryIndex(mem, transcript.Client, "EPSV") >= 0 {
				t.Errorf("transcript does not show active mode only:\n%s", strings.Join(mem.Lines(), "\n"))
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			noListenerLeft(t, base, "QUIT")
		})
	}
}

// realTarget returns the real server named by envVar, or skips (fails with
// ASYNCFTP_REQUIRE_SERVERS=1) when it is not running.
func realTarget(t *testing.T, name, envVar string) *target {
	tg := &target{name: name, envVar: envVar}
	setupReal(t, tg)
	return tg
}

func TestActiveRealServers(t *testing.T) {
	for _, s := range []struct{ name, env string }{
		{"vsftpd", "ASYNCFTP_VSFTPD_ADDR"},
		{"pure-ftpd", "ASYNCFTP_PUREFTPD_ADDR"},
	} {
		t.Run(s.name, func(t *testing.T) {
			tg := realTarget(t, s.name, s.env)
			leakCheck(t)
			ctx := testCtx(t, 60*time.Second)
			base := listeners(t)
			files := tg.retrievable()
			for _, m := range modes {
				mem := &transcript.Memory{}
				c, err := client.Dial(ctx, tg.addr, &client.Options{OnLoop: m.onLoop, Config: activeConfig(tg.user, tg.pass, mem)})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					sink := newHashSink()
					n, err := c.Retr(ctx, f.Path, sink)
					if err != nil || n != f.Size || sink.Sum() != f.SHA256 {
						t.Errorf("%s RETR %s: %d bytes (want %d), sum ok %v, err %v", m.name, f.Path, n, f.Size, sink.Sum() == f.SHA256, err)
					}
				}
				body := pattern(t, "active-"+s.name+m.name, 1<<20+17)
				name := fmt.Sprintf("active-%s-%d.bin", m.name, time.Now().UnixNano())
				if n, err := c.Stor(ctx, name, bytes.NewReader(body)); err != nil || n != int64(len(body)) {
					t.Fatalf("%s STOR: %d bytes, %v", m.name, n, err)
				}
				back := newHashSink()
				if n, err := c.Retr(ctx, name, back); err != nil || back.Sum() != sumOf(body) {
					t.Errorf("%s RETR of the stored file: %d bytes, %v, sum ok %v", m.name, n, err, back.Sum() == sumOf(body))
				}
				if err := c.Delete(ctx, name); err != nil {
					t.Errorf("DELE: %v", err)
				}
				if entryIndex(mem, transcript.Client, "EPRT |1|127.0.0.1|") < 0 {
					t.Errorf("no EPRT in the transcript")
				}
				if err := c.Quit(ctx); err != nil {
					t.Error(err)
				}
				noListenerLeft(t, base, m.name)
			}
			if len(files) < 5 {
				t.Fatalf("only %d files to retrieve", len(files))
			}
		})
	}
}

// intruder dials the client's active-mode port (from the EPRT the script just
// read) from 127.0.0.2, sends bytes that must never reach the file, and
// reports whether the client closed that connection.
type intruder struct {
	mu     sync.Mutex
	result error // nil: closed by the client, as it must be
	ran    bool
}

func (in *intruder) step() ftptest.Step {
	return ftptest.Func(func(c *ftptest.Conn) error {
		line, err := c.ReadLine() // records the EPRT for DataConnect
		if err != nil {
			return err
		}
		f := strings.Split(line, "|")
		if len(f) != 5 || f[0] != "EPRT " {
			return fmt.Errorf("client sent %q, want EPRT", line)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		nc, err := d.Dial("tcp", net.JoinHostPort(f[2], f[3]))
		in.mu.Lock()
		defer in.mu.Unlock()
		in.ran = true
		if errors.Is(err, syscall.ECONNRESET) {
			return nil // accepted and reset before the dial returned: refused
		}
		if err != nil {
			in.result = fmt.Errorf("intruder could not even connect (the listener should accept and close): %w", err)
			return nil
		}
		defer nc.Close()
		nc.Write([]byte("FORGED DATA FROM A THIRD PARTY\n"))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 16))
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			in.result = errors.New("the client kept the intruder's connection open")
		case err == nil:
			in.result = errors.New("the client sent bytes to the intruder")
		}
		return nil
	})
}

func (in *intruder) check(t *testing.T) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.ran {
		t.Fatal("the intruder step did not run")
	}
	if in.result != nil {
		t.Error(in.result)
	}
}

// TestActiveRefusesThirdParty: a connection to the active-mode port from
// another address (127.0.0.2) is closed at once and noted; the transfer then
// completes, byte-exact, from the server.
func TestActiveRefusesThirdParty(t *testing.T) {
	leakCheck(t)
	fdsSettle(t)
	ctx := testCtx(t, 30*time.Second)
	body := pattern(t, "third-party", 200<<10)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			in := &intruder{}
			mem := &transcript.Memory{}
			srv, c := dialScripted(t, ctx, script(scriptLogin(), steps(
				in.step(),
				ftptest.Reply("200 EPRT command successful"),
				ftptest.Expect("RETR file.bin"),
				ftptest.Reply("150 Opening BINARY mode data connection"),
				ftptest.DataConnect(),
				ftptest.DataSend(body),
				ftptest.DataClose(),
				ftptest.Reply("226 Transfer complete"),
			), scriptQuit()), mem, func(o *client.Options) {
				o.OnLoop = m.onLoop
				o.Config.DataMode = session.DataActive
			})
			sink := newHashSink()
			n, err := c.Retr(ctx, "file.bin", sink)
			if err != nil || n != int64(len(body)) || sink.Sum() != sumOf(body) {
				t.Fatalf("RETR: %d bytes of %d, %v, sum ok %v", n, len(body), err, sink.Sum() == sumOf(body))
			}
			in.check(t)
			if !hasNote(mem, "refused a data connection from 127.0.0.2:") {
				t.Errorf("no note of the refused connection:\n%s", strings.Join(mem.Lines(), "\n"))
			}
			quitAndCheckPrefixes(t, ctx, srv, c, "EPRT |1|127.0.0.1|", "RETR file.bin")
		})
	}
}

// TestActiveNoListenerLeft: the listener is closed when the server refuses
// the transfer, when it never connects, when the caller cancels, and when the
// session dies while waiting.
func TestActiveNoListenerLeft(t *testing.T) {
	leakCheck(t)
	fdsSettle(t)
	ctx := testCtx(t, 30*time.Second)
	srv := startEmbed(t)
	base := listeners(t)

	t.Run("refused", func(t *testing.T) {
		c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: activeConfig("anonymous", "", nil)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, m := range modes {
			_, err := c.Retr(ctx, "no/such/file-"+m.name, newHashSink())
			var fe *ftp.Error
			if !errors.As(err, &fe) || fe.Code/100 != 5 {
				t.Fatalf("RETR of a missing file: %v", err)
			}
			noListenerLeft(t, base, "a refused RETR")
		}
		_, err = c.Stor(ctx, "read-only.bin", strings.NewReader("x")) // anonymous is read-only
		if !errors.As(err, new(*ftp.Error)) {
			t.Fatalf("STOR as anonymous: %v", err)
		}
		noListenerLeft(t, base, "a refused STOR")
	})

	for _, m := range modes {
		t.Run("never connects/"+m.name, func(t *testing.T) {
			_, c := dialScripted(t, ctx, script(scriptLogin(), steps(
				ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"), ftptest.Reply("200 EPRT command successful"),
				ftptest.Expect("RETR file.bin"), ftptest.Reply("150 Opening BINARY mode data connection"),
				ftptest.Stall(), // no reply: the client gives up and closes
			)), nil, func(o *client.Options) {
				o.OnLoop = m.onLoop
				o.Config.DataMode = session.DataActive
				o.Config.Timeouts.DataConnect = 300 * time.Millisecond
				o.Config.Timeouts.Reply = time.Second
			})
			base := listeners(t) // with this subtest's server
			_, err := c.Retr(ctx, "file.bin", newHashSink())
			if !errors.Is(err, ftp.ErrTimeout) {
				t.Fatalf("RETR: %v, want a timeout", err)
			}
			noListenerLeft(t, base, "a data connection that never came")
		})

		t.Run("cancel/"+m.name, func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			_, c := dialScripted(t, ctx, script(scriptLogin(), steps(
				ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"),
				ftptest.Func(func(*ftptest.Conn) error { cancel(); return nil }),
				ftptest.ExpectEOF(),
			)), nil, func(o *client.Options) {
				o.OnLoop = m.onLoop
				o.Config.DataMode = session.DataActive
			})
			base := listeners(t)
			_, err := c.Retr(cctx, "file.bin", newHashSink())
			if !errors.Is(err, ftp.ErrCanceled) || !errors.Is(err, context.Canceled) {
				t.Fatalf("RETR: %v, want a cancellation", err)
			}
			noListenerLeft(t, base, "a cancelled RETR")
		})

		t.Run("server gone/"+m.name, func(t *testing.T) {
			_, c := dialScripted(t, ctx, script(scriptLogin(), steps(
				ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"),
				ftptest.Reply("421 Service not available, closing control connection"),
			)), nil, func(o *client.Options) {
				o.OnLoop = m.onLoop
				o.Config.DataMode = session.DataActive
			})
			base := listeners(t)
			_, err := c.Retr(ctx, "file.bin", newHashSink())
			var fe *ftp.Error
			if !errors.As(err, &fe) || fe.Code != 421 {
				t.Fatalf("RETR: %v, want the 421", err)
			}
			noListenerLeft(t, base, "a session that died in EPRT")
		})
	}
}

// TestActivePORTFallback: a server that refuses EPRT gets PORT, computed from
// the listening port, for this and every later transfer.
func TestActivePORTFallback(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t, 30*time.Second)
	body := []byte("port mode works\n")
	xfer := func() ftptest.Script {
		return steps(
			ftptest.ExpectPrefix("PORT 127,0,0,1,"), ftptest.Reply("200 PORT command successful"),
			ftptest.Expect("RETR file.bin"), ftptest.Reply("150 Opening BINARY mode data connection"),
			ftptest.DataConnect(), ftptest.DataSend(body), ftptest.DataClose(),
			ftptest.Reply("226 Transfer complete"),
		)
	}
	srv, c := dialScripted(t, ctx, script(scriptLogin(),
		steps(ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"), ftptest.Reply("500 EPRT not understood")),
		xfer(), xfer(), scriptQuit()), nil, func(o *client.Options) { o.Config.DataMode = session.DataActive })
	for i := 0; i < 2; i++ {
		var buf bytes.Buffer
		if _, err := c.Retr(ctx, "file.bin", &buf); err != nil || buf.String() != string(body) {
			t.Fatalf("RETR %d: %q, %v", i, buf.String(), err)
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	for _, l := range srv.Commands() {
		if p, ok := strings.CutPrefix(l, "PORT "); ok {
			f := strings.Split(p, ",")
			hi, _ := strconv.Atoi(f[4])
			lo, _ := strconv.Atoi(f[5])
			if len(f) != 6 || hi*256+lo == 0 {
				t.Errorf("bad PORT %q", l)
			}
		}
	}
}

// TestAutoModeFallsBackToActive: a server that refuses EPSV and PASV gets
// EPRT, and the session remembers it.
func TestAutoModeFallsBackToActive(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t, 30*time.Second)
	listing1 := "-rw-r--r-- 1 ftp ftp 5 Jan  2  2024 a.txt\r\n"
	xfer := steps(
		ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"), ftptest.Reply("200 EPRT command successful"),
		ftptest.Expect("LIST"), ftptest.Reply("150 Here comes the directory listing"),
		ftptest.DataConnect(), ftptest.DataSend([]byte(listing1)), ftptest.DataClose(),
		ftptest.Reply("226 Directory send OK"),
	)
	srv, c := dialScripted(t, ctx, script(scriptLogin(),
		steps(ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV not understood"),
			ftptest.Expect("PASV"), ftptest.Reply("550 Permission denied")),
		xfer, xfer, scriptQuit()), nil, func(o *client.Options) { o.Config.DataMode = session.DataAuto })
	for i := 0; i < 2; i++ {
		body, err := c.ListRaw(ctx, "LIST", "")
		if err != nil || string(body) != listing1 {
			t.Fatalf("LIST %d: %q, %v", i, body, err)
		}
		if res := listing.Parse(body, time.Now()); len(res.Entries) != 1 {
			t.Fatalf("parsed %+v", res)
		}
	}
	quitAndCheckPrefixes(t, ctx, srv, c, "EPSV", "PASV", "EPRT |1|127.0.0.1|", "LIST", "EPRT |1|127.0.0.1|", "LIST")
}

// quitAndCheckPrefixes is quitAndCheck for commands whose arguments vary
// (EPRT's port): each command the server saw after the login must start with
// the matching prefix.
func quitAndCheckPrefixes(t *testing.T, ctx context.Context, srv *ftptest.Server, c *client.Client, prefixes ...string) {
	t.Helper()
	if err := c.Quit(ctx); err != nil {
		t.Errorf("Quit: %v", err)
	}
	srv.Wait()
	got := srv.Commands()
	want := append(append(append([]string(nil), loginCommands...), prefixes...), "QUIT")
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("server saw commands\n  %q\nwant prefixes\n  %q", got, want)
	}
}
