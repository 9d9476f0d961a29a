package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// openData answers EPSV and reports the data connection open; it returns the
// data request. The data command must be the next line written.
func (r *rig) openData(verb string) *DataRequest {
	r.t.Helper()
	r.sent("EPSV")
	r.state(states.DataOpening)
	r.recv("229 Entering Extended Passive Mode (|||2121|)")
	if len(r.d.opens) == 0 {
		r.t.Fatal("no data connection asked for")
	}
	req := r.d.opens[len(r.d.opens)-1]
	if req.Addr != "127.0.0.1:2121" || req.Network != "tcp" {
		r.t.Fatalf("data request %+v", req)
	}
	r.sent() // nothing before the data connection is up
	r.s.DataOpened(req)
	r.sent(verb)
	return req
}

// retr starts a download up to the 150 reply.
func (r *rig) retr(d *Data) (*outcome, *DataRequest) {
	r.t.Helper()
	o := r.do(ftp.Cmd("RETR", "file.bin"), d)
	req := r.openData("RETR file.bin")
	r.recv("150 Opening BINARY mode data connection")
	r.state(states.Transferring)
	return o, req
}

func (r *rig) dataIn(req *DataRequest, s string) {
	r.t.Helper()
	if err := r.s.DataIn(req, []byte(s)); err != nil {
		r.t.Fatalf("DataIn: %v", err)
	}
}

// dataDropped checks that the session asked for req to be dropped once.
func (r *rig) dataDropped(req *DataRequest, want bool) {
	r.t.Helper()
	n := 0
	for _, d := range r.d.closedData {
		if d == req {
			n++
		}
	}
	if (n == 1) != want || n > 1 {
		r.t.Fatalf("CloseData called %d times for the data connection, want %v", n, want)
	}
}

func TestTransferFinalReplyAfterData(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	var sink bytes.Buffer
	o, req := r.retr(&Data{Sink: &sink, Want: 11})
	r.dataIn(req, "hello ")
	r.dataIn(req, "world")
	r.s.DataClosed(req, 0, io.EOF)
	if o.calls != 0 {
		t.Fatal("transfer complete before the 226")
	}
	r.state(states.Transferring)
	r.recv("226 Transfer complete")
	res := o.once(t)
	if res.Err != nil || res.Bytes != 11 || sink.String() != "hello world" || res.Reply.Code != 226 {
		t.Fatalf("result %+v, sink %q", res, sink.String())
	}
	r.state(states.Ready)
	r.dataDropped(req, false)
	// Late data events for the finished transfer are ignored.
	if err := r.s.DataIn(req, []byte("x")); !errors.Is(err, ftp.ErrClosed) {
		t.Errorf("DataIn after the end: %v", err)
	}
	r.s.DataClosed(req, 5, nil)
	r.state(states.Ready)
}

func TestTransferFinalReplyBeforeData(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{DataIdle: 10 * time.Second}})
	r.loggedIn()
	var sink bytes.Buffer
	o, req := r.retr(&Data{Sink: &sink})
	r.dataIn(req, "first ")
	r.recv("226 Transfer complete")
	if o.calls != 0 {
		t.Fatal("transfer complete before the data connection ended")
	}
	r.state(states.Transferring)
	r.advance(9 * time.Second) // the data idle deadline guards the wait
	r.dataIn(req, "second")
	r.advance(9 * time.Second)
	r.s.DataClosed(req, 0, nil)
	res := o.once(t)
	if res.Err != nil || res.Bytes != 12 || sink.String() != "first second" {
		t.Fatalf("result %+v, sink %q", res, sink.String())
	}
	r.state(states.Ready)
}

// TestTransferFinalReplyBeforeDataNeverEnds: 226 came, the data connection
// stays open and silent: the data idle timeout fails the transfer.
func TestTransferFinalReplyBeforeDataNeverEnds(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{DataIdle: 10 * time.Second}})
	r.loggedIn()
	o, req := r.retr(&Data{Sink: io.Discard})
	r.dataIn(req, "some")
	r.recv("226 Transfer complete")
	r.advance(10 * time.Second)
	res := o.once(t)
	if !errors.Is(res.Err, ftp.ErrTimeout) {
		t.Fatalf("result %+v", res)
	}
	r.dataDropped(req, true)
	r.state(states.Ready)
}

