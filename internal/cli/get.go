package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "get",
		args:    "URL...",
		summary: "download files, several at once",
		help: `
Download the files the URLs name. By default they are saved in the current
folder under their remote names; -o names another file or folder ('-o -'
writes one file to stdout). With several URLs, -o names a folder (created if
missing), and two URLs that would be saved under the same name are refused.

The files are downloaded in parallel through a pool of up to -j sessions per
server (default 4), all on one event loop; URLs of different servers (or
users) get a pool each. A session that drops is replaced by a fresh login and
the download it carried resumes (REST) from the bytes already written.

Each download goes to NAME.part in the target folder and is renamed to NAME
only when every byte has arrived (and the size matches what SIZE announced),
so a file under its real name is always complete (an existing NAME is
replaced only then). If a download fails, its NAME.part is removed, unless -c
was given: then it is kept, and running the same command with -c again
resumes it (REST + RETR) from where it stopped. With -c, a NAME that already
has the remote size is left alone.

Failures are reported per file, with the server's reply; the other files go
on. The exit code is 0 only if every file arrived: 4 if any download failed,
3 if the only failures were servers that could not be reached or refused the
login.

A progress bar (one for all files) is drawn while stdout is a terminal (not
with --json, -q or -v); otherwise one line per file. --json prints one object
per file.

Examples:
  asyncftp get ftp://ftp.example.org/pub/file.iso
  asyncftp get -c ftp://ftp.example.org/pub/file.iso -o ~/Downloads/
  asyncftp get ftp://alice@example.org/report.pdf -o report-2024.pdf
  asyncftp get ftp://127.0.0.1:2121/README.txt -o - | less
  asyncftp get -j 8 -o isos/ ftp://ftp.example.org/pub/a.iso ftp://ftp.example.org/pub/b.iso
  asyncftp get --active ftp://ftp.example.org/pub/file.iso
  ASYNCFTP_PASSWORD=... asyncftp get --json ftp://alice@example.org/data.csv`,
		minArgs:  1,
		maxArgs:  -1,
		complete: []argKind{argRemote},
		flags:    getFlags,
	})
}

// getFile is one URL of a get.
type getFile struct {
	t    *Target
	name string // local name in the target folder
	g    *getGroup
	size int64 // from SIZE; -1 unknown
	rec  Record
	skip bool  // -c: already complete
	err  error // the failure, as printed
}

// getGroup is the URLs of one server and user: they share a pool.
type getGroup struct {
	t     *Target
	files []*getFile
	s     *sessions
}

// each runs f on every file of g with as many goroutines as g has sessions.
func (g *getGroup) each(ctx context.Context, f func(*getFile)) {
	ch := make(chan *getFile)
	var wg sync.WaitGroup
	for i := 0; i < g.s.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gf := range ch {
				if ctx.Err() == nil {
					f(gf)
				}
			}
		}()
	}
	for _, gf := range g.files {
		ch <- gf
	}
	close(ch)
	wg.Wait()
}

// getRun is one run of the get command.
type getRun struct {
	e      *Env
	o      *common
	p      *printer
	root   *os.Root // the target folder
	resume bool
	multi  bool // several URLs

	bytes  atomic.Int64
	failed atomic.Int64
	conns  atomic.Int64 // files not tried: their server could not be reached
	locks  *nameLocks
}

// getOptions are the flags of get beyond the common ones.
type getOptions struct {
	out    string
	resume bool
	jobs   int
}

func getFlags(f *pflag.FlagSet) runFunc {
	o := &common{transfers: true}
	g := &getOptions{}
	f.StringVarP(&g.out, "output", "o", "", "`FILE|DIR`: save as FILE, or into DIR under the remote name ('-' for stdout); with several URLs, a folder")
	f.BoolVarP(&g.resume, "continue", "c", false, "resume NAME.part from an earlier run, and keep NAME.part if this run fails")
	f.IntVarP(&g.jobs, "jobs", "j", 4, "`N` sessions per server downloading in parallel (1-64)")
	o.register(f)
	return func(ctx context.Context, e *Env, pos []string) error { return runGet(ctx, e, o, *g, pos) }
}

