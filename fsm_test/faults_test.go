package fsm_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// The fault catalogue of issue #5: each test plays one hostile or broken
// server against the real engine on loopback and asserts the typed error, the
// session's final state, and that goroutines and file descriptors are back
// to their baseline once the engine and the server are closed.

// fltCase is one fault test's world.
type fltCase struct {
	t   *testing.T
	lk  *fltLeaks
	srv *ftptest.Server
	e   *engine.Engine
	w   *fltWatch
	mem *transcript.Memory
	cfg session.Config
	cl  *client.Client
	err error // from Dial
}

// fltStartCase starts the server with sc and dials it with the client;
// tweak may change the config first.
func fltStartCase(t *testing.T, skipSize bool, tweak func(*session.Config), sc ...ftptest.Step) *fltCase {
	t.Helper()
	c := &fltCase{t: t, lk: fltBegin(t), w: fltNewWatch(), mem: &transcript.Memory{}}
	c.srv = fltServer(t, sc...)
	c.e = fltEngine(t)
	c.cfg = fltConfig(c.w, c.mem)
	if tweak != nil {
		tweak(&c.cfg)
	}
	c.cl, c.err = fltDial(t, c.e, c.srv.Addr, c.cfg, skipSize)
	return c
}

// loggedIn fails the test unless Dial succeeded.
func (c *fltCase) loggedIn() *client.Client {
	c.t.Helper()
	if c.err != nil {
		c.t.Fatalf("Dial: %v", c.err)
	}
	return c.cl
}

// dialFailed checks that Dial failed and the session ended in Failed, and
// returns the error.
func (c *fltCase) dialFailed() error {
	c.t.Helper()
	if c.err == nil || c.cl != nil {
		c.t.Fatalf("Dial succeeded against a broken server")
	}
	c.w.ended(c.t, states.Failed)
	return c.err
}

// goesOn checks the session is still usable: NOOP, then QUIT, both of which
// the script must expect.
func (c *fltCase) goesOn() {
	c.t.Helper()
	if st := c.cl.State(); st != states.Ready {
		c.t.Fatalf("state %q, want ready; moves %q", st, c.w.history())
	}
	if err := c.cl.Noop(fltCtx(c.t)); err != nil {
		c.t.Fatalf("NOOP after the fault: %v", err)
	}
	if err := c.cl.Quit(fltCtx(c.t)); err != nil {
		c.t.Fatalf("QUIT: %v", err)
	}
	c.w.ended(c.t, states.Closed)
}

// finish closes everything and checks for leaks.
func (c *fltCase) finish() {
	c.t.Helper()
	c.lk.end(c.t, func() {
		if c.cl != nil {
			c.cl.Close()
		}
	}, func() { c.e.Close() }, c.srv.Wait, c.srv.Close)
}

// fltNoopQuit is the end of a script whose session survives the fault.
func fltNoopQuit() []ftptest.Step {
	return []ftptest.Step{
		ftptest.Expect("NOOP"), ftptest.Reply("200 still here"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}
}

var fltBody = []byte("0123456789 the file's bytes, in full\n")

// ---- replies ----

func TestFaultEndlessLine(t *testing.T) {
	t.Run("greeting", func(t *testing.T) {
		c := fltStartCase(t, true, func(cfg *session.Config) { cfg.Limits.MaxLineLength = 4096 },
			ftptest.InfiniteReply("220 ", 0))
		err := c.dialFailed()
		var pe *ftp.ProtocolError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "longer than the limit") {
			t.Fatalf("error %v", err)
		}
		c.finish()
	})
	t.Run("reply to PWD", func(t *testing.T) {
		c := fltStartCase(t, true, nil, fltSteps(fltLogin(),
			[]ftptest.Step{ftptest.Expect("PWD"), ftptest.InfiniteReply(`257 "/`, 0)})...)
		_, err := c.loggedIn().Pwd(fltCtx(t))
		fltIs(t, err, ftp.ErrProtocol)
		c.w.ended(t, states.Failed)
		c.finish()
	})
}

func TestFaultEndlessMultiline(t *testing.T) {
	c := fltStartCase(t, true, func(cfg *session.Config) { cfg.Limits.MaxReplyLines = 100 },
		ftptest.EndlessMultiline(220, 0))
	err := c.dialFailed()
	var pe *ftp.ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "more lines than the limit") {
		t.Fatalf("error %v", err)
	}
	c.finish()
}