func TestTransferDataIdleTimeout(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{DataIdle: 5 * time.Second, Reply: 20 * time.Second}})
	r.loggedIn()
	o, req := r.retr(&Data{Sink: io.Discard})
	r.dataIn(req, "abc")
	r.advance(4 * time.Second)
	r.dataIn(req, "def") // activity pushes the deadline on
	r.advance(4 * time.Second)
	r.state(states.Transferring)
	r.advance(time.Second)
	// Timed out: the data connection is dropped and the session waits for
	// the server's reply to stay in step.
	r.dataDropped(req, true)
	if o.calls != 0 {
		t.Fatal("finished before the server's reply")
	}
	r.recv("426 Connection closed; transfer aborted")
	res := o.once(t)
	// The data side failed first: its timeout is what the caller hears.
	var te *ftp.TimeoutError
	if !errors.As(res.Err, &te) || te.Op != "data idle" || res.Bytes != 6 || res.Reply.Code != 426 {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)

	// The same, with a server that then says nothing: the reply timeout ends
	// the session.
	r = newRig(t, &Config{Timeouts: Timeouts{DataIdle: 5 * time.Second, Reply: 20 * time.Second}})
	r.loggedIn()
	o, req = r.retr(&Data{Sink: io.Discard})
	r.advance(5 * time.Second)
	r.dataDropped(req, true)
	r.advance(20 * time.Second)
	r.failed(ftp.ErrTimeout)
	res = o.once(t)
	if !errors.Is(res.Err, ftp.ErrIncomplete) || !errors.Is(res.Err, ftp.ErrTimeout) {
		t.Fatalf("result %+v", res)
	}
}

func TestTransferDataClosedEarlyWithoutReply(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{Reply: 5 * time.Second}})
	r.loggedIn()
	o, req := r.retr(&Data{Sink: io.Discard, Want: 100})
	r.dataIn(req, "0123456789")
	r.s.DataClosed(req, 0, nil)
	r.advance(5 * time.Second)
	r.failed(ftp.ErrTimeout)
	res := o.once(t)
	var te *ftp.TransferError
	if !errors.As(res.Err, &te) || te.Got != 10 || te.Want != 100 || !errors.Is(res.Err, ftp.ErrTimeout) {
		t.Fatalf("result %+v", res)
	}
}

func TestTransferDataReset(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o, req := r.retr(&Data{Sink: io.Discard})
	r.dataIn(req, "0123")
	r.s.DataClosed(req, 0, syscall.ECONNRESET)
	r.state(states.Transferring)
	r.recv("226 Transfer complete") // the server thinks all went well
	res := o.once(t)
	if !errors.Is(res.Err, ftp.ErrIncomplete) || !errors.Is(res.Err, syscall.ECONNRESET) || res.Bytes != 4 {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
}

func TestTransferSizeMismatch(t *testing.T) {
	for _, got := range []string{"short", "longer than announced"} {
		r := newRig(t, nil)
		r.loggedIn()
		o, req := r.retr(&Data{Sink: io.Discard, Want: 10})
		r.dataIn(req, got)
		r.s.DataClosed(req, 0, nil)
		r.recv("226 Transfer complete")
		res := o.once(t)
		var te *ftp.TransferError
		if !errors.As(res.Err, &te) || !errors.Is(res.Err, ftp.ErrIncomplete) || te.Got != int64(len(got)) || te.Want != 10 {
			t.Fatalf("%q: result %+v", got, res)
		}
		r.state(states.Ready)
	}
}

func TestTransferFailureAfterPartialData(t *testing.T) {
	for _, code := range []int{426, 451} {
		r := newRig(t, nil)
		r.loggedIn()
		o, req := r.retr(&Data{Sink: io.Discard})
		r.dataIn(req, "partial")
		r.recv(strings.TrimSpace(string(rune('0'+code/100))+string(rune('0'+code/10%10))+string(rune('0'+code%10))) + " aborted")
		res := o.once(t)
		if !errors.Is(res.Err, ftp.ErrIncomplete) || res.Bytes != 7 {
			t.Fatalf("%d: result %+v", code, res)
		}
		replyError(t, res.Err, code)
		r.dataDropped(req, true)
		r.state(states.Ready)
		// The session goes on.
		n := r.do(ftp.Cmd("NOOP"), nil)
		r.sent("NOOP")
		r.recv("200 ok")
		if n.once(t).Err != nil {
			t.Fatal(n.res.Err)
		}
	}
}

func TestTransferFailsBeforeData(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("RETR", "missing"), &Data{Sink: io.Discard})
	req := r.openData("RETR missing")
	r.recv("550 No such file")
	res := o.once(t)
	fe := replyError(t, res.Err, 550)
	if errors.Is(res.Err, ftp.ErrIncomplete) || fe.Verb != "RETR" {
		t.Fatalf("550 before any data should be a plain reply error: %v", res.Err)
	}
	r.dataDropped(req, true)
	r.state(states.Ready)
}

