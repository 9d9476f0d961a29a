package ftpssmoke

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/netdriver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

func TestSmokeVs(t *testing.T) {
	for _, addr := range []string{os.Getenv("ASYNCFTP_VSFTPD_TLS_ADDR"), os.Getenv("ASYNCFTP_PUREFTPD_TLS_ADDR")} {
	pem, _ := os.ReadFile(os.Getenv("ASYNCFTP_SERVERS_CA"))
	pool := x509.NewCertPool(); pool.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, &client.Options{Config: session.Config{TLS: session.TLSExplicit, User: os.Getenv("ASYNCFTP_SERVERS_USER"), Password: session.Secret(os.Getenv("ASYNCFTP_SERVERS_PASS")), Transcript: transcript.Text(os.Stdout)}, TLS: netdriver.TLSOptions{RootCAs: pool}})
	if err != nil { t.Fatal(err) }
	b, err := c.ListRaw(ctx, "LIST", "")
	t.Logf("list %d %v", len(b), err)
	var buf bytes.Buffer
	n, err := c.Retr(ctx, "big-3MiB.bin", &buf)
	t.Logf("retr %d %v", n, err)
	n, err = c.Stor(ctx, "zz-smoke.bin", bytes.NewReader(buf.Bytes()))
	t.Logf("stor %d %v", n, err)
	c.Delete(ctx, "zz-smoke.bin")
	if err := c.Quit(ctx); err != nil { t.Fatal(err) }
	}
}