func TestFaultBadCodes(t *testing.T) {
	for _, greeting := range []string{
		"hello, no code here",
		"22 two digits",
		"2200 four digits",
		"099 below 100",
		"600 above 599",
		"999 far above",
		"220\tno space",
		"\x00\x00\x00 binary",
		"", // an empty line
	} {
		t.Run(fmt.Sprintf("%q", greeting), func(t *testing.T) {
			c := fltStartCase(t, true, nil, ftptest.RawSend(greeting+"\r\n"), ftptest.Stall())
			err := c.dialFailed()
			var pe *ftp.ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ftp.ErrProtocol) {
				t.Fatalf("error %v (%T), want a protocol error", err, err)
			}
			c.finish()
		})
	}
}

func TestFaultMultilineEndCodeDiffers(t *testing.T) {
	t.Run("runs into the line bound", func(t *testing.T) {
		c := fltStartCase(t, true, func(cfg *session.Config) { cfg.Limits.MaxReplyLines = 50 },
			ftptest.RawSend("220-hello\r\n"+strings.Repeat("221 this is not the end of a 220 reply\r\n", 60)),
			ftptest.Stall())
		err := c.dialFailed()
		fltIs(t, err, ftp.ErrProtocol)
		c.finish()
	})
	t.Run("then silence", func(t *testing.T) {
		c := fltStartCase(t, true, fltFast, ftptest.RawSend("220-hello\r\n221 end\r\n"), ftptest.Stall())
		err := c.dialFailed()
		var te *ftp.TimeoutError
		if !errors.As(err, &te) || te.Op != "greeting" {
			t.Fatalf("error %v, want a greeting timeout", err)
		}
		c.finish()
	})
}

func TestFaultEmptyAndBinaryLines(t *testing.T) {
	// Empty lines and NUL or non-UTF-8 bytes inside replies are text: the
	// login goes on, and the transcript keeps the bytes as they came.
	greeting := "220-Welcome \x00\xff\xfe\x1b[2J\r\n\r\n\xc3\x28 not UTF-8\r\n\r\n220 ready\r\n"
	c := fltStartCase(t, true, nil, fltSteps(
		[]ftptest.Step{ftptest.RawSend(greeting)}, fltLogin()[1:], fltNoopQuit())...)
	c.loggedIn()
	found := false
	for _, e := range c.mem.Entries() {
		if e.Dir == transcript.Server && e.Line == "\xc3\x28 not UTF-8" {
			found = true
		}
	}
	if !found {
		t.Errorf("transcript lost the non-UTF-8 line: %q", c.mem.Lines())
	}
	c.goesOn()
	c.finish()
}

func TestFaultReplySplitByteByByte(t *testing.T) {
	c := fltStartCase(t, true, nil, fltSteps(
		[]ftptest.Step{ftptest.SendSlowly("220-split\r\n220 greeting\r\n", time.Millisecond)},
		fltLogin()[1:],
		[]ftptest.Step{ftptest.Expect("PWD"), ftptest.SendSlowly("257 \"/a \"\"b\"\"\" is cwd\r\n", time.Millisecond)},
		fltNoopQuit())...)
	p, err := c.loggedIn().Pwd(fltCtx(t))
	if err != nil || p != `/a "b"` {
		t.Fatalf("Pwd: %q, %v", p, err)
	}
	c.goesOn()
	c.finish()
}

func TestFaultDataBeforeAnyCommand(t *testing.T) {
	t.Run("reply before the greeting", func(t *testing.T) {
		c := fltStartCase(t, true, nil, ftptest.RawSend("200 early bird\r\n220 ready\r\n"), ftptest.Stall())
		fe := fltReplyErr(t, c.dialFailed(), 200)
		if fe.Verb != "" {
			t.Errorf("error answers %q, want the greeting", fe.Verb)
		}
		c.finish()
	})
	t.Run("reply after the greeting, before USER", func(t *testing.T) {
		// Both replies arrive before the client has said anything; the second
		// is taken as the answer to USER and is not one USER may get.
		c := fltStartCase(t, true, nil, ftptest.Reply("220 ready", "200 nobody asked"), ftptest.Stall())
		fe := fltReplyErr(t, c.dialFailed(), 200)
		if fe.Verb != "USER" {
			t.Errorf("error answers %q", fe.Verb)
		}
		c.finish()
	})
}

