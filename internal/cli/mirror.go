package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "mirror",
		args:    "URL DIR",
		summary: "download a remote folder tree, in parallel sessions",
		help: `
Download the folder a URL names, with everything below it, into the local
folder DIR (created if missing). Files that DIR already holds with the remote
size are skipped, so running the same mirror again fetches only what is new,
changed in size, or missing. A pool of -j sessions (default 4) shares one
event loop: the tree is listed and the files downloaded by all of them in
parallel. A session that drops (a reset, a 421, a timeout) is replaced by a
fresh login, and what it was doing runs again: a listing is read anew, a
download resumes (REST) from the bytes already written. Each such retry is
reported on stderr; the summary counts them.

Every file is written as NAME.part and renamed when complete (see 'asyncftp
get --help'); with -c, .part files left by an interrupted mirror are resumed.
Modification times are copied from the listing when it has them.

The server's names are not trusted. An entry whose name is empty, "." or
"..", holds '/' or '\' (so also absolute paths and "../x") or NUL, or that
would be written through a symbolic link in DIR that leads out of DIR (or
through any absolute one), is reported and skipped (status "refused"). All
writes go through an os.Root opened on DIR, which enforces the same rule. Symbolic links on the server are
reported and skipped too, and folders deeper than --max-depth are not entered.
The exit code is 4 if anything was refused or failed.

Examples:
  asyncftp mirror ftp://ftp.example.org/pub/project/ ./project
  asyncftp mirror -j 8 ftp://alice@example.org/photos/ ~/photos
  asyncftp mirror --active --keepalive 10s ftp://ftp.example.org/pub/ ./pub
  asyncftp mirror --json ftp://127.0.0.1:2121/ /tmp/copy | jq -c 'select(.status!="ok")'`,
		minArgs:  2,
		maxArgs:  2,
		complete: []argKind{argRemote, argLocalDir},
		flags:    mirrorFlags,
	})
}

// mirror is one run of the mirror command.
type mirror struct {
	e        *Env
	o        *common
	t        *Target
	root     *os.Root
	dir      string // DIR as given
	realDir  string // DIR with symbolic links resolved
	maxDepth int
	resume   bool
	p        *printer

	s *sessions // the pool; s.workers goroutines use it at once

	mu      sync.Mutex
	files   []mirrorFile
	refused atomic.Int64
	failed  atomic.Int64
	skipped atomic.Int64
	fetched atomic.Int64
	bytes   atomic.Int64
}

type mirrorFile struct {
	remote string
	local  string // slash-separated, relative to DIR
	size   int64
	mtime  time.Time
}

type dirJob struct {
	remote string
	local  string
	depth  int
}

// mirrorOptions are the flags of mirror beyond the common ones.
type mirrorOptions struct {
	jobs, maxDepth int
	resume         bool
}

func mirrorFlags(f *pflag.FlagSet) runFunc {
	o := &common{transfers: true}
	m := &mirrorOptions{}
	f.IntVarP(&m.jobs, "jobs", "j", 4, "`N` sessions working in parallel (1-64)")
	f.BoolVarP(&m.resume, "continue", "c", false, "resume .part files left by an earlier run, and keep them on failure")
	f.IntVar(&m.maxDepth, "max-depth", 64, "do not enter folders deeper than `N` levels")
	o.register(f)
	return func(ctx context.Context, e *Env, pos []string) error { return runMirror(ctx, e, o, *m, pos) }
}

