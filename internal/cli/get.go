package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

func init() {
	register(&command{
		name:    "get",
		args:    "URL",
		summary: "download a file",
		help: `
Download the file a URL names. By default it is saved in the current folder
under its remote name; -o names another file or folder ('-o -' writes to
stdout).

The download goes to NAME.part in the target folder and is renamed to NAME
only when every byte has arrived (and the size matches what SIZE announced),
so a file under its real name is always complete (an existing NAME is
replaced only then). If the download fails,
NAME.part is removed, unless -c was given: then it is kept, and running the
same command with -c again resumes it (REST + RETR) from where it stopped.
With -c, a NAME that already has the remote size is left alone.

A progress bar is drawn while stdout is a terminal (not with --json, -q or -v).

Examples:
  asyncftp get ftp://ftp.example.org/pub/file.iso
  asyncftp get -c ftp://ftp.example.org/pub/file.iso -o ~/Downloads/
  asyncftp get ftp://alice@example.org/report.pdf -o report-2024.pdf
  asyncftp get ftp://127.0.0.1:2121/README.txt -o - | less
  ASYNCFTP_PASSWORD=... asyncftp get --json ftp://alice@example.org/data.csv`,
		run: runGet,
	})
}

func runGet(ctx context.Context, e *Env, args []string) error {
	o := &common{transfers: true}
	fs := newFlagSet(commands["get"])
	var out string
	var resume bool
	fs.stringVar(&out, "o,output", "FILE|DIR", "save as FILE, or into DIR under the remote name ('-' for stdout)")
	fs.boolVar(&resume, "c,continue", "resume NAME.part from an earlier run, and keep NAME.part if this run fails")
	o.register(fs)
	pos, err := fs.parse(e, args, 1, 1)
	if err != nil {
		return err
	}
	t, err := o.target(pos[0])
	if err != nil {
		return err
	}
	base := remoteBase(t.Path)
	if base == "" || base == "." || base == ".." || strings.HasSuffix(t.Path, "/") {
		return usageErrorf("the URL names no file (it ends in a folder): %s", t)
	}
	toStdout := out == "-"
	if toStdout && (o.json || resume) {
		return usageErrorf("-o - (stdout) cannot be combined with --json or -c")
	}
	dir, name := ".", base
	if !toStdout && out != "" {
		if fi, err := os.Stat(out); (err == nil && fi.IsDir()) || strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
			dir = out
		} else {
			dir, name = filepath.Split(out)
			if dir == "" {
				dir = "."
			}
		}
	}
	local := filepath.Join(dir, name)

	c, err := o.dial(ctx, e, t, nil, o.transcriptSink(e, false))
	if err != nil {
		return err
	}
	defer c.quit(ctx)

	if toStdout {
		if _, err := c.Retr(ctx, t.Path, e.Stdout); err != nil {
			return failure(fmt.Errorf("get %s: %w", t.Path, err))
		}
		return nil
	}

	p := newPrinter(e, o)
	rec := Record{Op: "get", URL: t.String(), Path: t.Path, Local: local}
	size, err := c.Size(ctx, t.Path)
	if err != nil {
		// A refused SIZE may just mean the server has none; RETR will tell
		// whether the file is there. A dead session will not.
		var fe *ftp.Error
		if !errors.As(err, &fe) {
			return failure(fmt.Errorf("get %s: %w", t.Path, err))
		}
		size = -1
	}
	if size >= 0 {
		rec.Size = int64p(size)
	}
	if resume && size >= 0 {
		if fi, err := os.Lstat(local); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
			rec.Status, rec.Reason = "skipped", "already complete"
			p.record(rec, fmt.Sprintf("%s: already complete (%d bytes), nothing to do", safeText(local), size))
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return failure(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return failure(err)
	}
	defer root.Close()

	bar := newProgress(e, o, size, shortName(base))
	start := time.Now()
	res, err := fetch(ctx, c.Client, fetchJob{root: root, name: name, remote: t.Path, size: size, resume: resume, bar: bar})
	rec.Seconds = time.Since(start).Seconds()
	rec.Bytes, rec.Offset = int64p(res.bytes), res.offset
	if err != nil {
		bar.abandon()
		msg := fmt.Errorf("get %s: %w", t.Path, err)
		if resume {
			msg = fmt.Errorf("%w (partial data kept in %s%s; run again with -c to resume)", msg, local, partSuffix)
		}
		p.record(errorRecord(rec, err), "")
		return failure(msg)
	}
	bar.finish()
	rec.Status, rec.SHA256 = "ok", res.sha256
	rec.Size = int64p(res.total)
	text := fmt.Sprintf("%s: %d bytes in %s, sha256 %s", safeText(local), res.total, roundDuration(time.Since(start)), res.sha256)
	if res.offset > 0 {
		text += fmt.Sprintf(" (resumed at byte %d)", res.offset)
	}
	p.record(rec, text)
	return nil
}

// shortName fits a name into a progress bar's description.
func shortName(s string) string {
	s = escapeLine(s, false)
	if r := []rune(s); len(r) > 24 {
		return string(r[:11]) + "…" + string(r[len(r)-12:])
	}
	return s
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
