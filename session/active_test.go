package session

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// listened checks that the session asked the driver to listen once more, on
// the control connection's local host for the control connection's peer, and
// returns the request.
func (r *rig) listened() *DataRequest {
	r.t.Helper()
	if len(r.d.listens) == 0 {
		r.t.Fatal("the session did not ask the driver to listen")
	}
	req := r.d.listens[len(r.d.listens)-1]
	a := req.Active
	if a == nil || req.Addr != "127.0.0.1:0" || a.Peer != "127.0.0.1" || a.Timeout <= 0 {
		r.t.Fatalf("listen request %+v, active %+v", req, a)
	}
	r.sent() // nothing goes out before the driver says where it listens
	r.state(states.DataOpening)
	return req
}

func activeRig(t *testing.T, mode DataMode) *rig {
	r := newRig(t, &Config{DataMode: mode})
	r.loggedIn()
	return r
}

// TestActiveConnectionBefore200 is goftp's order: the server connects during
// EPRT and replies 200 afterwards. The data command waits for the 200.
func TestActiveConnectionBefore200(t *testing.T) {
	r := activeRig(t, DataActive)
	var buf bytes.Buffer
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &buf})
	req := r.listened()
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.sent("EPRT |1|127.0.0.1|50001|")
	r.s.DataOpened(req)
	r.sent() // not before the 200
	r.recv("200 Connection established (50001)")
	r.sent("RETR file.bin")
	r.recv("150 Opening BINARY mode data connection")
	r.dataIn(req, "hello")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 Transfer complete")
	res := o.once(t)
	if res.Err != nil || res.Bytes != 5 || buf.String() != "hello" {
		t.Fatalf("result %+v, sink %q", res, buf.String())
	}
	r.state(states.Ready)
	if !r.s.Deadline().IsZero() {
		t.Fatalf("deadline left: %v", r.s.Deadline())
	}
}

// TestActiveConnectionAfter150 is vsftpd's order: 200 to EPRT at once, the
// connection after RETR's 150. The reply deadline must not cut a long
// transfer once the bytes flow.
func TestActiveConnectionAfter150(t *testing.T) {
	r := activeRig(t, DataActive)
	var buf bytes.Buffer
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &buf, OffLoop: true})
	req := r.listened()
	if req.Sink != &buf || !req.OffLoop || req.Upload {
		t.Fatalf("request %+v", req)
	}
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.sent("EPRT |1|127.0.0.1|50001|")
	r.recv("200 EPRT command successful")
	r.sent("RETR file.bin")
	r.recv("150 Opening BINARY mode data connection")
	r.state(states.Transferring)
	r.s.DataOpened(req)
	r.sent()
	r.advance(2 * time.Minute) // far beyond the reply timeout: the driver bounds an off-loop transfer
	r.state(states.Transferring)
	r.s.DataClosed(req, 7, nil)
	r.recv("226 Transfer complete")
	if res := o.once(t); res.Err != nil || res.Bytes != 7 {
		t.Fatalf("result %+v", res)
	}
}

// TestActiveNeverConnects: the server accepts RETR but never connects; the
// data-connect deadline fails the transfer, the listener is dropped, and the
// session stays usable once the server's reply is in.
func TestActiveNeverConnects(t *testing.T) {
	r := newRig(t, &Config{DataMode: DataActive, Timeouts: Timeouts{DataConnect: 5 * time.Second}})
	r.loggedIn()
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	req := r.listened()
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.recv("200 ok")
	r.sent("EPRT |1|127.0.0.1|50001|", "RETR file.bin")
	r.recv("150 Opening BINARY mode data connection")
	r.advance(6 * time.Second)
	r.dataDropped(req, true)
	r.recv("425 Cannot open data connection")
	err := o.once(t).Err
	var te *ftp.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want a timeout", err, err)
	}
	r.state(states.Ready)

	// Without a reply after the data timeout, the reply deadline (set by the
	// 150) still runs: the driver must be told of it again.
	r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	req = r.listened()
	r.s.Listening(req, "127.0.0.1:50002", nil)
	r.recv("200 ok")
	r.sent("EPRT |1|127.0.0.1|50002|", "RETR file.bin")
	r.recv("150 Opening BINARY mode data connection")
	r.advance(6 * time.Second)
	r.state(states.Transferring)
	r.advance(30 * time.Second)
	r.failed(ftp.ErrTimeout)
}

