package ftpfs_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"

	"github.com/asyncftp/asyncftp/ftpfs"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

// Walk a folder of an FTP server with fs.WalkDir.
func Example_walkDir() {
	srv, err := embedserver.Start(embedserver.Options{}) // a server to talk to
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	p, err := pool.New(nil, srv.Addr, session.Config{}, pool.Options{Size: 2})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	fsys, err := ftpfs.New(ctx, p, "/pub")
	if err != nil {
		panic(err)
	}
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			fmt.Printf("%s/\n", name)
		} else {
			fmt.Printf("%s (%d bytes)\n", name, info.Size())
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// ./
	// hello.txt (45 bytes)
	// nested/
	// nested/deeper/
	// nested/deeper/deep file.bin (12345 bytes)
}

// Serve a folder of an FTP server read-only over HTTP.
func Example_httpFileServer() {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	p, err := pool.New(nil, srv.Addr, session.Config{}, pool.Options{Size: 4})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)
	fsys, err := ftpfs.New(ctx, p, "/")
	if err != nil {
		panic(err)
	}

	web := httptest.NewServer(http.FileServerFS(fsys)) // on 127.0.0.1
	defer web.Close()
	resp, err := http.Get(web.URL + "/pub/hello.txt")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Print(string(body))
	// Output:
	// 200 OK text/plain; charset=utf-8
	// Hello from the asyncftp embedded FTP server.
}