func TestFaultUnsolicitedWhileIdle(t *testing.T) {
	t.Run("200", func(t *testing.T) {
		c := fltStartCase(t, true, nil, fltSteps(fltLogin(),
			[]ftptest.Step{ftptest.Reply("200 surprise"), ftptest.Stall()})...)
		cl := c.loggedIn()
		c.w.ended(t, states.Failed)
		err := cl.Noop(fltCtx(t))
		var pe *ftp.ProtocolError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "unsolicited") {
			t.Fatalf("after an unsolicited reply: %v", err)
		}
		c.finish()
	})
	t.Run("421", func(t *testing.T) {
		c := fltStartCase(t, true, nil, fltSteps(fltLogin(),
			[]ftptest.Step{ftptest.Reply("421 Idle timeout, closing"), ftptest.Stall()})...)
		cl := c.loggedIn()
		c.w.ended(t, states.Failed)
		fltReplyErr(t, cl.Noop(fltCtx(t)), 421)
		c.finish()
	})
}

// ---- connection ----

func TestFaultResetMidReply(t *testing.T) {
	c := fltStartCase(t, true, nil, ftptest.RawSend("220-partial\r\n220-more"), ftptest.Reset())
	err := c.dialFailed()
	var ce *ftp.ClosedError
	if !errors.As(err, &ce) || !errors.Is(err, ftp.ErrClosed) {
		t.Fatalf("error %v, want a ClosedError", err)
	}
	c.finish()
}

func TestFaultResetMidReplyAfterLogin(t *testing.T) {
	c := fltStartCase(t, true, nil, fltSteps(fltLogin(), []ftptest.Step{
		ftptest.Expect("PWD"), ftptest.RawSend(`257 "/ha`), ftptest.Reset(),
	})...)
	_, err := c.loggedIn().Pwd(fltCtx(t))
	fltIs(t, err, ftp.ErrClosed)
	c.w.ended(t, states.Failed)
	c.finish()
}

func TestFaultCloseAfterGreeting(t *testing.T) {
	c := fltStartCase(t, true, nil, ftptest.Reply("220 ready"), ftptest.Close())
	err := c.dialFailed()
	var ce *ftp.ClosedError
	if !errors.As(err, &ce) || ce.Err != nil {
		t.Fatalf("error %#v, want a ClosedError for a clean EOF", err)
	}
	c.finish()
}

func TestFaultSlowLoris(t *testing.T) {
	t.Run("greeting", func(t *testing.T) {
		c := fltStartCase(t, true, fltFast,
			fltTrickle("220 a greeting sent one byte at a time, far too slowly\r\n", 20*time.Millisecond))
		err := c.dialFailed()
		var te *ftp.TimeoutError
		if !errors.As(err, &te) || te.Op != "greeting" {
			t.Fatalf("error %v", err)
		}
		c.finish()
	})
	t.Run("reply", func(t *testing.T) {
		c := fltStartCase(t, true, fltFast, fltSteps(fltLogin(), []ftptest.Step{
			ftptest.Expect("PWD"), fltTrickle("257 \"/a path that takes forever to arrive\"\r\n", 20*time.Millisecond),
		})...)
		_, err := c.loggedIn().Pwd(fltCtx(t))
		var te *ftp.TimeoutError
		if !errors.As(err, &te) || te.Op != "reply to PWD" {
			t.Fatalf("error %v", err)
		}
		c.w.ended(t, states.Failed)
		c.finish()
	})
}

// ---- login ----

func TestFault421Later(t *testing.T) {
	c := fltStartCase(t, true, nil, fltSteps(fltLogin(), []ftptest.Step{
		ftptest.Expect("PWD"), ftptest.Reply("421 Service not available, closing control connection"),
	})...)
	_, err := c.loggedIn().Pwd(fltCtx(t))
	fltReplyErr(t, err, 421)
	c.w.ended(t, states.Failed)
	c.finish()
}

