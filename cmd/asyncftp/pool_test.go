package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// treeServer is a small FTP server on ftptest for the CLI's fault tests: every
// control connection answers from one file tree (LIST in Unix format, SIZE,
// REST, RETR, EPSV), and the first command that matches a fault misbehaves,
// whichever session sends it. The sessions of a pool take work in no fixed
// order, so a script per connection could not describe them.
type treeServer struct {
	srv   *ftptest.Server
	files map[string][]byte        // path → content; folders are implied by the paths
	slow  map[string]time.Duration // RETR sends these files one byte per duration

	mu     sync.Mutex
	faults []*treeFault
	seen   []treeCmd
	struck []string
}

type treeCmd struct {
	conn int
	line string
}

// treeFault is what the server does, once, on the first "VERB path" it reads.
type treeFault struct {
	verb, path string
	// how: "reset" (RETR: send the first half of the file, wait until the
	// client has written it to part, then reset the control connection) or
	// "421" (answer 421 and hang up).
	how  string
	part string // RETR: the local .part file whose size shows what the client took
}

var errTreeHungUp = errors.New("hung up")

func newTreeServer(t *testing.T, files map[string][]byte, faults ...*treeFault) *treeServer {
	t.Helper()
	return startTree(t, &treeServer{files: files, faults: faults})
}

// startTree starts s; its fields must not change after.
func startTree(t *testing.T, s *treeServer) *treeServer {
	t.Helper()
	s.srv = ftptest.NewServerFunc(t, func(int) ftptest.Script {
		return ftptest.Script{ftptest.Func(s.serve)}
	}, ftptest.WithTimeout(20*time.Second), ftptest.WithoutLog())
	return s
}

// treeFiles makes a tree of folders and files of assorted sizes, the content
// a pattern seeded by the path.
func treeFiles() map[string][]byte {
	files := map[string][]byte{}
	sizes := []int{0, 1, 1000, 65537, 300_001}
	for _, d := range []string{"", "docs", "big", "docs/deep"} {
		for i, n := range sizes {
			p := path.Join(d, fmt.Sprintf("f%d.bin", i))
			b := make([]byte, n)
			for k := range b {
				b[k] = byte(k*31 + len(p)*7 + k>>9)
			}
			files[p] = b
		}
	}
	files["big/b.bin"] = bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640,000 bytes
	return files
}

func (s *treeServer) take(verb, arg, how string) *treeFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.verb == verb && f.path == arg && f.how == how {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return f
		}
	}
	return nil
}

// commands returns the lines starting with verb, and the connection of each.
func (s *treeServer) commands(verb string) []treeCmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []treeCmd
	for _, c := range s.seen {
		if c.line == verb || strings.HasPrefix(c.line, verb+" ") {
			out = append(out, c)
		}
	}
	return out
}

func (s *treeServer) strikes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.struck...)
}

// listing renders the folder dir ("" for the top) in Unix LIST format.
func (s *treeServer) listing(dir string) ([]byte, bool) {
	var lines []string
	dirs := map[string]bool{}
	found := dir == ""
	for p, b := range s.files {
		rel := p
		if dir != "" {
			if !strings.HasPrefix(p, dir+"/") {
				continue
			}
			rel = strings.TrimPrefix(p, dir+"/")
		}
		found = true
		if first, _, sub := strings.Cut(rel, "/"); sub {
			if !dirs[first] {
				dirs[first] = true
				lines = append(lines, "drwxr-xr-x 2 ftp ftp 4096 Jan 02  2024 "+first)
			}
			continue
		}
		lines = append(lines, fmt.Sprintf("-rw-r--r-- 1 ftp ftp %d Jan 02  2024 %s", len(b), rel))
	}
	sort.Strings(lines)
	return []byte(strings.Join(append(lines, ""), "\r\n")), found
}

