package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/internal/leanserver"
)

// serverMain runs the lean FTP server and a plain TCP sender of the same big
// file. It prints "FTP addr", "RAW addr" and "READY", then answers "CPU" lines
// on stdin with its own user+sys CPU seconds, and exits when stdin closes.
func serverMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	big := fs.Int64("bigsize", 1<<30, "size of big.bin in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := leanserver.Start(leanserver.Options{BigSize: *big})
	if err != nil {
		return err
	}
	defer srv.Close()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer raw.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 256<<10)
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			for left := *big; left > 0; {
				n := int64(len(buf))
				if left < n {
					n = left
				}
				if _, err := c.Write(buf[:n]); err != nil {
					break
				}
				left -= n
			}
			c.Close()
		}
	}()
	fmt.Printf("FTP %s\nRAW %s\nREADY\n", srv.Addr, raw.Addr())
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-lines:
			if !ok {
				return nil
			}
			if l == "CPU" {
				u, s := benchrun.CPU()
				st := srv.Stats()
				fmt.Printf("CPU %.6f %d\n", (u + s).Seconds(), st.Active)
			}
		}
	}
}
