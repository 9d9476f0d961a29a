package embedserver_test

import (
	"fmt"
	"log"
	"net/textproto"

	"github.com/asyncftp/asyncftp/internal/embedserver"
)

// Example starts a server on the generated sample tree, asks it a few
// questions over a bare control connection, and shuts it down.
func Example() {
	srv, err := embedserver.Start(embedserver.Options{WelcomeMessage: "asyncftp test server"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	conn, err := textproto.Dial("tcp", srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	say := func(line string) {
		if line != "" {
			if err := conn.PrintfLine("%s", line); err != nil {
				log.Fatal(err)
			}
		}
		code, msg, _ := conn.ReadResponse(0)
		fmt.Println(code, msg)
	}
	say("") // greeting
	say("USER anonymous")
	say("PASS guest@example.com")
	say("SIZE /65537-bytes.bin")
	say("MDTM /README.txt")
	say("STOR /not-allowed.txt")
	say("QUIT")

	for _, f := range srv.Files() {
		if f.Path == "pub/nested/deeper/deep file.bin" {
			fmt.Println(f.Path, f.Size)
		}
	}
	// Output:
	// 220 asyncftp test server
	// 331 User name ok, password required
	// 230 Password ok, continue
	// 213 65537
	// 213 20240102030405
	// 550 Permission denied: read-only account
	// 221 Goodbye
	// pub/nested/deeper/deep file.bin 12345
}
