package session

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// fuzzSeeds are whole server sides of sessions, as real servers send them,
// answering the requests FuzzSession queues: PWD, CWD, RETR, LIST, STOR, QUIT.
var fuzzSeeds = []string{
	// vsftpd 3.0.3
	"220 (vsFTPd 3.0.3)\r\n331 Please specify the password.\r\n230 Login successful.\r\n" +
		"257 \"/\" is the current directory\r\n250 Directory successfully changed.\r\n" +
		"229 Entering Extended Passive Mode (|||30001|)\r\n150 Opening BINARY mode data connection for f (5 bytes).\r\n226 Transfer complete.\r\n" +
		"229 Entering Extended Passive Mode (|||30002|)\r\n150 Here comes the directory listing.\r\n226 Directory send OK.\r\n" +
		"229 Entering Extended Passive Mode (|||30003|)\r\n150 Ok to send data.\r\n226 Transfer complete.\r\n221 Goodbye.\r\n",
	// Pure-FTPd with a multi-line greeting, PASV only
	"220---------- Welcome to Pure-FTPd [privsep] ----------\r\n220-You are user number 1 of 50 allowed.\r\n220 You will be disconnected after 15 minutes of inactivity.\r\n" +
		"331 User u OK. Password required\r\n230 OK. Current directory is /\r\n257 \"/\" is your current location\r\n250 OK. Current directory is /pub\r\n" +
		"500 Unknown command\r\n227 Entering Passive Mode (127,0,0,1,117,48)\r\n150 Accepted data connection\r\n226-File successfully transferred\r\n226 0.000 seconds\r\n" +
		"227 Entering Passive Mode (127,0,0,1,117,49)\r\n150 Accepted data connection\r\n226 Options: -l\r\n" +
		"227 Entering Passive Mode (127,0,0,1,117,50)\r\n150 Accepted data connection\r\n226 File successfully transferred\r\n221 Logout.\r\n",
	// ProFTPD with an account and AUTH TLS refused
	"220 ProFTPD Server (asyncftp) [127.0.0.1]\r\n500 AUTH not understood\r\n",
	"220 ProFTPD Server\r\n234 AUTH TLS successful\r\n331 Password required\r\n332 Account required\r\n230 User logged in\r\n200 PBSZ 0 successful\r\n200 Protection set to Private\r\n",
	// hostile
	"120 later\r\n220-a\r\n220 b\r\n331 x\r\n530 no\r\n",
	"421 too many\r\n",
	"220 hi\r\n230 ok\r\n257 \"/\"\r\n200 unsolicited\r\n",
	"220 " + strings.Repeat("a", 300) + "\r\n",
	"220 ok\n331 ok\n230 ok\n257 \"/a\"\"b\"\n550 no\n229 (|||0|)\n227 (1,2,3,4,0,1)\n150 x\n426 y\n",
}