func (s *treeServer) serve(c *ftptest.Conn) error {
	if err := c.WriteLine("220 tree server ready"); err != nil {
		return err
	}
	var rest int64
	for i := 0; i < 10_000; i++ {
		line, err := c.ReadLine()
		if err != nil {
			return nil // the client went away (a closed pool, a killed run)
		}
		s.mu.Lock()
		s.seen = append(s.seen, treeCmd{c.N(), line})
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		offset := rest
		rest = 0
		if f := s.take(verb, arg, "421"); f != nil {
			s.strike(verb + " " + arg)
			c.WriteLine("421 too many faults, closing control connection")
			return nil
		}
		reply := ""
		switch verb {
		case "USER":
			reply = "331 password please"
		case "PASS":
			reply = "230 logged in"
		case "TYPE":
			reply = "200 type set"
		case "NOOP":
			reply = "200 NOOP ok"
		case "FEAT":
			err = c.Run(ftptest.Reply("211-Features:", " EPSV", " SIZE", "211 End"))
		case "SIZE":
			if b, ok := s.files[arg]; ok {
				reply = "213 " + strconv.Itoa(len(b))
			} else {
				reply = "550 no such file"
			}
		case "REST":
			n, perr := strconv.ParseInt(arg, 10, 64)
			if perr != nil {
				reply = "501 bad offset"
				break
			}
			rest, reply = n, "350 restarting at "+arg
		case "EPSV":
			err = c.Run(ftptest.PassiveEPSV())
		case "LIST":
			body, ok := s.listing(arg)
			if !ok {
				reply = "550 no such folder"
				break
			}
			err = c.Run(ftptest.Reply("150 listing"), ftptest.DataAccept(), ftptest.DataSend(body), ftptest.DataClose(), ftptest.Reply("226 listed"))
		case "RETR":
			err = s.retr(c, arg, offset)
		case "QUIT":
			return c.WriteLine("221 bye")
		default:
			reply = "502 not implemented"
		}
		if errors.Is(err, errTreeHungUp) {
			return nil
		}
		if err != nil {
			return err
		}
		if reply != "" {
			if err := c.WriteLine(reply); err != nil {
				return err
			}
		}
	}
	return errors.New("too many commands")
}

func (s *treeServer) strike(what string) {
	s.mu.Lock()
	s.struck = append(s.struck, what)
	s.mu.Unlock()
}

func (s *treeServer) retr(c *ftptest.Conn, name string, offset int64) error {
	body, ok := s.files[name]
	if !ok {
		return c.WriteLine("550 no such file")
	}
	if offset > int64(len(body)) {
		return c.WriteLine("554 offset beyond the end")
	}
	if err := c.Run(ftptest.Reply("150 sending"), ftptest.DataAccept()); err != nil {
		return err
	}
	body = body[offset:]
	if f := s.take("RETR", name, "reset"); f != nil {
		half := body[:len(body)/2]
		if err := c.Run(ftptest.DataSend(half)); err != nil {
			return err
		}
		// Cut the session off only once the client has written the half
		// to its .part file, so that the resume offset is known exactly.
		for i := 0; ; i++ {
			if fi, err := os.Stat(f.part); err == nil && fi.Size() == offset+int64(len(half)) {
				break
			}
			if i == 2000 {
				return fmt.Errorf("%s never reached %d bytes", f.part, offset+int64(len(half)))
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.strike(fmt.Sprintf("RETR %s at %d", name, offset+int64(len(half))))
		c.Run(ftptest.Reset())
		return errTreeHungUp
	}
	send := ftptest.DataSend(body)
	if d := s.slow[name]; d > 0 {
		send = ftptest.DataSendSlowly(body, d)
	}
	if err := c.Run(send, ftptest.DataClose()); err != nil {
		return err
	}
	return c.WriteLine("226 sent")
}

// checkTree fails t unless dir holds exactly the server's files, byte for
// byte, and no .part file.
func checkTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	got := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		got[rel] = true
		want, ok := files[rel]
		if !ok {
			t.Errorf("unexpected local file %s", rel)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s: %d bytes, differs from the server's %d", rel, len(b), len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if !got[p] {
			t.Errorf("%s missing", p)
		}
	}
}