func TestTransferDataConnectTimeout(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{DataConnect: 3 * time.Second}})
	r.loggedIn()
	o := r.do(ftp.Cmd("LIST"), &Data{Sink: io.Discard})
	r.sent("EPSV")
	r.recv("229 Entering Extended Passive Mode (|||2121|)")
	req := r.d.opens[0]
	r.advance(3 * time.Second)
	res := o.once(t)
	var te *ftp.TimeoutError
	if !errors.As(res.Err, &te) || !strings.Contains(te.Op, "127.0.0.1:2121") {
		t.Fatalf("result %+v", res)
	}
	r.dataDropped(req, true)
	r.sent() // LIST never went out
	r.state(states.Ready)
}

func TestTransferDataConnectRefused(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("LIST"), &Data{Sink: io.Discard})
	r.sent("EPSV")
	r.recv("229 Entering Extended Passive Mode (|||2121|)")
	r.s.DataClosed(r.d.opens[0], 0, syscall.ECONNREFUSED)
	res := o.once(t)
	if !errors.Is(res.Err, syscall.ECONNREFUSED) || !errors.Is(res.Err, ftp.ErrIncomplete) {
		t.Fatalf("result %+v", res)
	}
	r.sent()
	r.state(states.Ready)
}

func TestPassiveFallbackAndHost(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("LIST"), &Data{Sink: io.Discard})
	r.sent("EPSV")
	r.recv("500 EPSV not understood")
	r.sent("PASV")
	r.recv("227 Entering Passive Mode (10,1,2,3,4,1)")
	req := r.d.opens[0]
	if req.Addr != "127.0.0.1:1025" {
		t.Fatalf("data connection to %q, want the control host", req.Addr)
	}
	r.s.DataOpened(req)
	r.sent("LIST")
	r.recv("150 listing")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 done")
	if o.once(t).Err != nil {
		t.Fatal(o.res.Err)
	}
	// EPSV is not tried again in this session.
	o = r.do(ftp.Cmd("NLST"), &Data{Sink: io.Discard})
	r.sent("PASV")
	r.recv("227 Entering Passive Mode (127,0,0,1,4,2)")
	if r.d.opens[1].Addr != "127.0.0.1:1026" {
		t.Fatalf("second data connection to %q", r.d.opens[1].Addr)
	}

	// With TrustPASVHost the advertised host is used.
	r = newRig(t, &Config{TrustPASVHost: true, DisableEPSV: true})
	r.loggedIn()
	r.do(ftp.Cmd("LIST"), &Data{Sink: io.Discard})
	r.sent("PASV")
	r.recv("227 Entering Passive Mode (10,1,2,3,4,1)")
	if r.d.opens[0].Addr != "10.1.2.3:1025" {
		t.Fatalf("data connection to %q, want the trusted PASV host", r.d.opens[0].Addr)
	}
}

func TestPassiveRefusedAndMalformed(t *testing.T) {
	cases := []struct {
		name    string
		replies []string
		sends   []string
		code    int // 0: a protocol error
	}{
		{"both refused", []string{"502 no EPSV", "502 no PASV"}, []string{"EPSV", "PASV"}, 502},
		{"EPSV 425", []string{"425 cannot open"}, []string{"EPSV"}, 425},
		{"229 malformed", []string{"229 Entering Extended Passive Mode (|||x|)"}, []string{"EPSV"}, 0},
		{"229 port 0", []string{"229 (|||0|)"}, []string{"EPSV"}, 0},
		{"229 with a host", []string{"229 (|1|10.0.0.1|2121|)"}, []string{"EPSV"}, 0},
		{"227 port 0", []string{"500 ?", "227 (127,0,0,1,0,0)"}, []string{"EPSV", "PASV"}, 0},
		{"227 garbage", []string{"500 ?", "227 Entering Passive Mode"}, []string{"EPSV", "PASV"}, 0},
		{"227 missing numbers", []string{"500 ?", "227 (127,0,0,1,4)"}, []string{"EPSV", "PASV"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.loggedIn()
			o := r.do(ftp.Cmd("RETR", "f"), &Data{Sink: io.Discard})
			var sent []string
			for _, rep := range c.replies {
				sent = append(sent, r.d.out...)
				r.d.out = nil
				r.recv(rep)
			}
			sent = append(sent, r.d.out...)
			r.d.out = nil
			if strings.Join(sent, ",") != strings.Join(c.sends, ",") {
				t.Fatalf("sent %q, want %q", sent, c.sends)
			}
			res := o.once(t)
			if c.code != 0 {
				replyError(t, res.Err, c.code)
			} else if !errors.Is(res.Err, ftp.ErrProtocol) {
				t.Fatalf("result %+v, want a protocol error", res)
			}
			if len(r.d.opens) != 0 {
				t.Fatalf("data connection asked for: %+v", r.d.opens[0])
			}
			r.state(states.Ready)
		})
	}
}

