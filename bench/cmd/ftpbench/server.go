package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/internal/rlimit"
)

// serverMain runs the lean FTP server and a plain TCP sender of the same big
// file; with -tls also two explicit-FTPS lean servers (session tickets on, and
// off so that no handshake resumes) and a crypto/tls sender. It prints "FTP
// addr", "RAW addr" (and "FTPS", "FTPSOFF", "RAWTLS") and "READY", then
// answers "CPU" lines on stdin with its own user+sys CPU seconds, the open
// sessions and the TLS handshake counts, and exits when stdin closes.
func serverMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	big := fs.Int64("bigsize", 1<<30, "size of big.bin in bytes")
	withTLS := fs.Bool("tls", false, "also serve explicit FTPS (tickets on and off) and a TLS sender; needs -certout")
	certOut := fs.String("certout", "", "with -tls: write the self-signed certificate (PEM) here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The server holds a socket per client session: 10,000 idle sessions
	// need more than a default soft limit.
	if _, err := rlimit.Ensure(20000); err != nil {
		fmt.Fprintln(os.Stderr, "ftpbench server:", err)
	}
	srv, err := leanserver.Start(leanserver.Options{BigSize: *big})
	if err != nil {
		return err
	}
	defer srv.Close()
	servers := []*leanserver.Server{srv}
	var wg sync.WaitGroup
	defer wg.Wait()
	raw, err := sender(&wg, *big, nil)
	if err != nil {
		return err
	}
	defer raw.Close()
	fmt.Printf("FTP %s\nRAW %s\n", srv.Addr, raw.Addr())
	if *withTLS {
		if *certOut == "" {
			return fmt.Errorf("-tls needs -certout")
		}
		cfg, pemCert, err := leanserver.SelfSigned()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*certOut, pemCert, 0o644); err != nil {
			return err
		}
		on, err := leanserver.Start(leanserver.Options{BigSize: *big, TLS: cfg})
		if err != nil {
			return err
		}
		defer on.Close()
		noTickets := cfg.Clone()
		noTickets.SessionTicketsDisabled = true
		off, err := leanserver.Start(leanserver.Options{BigSize: *big, TLS: noTickets})
		if err != nil {
			return err
		}
		defer off.Close()
		servers = append(servers, on, off)
		rawTLS, err := sender(&wg, *big, cfg)
		if err != nil {
			return err
		}
		defer rawTLS.Close()
		fmt.Printf("FTPS %s\nFTPSOFF %s\nRAWTLS %s\n", on.Addr, off.Addr, rawTLS.Addr())
	}
	fmt.Println("READY")
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
				var st leanserver.Stats
				for _, v := range servers {
					x := v.Stats()
					st.Active += x.Active
					st.CtrlTLS += x.CtrlTLS
					st.DataTLS += x.DataTLS
					st.DataResumed += x.DataResumed
				}
				fmt.Printf("CPU %.6f %d %d %d %d\n", (u + s).Seconds(), st.Active, st.CtrlTLS, st.DataTLS, st.DataResumed)
			}
		}
	}
}

// sender listens on loopback and sends size bytes to every connection, one at
// a time, through TLS when cfg is set (closing with close_notify).
func sender(wg *sync.WaitGroup, size int64, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 256<<10)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if cfg != nil {
				c = tls.Server(c, cfg)
			}
			for left := size; left > 0; {
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
	return ln, nil
}
