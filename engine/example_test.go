package engine_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/session"
)

// mlstEntry is a handler of our own: it reads the 250 reply of MLST and hands
// the parsed entry to the request's Done.
func mlstEntry(x handlers.Exchange, r ftp.Reply) error {
	if r.Code != 250 {
		return r.Err(x.Command())
	}
	for _, line := range r.Lines {
		if strings.HasPrefix(line, " ") { // the entry line starts with a space
			e, err := listing.ParseMLSx(line)
			if err != nil {
				return &ftp.ProtocolError{Reason: "MLST entry: " + err.Error(), Line: line}
			}
			x.SetResult(e)
			return nil
		}
	}
	return &ftp.ProtocolError{Reason: "MLST reply has no entry line", Line: r.Message()}
}

// A non-blocking session with a custom handler, against the embedded goftp
// server. Open and Do return at once; the requests wait in the session's queue
// for the login, run one after another, and report through Done callbacks that
// run on the event loop, so those only hand their news to a channel.
func ExampleEngine_Open() {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	eng, err := engine.New(engine.Options{Loops: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()

	news := make(chan string, 4) // buffered: a callback on the loop must not block
	conn, err := eng.Open(srv.Addr, &session.Config{}, func(_ *engine.Conn, r session.Result) {
		news <- fmt.Sprint("login: ", r.Err)
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	conn.Do(&session.Request{
		Cmd:     ftp.Cmd("MLST", "/pub/hello.txt"),
		Handler: mlstEntry,
		Done: func(r session.Result) {
			if r.Err != nil {
				news <- fmt.Sprint("MLST: ", r.Err)
				return
			}
			e := r.Value.(listing.Entry)
			news <- fmt.Sprintf("MLST: %s %s, %d bytes", e.Type, e.Name, e.Size)
		},
	})

	var body bytes.Buffer // never blocks, so the bytes may stay on the loop
	conn.Do(&session.Request{
		Cmd:  ftp.Cmd("RETR", "/pub/hello.txt"),
		Data: &session.Data{Sink: &body, Want: 45},
		Done: func(r session.Result) {
			news <- fmt.Sprintf("RETR: %d bytes %q, error %v", r.Bytes, body.String(), r.Err)
		},
	})

	conn.Do(&session.Request{
		Cmd:  ftp.Cmd("QUIT"),
		Done: func(r session.Result) { news <- fmt.Sprint("QUIT: ", r.Err) },
	})

	for range 4 {
		select {
		case n := <-news:
			fmt.Println(n)
		case <-time.After(10 * time.Second):
			fmt.Println("no news for 10s")
			return
		}
	}
	// Output:
	// login: <nil>
	// MLST: file hello.txt, 45 bytes
	// RETR: 45 bytes "Hello from the asyncftp embedded FTP server.\n", error <nil>
	// QUIT: <nil>
}

// TestExampleEngineOpenLeavesNothingRunning runs ExampleEngine_Open under a
// leak check: the engine's loops, the dialling goroutines and the server must
// all be gone once it returns.
func TestExampleEngineOpenLeavesNothingRunning(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	tmp, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	old := os.Stdout
	os.Stdout = tmp
	func() {
		defer func() { os.Stdout = old }()
		ExampleEngine_Open()
	}()
	out, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "QUIT: <nil>") {
		t.Errorf("ExampleEngine_Open printed %q", out)
	}
	goleak.VerifyNone(t, opt,
		// gnet's worker pool parks a goroutine for a moment after the engine stops.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}
