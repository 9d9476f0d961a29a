package fsm_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

func TestZZDebug(t *testing.T) {
	srv, _ := embedserver.Start(embedserver.Options{Logger: os.Stderr})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{User: "asyncftp", Password: "secret", Transcript: transcript.Text(os.Stdout)}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Stor(ctx, "/x.bin", bytes.NewReader([]byte("hello")))
	t.Log(n, err)
	c.Close()
}
