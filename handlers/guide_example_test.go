package handlers_test

// The runnable examples of docs/handlers.md. The guide quotes these functions
// verbatim and TestGuideQuotesCode checks that it still does, so the guide,
// its code and its printed output cannot drift apart.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/states"
	"github.com/asyncftp/asyncftp/transcript"
)

// Step 2: bytes to lines. The reader splits at "\n" and drops one "\r" before
// it, wherever the chunks of the stream happen to end.
func Example_splitLines() {
	rd := ftp.Reader{
		Trace: func(line []byte) { fmt.Printf("line %q\n", line) },
	}
	show := func(r ftp.Reply) error {
		fmt.Printf("reply %d %q\n", r.Code, r.Last())
		return nil
	}
	chunks := []string{
		"220 Service re", // a read can stop in the middle of a line
		"ady\r\n331 Password",
		" required\n",         // a bare LF ends a line too
		"230 Logged in\r\r\n", // only one CR goes with the terminator
	}
	for _, c := range chunks {
		if err := rd.Feed([]byte(c), show); err != nil {
			fmt.Println("error:", err)
		}
	}
	// Output:
	// line "220 Service ready"
	// reply 220 "Service ready"
	// line "331 Password required"
	// reply 331 "Password required"
	// line "230 Logged in\r"
	// reply 230 "Logged in\r"
}

// Step 3: lines to replies. "NNN-" opens a reply; only "NNN " with the same
// code closes it, so lines in between that look like replies are text.
func Example_multiline() {
	var rd ftp.Reader
	stream := "211-Extensions supported:\r\n" +
		" MLST type*;size*;modify*;\r\n" +
		"230 this line looks like a reply, but it is text\r\n" +
		"211-and so is this one, without its code\r\n" +
		"211 End\r\n"
	err := rd.Feed([]byte(stream), func(r ftp.Reply) error {
		fmt.Println("code:", r.Code)
		for i, l := range r.Lines {
			fmt.Printf("line %d: %q\n", i, l)
		}
		return nil
	})
	fmt.Println("error:", err)
	// Output:
	// code: 211
	// line 0: "Extensions supported:"
	// line 1: " MLST type*;size*;modify*;"
	// line 2: "230 this line looks like a reply, but it is text"
	// line 3: "and so is this one, without its code"
	// line 4: "End"
	// error: <nil>
}

// naiveClient is the first client anyone writes: a fixed list of commands,
// and whenever a reply is complete the next one goes out, whatever the reply
// said. server is what the server answers, in order.
func naiveClient(commands []string, server ...string) {
	var rd ftp.Reader
	next := func(ftp.Reply) error {
		if len(commands) > 0 {
			fmt.Println("C:", commands[0])
			commands = commands[1:]
		}
		return nil
	}
	for _, line := range server {
		fmt.Println("S:", line)
		if err := rd.Feed([]byte(line+"\r\n"), next); err != nil {
			fmt.Println("error:", err)
		}
	}
}

// Step 4: why a fixed list of commands breaks. It never reads the codes.
func Example_fixedListBreaks() {
	login := []string{"USER mulder", "PASS trustno1", "PWD"}

	fmt.Println("-- the server refuses the user")
	naiveClient(login,
		"220 Service ready",
		"530 User mulder unknown",
		"503 Login with USER first",
		"530 Please login with USER and PASS",
	)

	fmt.Println("-- the server needs no password")
	naiveClient(login,
		"220 Service ready",
		"230 Welcome, mulder",
		"503 Already logged in",
		`257 "/" is the current directory`,
	)
	// Output:
	// -- the server refuses the user
	// S: 220 Service ready
	// C: USER mulder
	// S: 530 User mulder unknown
	// C: PASS trustno1
	// S: 503 Login with USER first
	// C: PWD
	// S: 530 Please login with USER and PASS
	// -- the server needs no password
	// S: 220 Service ready
	// C: USER mulder
	// S: 230 Welcome, mulder
	// C: PASS trustno1
	// S: 503 Already logged in
	// C: PWD
	// S: 257 "/" is the current directory
}

// screen is a transcript sink that prints each line as the article did: "C:"
// for the client, "S:" for the server, and "#:" for the session's own notes.
// The session has already masked passwords when a line reaches a sink.
type screen struct{}

func (screen) Record(e transcript.Entry) { fmt.Printf("%s: %s\n", e.Dir, e.Line) }

