package fsm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

func TestSmoke(t *testing.T) {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{Transcript: transcript.Text(os.Stdout)}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Pwd(ctx)
	t.Logf("pwd %q %v", p, err)
	f, err := c.Feat(ctx)
	t.Logf("feat %v %v", f, err)
	res, err := c.List(ctx, "")
	t.Logf("list %d entries bad=%d err=%v", len(res.Entries), len(res.Bad), err)
	for _, fi := range srv.Files() {
		if fi.Dir {
			continue
		}
		var buf bytes.Buffer
		n, err := c.Retr(ctx, fi.Path, &buf)
		sum := sha256.Sum256(buf.Bytes())
		if err != nil || hex.EncodeToString(sum[:]) != fi.SHA256 {
			t.Errorf("%s: n=%d err=%v", fi.Path, n, err)
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}