// FuzzSession feeds a session random server bytes in random pieces, with the
// driver's side (data connections, TLS, the clock) also chosen by the fuzzer.
// The session must never panic, never finish a request twice or write after
// Close, and must end in a terminal state once the clock runs far enough.
func FuzzSession(f *testing.F) {
	for i, s := range fuzzSeeds {
		// flags, Want, then chunk sizes and driver moves: open, data, close.
		ops := []byte{byte(i), 5, 0} // line by line
		acts := []byte{0, 1, 5, 1, 3, 2, 0}
		f.Add([]byte(s), ops, acts)
	}
	f.Fuzz(func(t *testing.T, server, ops, acts []byte) {
		if len(ops) == 0 {
			ops = []byte{0}
		}
		if len(acts) == 0 {
			acts = []byte{0}
		}
		op, ac := 0, 0
		next := func() byte { b := ops[op%len(ops)]; op++; return b }
		act := func() byte { b := acts[ac%len(acts)]; ac++; return b }

		d := &fakeDriver{t: t}
		now := epoch
		cfg := &Config{
			User: "u", Password: "p",
			Timeouts: Timeouts{Greeting: 10 * time.Second, Reply: 10 * time.Second, DataConnect: 10 * time.Second,
				DataIdle: 10 * time.Second, Idle: time.Minute},
			Limits: Limits{MaxLineLength: 256, MaxReplyLines: 16, MaxListing: 64},
			Now:    func() time.Time { return now },
		}
		flags := next()
		if flags&1 != 0 {
			cfg.TLS = TLSExplicit
		}
		if flags&2 != 0 {
			cfg.Account = "acct"
		}
		cfg.DisableEPSV = flags&4 != 0
		cfg.TrustPASVHost = flags&8 != 0
		var trace rawSink
		if flags&16 != 0 {
			cfg.Transcript = &trace
		}
		s := New(1, cfg, d)

		var outcomes []*outcome
		track := func() func(Result) {
			o := &outcome{}
			outcomes = append(outcomes, o)
			return func(r Result) {
				o.done(r)
				if o.calls > 1 {
					t.Fatalf("request finished twice: %+v", r)
				}
			}
		}
		s.Connected("127.0.0.1:21", "127.0.0.1:50000", track())
		var sink bytes.Buffer
		reqs := []*Request{
			{Cmd: ftp.Cmd("PWD")},
			{Cmd: ftp.Cmd("CWD", "/pub")},
			{Cmd: ftp.Cmd("RETR", "f"), Data: &Data{Sink: &sink, Want: int64(next() % 8)}},
			{Cmd: ftp.Cmd("LIST"), Data: &Data{Sink: &sink}},
			{Cmd: ftp.Cmd("STOR", "up"), Data: &Data{Source: strings.NewReader("body"), OffLoop: flags&32 != 0}},
			{Cmd: ftp.Cmd("QUIT")},
		}
		for _, r := range reqs {
			r.Done = track()
			s.Do(r)
		}

		type dataState struct{ opened, closed bool }
		data := map[*DataRequest]*dataState{}
		tls := 0
		advance := func(step time.Duration) {
			now = now.Add(step)
			for i := 0; i < 10 && !d.next.IsZero() && !now.Before(d.next); i++ {
				d.next = time.Time{}
				s.Tick(now)
			}
		}
		react := func() {
			for _, req := range d.opens {
				if data[req] == nil {
					data[req] = &dataState{}
				}
			}
			for _, req := range d.opens {
				ds := data[req]
				if ds.closed {
					continue
				}
				switch act() % 6 {
				case 0:
					if !ds.opened {
						ds.opened = true
						s.DataOpened(req)
					}
				case 1:
					if ds.opened && !req.Upload {
						n := int(act() % 16)
						if s.DataIn(req, bytes.Repeat([]byte{'d'}, n)) != nil {
							ds.closed = true // the driver drops it
							s.DataClosed(req, 0, nil)
						}
					}
				case 2:
					ds.closed = true
					s.DataClosed(req, int64(act()%8), nil)
				case 3:
					ds.closed = true
					s.DataClosed(req, 0, syscall.ECONNRESET)
				case 4:
					if ds.opened && req.Upload {
						s.DataSent(req, int(act()%8))
					}
				}
			}
			if d.tls > tls {
				tls = d.tls
				if next()%4 == 0 {
					s.Secured(syscall.ECONNRESET)
				} else {
					s.Secured(nil)
				}
			}
			advance(time.Duration(next()%4) * 100 * time.Millisecond)
		}

		for len(server) > 0 {
			n := int(next() % 64)
			if n == 0 { // a whole line
				n = bytes.IndexByte(server, '\n') + 1
			}
			if n == 0 || n > len(server) {
				n = len(server)
			}
			s.Receive(server[:n])
			server = server[n:]
			react()
			checkState(t, s)
		}
		// The server's side ends, or the user's, or neither.
		switch next() % 4 {
		case 0:
			s.ControlClosed(nil)
		case 1:
			s.ControlClosed(syscall.ECONNRESET)
		case 2:
			s.Close()
		}
		checkState(t, s)
		// The driver gives up on data connections it still holds, as a real
		// one does with its own deadlines, and the clock runs on.
		for req, ds := range data {
			if !ds.closed {
				ds.closed = true
				s.DataClosed(req, 0, &ftp.TimeoutError{Op: "data idle"})
			}
		}
		for i := 0; i < 20 && !s.Terminal(); i++ {
			react()
			for req, ds := range data {
				if !ds.closed {
					ds.closed = true
					s.DataClosed(req, 0, &ftp.TimeoutError{Op: "data idle"})
				}
			}
			advance(time.Minute)
		}
		checkState(t, s)
		if !s.Terminal() {
			t.Fatalf("session still in %q after an hour with nothing to do", s.State())
		}
		if s.State() == states.Failed && s.Err() == nil {
			t.Fatal("failed without an error")
		}
		if d.closed != 1 || !d.next.IsZero() || s.Busy() {
			t.Fatalf("after the end: closed %d, deadline %v, busy %v", d.closed, d.next, s.Busy())
		}
		// The built-in handlers only fire events the table allows: an
		// "illegal move" is a bug in the core, whatever the server sent.
		if err := s.Err(); err != nil && strings.Contains(err.Error(), "illegal move") {
			t.Fatalf("session error %v", err)
		}
		for i, o := range outcomes {
			if o.calls != 1 {
				t.Fatalf("request %d finished %d times", i, o.calls)
			}
			if o.res.Err != nil && strings.Contains(o.res.Err.Error(), "illegal move") {
				t.Fatalf("request %d: %v", i, o.res.Err)
			}
			if i == 3 && o.res.Err == nil && reqs[2].Data.Want > 0 && outcomes[3].res.Bytes != reqs[2].Data.Want {
				t.Fatalf("RETR succeeded with %d bytes, want %d", o.res.Bytes, reqs[2].Data.Want)
			}
		}
		if strings.Contains(trace.text(), "PASS p\n") {
			t.Fatal("password in the transcript")
		}
	})
}

func checkState(t *testing.T, s *Session) {
	t.Helper()
	st := s.State()
	for _, legal := range states.All() {
		if st == legal {
			return
		}
	}
	t.Fatalf("illegal state %q", st)
}
