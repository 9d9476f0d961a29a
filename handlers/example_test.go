package handlers_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/session"
)

// printDriver is the smallest session driver: it prints what the session
// writes and ignores everything else. No sockets are involved.
type printDriver struct{}

func (printDriver) Write(p []byte)                 { fmt.Printf("C: %s\n", strings.TrimSuffix(string(p), "\r\n")) }
func (printDriver) OpenData(*session.DataRequest)  {}
func (printDriver) CloseData(*session.DataRequest) {}
func (printDriver) StartTLS()                      {}
func (printDriver) Close()                         { fmt.Println("driver: close") }
func (printDriver) Reschedule(time.Time)           {}
func (printDriver) Listen(*session.DataRequest)    {}

// A custom handler for SITE UMASK, registered by name: the session calls it
// for the reply and hands its result to the caller, with no change to the
// engine.
func ExampleRegistry_Register() {
	reg := handlers.NewRegistry()
	reg.Register("SITE", func(x handlers.Exchange, r ftp.Reply) error {
		if r.Code != 200 {
			return r.Err(x.Command())
		}
		umask, ok := strings.CutPrefix(r.Last(), "UMASK is ")
		if !ok {
			return &ftp.ProtocolError{Reason: "no umask in SITE UMASK reply", Line: r.Last()}
		}
		x.SetResult(umask)
		return nil
	})

	s := session.New(1, &session.Config{Handlers: reg}, printDriver{})
	s.Connected("127.0.0.1:21", "127.0.0.1:40000", func(r session.Result) { fmt.Println("login:", r.Err) })
	s.Receive([]byte("220 Service ready\r\n"))
	s.Receive([]byte("331 Password required\r\n"))
	s.Receive([]byte("230 Logged in\r\n"))

	done := func(r session.Result) { fmt.Printf("result: %v, error: %v\n", r.Value, r.Err) }
	s.Do(&session.Request{Cmd: ftp.Cmd("SITE", "UMASK"), Done: done})
	s.Receive([]byte("200 UMASK is 022\r\n"))
	s.Do(&session.Request{Cmd: ftp.Cmd("SITE", "UMASK"), Done: done})
	s.Receive([]byte("502 SITE UMASK not allowed\r\n"))
	fmt.Println("state:", s.State())
	// Output:
	// C: USER anonymous
	// C: PASS anonymous@
	// login: <nil>
	// C: SITE UMASK
	// result: 022, error: <nil>
	// C: SITE UMASK
	// result: <nil>, error: ftp: SITE: 502 SITE UMASK not allowed
	// state: ready
}
