package ftpssmoke

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
)

func TestSmokePlainStor(t *testing.T) {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil { t.Fatal(err) }
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{User: "asyncftp", Password: "secret"}})
	if err != nil { t.Fatal(err) }
	st := time.Now()
	n, err := c.Stor(ctx, "up.bin", bytes.NewReader(make([]byte, 1<<20)))
	t.Logf("stor %d %v %v", n, err, time.Since(st))
	if err := c.Quit(ctx); err != nil { t.Fatal(err) }
}
