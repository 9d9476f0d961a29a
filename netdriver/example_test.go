package netdriver_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// An explicit FTPS session driven directly: Open, queue requests, read the
// transcript. The data connection resumes the control connection's TLS session.
func ExampleOpen() {
	serverTLS, clientTLS, err := embedserver.SelfSignedTLS()
	if err != nil {
		panic(err)
	}
	srv, err := embedserver.Start(embedserver.Options{TLS: serverTLS})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	mem := &transcript.Memory{}
	cfg := &session.Config{TLS: session.TLSExplicit, Transcript: mem} // anonymous
	conn, login, err := netdriver.Open(srv.Addr, cfg, netdriver.Options{
		TLS: netdriver.TLSOptions{RootCAs: clientTLS.RootCAs},
	})
	if err != nil {
		panic(err)
	}
	if r := <-login; r.Err != nil {
		panic(r.Err)
	}
	do := func(req *session.Request) session.Result {
		ch := make(chan session.Result, 1)
		req.Done = func(r session.Result) { ch <- r } // runs on the session's goroutine
		conn.Do(req)
		return <-ch
	}
	var body bytes.Buffer
	r := do(&session.Request{Cmd: ftp.Cmd("RETR", "pub/hello.txt"), Data: &session.Data{Sink: &body}})
	fmt.Printf("%q %v\n", body.String(), r.Err)
	do(&session.Request{Cmd: ftp.Cmd("QUIT")})
	<-conn.Done()

	for _, l := range mem.Lines() {
		if strings.HasPrefix(l, "C: ") || strings.Contains(l, "resumed") {
			fmt.Println(l)
		}
	}
	// Output:
	// "Hello from the asyncftp embedded FTP server.\n" <nil>
	// C: AUTH TLS
	// C: USER anonymous
	// C: PASS ****
	// C: PBSZ 0
	// C: PROT P
	// C: EPSV
	// C: RETR pub/hello.txt
	// #: data connection TLS: resumed the control connection's session (TLS 1.3)
	// C: QUIT
}

// The blocking client picks this driver by itself when Config.TLS is set;
// client.Options.TLS says how to authenticate the server. Here the server's
// self-signed key is pinned instead of trusted through a CA.
func Example_client() {
	serverTLS, _, err := embedserver.SelfSignedTLS()
	if err != nil {
		panic(err)
	}
	srv, err := embedserver.Start(embedserver.Options{TLS: serverTLS})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	pin := netdriver.PinOf(serverTLS.Certificates[0].Leaf)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{
		Config: session.Config{TLS: session.TLSExplicit},
		TLS:    netdriver.TLSOptions{Pins: []netdriver.Pin{pin}},
	})
	if err != nil {
		panic(err)
	}
	names, err := c.NameList(ctx, "pub")
	fmt.Println(names, err)
	fmt.Println(c.Quit(ctx))
	// Output:
	// [hello.txt nested] <nil>
	// <nil>
}

// Pins are written as curl writes them, or in hex.
func ExampleParsePin() {
	p, err := netdriver.ParsePin("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	fmt.Println(err)
	q, _ := netdriver.ParsePin("E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55")
	fmt.Println(p == q, p)
	// Output:
	// <nil>
	// true sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
}