func runGet(ctx context.Context, e *Env, o *common, opt getOptions, pos []string) error {
	out, resume, jobs := opt.out, opt.resume, opt.jobs
	if jobs < 1 || jobs > 64 {
		return usageErrorf("-j must be between 1 and 64")
	}
	var files []*getFile
	for _, raw := range pos {
		t, err := o.target(raw)
		if err != nil {
			return err
		}
		base := remoteBase(t.Path)
		if base == "" || base == "." || base == ".." || strings.HasSuffix(t.Path, "/") {
			return usageErrorf("the URL names no file (it ends in a folder): %s", t)
		}
		files = append(files, &getFile{t: t, name: base, size: -1})
	}
	multi := len(files) > 1
	toStdout := out == "-"
	switch {
	case toStdout && multi:
		return usageErrorf("-o - (stdout) takes one URL")
	case toStdout && (o.json || resume):
		return usageErrorf("-o - (stdout) cannot be combined with --json or -c")
	}
	dir := "."
	if !toStdout && out != "" {
		fi, err := os.Stat(out)
		isDir := (err == nil && fi.IsDir()) || strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator))
		switch {
		case isDir:
			dir = out
		case multi && err == nil:
			return usageErrorf("-o %s: with several URLs, -o names a folder, and %s is a file", out, out)
		case multi:
			dir = out
		default:
			d, name := filepath.Split(out)
			if d != "" {
				dir = d
			}
			files[0].name = name
		}
	}
	seen := map[string]*getFile{}
	for _, f := range files {
		if other := seen[f.name]; other != nil {
			return usageErrorf("%s and %s would both be saved as %s", other.t, f.t, safeText(filepath.Join(dir, f.name)))
		}
		seen[f.name] = f
	}

	eng, err := o.engine()
	if err != nil {
		return failure(err)
	}
	defer eng.Close()

	if toStdout {
		return getToStdout(ctx, e, o, eng, files[0].t)
	}

	// One pool per server and user.
	var groups []*getGroup
	byKey := map[string]*getGroup{}
	for _, f := range files {
		t := f.t
		key := strings.Join([]string{t.Scheme, t.Addr(), t.User, t.Pass.Reveal(), fmt.Sprint(t.HasPass, t.TLS)}, "\x00")
		g := byKey[key]
		if g == nil {
			g = &getGroup{t: t}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.files = append(g.files, f)
		f.g = g
		f.rec = Record{Op: "get", URL: t.String(), Path: t.Path, Local: filepath.Join(dir, f.name)}
	}

	run := &getRun{e: e, o: o, p: newPrinter(e, o), resume: resume, multi: multi, locks: newNameLocks()}
	start := time.Now()
	sink := o.transcriptSink(e, multi && jobs > 1)

	// Log in to every server at once.
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := o.openSessions(ctx, e, "get", g.t, eng, sink, min(jobs, len(g.files)))
			if err != nil {
				for i, f := range g.files {
					msg := err
					if multi {
						msg = fmt.Errorf("%w (%d file(s) of that server not downloaded)", err, len(g.files))
					}
					run.fail(ctx, f, err, msg, i == 0)
				}
				return
			}
			g.s = s
		}()
	}
	wg.Wait()
	defer func() {
		for _, g := range groups {
			if g.s != nil {
				g.s.close(ctx)
			}
		}
	}()

	// The folder is made once some server has let us in.
	for _, g := range groups {
		if g.s == nil {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return failure(err)
		}
		if run.root, err = os.OpenRoot(dir); err != nil {
			return failure(err)
		}
		defer run.root.Close()
		break
	}

	// The sizes first, for the progress bar and -c; then the downloads.
	run.eachGroup(ctx, groups, run.size)
	var total int64
	todo := 0
	for _, f := range files {
		switch {
		case f.err != nil || f.skip:
		case f.size < 0 || total < 0:
			total, todo = -1, todo+1
		default:
			total, todo = total+f.size, todo+1
		}
	}
	var bar *progress
	if todo > 0 && ctx.Err() == nil {
		desc := shortName(files[0].name)
		if multi {
			desc = fmt.Sprintf("get (%d files)", todo)
		}
		bar = newProgress(e, o, total, desc)
		run.p.before = bar.clear
	}
	run.eachGroup(ctx, groups, func(ctx context.Context, f *getFile) { run.fetch(ctx, f, bar) })
	if run.failed.Load() == 0 && run.conns.Load() == 0 && ctx.Err() == nil {
		bar.finish()
	} else {
		bar.abandon()
	}
	run.p.before = nil

	n := int64(len(files))
	bad := run.failed.Load() + run.conns.Load()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("get interrupted: %w", ftp.ErrCanceled)
	case bad == 0:
		if multi && !o.json && !o.quiet {
			run.p.note(e.Stdout, fmt.Sprintf("get: %d files, %d bytes in %s", n, run.bytes.Load(), roundDuration(time.Since(start))))
		}
		return nil
	}
	code := ExitFailure
	if run.failed.Load() == 0 {
		code = ExitConnect
	}
	if !multi {
		return &exitError{code: code, err: files[0].err} // report prints it
	}
	return &exitError{code: code, err: fmt.Errorf("%d of %d files did not arrive", bad, n)}
}

