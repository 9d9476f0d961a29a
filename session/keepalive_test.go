package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

const every = 10 * time.Second

func keepaliveRig(t *testing.T, cfg *Config) *rig {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = every
	}
	r := newRig(t, cfg)
	r.loggedIn()
	return r
}

// TestKeepaliveAnsweredAtOnce: the server answers each NOOP during the
// transfer (pure-ftpd); none of those 200s ends the transfer, and the 226 is
// not taken for a NOOP reply.
func TestKeepaliveAnsweredAtOnce(t *testing.T) {
	r := keepaliveRig(t, nil)
	var buf bytes.Buffer
	o, req := r.retr(&Data{Sink: &buf})
	for i := 0; i < 3; i++ {
		r.advance(every)
		r.sent("NOOP")
		r.dataIn(req, "x")
		r.recv("200 Zzz...")
		r.state(states.Transferring)
		if o.calls != 0 {
			t.Fatal("a NOOP reply ended the transfer")
		}
	}
	r.s.DataClosed(req, 0, nil)
	r.recv("226-Transfer complete", "226 That was a multi-line reply")
	if res := o.once(t); res.Err != nil || res.Bytes != 3 || buf.String() != "xxx" {
		t.Fatalf("result %+v", res)
	}
	r.state(states.Ready)
	// Nothing is owed: the next command goes out at once.
	p := r.do(ftp.Cmd("PWD"), nil)
	r.sent("PWD")
	r.recv(`257 "/"`)
	if res := p.once(t); res.Err != nil || res.Value != "/" {
		t.Fatalf("PWD %+v", res)
	}
}

// TestKeepaliveAnsweredAfterTransfer: the server reads the NOOPs only after the
// transfer (vsftpd, proftpd): the replies follow the 226. The next command
// waits until they are all in, so its reply cannot be taken for theirs.
func TestKeepaliveAnsweredAfterTransfer(t *testing.T) {
	r := keepaliveRig(t, nil)
	o, req := r.retr(&Data{Sink: &bytes.Buffer{}})
	r.advance(every)
	r.advance(every)
	r.sent("NOOP", "NOOP")
	p := r.do(ftp.Cmd("PWD"), nil) // queued meanwhile
	r.dataIn(req, "data")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 Transfer complete")
	if res := o.once(t); res.Err != nil || res.Bytes != 4 {
		t.Fatalf("result %+v", res)
	}
	r.sent() // two replies still owed
	r.recv("200 NOOP ok")
	r.sent()
	r.recv("200 NOOP ok")
	r.sent("PWD")
	r.recv(`257 "/"`)
	if res := p.once(t); res.Err != nil || res.Value != "/" {
		t.Fatalf("PWD %+v", res)
	}
}

// TestKeepaliveRepliesOnBothSides: one NOOP answered during the transfer, one
// after the 226, in one read with it.
func TestKeepaliveRepliesOnBothSides(t *testing.T) {
	r := keepaliveRig(t, nil)
	o, req := r.retr(&Data{Sink: &bytes.Buffer{}})
	r.advance(every)
	r.recv("200 first")
	r.advance(every)
	r.sent("NOOP", "NOOP")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 Transfer complete", "200 second")
	if res := o.once(t); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.state(states.Ready)
	r.do(ftp.Cmd("NOOP"), nil)
	r.sent("NOOP") // the user's own, sent at once: nothing owed
}

// TestKeepaliveTransferFails: a failure reply during the transfer is the
// transfer's, not a NOOP's, whatever is owed.
func TestKeepaliveTransferFails(t *testing.T) {
	r := keepaliveRig(t, nil)
	o, req := r.retr(&Data{Sink: &bytes.Buffer{}})
	r.advance(every)
	r.sent("NOOP")
	r.dataIn(req, "ab")
	r.recv("451 Local error in processing")
	r.s.DataClosed(req, 0, nil)
	err := o.once(t).Err
	replyError(t, err, 451)
	if !errors.Is(err, ftp.ErrIncomplete) {
		t.Fatalf("error %v does not say incomplete", err)
	}
	r.recv("200 late NOOP reply")
	r.state(states.Ready)
	r.do(ftp.Cmd("PWD"), nil)
	r.sent("PWD")
}

// TestKeepaliveOwedReplyNeverComes: a NOOP reply owed after the transfer is
// bounded by the reply timeout.
func TestKeepaliveOwedReplyNeverComes(t *testing.T) {
	r := keepaliveRig(t, &Config{Timeouts: Timeouts{Reply: 5 * time.Second}})
	o, req := r.retr(&Data{Sink: &bytes.Buffer{}})
	r.advance(every)
	r.sent("NOOP")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 Transfer complete")
	o.once(t)
	r.advance(6 * time.Second)
	var te *ftp.TimeoutError
	if err := r.failed(ftp.ErrTimeout); !errors.As(err, &te) || te.Op != "reply to NOOP" {
		t.Fatalf("error %v", err)
	}
}

// TestKeepaliveRefused: a server that refuses NOOP gets no more of them.
func TestKeepaliveRefused(t *testing.T) {
	r := keepaliveRig(t, nil)
	o, req := r.retr(&Data{Sink: &bytes.Buffer{}})
	r.advance(every)
	r.sent("NOOP")
	r.recv("502 NOOP not implemented")
	r.advance(every)
	r.advance(every)
	r.sent()
	r.s.DataClosed(req, 0, nil)
	r.recv("226 Transfer complete")
	if res := o.once(t); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestKeepaliveOnlyWhileTransferring: no NOOP before the server has accepted
// the data command, none without the option, none for quick commands.
func TestKeepaliveOnlyWhileTransferring(t *testing.T) {
	r := keepaliveRig(t, &Config{Timeouts: Timeouts{Reply: time.Hour, DataConnect: time.Hour}})
	r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	r.sent("EPSV")
	r.advance(3 * every)
	r.sent()
	r.state(states.DataOpening)

	r2 := newRig(t, nil) // keepalive off
	r2.loggedIn()
	_, req := r2.retr(&Data{Sink: &bytes.Buffer{}})
	r2.dataIn(req, "x")
	r2.advance(30 * time.Second)
	r2.sent()
}

// TestIdleKeepalive: an idle session sends NOOP every IdleKeepalive; work
// queued while its reply is due waits for it.
func TestIdleKeepalive(t *testing.T) {
	r := newRig(t, &Config{IdleKeepalive: time.Minute})
	r.loggedIn()
	r.advance(59 * time.Second)
	r.sent()
	r.advance(time.Second)
	r.sent("NOOP")
	r.state(states.Ready)
	p := r.do(ftp.Cmd("PWD"), nil)
	r.sent()
	r.recv("200 NOOP ok")
	r.sent("PWD")
	r.recv(`257 "/"`)
	p.once(t)
	r.advance(time.Minute)
	r.sent("NOOP")
	r.recv("200 NOOP ok")
	r.advance(time.Minute)
	r.sent("NOOP")
	// Unanswered, it times out like any reply.
	r.advance(31 * time.Second)
	r.failed(ftp.ErrTimeout)
}
