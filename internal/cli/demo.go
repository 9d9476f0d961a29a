package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/session"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "demo",
		args:    "",
		summary: "start a built-in FTP server and show a whole FTP session, live",
		help: `
Start the built-in FTP server (goftp, in this process, on 127.0.0.1 with a
generated sample tree) and run the session from Fredrik Lundh's asyncore FTP
article against it, printing every line as it goes: "C:" lines are sent by
the client, "S:" lines are the server's replies, "#:" lines are the engine's
notes (data connections opening and closing).

It logs in anonymously, asks PWD, CWD pub, CDUP, FEAT and SYST, lists the
root folder over a passive data connection (EPSV, or PASV if refused) and
prints the parsed entries, downloads a file and checks its SHA-256, and
QUITs; then it logs in as the read-write user asyncftp (the password is
masked in the transcript), uploads a file with STOR, downloads it again and
compares the hashes. Nothing needs to be installed and nothing leaves this
machine; it takes well under a second.

Examples:
  asyncftp demo
  go run ./cmd/asyncftp demo`,
		flags: func(*pflag.FlagSet) runFunc { return runDemo },
	})
}

// demoFile is the file the demo downloads.
const demoFile = "1MiB.bin"

func runDemo(ctx context.Context, e *Env, _ []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	w := e.Stdout

	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		return failure(fmt.Errorf("starting the embedded server: %w", err))
	}
	defer srv.Close()

	fmt.Fprintf(w, "asyncftp demo: the FTP session of Fredrik Lundh's asyncore article, live.\n")
	fmt.Fprintf(w, "Server: goftp.io/server/v2 in this process on %s, serving a generated sample tree.\n", srv.Addr)
	fmt.Fprintf(w, "C: is the client, S: the server, #: a note from the engine. Passwords show as ****.\n")

	sink := newLineSink(w, false)
	sink.indent = "  "
	step := func(title string) { fmt.Fprintf(w, "\n== %s\n", title) }
	say := func(format string, args ...any) { fmt.Fprintf(w, "  => "+format+"\n", args...) }
	fail := func(what string, err error) error { return failure(fmt.Errorf("%s: %w", what, err)) }

	step("1. Connect and log in anonymously (then TYPE I: binary transfers)")
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{Transcript: sink}})
	if err != nil {
		return connectError(fmt.Errorf("anonymous login: %w", err))
	}
	defer c.Close()

	step("2. Where am I? PWD, CWD pub, CDUP")
	pwd, err := c.Pwd(ctx)
	if err != nil {
		return fail("PWD", err)
	}
	say("current folder: %s", pwd)
	if err := c.Cwd(ctx, "pub"); err != nil {
		return fail("CWD", err)
	}
	if pwd, err = c.Pwd(ctx); err != nil {
		return fail("PWD", err)
	}
	say("after CWD pub: %s", pwd)
	if err := c.Cdup(ctx); err != nil {
		return fail("CDUP", err)
	}
	say("CDUP went back up")

	step("3. What does the server offer? FEAT, SYST")
	feats, err := c.Feat(ctx)
	if err != nil {
		return fail("FEAT", err)
	}
	names := make([]string, 0, len(feats))
	for f := range feats {
		names = append(names, f)
	}
	sort.Strings(names)
	say("features: %s", strings.Join(names, ", "))
	syst, err := c.Syst(ctx)
	if err != nil {
		return fail("SYST", err)
	}
	say("system: %s", syst)

	step("4. LIST: a passive data connection (EPSV, or PASV if refused) carries the listing")
	body, err := c.ListRaw(ctx, "LIST", "")
	if err != nil {
		return fail("LIST", err)
	}
	res := listing.Parse(body, time.Now())
	say("%d bytes of listing, parsed into %d entries:", len(body), len(res.Entries))
	for _, en := range res.Entries {
		fmt.Fprintf(w, "       %s\n", lsLine(en))
	}
	for _, b := range res.Bad {
		say("not understood: %s", safeText(b.Raw))
	}

	step("5. RETR " + demoFile + " (SIZE first, so a short download cannot pass as complete)")
	want := ""
	for _, f := range srv.Files() {
		if f.Path == demoFile {
			want = f.SHA256
		}
	}
	h := sha256.New()
	n, err := c.Retr(ctx, demoFile, h)
	if err != nil {
		return fail("RETR", err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != want {
		return failure(fmt.Errorf("RETR %s: SHA-256 %s, but the server's file has %s", demoFile, got, want))
	}
	say("%d bytes, SHA-256 %s: the same as the server's copy", n, got)

	step("6. QUIT")
	if err := c.Quit(ctx); err != nil {
		return fail("QUIT", err)
	}

	step("7. Log in as the read-write user " + embedserver.DefaultUser)
	c2, err := client.Dial(ctx, srv.Addr, &client.Options{Config: session.Config{
		User:       embedserver.DefaultUser,
		Password:   session.Secret(embedserver.DefaultPassword),
		Transcript: sink,
	}})
	if err != nil {
		return connectError(fmt.Errorf("login as %s: %w", embedserver.DefaultUser, err))
	}
	defer c2.Close()

	const upName, upSize = "demo-upload.bin", 200 << 10
	step(fmt.Sprintf("8. STOR %s (%d KiB), then RETR it back and compare", upName, upSize>>10))
	sent := sha256.New()
	nUp, err := c2.Stor(ctx, upName, io.TeeReader(embedserver.PatternReader(upName, upSize), sent))
	if err != nil {
		return fail("STOR", err)
	}
	back := sha256.New()
	nDown, err := c2.Retr(ctx, upName, back)
	if err != nil {
		return fail("RETR", err)
	}
	sentSum, backSum := hex.EncodeToString(sent.Sum(nil)), hex.EncodeToString(back.Sum(nil))
	say("sent %d bytes, SHA-256 %s", nUp, sentSum)
	say("got  %d bytes, SHA-256 %s", nDown, backSum)
	if sentSum != backSum || nUp != nDown {
		return failure(fmt.Errorf("the file came back different"))
	}
	say("identical")

	step("9. QUIT")
	if err := c2.Quit(ctx); err != nil {
		return fail("QUIT", err)
	}

	fmt.Fprintf(w, "\nDone in %s. Next:\n", roundDuration(time.Since(start)))
	fmt.Fprintf(w, "  asyncftp serve                      run this server in the foreground (prints its address)\n")
	fmt.Fprintf(w, "  asyncftp ls -v ftp://127.0.0.1:PORT/  list it, with the transcript\n")
	fmt.Fprintf(w, "  asyncftp --help                     every command\n")
	return nil
}