// eachGroup runs f on every file that can still be tried, all groups at once.
func (run *getRun) eachGroup(ctx context.Context, groups []*getGroup, f func(context.Context, *getFile)) {
	var wg sync.WaitGroup
	for _, g := range groups {
		if g.s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.each(ctx, func(gf *getFile) {
				if gf.err == nil && !gf.skip {
					f(ctx, gf)
				}
			})
		}()
	}
	wg.Wait()
}

// size asks the size of f's file and, with -c, whether the local copy is
// already complete.
func (run *getRun) size(ctx context.Context, f *getFile) {
	size, err := f.g.s.fileSize(ctx, f.t.Path)
	if err != nil {
		// A refused SIZE may just mean the server has none; RETR will tell
		// whether the file is there. A session that cannot be had will not.
		var fe *ftp.Error
		if !errors.As(err, &fe) {
			run.fail(ctx, f, err, fmt.Errorf("get %s: %w", f.t.Path, err), true)
			return
		}
		size = -1
	}
	f.size = size
	if size >= 0 {
		f.rec.Size = int64p(size)
	}
	if run.resume && size >= 0 {
		if fi, err := run.root.Lstat(f.name); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
			f.skip = true
			f.rec.Status, f.rec.Reason = "skipped", "already complete"
			run.p.record(f.rec, fmt.Sprintf("%s: already complete (%d bytes), nothing to do", safeText(f.rec.Local), size))
		}
	}
}

// fetch downloads f into NAME.part and renames it.
func (run *getRun) fetch(ctx context.Context, f *getFile, bar *progress) {
	// A file "x" and a file "x.part" would share a .part name.
	run.locks.acquire(f.name, f.name+partSuffix)
	defer run.locks.release(f.name, f.name+partSuffix)
	start := time.Now()
	res, err := fetch(ctx, f.g.s, fetchJob{root: run.root, name: f.name, remote: f.t.Path, size: f.size, resume: run.resume, bar: bar})
	rec := f.rec
	rec.Seconds = time.Since(start).Seconds()
	rec.Bytes, rec.Offset = int64p(res.bytes), res.offset
	f.rec = rec
	if err != nil {
		msg := fmt.Errorf("get %s: %w", f.t.Path, err)
		if run.resume {
			msg = fmt.Errorf("%w (partial data kept in %s%s; run again with -c to resume)", msg, rec.Local, partSuffix)
		}
		run.fail(ctx, f, err, msg, true)
		return
	}
	run.bytes.Add(res.bytes)
	rec.Status, rec.SHA256 = "ok", res.sha256
	rec.Size = int64p(res.total)
	f.rec = rec
	text := fmt.Sprintf("%s: %d bytes in %s, sha256 %s", safeText(rec.Local), res.total, roundDuration(time.Since(start)), res.sha256)
	if res.offset > 0 {
		text += fmt.Sprintf(" (resumed at byte %d)", res.offset)
	}
	run.p.record(rec, text)
}

// fail records that f did not arrive: err is the cause (for --json), msg
// what the user reads. With several URLs msg is printed at once (if say), so
// that it stands next to the file's record; with one, report prints it at
// the end.
func (run *getRun) fail(ctx context.Context, f *getFile, err, msg error, say bool) {
	f.err = msg
	if ctx.Err() != nil {
		return // interrupted: the run says so once
	}
	if isConnectError(err) {
		run.conns.Add(1)
	} else {
		run.failed.Add(1)
	}
	run.p.record(errorRecord(f.rec, err), "")
	if run.multi && say {
		run.p.note(run.e.Stderr, fmt.Sprintf("asyncftp get: %v", msg))
	}
}

// getToStdout writes one file to stdout. SIZE first, so that a short
// download fails; a dropped session resumes where stdout stopped.
func getToStdout(ctx context.Context, e *Env, o *common, eng *engine.Engine, t *Target) error {
	s, err := o.openSessions(ctx, e, "get", t, eng, o.transcriptSink(e, false), 1)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	size, err := s.fileSize(ctx, t.Path)
	if err != nil {
		var fe *ftp.Error
		if !errors.As(err, &fe) {
			return failure(fmt.Errorf("get %s: %w", t.Path, err))
		}
		size = -1
	}
	if _, err := s.RetrFromSize(ctx, t.Path, e.Stdout, 0, size); err != nil {
		return failure(fmt.Errorf("get %s: %w", t.Path, err))
	}
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