func runMirror(ctx context.Context, e *Env, o *common, opt mirrorOptions, pos []string) error {
	jobs, maxDepth, resume := opt.jobs, opt.maxDepth, opt.resume
	if jobs < 1 || jobs > 64 {
		return usageErrorf("-j must be between 1 and 64")
	}
	if maxDepth < 0 {
		return usageErrorf("--max-depth must not be negative")
	}
	t, err := o.target(pos[0])
	if err != nil {
		return err
	}
	dir := pos[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return failure(err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err == nil {
		realDir, err = filepath.Abs(realDir)
	}
	if err != nil {
		return failure(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return failure(err)
	}
	defer root.Close()

	eng, err := o.engine()
	if err != nil {
		return failure(err)
	}
	defer eng.Close()

	m := &mirror{e: e, o: o, t: t, root: root, dir: dir, realDir: realDir,
		maxDepth: maxDepth, resume: resume, p: newPrinter(e, o)}
	start := time.Now()

	// The first session proves the address and the login; the others follow.
	m.s, err = o.openSessions(ctx, e, "mirror", t, eng, o.transcriptSink(e, jobs > 1), jobs)
	if err != nil {
		return err
	}
	defer m.s.close(ctx)

	top := strings.TrimRight(t.Path, "/")
	if top == "" && strings.HasPrefix(t.Path, "/") {
		top = "/" // ftp://host/%2F: the server's root, not the login folder
	}
	m.walk(ctx, dirJob{remote: top, local: "", depth: 0})
	m.fetchAll(ctx)

	st := m.s.Stats()
	summary := Record{Op: "mirror", URL: t.String(), Local: dir, Bytes: int64p(m.bytes.Load()), Seconds: time.Since(start).Seconds(),
		Counts: map[string]int64{"downloaded": m.fetched.Load(), "complete": m.skipped.Load(), "refused": m.refused.Load(), "failed": m.failed.Load(),
			"sessions": int64(m.s.workers), "logins": st.Logins, "replaced": st.Replaced, "retries": st.Retries}}
	counts := fmt.Sprintf("%d downloaded (%d bytes), %d already complete, %d refused, %d failed",
		m.fetched.Load(), m.bytes.Load(), m.skipped.Load(), m.refused.Load(), m.failed.Load())
	if st.Retries > 0 {
		counts += fmt.Sprintf("; %d operation(s) retried, %d session(s) replaced", st.Retries, st.Replaced)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mirror interrupted: %s: %w", counts, ftp.ErrCanceled)
	}
	if m.refused.Load() > 0 || m.failed.Load() > 0 {
		summary.Status = "failed"
		summary.Error = counts
		m.p.record(summary, "")
		return failure(fmt.Errorf("%s", counts))
	}
	summary.Status = "ok"
	m.p.record(summary, fmt.Sprintf("mirror %s -> %s: %s in %s", t, dir, counts, roundDuration(time.Since(start))))
	return nil
}

func (m *mirror) refuse(r Record, err error) {
	m.refused.Add(1)
	r.Status, r.Reason = "refused", err.Error()
	m.p.record(r, fmt.Sprintf("refused %s", err))
}

func (m *mirror) fail(r Record, err error) {
	m.failed.Add(1)
	m.p.record(errorRecord(r, err), fmt.Sprintf("failed %s: %v", safeText(r.Path), err))
}

func (m *mirror) skip(r Record, reason string) {
	r.Status, r.Reason = "skipped", reason
	m.p.record(r, fmt.Sprintf("skipped %s: %s", safeText(r.Path), reason))
}

// walk lists the tree from start through the pool, one folder per session at
// a time, collecting the files.
func (m *mirror) walk(ctx context.Context, start dirJob) {
	q := newWalkQueue()
	q.push(start)
	var wg sync.WaitGroup
	for range m.s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := q.pop()
				if !ok {
					return
				}
				if ctx.Err() == nil {
					m.listDir(ctx, j, q)
				}
				q.done()
			}
		}()
	}
	wg.Wait()
}

func (m *mirror) listDir(ctx context.Context, j dirJob, q *walkQueue) {
	res, err := m.s.List(ctx, j.remote)
	if err != nil {
		if ctx.Err() == nil {
			m.fail(Record{Op: "mirror", Path: j.remote}, fmt.Errorf("list: %w", err))
		}
		return
	}
	for _, b := range res.Bad {
		m.fail(Record{Op: "mirror", Path: j.remote, Raw: b.Raw}, fmt.Errorf("listing line %d not understood: %s", b.Line, safeText(b.Raw)))
	}
	for _, en := range res.Entries {
		if en.IsSelfOrParent() {
			continue
		}
		remote := remoteJoin(j.remote, en.Name)
		rec := Record{Op: "mirror", Path: remote, Name: en.Name, Type: en.Type.String()}
		if err := SafeName(en.Name); err != nil {
			m.refuse(rec, err)
			continue
		}
		local := path.Join(j.local, en.Name)
		rec.Local = filepath.Join(m.dir, filepath.FromSlash(local))
		switch en.Type {
		case listing.Dir:
			if j.depth+1 > m.maxDepth {
				m.skip(rec, fmt.Sprintf("deeper than --max-depth %d", m.maxDepth))
				continue
			}
			if err := m.checkLocal(local); err != nil {
				m.refuse(rec, err)
				continue
			}
			if err := m.root.MkdirAll(filepath.FromSlash(local), 0o755); err != nil {
				m.fail(rec, err)
				continue
			}
			q.push(dirJob{remote: remote, local: local, depth: j.depth + 1})
		case listing.File:
			if err := m.checkLocal(local); err != nil {
				m.refuse(rec, err)
				continue
			}
			m.mu.Lock()
			m.files = append(m.files, mirrorFile{remote: remote, local: local, size: en.Size, mtime: en.Time})
			m.mu.Unlock()
		case listing.Link:
			m.skip(rec, "symbolic link on the server")
		default:
			m.skip(rec, "not a regular file or folder ("+en.Type.String()+")")
		}
	}
}

