package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// TestReviewTLSLoginDoneQueuesAfterProtection: the login's Done may queue
// work (Request.Done says so), and with TLS that work must still follow PBSZ
// and PROT: nothing runs before the data channel's protection is agreed.
func TestReviewTLSLoginDoneQueuesAfterProtection(t *testing.T) {
	d := &fakeDriver{t: t}
	now := epoch
	cfg := &Config{User: "alice", Password: "pw", TLS: TLSExplicit, Now: func() time.Time { return now }}
	s := New(1, cfg, d)
	var queued outcome
	s.Connected("127.0.0.1:21", "127.0.0.1:50000", func(res Result) {
		if res.Err != nil {
			t.Fatalf("login: %v", res.Err)
		}
		s.Do(&Request{Cmd: ftp.Cmd("PWD"), Done: queued.done})
	})
	feed := func(line string) { s.Receive([]byte(line + "\r\n")) }
	feed("220 ready")
	feed("234 go ahead")
	s.Secured(nil)
	feed("331 password please")
	feed("230 welcome")
	if got := d.out; len(got) < 4 || got[3] != "PBSZ 0" {
		t.Fatalf("after the 230 the session wrote %q; PBSZ 0 must come before anything the login's Done queued", got)
	}
	feed("200 PBSZ=0")
	feed("200 PROT ok")
	want := []string{"AUTH TLS", "USER alice", "PASS pw", "PBSZ 0", "PROT P", "PWD"}
	if len(d.out) != len(want) {
		t.Fatalf("wrote %q, want %q", d.out, want)
	}
	for i := range want {
		if d.out[i] != want[i] {
			t.Fatalf("wrote %q, want %q", d.out, want)
		}
	}
	feed(`257 "/" is cwd`)
	if res := queued.once(t); res.Err != nil || res.Value != "/" {
		t.Fatalf("queued PWD: %+v", res)
	}
}

// TestReviewActiveFinalReplyBeforeConnection: in active mode the server's 150
// and 226 can be read on the control connection before the driver has
// accepted and enrolled the data connection (the accept runs on another
// goroutine). The session must go on waiting for the data connection within
// the data-connect timeout, not fail at once with a data timeout.
func TestReviewActiveFinalReplyBeforeConnection(t *testing.T) {
	r := newRig(t, &Config{DataMode: DataActive, Timeouts: Timeouts{DataConnect: 5 * time.Second}})
	r.loggedIn()
	var buf bytes.Buffer
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &buf})
	req := r.listened()
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.sent("EPRT |1|127.0.0.1|50001|")
	r.recv("200 EPRT command successful")
	r.sent("RETR file.bin")
	r.recv("150 Opening BINARY mode data connection", "226 Transfer complete")
	r.advance(50 * time.Millisecond) // one engine tick: well inside DataConnect
	if o.calls != 0 {
		t.Fatalf("transfer ended before its data connection was accepted: %+v", o.res)
	}
	r.state(states.Transferring)
	r.s.DataOpened(req)
	r.dataIn(req, "hello")
	r.s.DataClosed(req, 0, nil)
	res := o.once(t)
	if res.Err != nil || res.Bytes != 5 || buf.String() != "hello" {
		t.Fatalf("result %+v, sink %q", res, buf.String())
	}
	r.state(states.Ready)
}

// TestReviewActiveFinalReplyThenNoConnection: 150 and 226 came, and the
// server never connects: the data-connect deadline still ends the wait with
// a timeout, and the session is usable afterwards.
func TestReviewActiveFinalReplyThenNoConnection(t *testing.T) {
	r := newRig(t, &Config{DataMode: DataActive, Timeouts: Timeouts{DataConnect: 5 * time.Second}})
	r.loggedIn()
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	req := r.listened()
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.recv("200 ok")
	r.sent("EPRT |1|127.0.0.1|50001|", "RETR file.bin")
	r.recv("150 Opening BINARY mode data connection", "226 Transfer complete")
	r.advance(4 * time.Second)
	if o.calls != 0 {
		t.Fatalf("ended before the data-connect timeout: %+v", o.res)
	}
	r.advance(2 * time.Second)
	var te *ftp.TimeoutError
	if err := o.once(t).Err; !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want a data-connect timeout", err, err)
	}
	r.dataDropped(req, true)
	r.state(states.Ready)
	if !r.s.Deadline().IsZero() {
		t.Fatalf("deadline left: %v", r.s.Deadline())
	}
}