// sessionsOf maps each session id of a -v transcript ("[#3]") to its lines.
func sessionsOf(stderr string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(stderr, "\n") {
		id, rest, ok := strings.Cut(l, " ")
		if ok && strings.HasPrefix(id, "[#") {
			m[id] = append(m[id], rest)
		}
	}
	return m
}

func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// TestMirrorSurvivesResetAnd421: the server resets one session in the middle
// of a download and drops another with 421 as it asks for a listing. The
// pool replaces both sessions, lists the folder again, resumes the download
// with REST from the bytes already in the .part file, and the copy ends
// byte-exact.
func TestMirrorSurvivesResetAnd421(t *testing.T) {
	files := treeFiles()
	dir := t.TempDir()
	target := filepath.Join(dir, "copy")
	const half = 320_000
	srv := newTreeServer(t, files,
		&treeFault{verb: "RETR", path: "big/b.bin", how: "reset", part: filepath.Join(target, "big", "b.bin.part")},
		&treeFault{verb: "LIST", path: "docs", how: "421"})

	r := run(t, dir, nil, "mirror", "-j", "3", "-v", "--json", "ftp://"+srv.srv.Addr+"/", target)
	if r.code != 0 {
		t.Fatalf("mirror with faults\n%s", r)
	}
	checkTree(t, target, files)
	if got := srv.strikes(); len(got) != 2 {
		t.Fatalf("faults struck: %q, want both", got)
	}

	// The download went on at the byte where it was cut, on another session.
	retrs := srv.commands("RETR big/b.bin")
	rests := srv.commands("REST")
	if len(retrs) != 2 || len(rests) != 1 || rests[0].line != "REST "+strconv.Itoa(half) {
		t.Fatalf("RETR big/b.bin %v, REST %v: want two RETRs, the second after REST %d", retrs, rests, half)
	}
	if rests[0].conn == retrs[0].conn || rests[0].conn != retrs[1].conn {
		t.Errorf("REST on connection %d, the cut RETR on %d, the resumed one on %d: want the resume on a fresh session",
			rests[0].conn, retrs[0].conn, retrs[1].conn)
	}
	// The folder whose listing was refused was listed again, elsewhere.
	if lists := srv.commands("LIST docs"); len(lists) != 2 || lists[0].conn == lists[1].conn {
		t.Errorf("LIST docs: %v, want a second listing on another session", lists)
	}

	// The transcript shows the sessions working in parallel; the retries are
	// reported; the summary counts them.
	sessions := sessionsOf(r.stderr)
	retrBy := 0
	for _, lines := range sessions {
		if hasLine(lines, "C: RETR ") {
			retrBy++
		}
	}
	if retrBy < 2 {
		t.Errorf("downloads ran on %d session(s), want several\n%s", retrBy, r.stderr)
	}
	for _, want := range []string{"warning: RETR big/b.bin: try 2", "warning: LIST docs: try 2", "C: REST " + strconv.Itoa(half)} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, r.stderr)
		}
	}
	rs := records(t, r.stdout)
	last := rs[len(rs)-1]
	if last.Op != "mirror" || last.Status != "ok" || last.Counts["replaced"] != 2 || last.Counts["retries"] < 2 || last.Counts["sessions"] != 3 {
		t.Errorf("summary %+v: want ok, 3 sessions, 2 replaced, at least 2 retries", last)
	}
	for _, rec := range rs {
		if rec.Path == "big/b.bin" && (rec.Status != "ok" || rec.Bytes == nil || *rec.Bytes != int64(len(files["big/b.bin"]))) {
			t.Errorf("big/b.bin record %+v", rec)
		}
	}
}