func TestFault120ThenNothing(t *testing.T) {
	c := fltStartCase(t, true, fltFast, ftptest.Reply("120 Service ready in 5 minutes"), ftptest.Stall())
	err := c.dialFailed()
	var te *ftp.TimeoutError
	if !errors.As(err, &te) || te.Op != "greeting" {
		t.Fatalf("error %v, want a greeting timeout", err)
	}
	c.finish()
}

// ---- passive mode ----

// fltRetrScript is login, the given passive exchange, and the rest of the
// script.
func fltRetrScript(passive []ftptest.Step, rest ...ftptest.Step) []ftptest.Step {
	return fltSteps(fltLogin(), passive, rest)
}

// fltGoodRetr is a complete download over the data connection already set up.
func fltGoodRetr() []ftptest.Step {
	return []ftptest.Step{
		ftptest.DataAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening BINARY mode data connection"),
		ftptest.DataSend(fltBody), ftptest.DataClose(),
		ftptest.Reply("226 Transfer complete"),
	}
}

func TestFaultPassiveRefusedReplies(t *testing.T) {
	cases := []struct {
		name    string
		passive []ftptest.Step
		code    int // 0: a protocol error
	}{
		{"227 port 0", []ftptest.Step{ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"),
			ftptest.Expect("PASV"), ftptest.Reply("227 Entering Passive Mode (127,0,0,1,0,0)")}, 0},
		{"227 port 0 after masking", []ftptest.Step{ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"),
			ftptest.Expect("PASV"), ftptest.Reply("227 Entering Passive Mode (127,0,0,1,256,-256)")}, 0},
		{"227 missing numbers", []ftptest.Step{ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"),
			ftptest.Expect("PASV"), ftptest.Reply("227 Entering Passive Mode (127,0,0,1,4)")}, 0},
		{"227 garbage", []ftptest.Step{ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"),
			ftptest.Expect("PASV"), ftptest.Reply("227 Entering Passive Mode (a,b,c,d,e,f)")}, 0},
		{"229 malformed", []ftptest.Step{ftptest.Expect("EPSV"),
			ftptest.Reply("229 Entering Extended Passive Mode (|||port|)")}, 0},
		{"229 port out of range", []ftptest.Step{ftptest.Expect("EPSV"),
			ftptest.Reply("229 Entering Extended Passive Mode (|||99999|)")}, 0},
		{"229 with a host", []ftptest.Step{ftptest.Expect("EPSV"),
			ftptest.Reply("229 Entering Extended Passive Mode (|1|192.0.2.1|2121|)")}, 0},
		{"EPSV and PASV refused", []ftptest.Step{ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"),
			ftptest.Expect("PASV"), ftptest.Reply("502 PASV not allowed")}, 502},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fltStartCase(t, true, nil, fltRetrScript(tc.passive, fltNoopQuit()...)...)
			var sink bytes.Buffer
			n, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
			if err == nil || n != 0 || sink.Len() != 0 {
				t.Fatalf("Retr: %d bytes, %v", n, err)
			}
			if tc.code != 0 {
				fltReplyErr(t, err, tc.code)
			} else {
				fltIs(t, err, ftp.ErrProtocol)
			}
			c.goesOn() // the session survives a bad passive reply
			c.finish()
		})
	}
}

func TestFaultPassiveNumbersRecovered(t *testing.T) {
	// The article's defensive reading: only the low eight bits of each port
	// number count, so values over 255 and negative ones still name the port.
	cases := map[string]func(hi, lo int) string{
		"over 255": func(hi, lo int) string { return fmt.Sprintf("%d,%d", hi+256, lo+512) },
		"negative": func(hi, lo int) string { return fmt.Sprintf("%d,%d", hi-256, lo-256) },
	}
	for name, numbers := range cases {
		t.Run(name, func(t *testing.T) {
			c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
				ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"), ftptest.Expect("PASV"), fltPASV(numbers),
			}, append(fltGoodRetr(), fltNoopQuit()...)...)...)
			var sink bytes.Buffer
			n, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
			if err != nil || n != int64(len(fltBody)) || !bytes.Equal(sink.Bytes(), fltBody) {
				t.Fatalf("Retr: %d bytes, %v", n, err)
			}
			c.goesOn()
			c.finish()
		})
	}
}