// wire is a session.Driver without sockets. The session tells it what to do;
// it keeps the data connection asked for (passive mode), so that an example
// can play the server's end of it by hand, and ignores the rest: the screen
// shows it.
type wire struct{ data *session.DataRequest }

func (*wire) Write([]byte)                      {}
func (w *wire) OpenData(r *session.DataRequest) { w.data = r }
func (*wire) CloseData(*session.DataRequest)    {}
func (*wire) StartTLS()                         {}
func (*wire) Close()                            {}
func (*wire) Reschedule(time.Time)              {}
func (*wire) Listen(*session.DataRequest)       {}

// say feeds the session one line from the server, CRLF-terminated.
func say(s *session.Session, line string) { s.Receive([]byte(line + "\r\n")) }

// newSession starts a session on a wire as though the control connection had
// just been made, and prints the login's result when it comes.
func newSession(cfg *session.Config) (*session.Session, *wire) {
	cfg.Transcript = screen{}
	w := &wire{}
	s := session.New(1, cfg, w)
	s.Connected("127.0.0.1:21", "127.0.0.1:50000", func(r session.Result) {
		fmt.Println("login result:", r.Err)
	})
	return s, w
}

// Step 6: login as three handlers. The built-in connect, USER and PASS
// handlers read each code and choose the next command, or stop.
func Example_loginHandlers() {
	fmt.Println("-- user and password")
	s, _ := newSession(&session.Config{User: "mulder", Password: "trustno1"})
	say(s, "220 Service ready")
	say(s, "331 Password required for mulder")
	say(s, "230 Welcome, mulder")
	fmt.Println("state:", s.State())

	fmt.Println("-- no password needed: PASS is never sent")
	s, _ = newSession(&session.Config{User: "mulder", Password: "trustno1"})
	say(s, "220 Service ready")
	say(s, "230 Welcome, mulder")
	fmt.Println("state:", s.State())

	fmt.Println("-- user refused: nothing more is sent")
	s, _ = newSession(&session.Config{User: "mulder", Password: "trustno1"})
	say(s, "220 Service ready")
	say(s, "530 User mulder unknown")
	fmt.Println("state:", s.State())
	// Output:
	// -- user and password
	// #: connected to 127.0.0.1:21
	// S: 220 Service ready
	// C: USER mulder
	// S: 331 Password required for mulder
	// C: PASS ****
	// S: 230 Welcome, mulder
	// login result: <nil>
	// state: ready
	// -- no password needed: PASS is never sent
	// #: connected to 127.0.0.1:21
	// S: 220 Service ready
	// C: USER mulder
	// S: 230 Welcome, mulder
	// login result: <nil>
	// state: ready
	// -- user refused: nothing more is sent
	// #: connected to 127.0.0.1:21
	// S: 220 Service ready
	// C: USER mulder
	// S: 530 User mulder unknown
	// login result: ftp: USER: 530 User mulder unknown
	// #: session failed: ftp: USER: 530 User mulder unknown
	// state: failed
}

// Step 6, continued: the detours of a login. 120 asks the client to wait for
// the real greeting; 332 asks for an account, sent with ACCT.
func Example_loginDetours() {
	s, _ := newSession(&session.Config{User: "mulder", Password: "trustno1", Account: "x-files"})
	say(s, "120 Service ready in 2 minutes")
	say(s, "220 Service ready")
	say(s, "331 Password required for mulder")
	say(s, "332 Account required")
	say(s, "230 Welcome, mulder")
	fmt.Println("state:", s.State())
	// Output:
	// #: connected to 127.0.0.1:21
	// S: 120 Service ready in 2 minutes
	// S: 220 Service ready
	// C: USER mulder
	// S: 331 Password required for mulder
	// C: PASS ****
	// S: 332 Account required
	// C: ACCT ****
	// S: 230 Welcome, mulder
	// login result: <nil>
	// state: ready
}

