package session_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/session"
)

// lifecycleDriver plays a server for BenchmarkLifecycle with no sockets: each
// command the session writes gets its reply, queued and fed back once the
// session's call has returned (a driver must not call back into the session
// from inside one of its calls).
type lifecycleDriver struct {
	s       *session.Session
	replies [][]byte
	open    *session.DataRequest // asked for, not yet reported open
	last    *session.DataRequest // the data connection in use
	body    []byte
	closed  bool
}

var (
	rGreeting = []byte("220 ready\r\n")
	rUser     = []byte("331 password please\r\n")
	rPass     = []byte("230 logged in\r\n")
	rPwd      = []byte("257 \"/\" is the current directory\r\n")
	rType     = []byte("200 type set\r\n")
	rEPSV     = []byte("229 Entering Extended Passive Mode (|||40000|)\r\n")
	rOpening  = []byte("150 Opening data connection\r\n")
	rDone     = []byte("226 Transfer complete\r\n")
	rBye      = []byte("221 Goodbye\r\n")
	listing   = bytes.Repeat([]byte("-rw-r--r-- 1 ftp ftp 1024 Jan 01 00:00 1k.bin\r\n"), 4)
	small     = bytes.Repeat([]byte{'x'}, 1024)
)

func (d *lifecycleDriver) Write(p []byte) {
	switch {
	case bytes.HasPrefix(p, []byte("USER")):
		d.replies = append(d.replies, rUser)
	case bytes.HasPrefix(p, []byte("PASS")):
		d.replies = append(d.replies, rPass)
	case bytes.HasPrefix(p, []byte("PWD")):
		d.replies = append(d.replies, rPwd)
	case bytes.HasPrefix(p, []byte("TYPE")):
		d.replies = append(d.replies, rType)
	case bytes.HasPrefix(p, []byte("EPSV")):
		d.replies = append(d.replies, rEPSV)
	case bytes.HasPrefix(p, []byte("LIST")):
		d.body = listing
		d.replies = append(d.replies, rOpening, nil, rDone) // nil: the data moves here
	case bytes.HasPrefix(p, []byte("RETR")):
		d.body = small
		d.replies = append(d.replies, rOpening, nil, rDone)
	case bytes.HasPrefix(p, []byte("QUIT")):
		d.replies = append(d.replies, rBye)
	default:
		panic("unexpected command " + string(p))
	}
}

func (d *lifecycleDriver) OpenData(req *session.DataRequest) { d.open, d.last = req, req }
func (d *lifecycleDriver) CloseData(*session.DataRequest)    {}
func (d *lifecycleDriver) StartTLS()                         {}
func (d *lifecycleDriver) Close()                            { d.closed = true }
func (d *lifecycleDriver) Reschedule(time.Time)              {}
func (d *lifecycleDriver) Listen(*session.DataRequest)       {}

// pump feeds queued replies (and data connection events) until the session
// has nothing more to say.
func (d *lifecycleDriver) pump() {
	for {
		if req := d.open; req != nil && len(d.replies) == 0 {
			d.open = nil
			d.s.DataOpened(req)
			continue
		}
		if len(d.replies) == 0 {
			return
		}
		r := d.replies[0]
		d.replies = d.replies[1:]
		if r == nil {
			if err := d.s.DataIn(d.last, d.body); err != nil {
				panic(err)
			}
			d.s.DataClosed(d.last, 0, nil)
			continue
		}
		d.s.Receive(r)
	}
}

// BenchmarkLifecycle runs the benchmark's lifecycle session (greeting, USER,
// PASS, PWD, TYPE I, EPSV+LIST, EPSV+RETR of 1 KiB, QUIT) through the
// sans-I/O core alone: the protocol's own CPU and allocations per session,
// with no sockets and no event loop.
func BenchmarkLifecycle(b *testing.B) {
	cfg := &session.Config{User: "bench", Password: "secret"}
	steps := []*session.Request{
		{Cmd: ftp.Cmd("PWD")},
		{Cmd: ftp.Cmd("TYPE", "I")},
		{Cmd: ftp.Cmd("LIST"), Data: &session.Data{Sink: io.Discard}},
		{Cmd: ftp.Cmd("RETR", "1k.bin"), Data: &session.Data{Sink: io.Discard}},
		{Cmd: ftp.Cmd("QUIT")},
	}
	var failed error
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d := &lifecycleDriver{replies: make([][]byte, 0, 4)}
		s := session.New(uint64(i+1), cfg, d)
		d.s = s
		var bytes int64
		var next func(int) func(session.Result)
		next = func(k int) func(session.Result) {
			return func(r session.Result) {
				if r.Err != nil {
					failed = r.Err
					return
				}
				bytes += r.Bytes
				if k < len(steps) {
					st := *steps[k]
					st.Done = next(k + 1)
					s.Do(&st)
				}
			}
		}
		s.Connected("127.0.0.1:21", "127.0.0.1:50000", next(0))
		d.replies = append(d.replies, rGreeting)
		d.pump()
		if failed != nil || !d.closed || bytes != int64(len(listing)+len(small)) {
			b.Fatalf("session %d: err %v, closed %v, %d bytes", i, failed, d.closed, bytes)
		}
	}
}