func TestFaultPassiveOtherHost(t *testing.T) {
	// The server names another host; the client still connects to the
	// control host, 127.0.0.1, where the data listener is: DataAccept fails
	// the test if the connection does not arrive there.
	c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.Reply("500 EPSV?"),
		ftptest.Expect("PASV"), ftptest.PassivePASVAt("192.0.2.77"),
	}, append(fltGoodRetr(), fltNoopQuit()...)...)...)
	var sink bytes.Buffer
	n, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	if err != nil || !bytes.Equal(sink.Bytes(), fltBody) {
		t.Fatalf("Retr: %d bytes, %v", n, err)
	}
	if !hasNote(c.mem, "192.0.2.77 differs from the control host; using 127.0.0.1") {
		t.Errorf("no note about the ignored PASV host: %q", c.mem.Lines())
	}
	c.goesOn()
	c.finish()
}

func TestFaultDataPortRefuses(t *testing.T) {
	c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.DataRefuse(), ftptest.PassiveEPSV(),
	}, fltNoopQuit()...)...)
	var sink bytes.Buffer
	_, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	fltIs(t, err, ftp.ErrIncomplete)
	fltIs(t, err, syscall.ECONNREFUSED)
	if sink.Len() != 0 {
		t.Fatal("bytes from nowhere")
	}
	c.goesOn()
	c.finish()
}

func TestFaultDataPortNeverAccepts(t *testing.T) {
	// The kernel completes the TCP handshake from the listen backlog, so the
	// dial succeeds and RETR goes out; nothing ever comes. The data idle and
	// reply timeouts bound the wait.
	c := fltStartCase(t, true, fltFast, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataNeverAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Stall(),
	})...)
	var sink bytes.Buffer
	_, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	fltIs(t, err, ftp.ErrTimeout)
	c.w.ended(t, states.Failed)
	c.finish()
}

// ---- transfers ----

func TestFault150ThenNothing(t *testing.T) {
	c := fltStartCase(t, true, fltFast, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening"), ftptest.Stall(),
	})...)
	var sink bytes.Buffer
	_, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	fltIs(t, err, ftp.ErrTimeout)
	fltIs(t, err, ftp.ErrIncomplete)
	c.w.ended(t, states.Failed)
	c.finish()
}

func TestFaultCompletionOrders(t *testing.T) {
	cases := map[string][]ftptest.Step{
		"226 before data EOF": {
			ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening"),
			ftptest.Reply("226 Transfer complete"),
			ftptest.DataSend(fltBody), ftptest.DataClose(),
		},
		"data EOF long before 226": {
			ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening"),
			ftptest.DataSend(fltBody), ftptest.DataClose(),
			ftptest.Delay(150 * time.Millisecond),
			ftptest.Reply("226 Transfer complete"),
		},
		"226 without 150": {
			ftptest.Expect("RETR f.bin"),
			ftptest.DataSend(fltBody), ftptest.DataClose(),
			ftptest.Reply("226 Transfer complete"),
		},
	}
	for name, tr := range cases {
		for _, onLoop := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/onloop=%v", name, onLoop), func(t *testing.T) {
				lk := fltBegin(t)
				srv := fltServer(t, fltRetrScript([]ftptest.Step{
					ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
				}, append(tr, fltNoopQuit()...)...)...)
				e := fltEngine(t)
				w := fltNewWatch()
				cl, err := client.Dial(fltCtx(t), srv.Addr, &client.Options{Engine: e, Config: fltConfig(w, nil), SkipSize: true, OnLoop: onLoop})
				if err != nil {
					t.Fatal(err)
				}
				var sink bytes.Buffer
				n, err := cl.Retr(fltCtx(t), "f.bin", &sink)
				if err != nil || n != int64(len(fltBody)) || !bytes.Equal(sink.Bytes(), fltBody) {
					t.Fatalf("Retr: %d bytes, %v", n, err)
				}
				if err := cl.Noop(fltCtx(t)); err != nil {
					t.Fatal(err)
				}
				if err := cl.Quit(fltCtx(t)); err != nil {
					t.Fatal(err)
				}
				w.ended(t, states.Closed)
				lk.end(t, func() { cl.Close() }, func() { e.Close() }, srv.Wait, srv.Close)
			})
		}
	}
}

