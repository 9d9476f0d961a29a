package main_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// stallingServer logs anyone in, and answers a RETR, LIST or MLSD with 150 and a
// data connection that never carries a byte: the case --timeout must end
// long before the 60s data-idle default. Every connection (the pool's retries
// included) gets the same treatment.
func stallingServer(t *testing.T) *ftptest.Server {
	return ftptest.NewServerFunc(t, func(int) ftptest.Script {
		return ftptest.Script{ftptest.Reply("220 stalling"), ftptest.Func(func(c *ftptest.Conn) error {
			for {
				line, err := c.ReadLine()
				if err != nil {
					return err
				}
				verb, _, _ := strings.Cut(line, " ")
				var steps []ftptest.Step
				switch strings.ToUpper(verb) {
				case "USER":
					steps = []ftptest.Step{ftptest.Reply("331 password")}
				case "PASS":
					steps = []ftptest.Step{ftptest.Reply("230 in")}
				case "TYPE":
					steps = []ftptest.Step{ftptest.Reply("200 ok")}
				case "SIZE":
					steps = []ftptest.Step{ftptest.Reply("213 100")}
				case "REST":
					steps = []ftptest.Step{ftptest.Reply("350 restarting")}
				case "EPSV":
					steps = []ftptest.Step{ftptest.PassiveEPSV()}
				case "RETR", "LIST", "MLSD", "NLST":
					steps = []ftptest.Step{ftptest.Reply("150 here it comes"), ftptest.DataAccept(), ftptest.Stall()}
				case "QUIT":
					return c.Run(ftptest.Reply("221 bye"), ftptest.Close())
				default:
					steps = []ftptest.Step{ftptest.Reply("502 not here")}
				}
				if err := c.Run(steps...); err != nil {
					return err
				}
			}
		})}
	}, ftptest.WithoutLog())
}

// TestTimeoutBoundsStalledData: with --timeout 1s, a download or listing whose
// data connection opens and then goes silent fails as a timeout (exit 4, the
// typed error's text) long before the defaults (60s without data bytes, then
// 30s for the final reply), and leaves no file behind. A server that never
// greets, or never starts the TLS of implicit FTPS (a bound of the connect,
// 10s by default), is a connection failure (exit 3) within the bound too.
//
// One try of a stalled transfer waits twice the timeout: 1s for a byte, then
// 1s for the final reply that would say why. get and mirror run through the
// pool, which tries a timed-out transfer 3 more times on fresh sessions after
// 0.1+0.2+0.4s of backoff: about 9s with --timeout 1s, against 6 minutes with
// the defaults.
func TestTimeoutBoundsStalledData(t *testing.T) {
	srv := stallingServer(t)
	silent := ftptest.NewServer(t, ftptest.Script{ftptest.Stall()}, ftptest.WithoutLog())
	const once, pooled = 5 * time.Second, 15 * time.Second
	cases := []struct {
		name  string
		args  []string
		code  int
		bound time.Duration
	}{
		{"get", []string{"get", "--timeout", "1s", "ftp://" + srv.Addr + "/f.bin"}, 4, pooled},
		{"get -o -", []string{"get", "--timeout=1s", "-o", "-", "ftp://" + srv.Addr + "/f.bin"}, 4, pooled},
		{"ls", []string{"ls", "ftp://" + srv.Addr + "/", "--timeout", "1s"}, 4, once},
		{"mirror", []string{"mirror", "-j", "1", "--timeout", "1s", "ftp://" + srv.Addr + "/", "copy"}, 4, pooled},
		{"greeting", []string{"ls", "--timeout", "1s", "ftp://" + silent.Addr + "/"}, 3, once},
		{"implicit FTPS handshake", []string{"ls", "--timeout", "1s", "--insecure", "ftps://" + silent.Addr + "/"}, 3, once},
	}
	for _, c := range cases {
		dir := t.TempDir()
		start := time.Now()
		r := run(t, dir, nil, c.args...)
		took := time.Since(start)
		t.Logf("%s: exit %d after %v: %s", c.name, r.code, took.Round(10*time.Millisecond), strings.TrimSpace(r.stderr))
		if r.code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, r.code, c.code, r)
		}
		if !strings.Contains(r.stderr, "ftp: timeout") {
			t.Errorf("%s: the error does not say it timed out\n%s", c.name, r)
		}
		if took > c.bound {
			t.Errorf("%s: took %v with --timeout 1s; want under %v", c.name, took, c.bound)
		}
		for _, name := range []string{"f.bin", "f.bin.part"} {
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %s left behind: %v", c.name, name, err)
			}
		}
	}
}
