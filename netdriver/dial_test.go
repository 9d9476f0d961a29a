package netdriver_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
)

// relay is a one-hop TCP forwarder on loopback standing in for a proxy: the
// session's connections reach the server only through it.
type relay struct {
	mu    sync.Mutex
	dials []string // the addresses the session asked the "proxy" for
	wg    sync.WaitGroup
}

// dial connects to the target through a fresh socket pair of relayed conns.
func (r *relay) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.dials = append(r.dials, addr)
	r.mu.Unlock()
	var d net.Dialer
	up, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	near, far := net.Pipe() // not a socket: gnet could not carry it
	r.wg.Add(2)
	done := make(chan struct{})
	go func() { // session → server; the session's close is a FIN upstream
		defer r.wg.Done()
		io.Copy(up, far)
		up.(*net.TCPConn).CloseWrite()
		// goftp never closes an upload's data connection: give it a moment.
		up.SetReadDeadline(time.Now().Add(2 * time.Second))
		<-done
		up.Close()
	}()
	go func() { // server → session
		defer r.wg.Done()
		io.Copy(far, up)
		far.Close()
		close(done)
	}()
	return near, nil
}

// Options.Dial carries the control connection and every passive data
// connection: a session through a proxy lists, downloads byte-exact and
// uploads, and the proxy saw every connection.
func TestDialOption(t *testing.T) {
	clean(t)
	srv, _ := startEmbed(t, false, false)
	ctx := testCtx(t)
	r := &relay{}
	c, conn, err := dial(ctx, srv.Addr, userConfig(session.TLSNone, nil), netdriver.Options{Dial: r.dial}, client.Options{})
	if err != nil {
		t.Fatalf("login through the relay: %v", err)
	}
	if res, err := c.List(ctx, ""); err != nil || len(res.Entries) == 0 {
		t.Fatalf("List: %d entries, %v", len(res.Entries), err)
	}
	f := embedFile(t, srv, "65537-bytes.bin")
	var buf bytes.Buffer
	if n, err := c.Retr(ctx, f.Path, &buf); err != nil || n != f.Size || sum(buf.Bytes()) != f.SHA256 {
		t.Fatalf("Retr: %d bytes, %v; sum match %v", n, err, sum(buf.Bytes()) == f.SHA256)
	}
	up := bytes.Repeat([]byte("through the relay\n"), 5000)
	if n, err := c.Stor(ctx, "relayed.bin", bytes.NewReader(up)); err != nil || n != int64(len(up)) {
		t.Fatalf("Stor: %d bytes, %v", n, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	<-conn.Done()
	r.wg.Wait()
	if got := fileSum(t, onDisk(srv, "relayed.bin")); got != sum(up) {
		t.Errorf("uploaded file differs")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// control, LIST, SIZE-less RETR's data, STOR's data: 1 + 3 (at least)
	if len(r.dials) < 4 || r.dials[0] != srv.Addr {
		t.Errorf("the relay saw %q, want the control connection to %s then one per transfer", r.dials, srv.Addr)
	}
}