// TestMirrorReplacesKilledSession: with one session, the one that is killed
// must be replaced by a fresh login (the server sees a second connection log
// in), and the mirror still ends byte-exact.
func TestMirrorReplacesKilledSession(t *testing.T) {
	files := treeFiles()
	dir := t.TempDir()
	target := filepath.Join(dir, "copy")
	srv := newTreeServer(t, files,
		&treeFault{verb: "RETR", path: "big/b.bin", how: "reset", part: filepath.Join(target, "big", "b.bin.part")})
	r := run(t, dir, nil, "mirror", "-j", "1", "--json", "ftp://"+srv.srv.Addr+"/", target)
	if r.code != 0 {
		t.Fatalf("mirror -j 1 with a reset\n%s", r)
	}
	checkTree(t, target, files)
	users := srv.commands("USER")
	if len(users) != 2 || users[0].conn == users[1].conn {
		t.Errorf("logins %v: want the first session and one replacement", users)
	}
	rs := records(t, r.stdout)
	if last := rs[len(rs)-1]; last.Counts["logins"] != 2 || last.Counts["replaced"] != 1 {
		t.Errorf("summary %+v: want 2 logins, 1 replaced", last)
	}
}

// TestGetParallelSurvivesReset: get -j 2 of several URLs; one download is cut
// off with a reset and resumed by the pool on a fresh session.
func TestGetParallelSurvivesReset(t *testing.T) {
	files := treeFiles()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	srv := newTreeServer(t, files,
		&treeFault{verb: "RETR", path: "big/b.bin", how: "reset", part: filepath.Join(out, "b.bin.part")})
	base := "ftp://" + srv.srv.Addr + "/"
	names := []string{"big/b.bin", "docs/f4.bin", "docs/deep/f3.bin", "f2.bin"}
	args := []string{"get", "-j", "2", "--json", "-o", out + "/"}
	for _, n := range names {
		args = append(args, base+n)
	}
	r := run(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("get -j 2 with a reset\n%s", r)
	}
	want := map[string][]byte{}
	for _, n := range names {
		want[path.Base(n)] = files[n]
	}
	checkTree(t, out, want)
	if rests := srv.commands("REST"); len(rests) != 1 || rests[0].line != "REST 320000" {
		t.Errorf("REST %v: want one, at 320000", rests)
	}
	rs := records(t, r.stdout)
	if len(rs) != len(names) {
		t.Fatalf("--json: %d records for %d files\n%s", len(rs), len(names), r)
	}
	for _, rec := range rs {
		if rec.Status != "ok" || rec.SHA256 == "" {
			t.Errorf("record %+v", rec)
		}
	}
}

// TestGetParallel: get -j 4 of many URLs from the embedded server, all
// byte-exact, through four sessions at once.
func TestGetParallel(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	if _, err := embedserver.WriteBigFile(srv.Root, "pub/big.bin", 3<<20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"get", "-j", "4", "-v", "--json", "-o", "out"}
	want := map[string]embedserver.File{}
	for _, f := range srv.Files() {
		if f.Dir {
			continue
		}
		args = append(args, "ftp://"+srv.Addr+"/"+escapePath(f.Path))
		want[path.Base(f.Path)] = f
	}
	if len(want) < 8 {
		t.Fatalf("the sample tree has only %d files", len(want))
	}
	r := run(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("get -j 4\n%s", r)
	}
	rs := records(t, r.stdout)
	if len(rs) != len(want) {
		t.Errorf("--json: %d records for %d files", len(rs), len(want))
	}
	for _, rec := range rs {
		f, ok := want[filepath.Base(rec.Local)]
		if !ok || rec.Op != "get" || rec.Status != "ok" || rec.SHA256 != f.SHA256 || rec.Bytes == nil || *rec.Bytes != f.Size {
			t.Errorf("record %+v, want ok with the sha256 and size of %s", rec, f.Path)
		}
	}
	for name, f := range want {
		if got := fileSHA(t, filepath.Join(dir, "out", name)); got != f.SHA256 {
			t.Errorf("%s: sha256 %s, want %s", name, got, f.SHA256)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "out"))
	if len(ents) != len(want) {
		t.Errorf("out holds %d entries, want %d (a .part left?)", len(ents), len(want))
	}
	sessions := sessionsOf(r.stderr)
	retrBy, logins := 0, 0
	for _, lines := range sessions {
		if hasLine(lines, "S: 230") {
			logins++
		}
		if hasLine(lines, "C: RETR ") {
			retrBy++
		}
	}
	if logins != 4 || len(sessions) != 4 {
		t.Errorf("%d sessions, %d logged in; want 4 and 4\n%s", len(sessions), logins, r.stderr)
	}
	if retrBy < 2 {
		t.Errorf("downloads ran on %d session(s), want several", retrBy)
	}

	// Text output: one line per file and a summary; no bar in a pipe.
	r = run(t, dir, nil, append([]string{"get", "-j", "3", "-o", "text/"}, args[7:]...)...)
	if r.code != 0 || strings.Count(r.stdout, "sha256 ") != len(want) || !strings.Contains(r.stdout, fmt.Sprintf("get: %d files", len(want))) {
		t.Errorf("get -j 3 text output\n%s", r)
	}
	if strings.Contains(r.stdout, "%|") || strings.Contains(r.stdout, "█") {
		t.Errorf("progress bar drawn although stdout is not a terminal\n%s", r)
	}
}