// Step 7: the state table. Handlers fire events, and the machine refuses any
// move the table does not list; a handler that tries one gets an error.
func Example_stateTable() {
	m := states.New()
	err := m.Event(context.Background(), states.Send) // a command before the greeting
	fmt.Println("fresh machine:", err)

	reg := handlers.NewRegistry()
	reg.Register("NOOP", func(x handlers.Exchange, r ftp.Reply) error {
		return x.Fire(states.LoggedIn) // logged in again, in the middle of a command?
	})
	s, _ := newSession(&session.Config{Handlers: reg})
	say(s, "220 Service ready")
	say(s, "331 Password required")
	say(s, "230 Logged in")
	s.Do(&session.Request{Cmd: ftp.Cmd("NOOP"), Done: func(r session.Result) {
		fmt.Println("NOOP result:", r.Err)
	}})
	say(s, "200 NOOP ok")
	fmt.Println("state:", s.State())
	// Output:
	// fresh machine: event send inappropriate in current state connecting
	// #: connected to 127.0.0.1:21
	// S: 220 Service ready
	// C: USER anonymous
	// S: 331 Password required
	// C: PASS ****
	// S: 230 Logged in
	// login result: <nil>
	// C: NOOP
	// S: 200 NOOP ok
	// NOOP result: ftp: protocol error: illegal move "logged_in" in state "command"
	// state: ready
}

