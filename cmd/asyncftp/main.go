// Command asyncftp is an FTP client on the asyncftp engine: ls, get, put, mkdir,
// rm, mv, mirror, and a demo that runs a whole FTP session against a built-in server.
//
// Run 'asyncftp --help' for the commands, or 'go run ./cmd/asyncftp demo' to
// see the protocol live. The commands live in internal/cli.
package main

import (
	"os"

	"github.com/asyncftp/asyncftp/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Std()))
}