func TestFaultFewerBytesThanSize(t *testing.T) {
	c := fltStartCase(t, false, nil, fltSteps(fltLogin(), []ftptest.Step{
		ftptest.Expect("SIZE f.bin"), ftptest.Reply(fmt.Sprintf("213 %d", 3*len(fltBody))),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening"),
		ftptest.DataSend(fltBody), ftptest.DataClose(),
		ftptest.Reply("226 Transfer complete"), // the server claims success
	}, fltNoopQuit())...)
	var sink bytes.Buffer
	n, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	fltIs(t, err, ftp.ErrIncomplete)
	var te *ftp.TransferError
	if !errors.As(err, &te) || te.Got != int64(len(fltBody)) || te.Want != int64(3*len(fltBody)) || n != te.Got {
		t.Fatalf("Retr: %d bytes, %v", n, err)
	}
	c.goesOn()
	c.finish()
}

func TestFaultFailureAfterPartialData(t *testing.T) {
	for _, code := range []int{426, 451} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
				ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
				ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening"),
				ftptest.DataSend(fltBody[:10]),
				ftptest.Reply(fmt.Sprintf("%d Transfer aborted", code)), ftptest.DataClose(),
			}, fltNoopQuit()...)...)
			var sink bytes.Buffer
			_, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
			fltIs(t, err, ftp.ErrIncomplete)
			fltReplyErr(t, err, code)
			c.goesOn()
			c.finish()
		})
	}
}

func TestFaultMissingFile(t *testing.T) {
	c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("550 f.bin: No such file or directory"),
	}, fltNoopQuit()...)...)
	var sink bytes.Buffer
	_, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	fe := fltReplyErr(t, err, 550)
	if errors.Is(err, ftp.ErrIncomplete) || fe.Verb != "RETR" {
		t.Fatalf("a refusal before any data should be the plain reply: %v", err)
	}
	c.goesOn()
	c.finish()
}

func TestFaultOneDataConnectionPerTransfer(t *testing.T) {
	// After a transfer nobody connects to the server's data port again: the
	// client never opens a second connection for one transfer.
	c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
	}, append(fltGoodRetr(), fltSteps([]ftptest.Step{fltNoSecondData(200 * time.Millisecond)}, fltNoopQuit())...)...)...)
	var sink bytes.Buffer
	if _, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink); err != nil {
		t.Fatal(err)
	}
	c.goesOn()
	c.finish()
}

func TestFault421DuringTransfer(t *testing.T) {
	c := fltStartCase(t, true, nil, fltRetrScript([]ftptest.Step{
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(), ftptest.DataAccept(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 Opening"),
		ftptest.DataSend(fltBody[:10]),
		ftptest.Reply("421 Server shutting down"),
	})...)
	var sink bytes.Buffer
	_, err := c.loggedIn().Retr(fltCtx(t), "f.bin", &sink)
	fltIs(t, err, ftp.ErrIncomplete)
	fltReplyErr(t, err, 421)
	c.w.ended(t, states.Failed)
	c.finish()
}

// ---- secure defaults ----

func TestSecureInjectionRefused(t *testing.T) {
	c := fltStartCase(t, true, nil, fltSteps(fltLogin(), fltNoopQuit())...)
	cl := c.loggedIn()
	ctx := fltCtx(t)
	var sink bytes.Buffer
	calls := map[string]func() error{
		"Cwd":        func() error { return cl.Cwd(ctx, "pub\r\nDELE x") },
		"Retr":       func() error { _, err := cl.Retr(ctx, "a\nDELE b", &sink); return err },
		"Stor":       func() error { _, err := cl.Stor(ctx, "up\x00", strings.NewReader("x")); return err },
		"Append":     func() error { _, err := cl.Append(ctx, "up\r", strings.NewReader("x")); return err },
		"Delete":     func() error { return cl.Delete(ctx, "x\r\nRMD /") },
		"MakeDir":    func() error { return cl.MakeDir(ctx, "d\nx") },
		"RemoveDir":  func() error { return cl.RemoveDir(ctx, "d\r\n") },
		"RenameFrom": func() error { return cl.Rename(ctx, "a\r\nDELE b", "c") },
		"RenameTo":   func() error { return cl.Rename(ctx, "a", "c\r\nDELE b") },
		"Size":       func() error { _, err := cl.Size(ctx, "a\nb"); return err },
		"ModTime":    func() error { _, err := cl.ModTime(ctx, "a\nb"); return err },
		"ListRaw":    func() error { _, err := cl.ListRaw(ctx, "LIST", "-la\r\nDELE x"); return err },
		"NameList":   func() error { _, err := cl.NameList(ctx, "x\x00"); return err },
		"Do SITE":    func() error { _, err := cl.Do(ctx, ftp.Cmd("SITE", "CHMOD 777 x\r\nDELE y"), nil); return err },
		"Do verb":    func() error { _, err := cl.Do(ctx, ftp.Command{Verb: "NOOP\r\nDELE"}, nil); return err },
	}
	for name, call := range calls {
		err := call()
		var ae *ftp.ArgumentError
		if !errors.As(err, &ae) || !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("%s: %v, want an *ftp.ArgumentError", name, err)
		}
	}
	c.goesOn()
	c.srv.Wait()
	// Nothing of the refused commands reached the server.
	want := []string{"USER anonymous", "PASS anonymous@", "TYPE I", "NOOP", "QUIT"}
	if got := c.srv.Commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server read %q, want %q", got, want)
	}
	c.finish()
}