// Step 8: PASV replies are read defensively.
func Example_pasv() {
	for _, text := range []string{
		"Entering Passive Mode (192,168,1,20,195,80).",
		"Entering Passive Mode (192,168,1,20,-61,80)",  // signed: -61 & 255 = 195
		"Entering Passive Mode (192,168,1,20,451,336)", // only the low 8 bits count
		"Entering Passive Mode 192,168,1,20,195,80",    // no parentheses
		"Entering Passive Mode (192,168,1,20,0,0)",     // port 0
		"Entering Passive Mode (192,168,1,20,195)",     // five numbers
		"Entering Passive Mode (1,2,3,4,5,99999999999)",
	} {
		host, port, err := handlers.ParsePASV(text)
		if err != nil {
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println(host, port)
	}
	// Output:
	// 192.168.1.20 50000
	// 192.168.1.20 50000
	// 192.168.1.20 50000
	// 192.168.1.20 50000
	// refused: ftp: protocol error: PASV reply gives port 0: "Entering Passive Mode (192,168,1,20,0,0)"
	// refused: ftp: protocol error: PASV reply lacks six comma-separated numbers: "Entering Passive Mode (192,168,1,20,195)"
	// refused: ftp: protocol error: PASV reply lacks six comma-separated numbers: "Entering Passive Mode (1,2,3,4,5,99999999999)"
}

// Step 9: a whole LIST, with the data connection played by hand. The request
// is done only when the data connection has ended and the 226 has come.
func Example_list() {
	s, w := newSession(&session.Config{DisableEPSV: true})
	say(s, "220 Service ready")
	say(s, "331 Password required")
	say(s, "230 Logged in")

	var body bytes.Buffer
	s.Do(&session.Request{
		Cmd:  ftp.Cmd("LIST"),
		Data: &session.Data{Sink: &body},
		Done: func(r session.Result) { fmt.Println("LIST result:", r.Bytes, "bytes,", r.Err) },
	})
	say(s, "227 Entering Passive Mode (10,0,0,9,156,65)") // not the host we dialled
	fmt.Println("driver dials", w.data.Addr)
	s.DataOpened(w.data)
	say(s, "150 Here comes the directory listing")
	s.DataIn(w.data, []byte("drwxr-xr-x 2 ftp ftp 4096 Jan  2  2024 pub\r\n"))
	say(s, "226 Transfer complete") // before the data connection has ended
	fmt.Println("state:", s.State())
	s.DataClosed(w.data, 0, nil)
	fmt.Println("state:", s.State())

	for _, e := range listing.Parse(body.Bytes(), time.Time{}).Entries {
		fmt.Println("entry:", e.Type, e.Name)
	}
	// Output:
	// #: connected to 127.0.0.1:21
	// S: 220 Service ready
	// C: USER anonymous
	// S: 331 Password required
	// C: PASS ****
	// S: 230 Logged in
	// login result: <nil>
	// C: PASV
	// S: 227 Entering Passive Mode (10,0,0,9,156,65)
	// #: PASV address 10.0.0.9 differs from the control host; using 127.0.0.1
	// #: data connection to 127.0.0.1:40001
	// driver dials 127.0.0.1:40001
	// #: data connection open
	// C: LIST
	// S: 150 Here comes the directory listing
	// S: 226 Transfer complete
	// #: final reply before data end; waiting for the data connection
	// state: transferring
	// #: LIST complete: 44 bytes
	// LIST result: 44 bytes, <nil>
	// state: ready
	// entry: dir pub
}

// statList reads the reply to "STAT path": 211, 212 or 213, whose inner lines
// are the path's listing in LIST format. It hands the parsed entries over.
func statList(x handlers.Exchange, r ftp.Reply) error {
	if r.Code != 211 && r.Code != 212 && r.Code != 213 {
		return r.Err(x.Command()) // 450, 550, …: an *ftp.Error with the code
	}
	var entries []listing.Entry
	for i, line := range r.Lines {
		if i == 0 || i == len(r.Lines)-1 {
			continue // "Status of /pub:" and "End" frame the listing
		}
		e, err := listing.ParseLine(line, time.Time{})
		if errors.Is(err, listing.ErrNoEntry) {
			continue // "total 12" and blank lines
		}
		if err != nil {
			return &ftp.ProtocolError{Reason: "STAT line is no listing: " + err.Error(), Line: line}
		}
		entries = append(entries, e)
	}
	x.SetResult(entries)
	return nil
}

// Step 10: a handler of your own, registered by name, against a real server.
func Example_statHandler() {
	srv, err := embedserver.Start(embedserver.Options{}) // goftp on 127.0.0.1
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	reg := handlers.NewRegistry()
	reg.Register("STAT", statList)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{
		Config: session.Config{Handlers: reg},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Quit(ctx)

	res, err := c.Do(ctx, ftp.Cmd("STAT", "/pub"), nil) // nil: the registry's handler
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range res.Value.([]listing.Entry) {
		fmt.Println(e.Type, e.Name)
	}

	_, err = c.Do(ctx, ftp.Cmd("STAT", "/missing"), nil)
	var fe *ftp.Error
	if errors.As(err, &fe) {
		fmt.Println("refused with", fe.Code)
	}
	// Output:
	// file hello.txt
	// dir nested
	// refused with 450
}

// TestExampleStatHandlerLeavesNothingRunning runs the one guide example that
// uses sockets under a leak check: the server, the engine and the client must
// all be gone when it returns.
func TestExampleStatHandlerLeavesNothingRunning(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	out := captureStdout(t, Example_statHandler)
	if !strings.Contains(out, "file hello.txt") {
		t.Errorf("Example_statHandler printed %q", out)
	}
	goleak.VerifyNone(t, opt,
		// gnet's worker pool parks a goroutine for a moment after the engine stops.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

// captureStdout runs f with os.Stdout sent to a file and returns what f wrote.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	old := os.Stdout
	os.Stdout = tmp
	func() {
		defer func() { os.Stdout = old }()
		f()
	}()
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGuideQuotesCode keeps docs/handlers.md honest. Every code block the guide
// introduces with <!-- quote: FILE --> must appear verbatim in FILE (relative
// to the repository root), and every Example the guide names must exist in
// one of the example files.
func TestGuideQuotesCode(t *testing.T) {
	guide, err := os.ReadFile("../docs/handlers.md")
	if err != nil {
		t.Fatal(err)
	}
	quote := regexp.MustCompile("(?s)<!-- quote: (\\S+) -->\\s*```go\\n(.*?)```")
	blocks := quote.FindAllSubmatch(guide, -1)
	if len(blocks) < 8 {
		t.Fatalf("the guide quotes %d code blocks; expected the examples and handlers it walks through", len(blocks))
	}
	sources := map[string]string{}
	for _, b := range blocks {
		file, code := string(b[1]), string(b[2])
		src, ok := sources[file]
		if !ok {
			raw, err := os.ReadFile("../" + file)
			if err != nil {
				t.Errorf("the guide quotes %s: %v", file, err)
				continue
			}
			src = string(raw)
			sources[file] = src
		}
		if !strings.Contains(src, code) {
			first, _, _ := strings.Cut(code, "\n")
			t.Errorf("docs/handlers.md quotes %s, but the block starting %q is not in it any more: update the guide", file, first)
		}
	}
	var examples strings.Builder
	for _, f := range []string{"handlers/guide_example_test.go", "handlers/example_test.go", "session/example_test.go", "engine/example_test.go"} {
		raw, err := os.ReadFile("../" + f)
		if err != nil {
			t.Fatal(err)
		}
		examples.Write(raw)
	}
	for _, name := range regexp.MustCompile(`\bExample[A-Z_]\w*`).FindAllString(string(guide), -1) {
		if !strings.Contains(examples.String(), "func "+name+"()") {
			t.Errorf("the guide names %s, which no example file defines", name)
		}
	}
}