// TestGetPartialFailure: the exit status says whether every file arrived;
// each failure is reported with its file and the server's reply.
func TestGetPartialFailure(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	url := func(p string) string { return "ftp://" + srv.Addr + "/" + p }
	refused := refusedAddr(t)

	// One file missing among good ones: 4; the good ones arrive; no .part.
	r := run(t, dir, nil, "get", "-j", "3", "--json", "-o", "a/", url("README.txt"), url("no-such.bin"), url("1MiB.bin"))
	if r.code != 4 {
		t.Errorf("one missing: want exit 4\n%s", r)
	}
	if fileSHA(t, filepath.Join(dir, "a", "README.txt")) != sha(srv, "README.txt") || fileSHA(t, filepath.Join(dir, "a", "1MiB.bin")) != sha(srv, "1MiB.bin") {
		t.Error("the good files did not arrive intact")
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "no-such.bin.part")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed download left its .part: %v", err)
	}
	status := map[string]record{}
	for _, rec := range records(t, r.stdout) {
		status[rec.Path] = rec
	}
	if rec := status["no-such.bin"]; rec.Status != "failed" || rec.Code < 500 || rec.Error == "" {
		t.Errorf("missing file's record %+v: want failed with a 5yz code", rec)
	}
	if status["README.txt"].Status != "ok" || status["1MiB.bin"].Status != "ok" {
		t.Errorf("records %+v", status)
	}
	if !strings.Contains(r.stderr, "no-such.bin") || !strings.Contains(r.stderr, "1 of 3 files did not arrive") {
		t.Errorf("stderr does not name the failure\n%s", r.stderr)
	}

	// A server that cannot be reached, the others fine: 3.
	r = run(t, dir, nil, "get", "-o", "b/", url("README.txt"), "ftp://"+refused+"/x.bin")
	if r.code != 3 || fileSHA(t, filepath.Join(dir, "b", "README.txt")) != sha(srv, "README.txt") {
		t.Errorf("one server down: want exit 3 and the other file\n%s", r)
	}
	// Both kinds: 4.
	if r := run(t, dir, nil, "get", "-o", "c/", url("no-such.bin"), "ftp://"+refused+"/x.bin"); r.code != 4 {
		t.Errorf("missing file and server down: want exit 4\n%s", r)
	}
	// Everything there: 0.
	if r := run(t, dir, nil, "get", "-o", "d/", url("README.txt"), url("pub/hello.txt")); r.code != 0 {
		t.Errorf("all present: want exit 0\n%s", r)
	}

	// Usage errors.
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"get", url("README.txt"), url("pub/README.txt")},       // both saved as README.txt
		{"get", "-o", "-", url("README.txt"), url("1MiB.bin")},  // stdout takes one
		{"get", "-o", "plain", url("README.txt"), url("x.bin")}, // -o a file with several URLs
		{"get", "-j", "0", url("README.txt")},
		{"get", "--active", "--data-mode", "passive", url("README.txt")},
		{"get", "--data-mode", "sideways", url("README.txt")},
		{"get", "--active-ports", "6000-5000", "--active", url("README.txt")},
		{"get", "--active-addr", "10.0.0.1", url("README.txt")}, // active options without active mode
		{"get", "--keepalive", "-1s", url("README.txt")},
	} {
		if r := run(t, dir, nil, args...); r.code != 2 {
			t.Errorf("%q: want exit 2\n%s", args[1:], r)
		}
	}
}

