package pool_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// A small FTP server for the pool's fault tests, built on ftptest: every
// control connection runs one Func that answers commands from a shared file
// store, and misbehaves once when its connection number and command match a
// fault. Sessions of a pool take work in no fixed order, so a fixed script per
// connection cannot describe them; this server can.

// fault is what connection conn does on the first command verb it reads.
type fault struct {
	conn int
	verb string
	// how: "reset" (TCP RST on the control connection), "421" (421, then
	// hang up). For RETR the server first sends half of the file and waits
	// a moment; for STOR it first reads part of the upload ("reset-all": all
	// of it) and stores what it read.
	how string
}

type faultServer struct {
	srv        *ftptest.Server
	restStream bool // FEAT announces REST STREAM

	mu     sync.Mutex
	files  map[string][]byte
	faults []fault
	seen   []string // every command, "n: line"
	struck []string // faults that happened, "verb path at offset"
}

func newFaultServer(t *testing.T, files map[string][]byte, restStream bool, faults ...fault) *faultServer {
	t.Helper()
	f := &faultServer{files: files, restStream: restStream, faults: faults}
	f.srv = ftptest.NewServerFunc(t, func(n int) ftptest.Script {
		return ftptest.Script{ftptest.Func(func(c *ftptest.Conn) error { return f.serve(c) })}
	}, ftptest.WithTimeout(20*time.Second), ftptest.WithoutLog())
	return f
}

func (f *faultServer) addr() string { return f.srv.Addr }

func (f *faultServer) file(name string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files[name]
}

// commands returns the lines with the given verb, in the order read.
func (f *faultServer) commands(verb string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.seen {
		_, line, _ := strings.Cut(l, ": ")
		if strings.HasPrefix(line, verb+" ") || line == verb {
			out = append(out, line)
		}
	}
	return out
}

func (f *faultServer) strikes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.struck...)
}

// takeFault returns (and uses up) the fault for conn n and verb.
func (f *faultServer) takeFault(n int, verb string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ft := range f.faults {
		if ft.conn == n && ft.verb == verb {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
			return ft.how
		}
	}
	return ""
}

var errHungUp = errors.New("hung up")

// serve answers one control connection until QUIT or a fault.
func (f *faultServer) serve(c *ftptest.Conn) error {
	if err := c.WriteLine("220 fault server ready"); err != nil {
		return err
	}
	var rest int64
	for i := 0; i < 10000; i++ {
		line, err := c.ReadLine()
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.seen = append(f.seen, strconv.Itoa(c.N())+": "+line)
		f.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		offset := rest
		rest = 0
		var reply string
		switch verb {
		case "USER":
			reply = "331 password please"
		case "PASS":
			reply = "230 logged in"
		case "TYPE":
			reply = "200 type set"
		case "NOOP":
			reply = "200 NOOP ok"
		case "FEAT":
			feats := []string{"211-Features:", " EPSV", " SIZE"}
			if f.restStream {
				feats = append(feats, " REST STREAM")
			}
			if err := c.Run(ftptest.Reply(append(feats, "211 End")...)); err != nil {
				return err
			}
			continue
		case "SIZE":
			if b := f.file(arg); b != nil {
				reply = "213 " + strconv.Itoa(len(b))
			} else {
				reply = "550 no such file"
			}
		case "REST":
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				reply = "501 bad offset"
				break
			}
			rest, reply = n, "350 restarting at "+arg
		case "EPSV":
			if err := c.Run(ftptest.PassiveEPSV()); err != nil {
				return err
			}
			continue
		case "RETR":
			err = f.retr(c, arg, offset)
		case "STOR":
			err = f.stor(c, arg, offset)
		case "DELE":
			if how := f.takeFault(c.N(), verb); how != "" {
				err = f.strike(c, how, "DELE "+arg)
				break
			}
			f.mu.Lock()
			delete(f.files, arg)
			f.mu.Unlock()
			reply = "250 deleted"
		case "QUIT":
			return c.WriteLine("221 bye")
		default:
			reply = "502 not implemented"
		}
		if errors.Is(err, errHungUp) {
			return nil
		}
		if err != nil {
			return err
		}
		if reply != "" {
			if err := c.WriteLine(reply); err != nil {
				return err
			}
		}
	}
	return errors.New("too many commands")
}

// strike misbehaves as how says: reset, or 421 and hang up.
func (f *faultServer) strike(c *ftptest.Conn, how, what string) error {
	f.mu.Lock()
	f.struck = append(f.struck, what)
	f.mu.Unlock()
	if how == "421" {
		c.WriteLine("421 Service not available, closing control connection")
		c.Run(ftptest.Close())
		return errHungUp
	}
	c.Run(ftptest.Reset())
	return errHungUp
}

func (f *faultServer) retr(c *ftptest.Conn, name string, offset int64) error {
	body := f.file(name)
	if body == nil {
		return c.WriteLine("550 no such file")
	}
	if offset > int64(len(body)) {
		return c.WriteLine("554 offset beyond the end")
	}
	if err := c.Run(ftptest.Reply("150 opening data connection"), ftptest.DataAccept()); err != nil {
		return err
	}
	body = body[offset:]
	if how := f.takeFault(c.N(), "RETR"); how != "" {
		half := body[:len(body)/2]
		if err := c.Run(ftptest.DataSend(half)); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond) // let the client take the half
		return f.strike(c, how, fmt.Sprintf("RETR %s at %d", name, offset+int64(len(half))))
	}
	if err := c.Run(ftptest.DataSend(body), ftptest.DataClose()); err != nil {
		return err
	}
	return c.WriteLine("226 transfer complete")
}

func (f *faultServer) stor(c *ftptest.Conn, name string, offset int64) error {
	if err := c.Run(ftptest.Reply("150 send it"), ftptest.DataAccept()); err != nil {
		return err
	}
	how := f.takeFault(c.N(), "STOR")
	limit := int64(-1)
	if how == "reset" || how == "421" {
		limit = 20 << 10 // take part of it, then fail
	}
	got, err := readData(c.Data(), limit)
	if err != nil {
		return err
	}
	f.mu.Lock()
	old := f.files[name]
	if offset > int64(len(old)) {
		f.mu.Unlock()
		return c.WriteLine("554 offset beyond the end")
	}
	f.files[name] = append(append([]byte(nil), old[:offset]...), got...)
	f.mu.Unlock()
	if how != "" {
		h := how
		if h == "reset-all" {
			h = "reset"
		}
		return f.strike(c, h, fmt.Sprintf("STOR %s at %d", name, offset+int64(len(got))))
	}
	return c.WriteLine("226 stored")
}

// readData reads the data connection to its end, or limit bytes (limit ≥ 0).
func readData(d io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if dc, ok := d.(interface{ SetReadDeadline(time.Time) error }); ok {
		dc.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	var err error
	if limit >= 0 {
		_, err = io.CopyN(&buf, d, limit)
	} else {
		_, err = io.Copy(&buf, d)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("data connection: nothing for 10s after %d bytes", buf.Len())
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf.Bytes(), nil
}

// leakCheck fails t if goroutines started during the test outlive it. Call it
// first, so that it runs after every later cleanup.
func leakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, opt, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
	})
}
