package session_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// handDriver is a session.Driver with no sockets: it prints what the session
// asks of it. A real driver would write to the control connection, dial data
// connections and set a timer instead.
type handDriver struct {
	start  time.Time            // the example's clock at the start, for Reschedule
	data   *session.DataRequest // the last data connection asked for
	quiet  bool                 // print nothing
	timers bool                 // print the timers the session asks for
}

func (d *handDriver) Write(p []byte) {
	if !d.quiet {
		line := strings.TrimSuffix(string(p), "\r\n")
		fmt.Printf("write %q\n", transcript.Mask(line)+"\r\n") // no password on the screen
	}
}

func (d *handDriver) OpenData(r *session.DataRequest) {
	d.data = r
	if !d.quiet {
		fmt.Println("open data connection to", r.Addr)
	}
}

func (d *handDriver) CloseData(*session.DataRequest) {}

func (d *handDriver) StartTLS() {}

func (d *handDriver) Listen(*session.DataRequest) {} // active mode: not used here

func (d *handDriver) Close() {
	if !d.quiet {
		fmt.Println("close the connection")
	}
}

func (d *handDriver) Reschedule(t time.Time) {
	if d.quiet || !d.timers {
		return
	}
	if t.IsZero() {
		fmt.Println("no timer")
		return
	}
	fmt.Println("timer at +" + t.Sub(d.start).String())
}

// A session driven by hand: the caller plays the network. Everything the
// session wants done goes through its Driver; everything that happens is fed
// in with Connected, Receive, Tick and, for data, DataOpened, DataIn and
// DataClosed. No sockets, no goroutines, no sleeping.
func Example() {
	cfg := &session.Config{User: "mulder", Password: "trustno1"}
	s := session.New(1, cfg, &handDriver{})

	s.Connected("192.0.2.7:21", "192.0.2.1:50000", func(r session.Result) {
		fmt.Println("login finished:", r.Err)
	})
	s.Receive([]byte("220 Service ready\r\n331 Password required\r\n")) // one read, two replies
	s.Receive([]byte("230 Logged in\r\n"))

	s.Do(&session.Request{Cmd: ftp.Cmd("PWD"), Done: func(r session.Result) {
		fmt.Printf("PWD gave %q, error %v\n", r.Value, r.Err)
	}})
	s.Receive([]byte(`257 "/home/mulder" is the current directory` + "\r\n"))

	s.Do(&session.Request{Cmd: ftp.Cmd("QUIT")})
	s.Receive([]byte("221 Goodbye\r\n"))
	fmt.Println("state:", s.State())
	// Output:
	// write "USER mulder\r\n"
	// write "PASS ****\r\n"
	// login finished: <nil>
	// write "PWD\r\n"
	// PWD gave "/home/mulder", error <nil>
	// write "QUIT\r\n"
	// close the connection
	// state: closed
}

// The session never sleeps: it asks its driver for a Tick at the next
// deadline, and a Tick at or after that time enforces it. Here the greeting
// never comes.
func ExampleSession_Tick() {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := &session.Config{
		Timeouts: session.Timeouts{Greeting: 5 * time.Second},
		Now:      func() time.Time { return now },
	}
	d := &handDriver{start: now, timers: true}
	s := session.New(1, cfg, d)
	s.Connected("192.0.2.7:21", "192.0.2.1:50000", func(r session.Result) {
		fmt.Println("login finished:", r.Err)
	})

	now = now.Add(5 * time.Second) // the driver's timer fires
	s.Tick(now)
	fmt.Println("state:", s.State())
	fmt.Println("a timeout:", errors.Is(s.Err(), ftp.ErrTimeout))
	// Output:
	// timer at +5s
	// close the connection
	// no timer
	// login finished: ftp: timeout: greeting
	// state: failed
	// a timeout: true
}

// A transfer succeeds only when the data connection has ended and the server
// has answered 226, in either order, and only with every byte announced.
// Here the data connection ends first, four bytes short of what SIZE said.
func ExampleSession_DataClosed() {
	d := &handDriver{quiet: true}
	s := session.New(1, &session.Config{}, d)
	s.Connected("192.0.2.7:21", "192.0.2.1:50000", nil)
	s.Receive([]byte("220 Service ready\r\n331 Password required\r\n230 Logged in\r\n"))

	var file strings.Builder
	s.Do(&session.Request{
		Cmd:  ftp.Cmd("RETR", "notes.txt"),
		Data: &session.Data{Sink: &file, Want: 10}, // SIZE said 10 bytes
		Done: func(r session.Result) {
			fmt.Printf("RETR moved %d bytes: %v\n", r.Bytes, r.Err)
			fmt.Println("incomplete:", errors.Is(r.Err, ftp.ErrIncomplete))
		},
	})
	s.Receive([]byte("229 Entering Extended Passive Mode (|||40001|)\r\n"))
	s.DataOpened(d.data)
	s.Receive([]byte("150 Opening BINARY mode data connection\r\n"))
	s.DataIn(d.data, []byte("hello\n"))
	s.DataClosed(d.data, 0, nil) // end of stream: the server closed the data connection
	fmt.Println("state:", s.State())
	s.Receive([]byte("226 Transfer complete\r\n"))
	fmt.Println("state:", s.State())
	// Output:
	// state: transferring
	// RETR moved 6 bytes: ftp: RETR incomplete after 6 bytes of 10: size differs from the announced size
	// incomplete: true
	// state: ready
}