func TestTransferResume(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	var sink bytes.Buffer
	o := r.do(ftp.Cmd("RETR", "big"), &Data{Sink: &sink, Offset: 1000})
	r.sent("EPSV")
	r.recv("229 (|||2121|)")
	req := r.d.opens[0]
	r.s.DataOpened(req)
	r.sent("REST 1000")
	r.recv("350 Restarting at 1000")
	r.sent("RETR big")
	r.recv("150 go")
	r.dataIn(req, "tail")
	r.recv("226 ok")
	r.s.DataClosed(req, 0, nil)
	if res := o.once(t); res.Err != nil || res.Bytes != 4 {
		t.Fatalf("result %+v", res)
	}

	// REST refused: the transfer fails and RETR is never sent.
	o = r.do(ftp.Cmd("RETR", "big"), &Data{Sink: &sink, Offset: 1000})
	r.sent("EPSV")
	r.recv("229 (|||2122|)")
	req = r.d.opens[1]
	r.s.DataOpened(req)
	r.sent("REST 1000")
	r.recv("502 REST not implemented")
	replyError(t, o.once(t).Err, 502)
	r.sent()
	r.dataDropped(req, true)
	r.state(states.Ready)
}

func TestListingLimit(t *testing.T) {
	r := newRig(t, &Config{Limits: Limits{MaxListing: 10}})
	r.loggedIn()
	o := r.do(ftp.Cmd("LIST"), &Data{Sink: io.Discard})
	req := r.openData("LIST")
	r.recv("150 listing")
	r.dataIn(req, "0123456789")
	if err := r.s.DataIn(req, []byte("x")); !errors.Is(err, ftp.ErrIncomplete) {
		t.Fatalf("DataIn over the limit: %v", err)
	}
	r.dataDropped(req, true)
	r.recv("426 aborted")
	if res := o.once(t); !errors.Is(res.Err, ftp.ErrIncomplete) {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
}

// failWriter refuses every write.
type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestSinkFailure(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o, req := r.retr(&Data{Sink: failWriter{}})
	if err := r.s.DataIn(req, []byte("x")); err == nil {
		t.Fatal("DataIn accepted bytes the sink refused")
	}
	r.dataDropped(req, true)
	r.recv("426 aborted")
	res := o.once(t)
	if !errors.Is(res.Err, ftp.ErrIncomplete) {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
}

func TestUpload(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	src := strings.NewReader("upload body")
	o := r.do(ftp.Cmd("STOR", "up.txt"), &Data{Source: src, OffLoop: true})
	req := r.openData("STOR up.txt")
	if !req.Upload || req.Source != src || !req.OffLoop || req.Sink != nil {
		t.Fatalf("data request %+v", req)
	}
	r.recv("150 send it")
	r.s.DataClosed(req, 11, nil)
	r.recv("226 stored")
	if res := o.once(t); res.Err != nil || res.Bytes != 11 {
		t.Fatalf("result %+v", res)
	}
	// On-loop progress reports add up too.
	o = r.do(ftp.Cmd("APPE", "up.txt"), &Data{Source: strings.NewReader("abc")})
	req = r.openData("APPE up.txt")
	r.recv("150 send it")
	r.s.DataSent(req, 2)
	r.s.DataSent(req, 1)
	r.recv("226 stored")
	r.s.DataClosed(req, 0, nil)
	if res := o.once(t); res.Err != nil || res.Bytes != 3 {
		t.Fatalf("result %+v", res)
	}
}

// TestTransfer226WithoutPreliminary: some servers skip the 150.
func TestTransfer226WithoutPreliminary(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("NLST"), &Data{Sink: io.Discard})
	req := r.openData("NLST")
	r.state(states.DataOpening)
	r.s.DataClosed(req, 0, nil)
	r.recv("226 done")
	if res := o.once(t); res.Err != nil {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
}

// TestSecondDataOpenIgnored: the driver reporting a data connection the
// session did not ask for changes nothing.
func TestStrayDataEvents(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o, req := r.retr(&Data{Sink: io.Discard})
	stray := &DataRequest{Network: "tcp", Addr: "127.0.0.1:9"}
	r.s.DataOpened(stray)
	if err := r.s.DataIn(stray, []byte("evil")); err == nil {
		t.Fatal("DataIn accepted bytes of a stray connection")
	}
	r.s.DataClosed(stray, 100, nil)
	r.s.DataOpened(req) // twice
	r.sent()
	r.dataIn(req, "good")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 ok")
	if res := o.once(t); res.Err != nil || res.Bytes != 4 {
		t.Fatalf("result %+v", res)
	}
}

// TestTransferTwoPreliminaryReplies is a regression test found by
// FuzzSession (testdata/fuzz/FuzzSession/4eef8da0816afc2d): a second 1yz to a
// data command used to fail the transfer with an "illegal move" error.
func TestTransferTwoPreliminaryReplies(t *testing.T) {
	r := newRig(t, nil)
	r.loggedIn()
	o := r.do(ftp.Cmd("RETR", "f"), &Data{Sink: io.Discard})
	req := r.openData("RETR f")
	r.recv("125 Data connection already open")
	r.recv("150 Opening BINARY mode data connection")
	r.state(states.Transferring)
	r.dataIn(req, "abc")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 done")
	if res := o.once(t); res.Err != nil || res.Bytes != 3 {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
}

// TestOffLoopFailureCause: when an off-loop transfer fails on both sides, the
// result names the side that caused it. A server that refuses an upload (550)
// and drops the data connection makes our write fail too; that network error
// is the echo and the 550 the cause. A caller's sink that fails makes the
// server answer 426; there the sink's error is the cause, even when the 426
// reaches the session before the goroutine's report.
func TestOffLoopFailureCause(t *testing.T) {
	t.Run("server refusal wins over the broken connection", func(t *testing.T) {
		r := newRig(t, nil)
		r.loggedIn()
		o := r.do(ftp.Cmd("STOR", "up.bin"), &Data{Source: strings.NewReader("x"), OffLoop: true})
		req := r.openData("STOR up.bin")
		r.recv("550 Permission denied")
		r.dataDropped(req, true)
		if o.calls != 0 {
			t.Fatalf("completed before the goroutine reported: %+v", o.res)
		}
		reset := &net.OpError{Op: "close", Net: "tcp", Err: syscall.ENOTCONN}
		r.s.DataClosed(req, 1, reset)
		res := o.once(t)
		var re *ftp.Error
		if !errors.As(res.Err, &re) || re.Code != 550 {
			t.Fatalf("result %v (%T), want the server's 550", res.Err, res.Err)
		}
		r.state(states.Ready)
	})
	t.Run("on the loop too", func(t *testing.T) {
		r := newRig(t, nil)
		r.loggedIn()
		o := r.do(ftp.Cmd("STOR", "up.bin"), &Data{Source: strings.NewReader("x")})
		req := r.openData("STOR up.bin")
		r.s.DataSent(req, 1)
		r.s.DataClosed(req, 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET})
		if o.calls != 0 {
			t.Fatalf("completed before the server's reply: %+v", o.res)
		}
		r.recv("550 Permission denied")
		res := o.once(t)
		var re *ftp.Error
		if !errors.As(res.Err, &re) || re.Code != 550 {
			t.Fatalf("result %v (%T), want the server's 550", res.Err, res.Err)
		}
		r.state(states.Ready)
	})
	t.Run("a failing sink wins over the server's 426", func(t *testing.T) {
		r := newRig(t, nil)
		r.loggedIn()
		o, req := r.retr(&Data{Sink: failWriter{}, OffLoop: true})
		r.recv("426 Connection closed; transfer aborted")
		r.s.DataClosed(req, 4096, errDiskFull)
		res := o.once(t)
		var te *ftp.TransferError
		if !errors.As(res.Err, &te) || !errors.Is(res.Err, errDiskFull) || te.Got != 4096 {
			t.Fatalf("result %v (%T), want a TransferError wrapping the sink's error after 4096 bytes", res.Err, res.Err)
		}
		r.state(states.Ready)
	})
}
