package fsm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// A server that sends the whole file, its 226, and then hangs up the control
// connection: the download is complete and must be reported so, and the
// caller's writer must be finished with when Retr returns (the off-loop
// goroutine is waited for). Found by the CLI tests: it used to fail most runs.
func TestRetrCompleteThenControlClosed(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
	for i := 0; i < 20; i++ {
		srv := ftptest.NewServer(t, ftptest.Script{
			ftptest.Reply("220 hi"),
			ftptest.Expect("USER anonymous"), ftptest.Reply("331 pw"),
			ftptest.Expect("PASS anonymous@"), ftptest.Reply("230 in"),
			ftptest.Expect("TYPE I"), ftptest.Reply("200 ok"),
			ftptest.Expect("SIZE f"), ftptest.Reply("213 5"),
			ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.DataAccept(),
			ftptest.Expect("RETR f"), ftptest.Reply("150 go"),
			ftptest.DataSend([]byte("hello")), ftptest.DataClose(),
			ftptest.Reply("226 done"),
			ftptest.Close(),
		}, ftptest.WithoutLog())
		eng, err := engine.New(engine.Options{Tick: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: eng})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err := c.Retr(ctx, "f", &buf)
		if err != nil || n != 5 || buf.String() != "hello" {
			t.Fatalf("run %d: n=%d body=%q err=%v", i, n, buf.String(), err)
		}
		// The session itself has ended: the next command says so.
		if err := c.Noop(ctx); !errors.Is(err, ftp.ErrClosed) {
			t.Fatalf("run %d: Noop after the server hung up: %v", i, err)
		}
		c.Close()
		cancel()
		eng.Close()
		srv.Close()
	}
}