// refusedAddr returns a loopback address that refuses connections while the
// test runs.
func refusedAddr(t *testing.T) string {
	t.Helper()
	return ftptest.RefusedAddr(t)
}

// TestActiveMode: --active downloads byte-exact with EPRT (the server
// connects to us), for get, get -j and mirror; --data-mode auto stays passive
// with a server that allows it.
func TestActiveMode(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	url := func(p string) string { return "ftp://" + srv.Addr + "/" + p }

	r := run(t, dir, nil, "get", "--active", "-v", "-o", "one/", url("1MiB.bin"))
	if r.code != 0 || fileSHA(t, filepath.Join(dir, "one", "1MiB.bin")) != sha(srv, "1MiB.bin") {
		t.Fatalf("get --active\n%s", r)
	}
	if !strings.Contains(r.stderr, "C: EPRT |1|127.0.0.1|") || strings.Contains(r.stderr, "C: EPSV") || strings.Contains(r.stderr, "C: PASV") {
		t.Errorf("get --active: want EPRT and no passive command\n%s", r.stderr)
	}

	r = run(t, dir, nil, "get", "--data-mode", "active", "-j", "3", "-v", "-o", "many/", url("1MiB.bin"), url("65537-bytes.bin"), url("pub/hello.txt"), url("README.txt"))
	if r.code != 0 {
		t.Fatalf("get -j 3 --data-mode active\n%s", r)
	}
	for _, p := range []string{"1MiB.bin", "65537-bytes.bin", "pub/hello.txt", "README.txt"} {
		if fileSHA(t, filepath.Join(dir, "many", path.Base(p))) != sha(srv, p) {
			t.Errorf("%s differs after an active get -j 3", p)
		}
	}
	if strings.Count(r.stderr, "C: EPRT ") != 4 || strings.Contains(r.stderr, "C: EPSV") {
		t.Errorf("get -j 3 active: want 4 EPRT and no EPSV\n%s", r.stderr)
	}

	target := filepath.Join(dir, "tree")
	r = run(t, dir, nil, "mirror", "--active", "-j", "2", "-v", "ftp://"+srv.Addr+"/", target)
	if r.code != 0 || strings.Contains(r.stderr, "C: EPSV") || !strings.Contains(r.stderr, "C: EPRT ") {
		t.Fatalf("mirror --active\n%s", r)
	}
	for _, f := range srv.Files() {
		if !f.Dir && fileSHA(t, filepath.Join(target, filepath.FromSlash(f.Path))) != f.SHA256 {
			t.Errorf("%s differs after mirror --active", f.Path)
		}
	}

	// ls and put take the same flags.
	r = run(t, dir, nil, "ls", "--active", "-v", url("pub/"))
	if r.code != 0 || !strings.Contains(r.stdout, "hello.txt") || !strings.Contains(r.stderr, "C: EPRT ") {
		t.Errorf("ls --active\n%s", r)
	}
	up := filepath.Join(dir, "up.bin")
	data := bytes.Repeat([]byte("active upload\n"), 20_000)
	if err := os.WriteFile(up, data, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"ASYNCFTP_PASSWORD=" + embedserver.DefaultPassword}
	r = run(t, dir, env, "put", "--active", "-v", up, "ftp://"+embedserver.DefaultUser+"@"+srv.Addr+"/up.bin")
	if b, err := os.ReadFile(filepath.Join(srv.Root, "up.bin")); r.code != 0 || err != nil || !bytes.Equal(b, data) || !strings.Contains(r.stderr, "C: EPRT ") {
		t.Errorf("put --active: server copy %d bytes, %v\n%s", len(b), err, r)
	}

	r = run(t, dir, nil, "get", "--data-mode", "auto", "-v", "-o", "auto/", url("README.txt"))
	if r.code != 0 || !strings.Contains(r.stderr, "C: EPSV") || fileSHA(t, filepath.Join(dir, "auto", "README.txt")) != sha(srv, "README.txt") {
		t.Errorf("--data-mode auto against a passive-friendly server\n%s", r)
	}
}

