package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "put",
		args:    "FILE URL",
		summary: "upload a file",
		help: `
Upload a local FILE ('-' for stdin) to the URL. When the URL ends in '/'
(or names the login folder, ftp://HOST/), the file keeps its local name in
that folder; otherwise the URL's last element is the remote name.

A progress bar is drawn while stdout is a terminal (not with --json, -q or -v).

Examples:
  asyncftp put report.pdf ftp://alice@example.org/incoming/
  asyncftp put report.pdf ftp://alice@example.org/incoming/report-2024.pdf
  tar czf - src | asyncftp put - ftp://alice@example.org/backup/src.tgz
  ASYNCFTP_PASSWORD=secret asyncftp put notes.txt ftp://asyncftp@127.0.0.1:2121/`,
		minArgs:  2,
		maxArgs:  2,
		complete: []argKind{argLocalFile, argRemote},
		flags: func(f *pflag.FlagSet) runFunc {
			o := &common{transfers: true}
			o.register(f)
			return func(ctx context.Context, e *Env, pos []string) error { return runPut(ctx, e, o, pos) }
		},
	})
}

func runPut(ctx context.Context, e *Env, o *common, pos []string) error {
	file := pos[0]
	t, err := o.target(pos[1])
	if err != nil {
		return err
	}
	remote := t.Path
	if remote == "" || strings.HasSuffix(remote, "/") {
		if file == "-" {
			return usageErrorf("uploading stdin needs a remote file name: end the URL with it")
		}
		remote += filepath.Base(file)
	}

	var src io.Reader = e.Stdin
	size := int64(-1)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return failure(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return failure(err)
		}
		if fi.IsDir() {
			return usageErrorf("%s is a folder; put uploads one file", file)
		}
		src, size = f, fi.Size()
	}

	c, err := o.dial(ctx, e, t, nil, o.transcriptSink(e, false))
	if err != nil {
		return err
	}
	defer c.quit(ctx)

	p := newPrinter(e, o)
	rec := Record{Op: "put", URL: t.String(), Path: remote, Local: file}
	bar := newProgress(e, o, size, shortName(remoteBase(remote)))
	h := sha256.New()
	start := time.Now()
	n, err := c.Stor(ctx, remote, io.TeeReader(src, io.MultiWriter(h, bar.writer())))
	rec.Seconds = time.Since(start).Seconds()
	rec.Bytes = int64p(n)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("sent %d bytes of %d (the file changed while it was read?)", n, size)
	}
	if err != nil {
		bar.abandon()
		p.record(errorRecord(rec, err), "")
		return failure(fmt.Errorf("put %s: %w", remote, err))
	}
	bar.finish()
	rec.Status, rec.Size, rec.SHA256 = "ok", int64p(n), hex.EncodeToString(h.Sum(nil))
	p.record(rec, fmt.Sprintf("%s: %d bytes in %s, sha256 %s", safeText(remote), n, roundDuration(time.Since(start)), rec.SHA256))
	return nil
}
