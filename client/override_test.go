package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
)

// A user's handler that replaces a built-in one but hands over no value makes
// the typed method fail with an error, never panic.
func TestOverriddenHandlerWithoutValue(t *testing.T) {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	reg := handlers.NewRegistry()
	reg.Register("PWD", func(x handlers.Exchange, r ftp.Reply) error { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{Handlers: reg}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Pwd(ctx); !errors.Is(err, ftp.ErrUnsupported) {
		t.Fatalf("Pwd with a value-less handler: %v", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("session unusable afterwards: %v", err)
	}
}