// TestActiveEPRTRefused: 500 to EPRT makes the session send PORT, and
// remember it for the next transfer.
func TestActiveEPRTRefused(t *testing.T) {
	r := activeRig(t, DataActive)
	for i, first := range []bool{true, false} {
		o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}, Offset: 10})
		req := r.listened()
		r.s.Listening(req, "127.0.0.1:50001", nil) // 50001 = 195*256 + 81
		if first {
			r.sent("EPRT |1|127.0.0.1|50001|")
			r.recv("500 EPRT not understood")
		}
		r.sent("PORT 127,0,0,1,195,81")
		r.recv("200 PORT command successful")
		r.sent("REST 10")
		r.recv("350 Restarting at 10")
		r.sent("RETR file.bin")
		r.recv("150 go")
		r.s.DataOpened(req)
		r.dataIn(req, "abc")
		r.recv("226 done")
		r.s.DataClosed(req, 0, nil)
		if res := o.once(t); res.Err != nil || res.Bytes != 3 {
			t.Fatalf("transfer %d: %+v", i, res)
		}
	}
}

// TestActivePORTRefused: a refusal of PORT is the transfer's typed error, and
// the listener is dropped.
func TestActivePORTRefused(t *testing.T) {
	r := activeRig(t, DataActive)
	o := r.do(ftp.Cmd("STOR", "up.bin"), &Data{Source: bytes.NewReader([]byte("x"))})
	req := r.listened()
	if !req.Upload {
		t.Fatal("upload not marked")
	}
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.recv("502 no EPRT")
	r.recv("504 no PORT either")
	r.sent("EPRT |1|127.0.0.1|50001|", "PORT 127,0,0,1,195,81")
	replyError(t, o.once(t).Err, 504)
	r.dataDropped(req, true)
	r.state(states.Ready)
}

// TestActiveIPv6 sends EPRT |2|; PORT cannot carry an IPv6 address, so a
// refusal of EPRT ends in ErrUnsupported.
func TestActiveIPv6(t *testing.T) {
	r := activeRig(t, DataActive)
	o := r.do(ftp.Cmd("LIST"), &Data{Sink: &bytes.Buffer{}})
	req := r.listened()
	r.s.Listening(req, "[::1]:50001", nil)
	r.sent("EPRT |2|::1|50001|")
	r.recv("502 no EPRT")
	err := o.once(t).Err
	if !errors.Is(err, ftp.ErrUnsupported) {
		t.Fatalf("error %v, want one matching ErrUnsupported", err)
	}
	r.dataDropped(req, true)
	r.state(states.Ready)
}

// TestActiveAdvertise sends the configured public address, while the driver
// still listens on the local one.
func TestActiveAdvertise(t *testing.T) {
	r := newRig(t, &Config{DataMode: DataActive, Active: ActiveOptions{Advertise: "203.0.113.7", PortMin: 40000, PortMax: 40009}})
	r.loggedIn()
	r.do(ftp.Cmd("NLST"), &Data{Sink: &bytes.Buffer{}})
	req := r.listened()
	if req.Active.PortMin != 40000 || req.Active.PortMax != 40009 {
		t.Fatalf("port range %+v", req.Active)
	}
	r.s.Listening(req, "127.0.0.1:40003", nil)
	r.sent("EPRT |1|203.0.113.7|40003|")
	r.recv("500 ?")
	r.sent("PORT 203,0,113,7,156,67")
}

