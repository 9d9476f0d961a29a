package netdriver

import (
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
)

// watchedReader is an upload source that records whether it is read while,
// or after, the request that owns it has finished. Its second Read is slow
// (a reader that blocks for a while, as a file or a pipe may).
type watchedReader struct {
	mu       sync.Mutex
	reads    int
	inRead   int
	finished bool
	late     int // Reads in progress when the request finished, or begun after
}

func (r *watchedReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	r.reads++
	k := r.reads
	r.inRead++
	if r.finished {
		r.late++
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inRead--
		r.mu.Unlock()
	}()
	switch k {
	case 1:
		return copy(p, make([]byte, 1024)), nil
	case 2:
		time.Sleep(300 * time.Millisecond)
		return copy(p, make([]byte, 1024)), nil
	default:
		return 0, errors.New("EOF never comes: the server refused the upload")
	}
}

// finish marks the request as finished; it runs in the request's Done.
func (r *watchedReader) finish() {
	r.mu.Lock()
	r.finished = true
	r.late += r.inRead
	r.mu.Unlock()
}

// TestReviewInSessionUploadSourceNotReadAfterDone: an upload kept in the
// session (Data.OffLoop false) must not have its Source read once the
// request's Done has run: the caller owns the reader again then. The server
// refuses the STOR while the upload is still reading.
func TestReviewInSessionUploadSourceNotReadAfterDone(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 pass"),
		ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 in"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.DataAccept(),
		ftptest.Expect("STOR up.bin"), ftptest.Reply("550 not allowed"),
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
	do := func(req *session.Request, then func()) session.Result {
		ch := make(chan session.Result, 1)
		req.Done = func(r session.Result) {
			if then != nil {
				then()
			}
			ch <- r
		}
		conn.Do(req)
		select {
		case r := <-ch:
			return r
		case <-time.After(20 * time.Second):
			t.Fatal("request never finished")
			return session.Result{}
		}
	}
	src := &watchedReader{}
	r := do(&session.Request{Cmd: ftp.Cmd("STOR", "up.bin"), Data: &session.Data{Source: src}}, src.finish)
	var fe *ftp.Error
	if !errors.As(r.Err, &fe) || fe.Code != 550 {
		t.Fatalf("STOR: %v, want the 550", r.Err)
	}
	if r := do(&session.Request{Cmd: ftp.Cmd("QUIT")}, nil); r.Err != nil {
		t.Fatalf("QUIT: %v", r.Err)
	}
	<-conn.Done()
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.late != 0 {
		t.Fatalf("the upload source was read %d time(s) while or after its request finished", src.late)
	}
}