// checkLocal refuses a local path (relative to DIR, slash-separated) that
// passes through a symbolic link leading out of DIR. os.Root enforces the
// same rule on every write; this check names the problem first.
func (m *mirror) checkLocal(rel string) error {
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := filepath.FromSlash(strings.Join(parts[:i+1], "/"))
		fi, err := m.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing there yet: it will be made a real folder or file
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ftp.ErrUnsafePath, safeText(rel), err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(filepath.Join(m.realDir, p))
		if err != nil || !within(real, m.realDir) {
			return fmt.Errorf("%w: %s: local %s is a symbolic link out of %s", ftp.ErrUnsafePath, safeText(rel), safeText(filepath.Join(m.dir, p)), m.dir)
		}
	}
	return nil
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// fetchAll downloads the collected files, skipping those already complete.
func (m *mirror) fetchAll(ctx context.Context) {
	sort.Slice(m.files, func(i, j int) bool { return m.files[i].remote < m.files[j].remote })
	var todo []mirrorFile
	var total int64
	for _, f := range m.files {
		if f.size >= 0 {
			if fi, err := m.root.Lstat(filepath.FromSlash(f.local)); err == nil && fi.Mode().IsRegular() && fi.Size() == f.size {
				m.skipped.Add(1)
				r := Record{Op: "mirror", Path: f.remote, Local: filepath.Join(m.dir, filepath.FromSlash(f.local)), Size: int64p(f.size)}
				r.Status, r.Reason = "skipped", "already complete"
				m.p.record(r, "")
				continue
			}
			total += f.size
		}
		todo = append(todo, f)
	}
	if len(todo) == 0 || ctx.Err() != nil {
		return
	}
	bar := newProgress(m.e, m.o, total, fmt.Sprintf("mirror (%d files)", len(todo)))
	m.p.before = bar.clear
	defer func() { m.p.before = nil }()

	ch := make(chan mirrorFile)
	locks := newNameLocks()
	var wg sync.WaitGroup
	for range m.s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				m.fetchOne(ctx, f, locks, bar)
			}
		}()
	}
	for _, f := range todo {
		ch <- f
	}
	close(ch)
	wg.Wait()
	if m.failed.Load() == 0 && ctx.Err() == nil {
		bar.finish()
	} else {
		bar.abandon()
	}
}

// fetchOne downloads one file through the pool, which resumes it on a fresh
// session if its session dies on the way.
func (m *mirror) fetchOne(ctx context.Context, f mirrorFile, locks *nameLocks, bar *progress) {
	local := filepath.FromSlash(f.local)
	rec := Record{Op: "mirror", Path: f.remote, Local: filepath.Join(m.dir, local)}
	if f.size >= 0 {
		rec.Size = int64p(f.size)
	}
	if ctx.Err() != nil {
		return
	}
	// A file "x" and a file "x.part" in one folder would share a .part name.
	locks.acquire(local, local+partSuffix)
	defer locks.release(local, local+partSuffix)
	if err := m.checkLocal(f.local); err != nil { // DIR may have changed since the walk
		m.refuse(rec, err)
		return
	}
	start := time.Now()
	res, err := fetch(ctx, m.s, fetchJob{root: m.root, name: local, remote: f.remote, size: f.size, mtime: f.mtime, resume: m.resume, bar: bar})
	rec.Seconds = time.Since(start).Seconds()
	rec.Bytes, rec.Offset = int64p(res.bytes), res.offset
	if err != nil {
		if ctx.Err() == nil {
			m.fail(rec, err)
		}
		return
	}
	m.fetched.Add(1)
	m.bytes.Add(res.bytes)
	rec.Status, rec.SHA256, rec.Size = "ok", res.sha256, int64p(res.total)
	text := ""
	if !m.o.quiet && bar == nil {
		text = fmt.Sprintf("%s: %d bytes", safeText(rec.Local), res.total)
	}
	m.p.record(rec, text)
}

// walkQueue is the folders still to list. pending counts folders queued or
// being listed; the walk is over when it drops to zero.
type walkQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	jobs    []dirJob
	pending int
}

func newWalkQueue() *walkQueue {
	q := &walkQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *walkQueue) push(j dirJob) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.pending++
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a folder to list; false means the walk is over.
func (q *walkQueue) pop() (dirJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.jobs) == 0 && q.pending > 0 {
		q.cond.Wait()
	}
	if len(q.jobs) == 0 {
		return dirJob{}, false
	}
	j := q.jobs[0]
	q.jobs = q.jobs[1:]
	return j, true
}

// done marks one popped folder as listed.
func (q *walkQueue) done() {
	q.mu.Lock()
	q.pending--
	last := q.pending == 0
	q.mu.Unlock()
	if last {
		q.cond.Broadcast()
	}
}

// nameLocks keeps two workers from writing the same local names at once.
type nameLocks struct {
	mu   sync.Mutex
	cond *sync.Cond
	busy map[string]bool
}

func newNameLocks() *nameLocks {
	l := &nameLocks{busy: map[string]bool{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *nameLocks) acquire(names ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.anyBusy(names) {
		l.cond.Wait()
	}
	for _, n := range names {
		l.busy[n] = true
	}
}

func (l *nameLocks) anyBusy(names []string) bool {
	for _, n := range names {
		if l.busy[n] {
			return true
		}
	}
	return false
}

func (l *nameLocks) release(names ...string) {
	l.mu.Lock()
	for _, n := range names {
		delete(l.busy, n)
	}
	l.mu.Unlock()
	l.cond.Broadcast()
}