// TestActiveListenFails: the driver cannot listen; nothing is sent and the
// transfer fails with the driver's error inside.
func TestActiveListenFails(t *testing.T) {
	r := activeRig(t, DataActive)
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	req := r.listened()
	r.s.Listening(req, "", syscall.EADDRINUSE)
	r.sent()
	err := o.once(t).Err
	if !errors.Is(err, syscall.EADDRINUSE) || !errors.Is(err, ftp.ErrIncomplete) {
		t.Fatalf("error %v", err)
	}
	r.state(states.Ready)
	// A late or repeated answer changes nothing.
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.sent()
}

// TestActiveSessionEndDropsListener: the session ends while it waits for the
// server; the listener must be closed with it.
func TestActiveSessionEndDropsListener(t *testing.T) {
	r := activeRig(t, DataActive)
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	req := r.listened()
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.s.Abort(ftp.ErrCanceled)
	r.dataDropped(req, true)
	if err := o.once(t).Err; !errors.Is(err, ftp.ErrCanceled) {
		t.Fatalf("error %v", err)
	}
	r.failed(ftp.ErrCanceled)
}

// TestAutoMode: passive first; when EPSV and PASV are both refused, active,
// and active straight away for the next transfer.
func TestAutoMode(t *testing.T) {
	r := activeRig(t, DataAuto)
	o := r.do(ftp.Cmd("RETR", "file.bin"), &Data{Sink: &bytes.Buffer{}})
	r.sent("EPSV")
	r.recv("500 EPSV not understood")
	r.sent("PASV")
	r.recv("550 Permission denied")
	req := r.listened()
	r.s.Listening(req, "127.0.0.1:50001", nil)
	r.sent("EPRT |1|127.0.0.1|50001|")
	r.recv("200 ok")
	r.sent("RETR file.bin")
	r.recv("150 go")
	r.s.DataOpened(req)
	r.dataIn(req, "x")
	r.s.DataClosed(req, 0, nil)
	r.recv("226 done")
	if res := o.once(t); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.do(ftp.Cmd("LIST"), &Data{Sink: &bytes.Buffer{}})
	r.listened()

	// A permanent refusal of EPSV other than 500/502 also moves on to PASV in
	// auto mode; PASV accepted keeps the session passive.
	r2 := activeRig(t, DataAuto)
	r2.do(ftp.Cmd("LIST"), &Data{Sink: &bytes.Buffer{}})
	r2.sent("EPSV")
	r2.recv("522 Network protocol not supported")
	r2.sent("PASV")
	r2.recv("227 Entering Passive Mode (127,0,0,1,8,73)")
	if len(r2.d.opens) != 1 || len(r2.d.listens) != 0 {
		t.Fatalf("opens %d, listens %d", len(r2.d.opens), len(r2.d.listens))
	}

	// Passive mode does not fall back.
	r3 := activeRig(t, DataPassive)
	o3 := r3.do(ftp.Cmd("LIST"), &Data{Sink: &bytes.Buffer{}})
	r3.sent("EPSV")
	r3.recv("500 no")
	r3.sent("PASV")
	r3.recv("502 no")
	replyError(t, o3.once(t).Err, 502)
	if len(r3.d.listens) != 0 {
		t.Fatal("passive mode listened")
	}
}

func TestActiveConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Active: ActiveOptions{Advertise: "example.org"}},
		{Active: ActiveOptions{PortMin: 2000, PortMax: 1000}},
		{Active: ActiveOptions{PortMin: 2000}},
		{Active: ActiveOptions{PortMin: 60000, PortMax: 70000}},
		{DataMode: 9},
	} {
		if err := c.Validate(); !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidArgument", c, err)
		}
	}
	good := Config{DataMode: DataAuto, Active: ActiveOptions{Advertise: "2001:db8::1", PortMin: 1024, PortMax: 1024}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}
