package client_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
)

// Download a file from the embedded goftp server to standard output.
func ExampleClient_Retr() {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, srv.Addr, nil) // anonymous, TYPE I
	if err != nil {
		panic(err)
	}
	defer c.Quit(ctx)
	n, err := c.Retr(ctx, "/pub/hello.txt", os.Stdout)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "bytes")
	// Output:
	// Hello from the asyncftp embedded FTP server.
	// 45 bytes
}

// Log in with a user name and password, upload, look at the result with MLST,
// and resume the upload with REST + STOR.
func ExampleDial() {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{
		User:     embedserver.DefaultUser,
		Password: embedserver.DefaultPassword,
	}})
	if err != nil {
		panic(err)
	}
	defer c.Quit(ctx)
	if _, err := c.Stor(ctx, "/note.txt", strings.NewReader("hello, ")); err != nil {
		panic(err)
	}
	if _, err := c.StorFrom(ctx, "/note.txt", strings.NewReader("world\n"), 7); err != nil {
		panic(err)
	}
	e, err := c.Stat(ctx, "/note.txt")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Name, e.Type, e.Size)
	// Output:
	// note.txt file 13
}

// List a directory; the client uses MLSD because goftp's FEAT lists MLST.
func ExampleClient_List() {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, srv.Addr, nil)
	if err != nil {
		panic(err)
	}
	defer c.Quit(ctx)
	res, err := c.List(ctx, "/pub")
	if err != nil {
		panic(err)
	}
	for _, e := range res.Entries {
		fmt.Println(e.Type, e.Name, e.Time.Format(time.DateOnly))
	}
	// Output:
	// file hello.txt 2024-01-02
	// dir nested 2024-01-02
}