// TestActiveModeFallsBackToPORT: a server that refuses EPRT gets PORT, and
// --data-mode auto goes active once the server refuses EPSV and PASV. Both
// against the scripted server, which connects to the address the client sent.
func TestActiveModeScripted(t *testing.T) {
	login := ftptest.Script{
		ftptest.Reply("220 active"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("SIZE f.bin"), ftptest.Reply("213 11"),
	}
	body := []byte("hello world")
	retr := ftptest.Script{
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 here"),
		ftptest.DataConnect(), ftptest.DataSend(body), ftptest.DataClose(),
		ftptest.Reply("226 done"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}
	cases := []struct {
		name  string
		flags []string
		setup ftptest.Script
	}{
		{"PORT after EPRT refused", []string{"--active"}, ftptest.Script{
			ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"), ftptest.Reply("502 no EPRT here"),
			ftptest.ExpectPrefix("PORT 127,0,0,1,"), ftptest.Reply("200 PORT ok"),
		}},
		{"auto: active after EPSV and PASV refused", []string{"--data-mode", "auto"}, ftptest.Script{
			ftptest.Expect("EPSV"), ftptest.Reply("502 no EPSV"),
			ftptest.Expect("PASV"), ftptest.Reply("502 no PASV either"),
			ftptest.ExpectPrefix("EPRT |1|127.0.0.1|"), ftptest.Reply("200 EPRT ok"),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := append(append(append(ftptest.Script{}, login...), c.setup...), retr...)
			srv := ftptest.NewServer(t, script, ftptest.WithoutLog())
			dir := t.TempDir()
			r := run(t, dir, nil, append(append([]string{"get"}, c.flags...), "ftp://"+srv.Addr+"/f.bin")...)
			if r.code != 0 {
				t.Fatalf("get %v\n%s", c.flags, r)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "f.bin")); err != nil || !bytes.Equal(b, body) {
				t.Errorf("f.bin: %q, %v", b, err)
			}
			srv.Wait()
		})
	}
}

// TestKeepaliveFlag: --keepalive sends NOOP on the control connection while
// a slow download runs (this server answers them only after the transfer's
// 226, as vsftpd does), and the file still arrives intact; --keepalive 0
// sends none.
func TestKeepaliveFlag(t *testing.T) {
	files := map[string][]byte{"slow.bin": []byte("twenty bytes, slowly")}
	for _, c := range []struct {
		flag  string
		noops bool
	}{{"100ms", true}, {"0", false}} {
		srv := startTree(t, &treeServer{files: files, slow: map[string]time.Duration{"slow.bin": 40 * time.Millisecond}}) // 0.8 s in all
		dir := t.TempDir()
		r := run(t, dir, nil, "get", "--keepalive", c.flag, "ftp://"+srv.srv.Addr+"/slow.bin")
		if r.code != 0 {
			t.Fatalf("get --keepalive %s\n%s", c.flag, r)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "slow.bin")); err != nil || !bytes.Equal(b, files["slow.bin"]) {
			t.Errorf("--keepalive %s: slow.bin %q, %v", c.flag, b, err)
		}
		srv.srv.Wait()
		noops := srv.commands("NOOP")
		if (len(noops) > 0) != c.noops {
			t.Errorf("--keepalive %s: %d NOOPs sent", c.flag, len(noops))
		}
		if quits := srv.commands("QUIT"); len(quits) != 1 {
			t.Errorf("--keepalive %s: QUIT %v: the session did not end cleanly", c.flag, quits)
		}
	}
}
