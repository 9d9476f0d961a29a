package ftpssmoke

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

func TestSmokeTLS(t *testing.T) {
	scfg, ccfg, err := embedserver.SelfSignedTLS()
	if err != nil { t.Fatal(err) }
	srv, err := embedserver.Start(embedserver.Options{TLS: scfg})
	if err != nil { t.Fatal(err) }
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{TLS: session.TLSExplicit, User: "asyncftp", Password: "secret", Transcript: transcript.Text(os.Stdout)}, TLS: netdriver.TLSOptions{RootCAs: ccfg.RootCAs}})
	if err != nil { t.Fatal(err) }
	b, err := c.ListRaw(ctx, "LIST", "")
	t.Logf("list %d %v", len(b), err)
	var buf bytes.Buffer
	n, err := c.Retr(ctx, "1MiB.bin", &buf)
	t.Logf("retr %d %v", n, err)
	n, err = c.Stor(ctx, "up.bin", bytes.NewReader(buf.Bytes()))
	t.Logf("stor %d %v", n, err)
	if err := c.Quit(ctx); err != nil { t.Fatal(err) }
}