func TestSecureBadConfigRefused(t *testing.T) {
	lk := fltBegin(t)
	srv := fltServer(t) // nobody may connect
	e := fltEngine(t)
	for _, cfg := range []session.Config{
		{User: "alice\r\nDELE x"},
		{User: "alice", Password: "pw\r\nDELE x"},
		{User: "alice", Password: "pw\x00"},
		{User: "alice", Account: "a\nb"},
	} {
		called := false
		conn, err := e.Open(srv.Addr, &cfg, func(*engine.Conn, session.Result) { called = true })
		var ae *ftp.ArgumentError
		if conn != nil || !errors.As(err, &ae) || called {
			t.Errorf("Open(%+v) = %v, %v", cfg, conn, err)
		}
		if strings.Contains(fmt.Sprint(err), "pw") {
			t.Errorf("error %q shows the password", err)
		}
		cl, err := client.Dial(fltCtx(t), srv.Addr, &client.Options{Engine: e, Config: cfg})
		if cl != nil || !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("Dial(%+v) = %v", cfg, err)
		}
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("%d connections reached the server", n)
	}
	lk.end(t, func() { e.Close() }, srv.Close)
}

func TestSecurePasswordNeverShown(t *testing.T) {
	const pw = "Tr0ub4dor-and-3-xyzzy"
	lk := fltBegin(t)
	// The password goes over the wire (the server checks it), and the 530 to
	// a wrong one comes back; neither shows it anywhere else.
	srv := fltServer(t,
		ftptest.Reply("220 ready"), ftptest.Expect("USER carol"), ftptest.Reply("331 password please"),
		ftptest.Expect("PASS "+pw), ftptest.Reply("530 Login incorrect"))
	e := fltEngine(t)
	var text, js bytes.Buffer
	var mem transcript.Memory
	w := fltNewWatch()
	cfg := fltConfig(w, nil)
	cfg.User, cfg.Password = "carol", pw
	cfg.Transcript = transcript.Multi(transcript.Text(&text), transcript.JSON(&js), &mem)
	opts := &client.Options{Engine: e, Config: cfg}
	_, err := client.Dial(fltCtx(t), srv.Addr, opts)
	fltReplyErr(t, err, 530)
	w.ended(t, states.Failed)
	srv.Wait()
	e.Close() // the session's last notes are written on the loop; read after it stops
	outputs := map[string]string{
		"text transcript": text.String(),
		"JSON transcript": js.String(),
		"memory":          strings.Join(mem.Lines(), "\n"),
		"error":           fmt.Sprintf("%s %v %+v %#v", err.Error(), err, err, err),
		"config":          fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg),
		"options":         fmt.Sprintf("%v %+v %#v", opts, *opts, opts),
	}
	for name, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s shows the password: %s", name, out)
		}
	}
	if !strings.Contains(text.String(), "PASS ****") || !strings.Contains(js.String(), "PASS ****") {
		t.Errorf("transcripts lack the masked PASS:\n%s\n%s", text.String(), js.String())
	}
	lk.end(t, func() { e.Close() }, srv.Close)
}
