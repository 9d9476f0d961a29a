package netdriver

import (
	"bytes"
	"testing"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
)

// After an upload the driver leaves the data socket open for the server to
// close (goftp never does); the next data connection closes it, and the
// session's end closes whatever is left.
func TestUploadSocketClosedByNextTransfer(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	up := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 pass"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 in"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("STOR up.bin"), ftptest.Reply("150 go"),
		ftptest.DataAccept(), ftptest.DataReceive(), // reads to our FIN, never closes
		ftptest.Reply("226 stored"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("NLST"), ftptest.Reply("150 list"),
		ftptest.DataAccept(), ftptest.DataSend([]byte("up.bin\r\n")), ftptest.DataClose(),
		ftptest.Reply("226 listed"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}, ftptest.WithoutLog())
	defer srv.Close()
	cfg := session.Config{}
	conn, login, err := Open(srv.Addr, &cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := <-login; r.Err != nil {
		t.Fatalf("login: %v", r.Err)
	}
	do := func(req *session.Request) session.Result {
		ch := make(chan session.Result, 1)
		req.Done = func(r session.Result) { ch <- r }
		conn.Do(req)
		return <-ch
	}
	if r := do(&session.Request{Cmd: ftp.Cmd("STOR", "up.bin"), Data: &session.Data{Source: bytes.NewReader(up), OffLoop: true}}); r.Err != nil || r.Bytes != int64(len(up)) {
		t.Fatalf("STOR: %d bytes, %v", r.Bytes, r.Err)
	}
	ct := conn.ct
	var old *dataConn
	ct.exec.call(func() { old = ct.data })
	if old == nil || isClosed(old) {
		t.Fatalf("the upload's socket is not left open for the server to close")
	}
	var list bytes.Buffer
	if r := do(&session.Request{Cmd: ftp.Cmd("NLST"), Data: &session.Data{Sink: &list}}); r.Err != nil || list.String() != "up.bin\r\n" {
		t.Fatalf("NLST: %q, %v", list.String(), r.Err)
	}
	if !isClosed(old) {
		t.Errorf("the next data connection did not close the upload's socket")
	}
	if r := do(&session.Request{Cmd: ftp.Cmd("QUIT")}); r.Err != nil {
		t.Fatalf("QUIT: %v", r.Err)
	}
	<-conn.Done()
	srv.Wait()
	if got := srv.Received(); len(got) != 1 || !bytes.Equal(got[0], up) {
		t.Errorf("server received %d uploads, or other bytes", len(got))
	}
}

func isClosed(d *dataConn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}
