package fsm_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// Keepalive NOOPs during a long transfer, against scripted servers that answer
// them at once, only after the transfer, or drop a quiet control connection.

// slowRetr is the server side of a RETR whose bytes trickle out in chunks,
// while the control connection is watched for NOOPs.
type slowRetr struct {
	body   []byte
	chunks int
	gap    time.Duration // between chunks
	// afterTransfer: NOOP replies only after the 226 (vsftpd, proftpd);
	// otherwise at once (pure-ftpd).
	afterTransfer bool
	// idleLimit > 0: like a server with a short idle timeout (or a NAT box),
	// send 421 and hang up when no command came for this long.
	idleLimit time.Duration

	mu      sync.Mutex
	noops   int  // NOOPs read during the transfer
	dropped bool // the idle limit struck
}

// script is the whole conversation: login, EPSV, RETR, the slow transfer,
// then NOOPs answered and QUIT.
func (s *slowRetr) script() ftptest.Script {
	return script(scriptLogin(), steps(
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR slow.bin"), ftptest.Reply("150 Opening BINARY mode data connection"),
		ftptest.DataAccept(),
		ftptest.Func(s.run),
	))
}

// run sends the body on a goroutine while it reads the control connection.
// The scripted reader is idle meanwhile (the client sends nothing but NOOPs
// once RETR is out), so a reader of its own on the connection loses nothing.
func (s *slowRetr) run(c *ftptest.Conn) error {
	data := c.Data()
	sent := make(chan error, 1)
	go func() {
		per := len(s.body) / s.chunks
		for i := 0; i < s.chunks; i++ {
			select {
			case <-time.After(s.gap):
			case <-c.Done():
				sent <- errors.New("server closed")
				return
			}
			p := s.body[i*per : (i+1)*per]
			if i == s.chunks-1 {
				p = s.body[i*per:]
			}
			data.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := data.Write(p); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	ctrl := c.NetConn()
	rd := bufio.NewReader(ctrl)
	var partial string
	last := time.Now()
	owed := 0
	readLine := func(d time.Duration) (string, error) {
		ctrl.SetReadDeadline(time.Now().Add(d))
		l, err := rd.ReadString('\n')
		partial += l
		if err != nil {
			return "", err
		}
		line := strings.TrimRight(partial, "\r\n")
		partial = ""
		return line, nil
	}
	for done := false; !done; {
		select {
		case err := <-sent:
			if err != nil {
				return fmt.Errorf("sending the data: %w", err)
			}
			done = true
			continue
		default:
		}
		line, err := readLine(20 * time.Millisecond)
		switch {
		case err == nil && line == "NOOP":
			s.mu.Lock()
			s.noops++
			s.mu.Unlock()
			last = time.Now()
			if s.afterTransfer {
				owed++
			} else if err := c.WriteLine("200 NOOP ok"); err != nil {
				return err
			}
		case err == nil:
			return fmt.Errorf("client sent %q during the transfer", line)
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("control connection during the transfer: %w", err)
		case s.idleLimit > 0 && time.Since(last) > s.idleLimit:
			s.mu.Lock()
			s.dropped = true
			s.mu.Unlock()
			c.WriteLine("421 Idle timeout; closing control connection")
			data.Close()
			<-sent
			return nil // the script ends: the server hangs up
		}
	}
	data.Close()
	if err := c.WriteLine("226 Transfer complete"); err != nil {
		return err
	}
	for ; owed > 0; owed-- {
		if err := c.WriteLine("200 NOOP ok"); err != nil {
			return err
		}
	}
	// Then anything: NOOPs sent while the 226 was on its way, and QUIT.
	for i := 0; i < 1000; i++ {
		line, err := readLine(10 * time.Second)
		if err != nil {
			return fmt.Errorf("after the transfer: %w", err)
		}
		switch line {
		case "NOOP":
			if err := c.WriteLine("200 NOOP ok"); err != nil {
				return err
			}
		case "QUIT":
			return c.WriteLine("221 bye")
		default:
			return fmt.Errorf("client sent %q after the transfer", line)
		}
	}
	return errors.New("too many commands")
}

func (s *slowRetr) counts() (noops int, dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.noops, s.dropped
}

// keepaliveRun logs in to a server playing s and downloads slow.bin with the
// given keepalive interval.
func keepaliveRun(t *testing.T, s *slowRetr, onLoop bool, every time.Duration) (*client.Client, *transcript.Memory, int64, error, string) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	mem := &transcript.Memory{}
	srv := ftptest.NewServer(t, s.script(), ftptest.WithTimeout(10*time.Second), ftptest.WithoutLog())
	c, err := client.Dial(ctx, srv.Addr, &client.Options{SkipSize: true, OnLoop: onLoop,
		Config: session.Config{Keepalive: every, Transcript: mem}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	sink := newHashSink()
	n, err := c.Retr(ctx, "slow.bin", sink)
	return c, mem, n, err, sink.Sum()
}

// TestKeepaliveServers: NOOPs answered at once and NOOPs answered after the
// 226 both leave the transfer byte-exact and the session in step.
func TestKeepaliveServers(t *testing.T) {
	leakCheck(t)
	body := pattern(t, "keepalive", 64<<10)
	for _, after := range []bool{false, true} {
		for _, m := range modes {
			name := map[bool]string{false: "AnsweredAtOnce", true: "AnsweredAfter226"}[after] + "/" + m.name
			t.Run(name, func(t *testing.T) {
				s := &slowRetr{body: body, chunks: 20, gap: 50 * time.Millisecond, afterTransfer: after}
				c, mem, n, err, sum := keepaliveRun(t, s, m.onLoop, 100*time.Millisecond)
				if err != nil || n != int64(len(body)) || sum != sumOf(body) {
					t.Fatalf("RETR: %d bytes of %d, %v, sum ok %v", n, len(body), err, sum == sumOf(body))
				}
				if noops, _ := s.counts(); noops == 0 {
					t.Fatalf("no NOOP during a 1 s transfer with a 100 ms keepalive:\n%s", strings.Join(mem.Lines(), "\n"))
				}
				// The session is in step: a command gets its own reply.
				ctx := testCtx(t, 10*time.Second)
				if err := c.Quit(ctx); err != nil {
					t.Fatalf("QUIT: %v\n%s", err, strings.Join(mem.Lines(), "\n"))
				}
				if entryIndex(mem, transcript.Server, "221 bye") < 0 {
					t.Fatalf("QUIT's reply not read:\n%s", strings.Join(mem.Lines(), "\n"))
				}
			})
		}
	}
}

// TestKeepaliveIdleDrop: a server that drops a control connection quiet for
// 600 ms. Without keepalive a 1.5 s transfer dies with its typed 421; with a
// 150 ms keepalive it completes.
func TestKeepaliveIdleDrop(t *testing.T) {
	leakCheck(t)
	body := pattern(t, "idle-drop", 96<<10)
	for _, m := range modes {
		t.Run("without/"+m.name, func(t *testing.T) {
			s := &slowRetr{body: body, chunks: 30, gap: 50 * time.Millisecond, idleLimit: 600 * time.Millisecond}
			_, _, n, err, _ := keepaliveRun(t, s, m.onLoop, 0)
			var fe *ftp.Error
			if !errors.As(err, &fe) || fe.Code != 421 || !errors.Is(err, ftp.ErrIncomplete) {
				t.Fatalf("RETR without keepalive: %d bytes, %v (%T); want an incomplete transfer ended by 421", n, err, err)
			}
			if n >= int64(len(body)) {
				t.Fatalf("all %d bytes arrived although the server hung up", n)
			}
			if noops, dropped := s.counts(); !dropped || noops != 0 {
				t.Fatalf("server: dropped %v, %d NOOPs", dropped, noops)
			}
		})
		t.Run("with/"+m.name, func(t *testing.T) {
			s := &slowRetr{body: body, chunks: 30, gap: 50 * time.Millisecond, idleLimit: 600 * time.Millisecond}
			c, _, n, err, sum := keepaliveRun(t, s, m.onLoop, 150*time.Millisecond)
			if err != nil || n != int64(len(body)) || sum != sumOf(body) {
				t.Fatalf("RETR with keepalive: %d bytes of %d, %v", n, len(body), err)
			}
			if err := c.Quit(testCtx(t, 10*time.Second)); err != nil {
				t.Fatalf("QUIT: %v", err)
			}
			if noops, dropped := s.counts(); dropped || noops == 0 {
				t.Fatalf("server: dropped %v, %d NOOPs", dropped, noops)
			}
		})
	}
}

// idleDropper is a server that hangs up (421) on a control connection that
// stays quiet for idleLimit, as many servers and NAT boxes do; it answers
// NOOP, PWD and QUIT meanwhile.
func idleDropper(idleLimit time.Duration, noops *int, mu *sync.Mutex) ftptest.Script {
	return script(scriptLogin(), steps(ftptest.Func(func(c *ftptest.Conn) error {
		rd := bufio.NewReader(c.NetConn())
		for i := 0; i < 1000; i++ {
			c.NetConn().SetReadDeadline(time.Now().Add(idleLimit))
			line, err := rd.ReadString('\n')
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.WriteLine("421 Idle timeout; closing control connection")
				return nil // the script ends: the server hangs up
			}
			if err != nil {
				return err
			}
			switch strings.TrimRight(line, "\r\n") {
			case "NOOP":
				mu.Lock()
				*noops++
				mu.Unlock()
				err = c.WriteLine("200 NOOP ok")
			case "PWD":
				err = c.WriteLine(`257 "/" is the current directory`)
			case "QUIT":
				return c.WriteLine("221 bye")
			default:
				err = c.WriteLine("502 not here")
			}
			if err != nil {
				return err
			}
		}
		return errors.New("too many commands")
	})))
}

// TestIdleKeepalive: a session idle in Ready for longer than the server's idle
// limit is dropped (the next call fails with the typed 421) unless
// IdleKeepalive keeps it alive.
func TestIdleKeepalive(t *testing.T) {
	leakCheck(t)
	for _, every := range []time.Duration{0, 150 * time.Millisecond} {
		t.Run(fmt.Sprintf("every %v", every), func(t *testing.T) {
			ctx := testCtx(t, 20*time.Second)
			var mu sync.Mutex
			noops := 0
			srv := ftptest.NewServer(t, idleDropper(600*time.Millisecond, &noops, &mu), ftptest.WithoutLog())
			c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{IdleKeepalive: every}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			time.Sleep(1500 * time.Millisecond) // idle, well past the server's limit
			_, err = c.Pwd(ctx)
			mu.Lock()
			n := noops
			mu.Unlock()
			if every == 0 {
				var fe *ftp.Error
				if !errors.As(err, &fe) || fe.Code != 421 {
					t.Fatalf("PWD after an idle drop: %v, want the server's 421", err)
				}
				return
			}
			if err != nil || n == 0 {
				t.Fatalf("PWD with keepalive: %v after %d NOOPs", err, n)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
