package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/netdriver"
)

// bin is the asyncftp binary that TestMain builds; every test runs it as a user would.
var bin string

func TestMain(m *testing.M) {
	// The binary's packages start goroutines at init (gnet's worker pool);
	// only what the tests start must be gone at the end.
	before := goleak.IgnoreCurrent()
	dir, err := os.MkdirTemp("", "asyncftp-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "asyncftp")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building asyncftp:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		// The in-process servers the tests start must all be gone.
		if err := goleak.Find(before); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the binary in dir with a clean environment: HOME is an empty
// folder (so no ~/.netrc of the machine's), no ASYNCFTP_PASSWORD or NETRC
// unless env sets them.
func run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	home := t.TempDir()
	// GORACE: a -race binary otherwise sleeps a second at every exit.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(), "GORACE=atexit_sleep_ms=0"}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running asyncftp %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("asyncftp %q did not finish within a minute\n%s", args, r)
	}
	if strings.Contains(r.stderr, "WARNING: DATA RACE") {
		t.Errorf("asyncftp %q: data race\n%s", args, r)
	}
	return r
}

func startServer(t *testing.T, opts embedserver.Options) *embedserver.Server {
	t.Helper()
	srv, err := embedserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	return srv
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// record is the part of a --json line the tests look at.
type record struct {
	Op     string           `json:"op"`
	Status string           `json:"status"`
	URL    string           `json:"url"`
	Path   string           `json:"path"`
	Local  string           `json:"local"`
	Name   string           `json:"name"`
	Type   string           `json:"type"`
	Size   *int64           `json:"size"`
	Bytes  *int64           `json:"bytes"`
	Offset int64            `json:"offset"`
	SHA256 string           `json:"sha256"`
	Reason string           `json:"reason"`
	Error  string           `json:"error"`
	Code   int              `json:"code"`
	Counts map[string]int64 `json:"counts"`
}

// records parses --json output: every line must be one JSON object.
func records(t *testing.T, out string) []record {
	t.Helper()
	var rs []record
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		if r.Op == "" {
			t.Fatalf("JSON line without op: %q", sc.Text())
		}
		rs = append(rs, r)
	}
	return rs
}

func TestDemo(t *testing.T) {
	r := run(t, t.TempDir(), nil, "demo")
	if r.code != 0 {
		t.Fatalf("demo failed\n%s", r)
	}
	for _, want := range []string{
		"C: USER anonymous", "S: 230", "C: PWD", "C: CWD pub", "C: CDUP", "C: FEAT", "C: SYST",
		"C: EPSV", "C: LIST", "README.txt", "C: RETR 1MiB.bin", "C: QUIT", "S: 221",
		"C: USER asyncftp", "C: PASS ****", "C: STOR demo-upload.bin", "identical",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout+r.stderr, embedserver.DefaultPassword) {
		t.Errorf("demo printed the password\n%s", r)
	}
	if strings.Contains(r.stdout, "%|") {
		t.Errorf("demo drew a progress bar into a pipe\n%s", r)
	}
}

func TestHelp(t *testing.T) {
	r := run(t, t.TempDir(), nil, "--help")
	if r.code != 0 {
		t.Fatalf("--help\n%s", r)
	}
	for _, c := range []string{"demo", "ls", "get", "put", "mkdir", "rm", "mv", "mirror", "version", "asyncftp serve", "Exit codes:", "ASYNCFTP_PASSWORD", ".netrc"} {
		if !strings.Contains(r.stdout, c) {
			t.Errorf("--help lacks %q\n%s", c, r)
		}
	}
	for _, c := range []string{"demo", "ls", "get", "put", "mkdir", "rm", "mv", "mirror", "serve", "version"} {
		r := run(t, t.TempDir(), nil, c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: asyncftp "+c) || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "Exit codes:") {
			t.Errorf("%s --help: want usage, examples and exit codes\n%s", c, r)
		}
	}
	if r := run(t, t.TempDir(), nil, "help", "get"); r.code != 0 || !strings.Contains(r.stdout, "-c, --continue") {
		t.Errorf("help get\n%s", r)
	}
	// Every command that connects takes the data-mode and keepalive flags;
	// get and mirror take -j.
	for _, c := range []string{"ls", "get", "put", "mkdir", "rm", "mv", "mirror"} {
		r := run(t, t.TempDir(), nil, c, "--help")
		for _, want := range []string{"--active ", "--data-mode MODE", "--keepalive DURATION", "(default 30s)", "--active-ports MIN-MAX"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s --help lacks %q\n%s", c, want, r)
			}
		}
		if jobs := strings.Contains(r.stdout, "-j, --jobs N"); jobs != (c == "get" || c == "mirror") {
			t.Errorf("%s --help: -j shown: %v\n%s", c, jobs, r)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, t.TempDir(), nil, "version", "--json")
	if r.code != 0 {
		t.Fatalf("version\n%s", r)
	}
	rs := records(t, r.stdout)
	if len(rs) != 1 || rs[0].Op != "version" {
		t.Fatalf("version --json: %+v", rs)
	}
}

func TestLs(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	r := run(t, t.TempDir(), nil, "ls", "ftp://"+srv.Addr+"/")
	if r.code != 0 {
		t.Fatalf("ls\n%s", r)
	}
	top := map[string]embedserver.File{}
	for _, f := range srv.Files() {
		if !strings.Contains(f.Path, "/") {
			top[f.Path] = f
			if !strings.Contains(r.stdout, f.Path) {
				t.Errorf("ls lacks %q\n%s", f.Path, r)
			}
		}
	}

	r = run(t, t.TempDir(), nil, "ls", "--json", "ftp://"+srv.Addr+"/")
	if r.code != 0 {
		t.Fatalf("ls --json\n%s", r)
	}
	rs := records(t, r.stdout)
	if len(rs) != len(top) {
		t.Errorf("ls --json: %d entries, want %d\n%s", len(rs), len(top), r)
	}
	for _, rec := range rs {
		f, ok := top[rec.Name]
		switch {
		case !ok:
			t.Errorf("ls --json: unexpected entry %q", rec.Name)
		case f.Dir && rec.Type != "dir":
			t.Errorf("%s: type %q, want dir", rec.Name, rec.Type)
		case !f.Dir && (rec.Type != "file" || rec.Size == nil || *rec.Size != f.Size):
			t.Errorf("%s: type %q size %v, want file of %d", rec.Name, rec.Type, rec.Size, f.Size)
		}
	}

	// A nested folder by its path.
	r = run(t, t.TempDir(), nil, "ls", "ftp://"+srv.Addr+"/pub/nested/deeper")
	if r.code != 0 || !strings.Contains(r.stdout, "deep file.bin") {
		t.Errorf("ls of a nested folder\n%s", r)
	}
}

func TestGetByteExact(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	for _, f := range srv.Files() {
		if f.Dir {
			continue
		}
		url := "ftp://" + srv.Addr + "/" + escapePath(f.Path)
		r := run(t, dir, nil, "get", "--json", url, "-o", "out/")
		if r.code != 0 {
			t.Errorf("get %s\n%s", f.Path, r)
			continue
		}
		local := filepath.Join(dir, "out", filepath.Base(f.Path))
		if got := fileSHA(t, local); got != f.SHA256 {
			t.Errorf("%s: sha256 %s, want %s", f.Path, got, f.SHA256)
		}
		rs := records(t, r.stdout)
		if len(rs) != 1 || rs[0].Status != "ok" || rs[0].SHA256 != f.SHA256 || rs[0].Bytes == nil || *rs[0].Bytes != f.Size {
			t.Errorf("get --json %s: %+v", f.Path, rs)
		}
		if _, err := os.Stat(local + ".part"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s.part left behind: %v", local, err)
		}
	}

	// Default output: the current folder, the remote name; text output, no bar in a pipe.
	r := run(t, dir, nil, "get", "ftp://"+srv.Addr+"/1MiB.bin")
	if r.code != 0 {
		t.Fatalf("get\n%s", r)
	}
	if strings.Contains(r.stdout, "%") || strings.Contains(r.stdout, "█") {
		t.Errorf("progress bar drawn although stdout is not a terminal\n%s", r)
	}
	if got := fileSHA(t, filepath.Join(dir, "1MiB.bin")); got != sha(srv, "1MiB.bin") {
		t.Errorf("1MiB.bin: sha256 %s", got)
	}

	// -o FILE, and -o - to stdout.
	r = run(t, dir, nil, "get", "ftp://"+srv.Addr+"/README.txt", "-o", "renamed.txt")
	if r.code != 0 || fileSHA(t, filepath.Join(dir, "renamed.txt")) != sha(srv, "README.txt") {
		t.Errorf("get -o FILE\n%s", r)
	}
	r = run(t, dir, nil, "get", "ftp://"+srv.Addr+"/pub/hello.txt", "-o", "-")
	if r.code != 0 || r.stdout != "Hello from the asyncftp embedded FTP server.\n" {
		t.Errorf("get -o -\n%s", r)
	}
}

func sha(srv *embedserver.Server, path string) string {
	for _, f := range srv.Files() {
		if f.Path == path {
			return f.SHA256
		}
	}
	return "missing " + path
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "%", "%25"), " ", "%20")
	}
	return strings.Join(parts, "/")
}

func TestGetResume(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	full, err := os.ReadFile(filepath.Join(srv.Root, "1MiB.bin"))
	if err != nil {
		t.Fatal(err)
	}
	const cut = 300001
	if err := os.WriteFile(filepath.Join(dir, "1MiB.bin.part"), full[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, nil, "get", "-c", "-v", "--json", "ftp://"+srv.Addr+"/1MiB.bin")
	if r.code != 0 {
		t.Fatalf("get -c\n%s", r)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("C: REST %d", cut)) {
		t.Errorf("no REST %d in the transcript\n%s", cut, r)
	}
	rs := records(t, r.stdout)
	if len(rs) != 1 || rs[0].Offset != cut || rs[0].Bytes == nil || *rs[0].Bytes != int64(len(full)-cut) || rs[0].SHA256 != sha(srv, "1MiB.bin") {
		t.Errorf("get -c --json: %+v", rs)
	}
	if got := fileSHA(t, filepath.Join(dir, "1MiB.bin")); got != sha(srv, "1MiB.bin") {
		t.Errorf("resumed file: sha256 %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "1MiB.bin.part")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(".part left behind: %v", err)
	}
	// Again with -c: complete already, nothing to fetch.
	r = run(t, dir, nil, "get", "-c", "--json", "ftp://"+srv.Addr+"/1MiB.bin")
	if rs := records(t, r.stdout); r.code != 0 || len(rs) != 1 || rs[0].Status != "skipped" {
		t.Errorf("get -c of a complete file\n%s", r)
	}
}

// shortRetr is a server that announces 100 bytes and sends 50.
func shortRetr() ftptest.Script {
	return ftptest.Script{
		ftptest.Reply("220 short"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("SIZE f.bin"), ftptest.Reply("213 100"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 here"),
		ftptest.DataAccept(), ftptest.DataSend(bytes.Repeat([]byte("x"), 50)), ftptest.DataClose(),
		ftptest.Reply("226 done"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}
}

func TestGetShortTransferLeavesNoFile(t *testing.T) {
	srv := ftptest.NewServer(t, shortRetr(), ftptest.WithoutLog())
	dir := t.TempDir()
	r := run(t, dir, nil, "get", "ftp://"+srv.Addr+"/f.bin")
	if r.code != 4 {
		t.Errorf("short transfer: want exit 4\n%s", r)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a failed download left %v", ents)
	}

	// With -c the partial data is kept as .part, never as f.bin.
	r = run(t, dir, nil, "get", "-c", "ftp://"+srv.Addr+"/f.bin")
	if r.code != 4 || !strings.Contains(r.stderr, "-c to resume") {
		t.Errorf("short transfer with -c: want exit 4 and a hint\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "f.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("f.bin exists after a short transfer: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f.bin.part")); err != nil || len(b) != 50 {
		t.Errorf("f.bin.part: %d bytes, %v; want the 50 received", len(b), err)
	}
	srv.Close()
}

func TestPutGetRoundTrip(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	src := filepath.Join(dir, "upload.bin")
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"ASYNCFTP_PASSWORD=" + embedserver.DefaultPassword}
	base := "ftp://" + embedserver.DefaultUser + "@" + srv.Addr

	r := run(t, dir, env, "put", "--json", src, base+"/incoming.bin")
	if r.code != 0 {
		t.Fatalf("put\n%s", r)
	}
	want := sha256.Sum256(data)
	if rs := records(t, r.stdout); len(rs) != 1 || rs[0].SHA256 != hex.EncodeToString(want[:]) {
		t.Errorf("put --json: %+v", rs)
	}
	if got := fileSHA(t, filepath.Join(srv.Root, "incoming.bin")); got != hex.EncodeToString(want[:]) {
		t.Errorf("server copy: sha256 %s", got)
	}
	r = run(t, dir, env, "get", base+"/incoming.bin", "-o", "back.bin")
	if r.code != 0 || fileSHA(t, filepath.Join(dir, "back.bin")) != hex.EncodeToString(want[:]) {
		t.Errorf("get back\n%s", r)
	}

	// A URL ending in '/' keeps the local name.
	if r := run(t, dir, env, "put", src, base+"/pub/"); r.code != 0 {
		t.Errorf("put into a folder\n%s", r)
	} else if _, err := os.Stat(filepath.Join(srv.Root, "pub", "upload.bin")); err != nil {
		t.Errorf("put into a folder: %v", err)
	}
	// Anonymous users may not write: a command failure.
	if r := run(t, dir, nil, "put", src, "ftp://"+srv.Addr+"/nope.bin"); r.code != 4 {
		t.Errorf("anonymous put: want exit 4\n%s", r)
	}
}

func TestMkdirRmMv(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	env := []string{"ASYNCFTP_PASSWORD=" + embedserver.DefaultPassword}
	base := "ftp://" + embedserver.DefaultUser + "@" + srv.Addr
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join(srv.Root, filepath.FromSlash(p)))
		return err == nil
	}

	if r := run(t, dir, env, "mkdir", "--json", base+"/work"); r.code != 0 || !exists("work") {
		t.Fatalf("mkdir\n%s", r)
	} else if rs := records(t, r.stdout); len(rs) != 1 || rs[0].Status != "ok" {
		t.Errorf("mkdir --json: %+v", rs)
	}
	if r := run(t, dir, env, "mkdir", "-p", base+"/work/a/b/c"); r.code != 0 || !exists("work/a/b/c") {
		t.Fatalf("mkdir -p\n%s", r)
	}
	if err := os.WriteFile(filepath.Join(srv.Root, "work", "a", "f.txt"), []byte("move me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, env, "mv", base+"/work/a/f.txt", "g.txt"); r.code != 0 || exists("work/a/f.txt") || !exists("work/a/g.txt") {
		t.Fatalf("mv within a folder\n%s", r)
	}
	if r := run(t, dir, env, "mv", base+"/work/a/g.txt", "b/c/h.txt"); r.code != 0 || !exists("work/a/b/c/h.txt") {
		t.Fatalf("mv into a subfolder\n%s", r)
	}
	if r := run(t, dir, env, "rm", base+"/work/a/b/c/h.txt"); r.code != 0 || exists("work/a/b/c/h.txt") {
		t.Fatalf("rm\n%s", r)
	}
	if r := run(t, dir, env, "rm", "-d", base+"/work/a/b/c"); r.code != 0 || exists("work/a/b/c") {
		t.Fatalf("rm -d\n%s", r)
	}
	if r := run(t, dir, env, "rm", base+"/work/missing.txt"); r.code != 4 {
		t.Errorf("rm of a missing file: want exit 4\n%s", r)
	}
	if r := run(t, dir, env, "rm", "--json", base+"/work/missing.txt"); r.code != 4 {
		t.Errorf("rm --json of a missing file: want exit 4\n%s", r)
	} else if rs := records(t, r.stdout); len(rs) != 1 || rs[0].Status != "failed" || rs[0].Code < 400 {
		t.Errorf("rm --json failure record: %+v", rs)
	}
}

func TestMirror(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	if _, err := embedserver.WriteBigFile(srv.Root, "pub/nested/big.bin", 3<<20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "copy")
	r := run(t, dir, nil, "mirror", "-j", "4", "--json", "ftp://"+srv.Addr+"/", target)
	if r.code != 0 {
		t.Fatalf("mirror\n%s", r)
	}
	// Every file byte-exact (the server's own tree, big.bin included), every folder made.
	nfiles := 0
	err := filepath.WalkDir(srv.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == srv.Root {
			return err
		}
		rel, _ := filepath.Rel(srv.Root, p)
		local := filepath.Join(target, rel)
		if d.IsDir() {
			if fi, err := os.Stat(local); err != nil || !fi.IsDir() {
				t.Errorf("folder %s not mirrored: %v", rel, err)
			}
			return nil
		}
		nfiles++
		if got, want := fileSHA(t, local), fileSHA(t, p); got != want {
			t.Errorf("%s: sha256 %s, want %s", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if strings.HasSuffix(p, ".part") {
			parts = append(parts, p)
		}
		return nil
	})
	if len(parts) > 0 {
		t.Errorf(".part files left: %v", parts)
	}
	rs := records(t, r.stdout)
	last := rs[len(rs)-1]
	if last.Op != "mirror" || last.Status != "ok" || last.Counts["downloaded"] != int64(nfiles) {
		t.Errorf("mirror summary %+v, want %d downloaded", last, nfiles)
	}
	// The second run finds everything complete.
	r = run(t, dir, nil, "mirror", "--json", "ftp://"+srv.Addr+"/", target)
	if r.code != 0 {
		t.Fatalf("second mirror\n%s", r)
	}
	rs = records(t, r.stdout)
	last = rs[len(rs)-1]
	if last.Counts["downloaded"] != 0 || last.Counts["complete"] != int64(nfiles) {
		t.Errorf("second mirror: %+v, want all %d complete", last, nfiles)
	}
	for _, rec := range rs[:len(rs)-1] {
		if rec.Status != "skipped" {
			t.Errorf("second mirror touched %s: %+v", rec.Path, rec)
		}
	}

	// A changed size is fetched again.
	if err := os.WriteFile(filepath.Join(target, "README.txt"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, dir, nil, "mirror", "--json", "-j", "2", "ftp://"+srv.Addr+"/", target)
	rs = records(t, r.stdout)
	if r.code != 0 || rs[len(rs)-1].Counts["downloaded"] != 1 || fileSHA(t, filepath.Join(target, "README.txt")) != sha(srv, "README.txt") {
		t.Errorf("mirror after a change\n%s", r)
	}
}

func TestMirrorUsesParallelSessions(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()
	r := run(t, dir, nil, "mirror", "-j", "4", "-v", "ftp://"+srv.Addr+"/", filepath.Join(dir, "copy"))
	if r.code != 0 {
		t.Fatalf("mirror -v\n%s", r)
	}
	retrBy := map[string]bool{}
	logins := map[string]bool{}
	for _, l := range strings.Split(r.stderr, "\n") {
		id, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(id, "[#") {
			continue
		}
		if strings.HasPrefix(rest, "S: 230") {
			logins[id] = true
		}
		if strings.HasPrefix(rest, "C: RETR ") {
			retrBy[id] = true
		}
	}
	if len(logins) != 4 {
		t.Errorf("%d sessions logged in, want 4\n%s", len(logins), r.stderr)
	}
	if len(retrBy) < 2 {
		t.Errorf("downloads ran on %d session(s), want several", len(retrBy))
	}
}

func TestMirrorRefusesHostileNames(t *testing.T) {
	body := strings.Join([]string{
		"-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 ../evil",
		"-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 /etc/passwd",
		"-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 a/b",
		`-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 ..\evil2`,
		"-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 nul\x00name",
		"drwxr-xr-x 2 ftp ftp 4096 Jan 02 2024 sub",
		"-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 escape.txt",
		"-rw-r--r-- 1 ftp ftp 5 Jan 02 2024 ok.txt",
		"",
	}, "\r\n")
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hostile"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("FEAT"), ftptest.Reply("211-Features:", " SIZE", "211 End"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("LIST"), ftptest.Reply("150 listing"),
		ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
		ftptest.Reply("226 done"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR ok.txt"), ftptest.Reply("150 here"),
		ftptest.DataAccept(), ftptest.DataSend([]byte("fine\n")), ftptest.DataClose(),
		ftptest.Reply("226 done"),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
	}, ftptest.WithoutLog())

	base := t.TempDir()
	target := filepath.Join(base, "target")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{target, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Local symbolic links that lead out of the target folder.
	if err := os.Symlink(outside, filepath.Join(target, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(target, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, base)

	r := run(t, base, nil, "mirror", "-j", "1", "--json", "ftp://"+srv.Addr+"/", target)
	if r.code != 4 {
		t.Errorf("hostile mirror: want exit 4\n%s", r)
	}
	refused := map[string]bool{}
	for _, rec := range records(t, r.stdout) {
		if rec.Status == "refused" {
			refused[rec.Name] = true
			if !strings.Contains(rec.Reason, "unsafe path") {
				t.Errorf("refusal of %q does not say unsafe path: %q", rec.Name, rec.Reason)
			}
		}
	}
	for _, name := range []string{"../evil", "/etc/passwd", "a/b", `..\evil2`, "nul\x00name", "sub", "escape.txt"} {
		if !refused[name] {
			t.Errorf("%q was not refused\n%s", name, r)
		}
	}
	// Only ok.txt is new, and nothing changed anywhere else.
	after := snapshot(t, base)
	want := before
	want["target/ok.txt"] = "fine\n"
	if fmt.Sprint(after) != fmt.Sprint(want) {
		t.Errorf("files after the mirror:\n%v\nwant\n%v", after, want)
	}
	srv.Wait()
	if got := srv.Commands(); strings.Join(got, ",") != "USER anonymous,PASS anonymous@,TYPE I,FEAT,EPSV,LIST,EPSV,RETR ok.txt,QUIT" {
		t.Errorf("commands: %q", got)
	}
}

// snapshot maps every path under dir (relative) to its content, or to
// "-> target" for symbolic links, or "/" for folders.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			m[rel] = "-> " + target
		case d.IsDir():
			m[rel] = "/"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExitCodes(t *testing.T) {
	srv := startServer(t, embedserver.Options{})
	dir := t.TempDir()

	refused := refusedAddr(t)

	cases := []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"no command", nil, nil, 2},
		{"unknown command", nil, []string{"fetch"}, 2},
		{"unknown flag", nil, []string{"ls", "--bogus", "ftp://" + srv.Addr + "/"}, 2},
		{"missing argument", nil, []string{"get"}, 2},
		{"too many arguments", nil, []string{"ls", "ftp://a/", "ftp://b/"}, 2},
		{"not a URL", nil, []string{"ls", "127.0.0.1"}, 2},
		{"wrong scheme", nil, []string{"ls", "http://" + srv.Addr + "/"}, 2},
		{"bad port", nil, []string{"ls", "ftp://127.0.0.1:99999/"}, 2},
		{"get of a folder URL", nil, []string{"get", "ftp://" + srv.Addr + "/pub/"}, 2},
		{"--ca without TLS", nil, []string{"ls", "--ca", "x.pem", "ftp://" + srv.Addr + "/"}, 2},
		{"-j out of range", nil, []string{"mirror", "-j", "0", "ftp://" + srv.Addr + "/", "x"}, 2},
		{"connection refused", nil, []string{"ls", "ftp://" + refused + "/"}, 3},
		{"530 login", nil, []string{"ls", "ftp://asyncftp:wrong@" + srv.Addr + "/"}, 3},
		{"530 login, password from env", []string{"ASYNCFTP_PASSWORD=wrong"}, []string{"ls", "ftp://asyncftp@" + srv.Addr + "/"}, 3},
		{"missing file", nil, []string{"get", "ftp://" + srv.Addr + "/no-such-file.bin"}, 4},
		{"missing folder", nil, []string{"ls", "ftp://" + srv.Addr + "/no-such-folder/"}, 4},
		{"ok", nil, []string{"ls", "ftp://" + srv.Addr + "/"}, 0},
	}
	for _, c := range cases {
		r := run(t, dir, c.env, c.args...)
		if r.code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, r.code, c.code, r)
		}
		if c.code != 0 && strings.TrimSpace(r.stderr) == "" {
			t.Errorf("%s: failed without a message", c.name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "no-such-file.bin.part")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed get left a .part: %v", err)
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	const user, pw = "alice", "pw-Zq9-unusual-7c1f"
	srv := startServer(t, embedserver.Options{Users: map[string]string{user: pw}})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "up.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"ASYNCFTP_PASSWORD=" + pw}
	base := "ftp://" + user + "@" + srv.Addr
	runs := [][]string{
		{"ls", "-v", base + "/"},
		{"ls", "-v", "--json", base + "/"},
		{"get", "-v", "--json", base + "/README.txt", "-o", "r.txt"},
		{"put", "-v", "--json", "up.txt", base + "/up.txt"},
		{"mkdir", "-v", base + "/d"},
		{"mv", "-v", base + "/up.txt", "up2.txt"},
		{"rm", "-v", base + "/up2.txt"},
		{"mirror", "-v", "--json", "-j", "2", base + "/pub", "m"},
		{"get", "-v", base + "/missing", "-o", "x"},
	}
	for _, args := range runs {
		r := run(t, dir, env, args...)
		if args[len(args)-1] != "x" && r.code != 0 {
			t.Errorf("%q\n%s", args, r)
		}
		if !strings.Contains(r.stderr, "C: PASS ****") {
			t.Errorf("%q: no masked PASS in the transcript\n%s", args, r)
		}
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("%q printed the password\n%s", args, r)
		}
	}
	// A refused login prints neither the wrong password nor the right one.
	const wrong = "wrong-Zq9-password"
	r := run(t, dir, []string{"ASYNCFTP_PASSWORD=" + wrong}, "ls", "-v", "--json", base+"/")
	if r.code != 3 || strings.Contains(r.stdout+r.stderr, wrong) {
		t.Errorf("refused login\n%s", r)
	}
	// Nor does a password given in the URL (bad practice, still masked).
	r = run(t, dir, nil, "get", "-v", "--json", "ftp://"+user+":"+pw+"@"+srv.Addr+"/README.txt", "-o", "r2.txt")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("password in the URL\n%s", r)
	}
	if rs := records(t, r.stdout); len(rs) != 1 || !strings.Contains(rs[0].URL, ":****@") {
		t.Errorf("URL in --json not masked: %+v", rs)
	}
}

func TestNetrc(t *testing.T) {
	const user, pw = "bob", "netrc-pw-4411"
	srv := startServer(t, embedserver.Options{Users: map[string]string{user: pw}, NoAnonymous: true})
	dir := t.TempDir()
	host, _, _ := net.SplitHostPort(srv.Addr)
	netrc := filepath.Join(dir, "netrc")
	content := fmt.Sprintf("# test\nmachine other.example login x password y\nmachine %s\n  login %s\n  password %s\n", host, user, pw)
	if err := os.WriteFile(netrc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// No user in the URL: the netrc supplies login and password.
	r := run(t, dir, []string{"NETRC=" + netrc}, "ls", "-v", "ftp://"+srv.Addr+"/")
	if r.code != 0 || !strings.Contains(r.stderr, "C: USER "+user) || !strings.Contains(r.stdout, "README.txt") {
		t.Errorf("netrc login\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("netrc password printed\n%s", r)
	}
	// The user in the URL picks the netrc password for that login.
	if r := run(t, dir, []string{"NETRC=" + netrc}, "ls", "ftp://"+user+"@"+srv.Addr+"/"); r.code != 0 {
		t.Errorf("netrc password for the URL's user\n%s", r)
	}
	// ~/.netrc is the default.
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, []string{"HOME=" + home}, "ls", "ftp://"+srv.Addr+"/"); r.code != 0 {
		t.Errorf("~/.netrc login\n%s", r)
	}
	// ASYNCFTP_PASSWORD wins over the netrc.
	if r := run(t, dir, []string{"NETRC=" + netrc, "ASYNCFTP_PASSWORD=not-it"}, "ls", "ftp://"+srv.Addr+"/"); r.code != 3 {
		t.Errorf("ASYNCFTP_PASSWORD should take precedence over the netrc\n%s", r)
	}
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--json", "--for", "20s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	var rec struct{ Addr, Root string }
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Addr == "" {
		t.Fatalf("serve --json: %q: %v", line, err)
	}
	r := run(t, t.TempDir(), nil, "ls", "ftp://"+rec.Addr+"/pub/")
	if r.code != 0 || !strings.Contains(r.stdout, "hello.txt") {
		t.Errorf("ls against asyncftp serve\n%s", r)
	}
}

func TestFTPS(t *testing.T) {
	scfg, _, err := embedserver.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, embedserver.Options{TLS: scfg})
	dir := t.TempDir()
	der := scfg.Certificates[0].Certificate[0]
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pin := netdriver.PinOf(cert).String()
	url := "ftp://" + srv.Addr

	// Explicit FTPS, trusting the CA file: listing and a byte-exact download over protected data.
	r := run(t, dir, nil, "get", "-v", "--tls", "--ca", ca, url+"/1MiB.bin")
	if r.code != 0 {
		t.Fatalf("get --tls --ca\n%s", r)
	}
	for _, want := range []string{"C: AUTH TLS", "C: PROT P", "C: RETR 1MiB.bin"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("transcript lacks %q\n%s", want, r)
		}
	}
	if fileSHA(t, filepath.Join(dir, "1MiB.bin")) != sha(srv, "1MiB.bin") {
		t.Error("1MiB.bin over FTPS differs")
	}
	if r := run(t, dir, nil, "ls", "--tls", "--pin", pin, url+"/pub/"); r.code != 0 || !strings.Contains(r.stdout, "hello.txt") {
		t.Errorf("ls --tls --pin\n%s", r)
	}
	// A swarm of FTPS sessions on the engine, each with its own handshakes.
	r = run(t, dir, []string{"ASYNCFTP_PASSWORD=" + embedserver.DefaultPassword}, "swarm", "-n", "20", "-c", "5", "--tls", "--ca", ca,
		"--cmd", "PWD", "--cmd", "RETR 1MiB.bin", "ftp://"+embedserver.DefaultUser+"@"+srv.Addr+"/")
	if r.code != 0 || !strings.Contains(r.stdout, "ok 20") || !strings.Contains(r.stdout, "bytes 20971520") {
		t.Errorf("swarm --tls --ca: want 20 sessions ok, 20 MiB moved\n%s", r)
	}
	if r := run(t, dir, nil, "swarm", "-n", "3", "--tls", url+"/"); r.code != 4 || !strings.Contains(r.stdout, "failed 3") {
		t.Errorf("swarm --tls against an untrusted certificate: want every session failed, exit 4\n%s", r)
	}
	if r := run(t, dir, nil, "ls", "--tls", "--insecure", url+"/"); r.code != 0 || !strings.Contains(r.stderr, "NOT verified") {
		t.Errorf("ls --tls --insecure: want success and a loud warning\n%s", r)
	}
	// Not trusted: a connection failure, nothing sent in clear after AUTH TLS.
	r = run(t, dir, nil, "ls", "-v", "--tls", url+"/")
	if r.code != 3 || !strings.Contains(r.stderr, "certificate") || strings.Contains(r.stderr, "C: USER") {
		t.Errorf("untrusted certificate: want exit 3, a certificate error, no USER\n%s", r)
	}
	// Usage errors.
	if r := run(t, dir, nil, "ls", "--tls", "--insecure", "--ca", ca, url+"/"); r.code != 2 {
		t.Errorf("--insecure with --ca: want exit 2\n%s", r)
	}
	if r := run(t, dir, nil, "ls", "--tls", "ftps://"+srv.Addr+"/"); r.code != 2 {
		t.Errorf("--tls with ftps://: want exit 2\n%s", r)
	}
	// Implicit FTPS against a plain server: the handshake fails; the login is never sent in clear.
	plain := startServer(t, embedserver.Options{})
	r = run(t, dir, []string{"ASYNCFTP_PASSWORD=" + embedserver.DefaultPassword}, "ls", "-v", "--timeout", "3s", "--insecure", "ftps://asyncftp@"+plain.Addr+"/")
	if r.code != 3 || strings.Contains(r.stderr, "C: USER") || strings.Contains(r.stderr, "C: PASS") {
		t.Errorf("ftps:// to a plain server: want exit 3 and no login in clear\n%s", r)
	}
}

// asyncftp bench --tls: the lean server in its own process speaks explicit
// FTPS with a fresh certificate, and every session runs AUTH TLS, PBSZ, PROT P
// and protected LIST and RETR on the engine.
func TestBenchTLS(t *testing.T) {
	r := run(t, t.TempDir(), nil, "bench", "--tls", "-n", "30", "-c", "10", "--json")
	var rep struct {
		OK, Failed int
		TLS        bool `json:"tls"`
	}
	if r.code != 0 || json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &rep) != nil || rep.OK != 30 || rep.Failed != 0 || !rep.TLS {
		t.Fatalf("bench --tls: want 30 FTPS sessions ok\n%s", r)
	}
	if r := run(t, t.TempDir(), nil, "bench", "--insecure", "-n", "1"); r.code != 2 || !strings.Contains(r.stderr, "--insecure") {
		t.Errorf("bench --insecure without --tls and HOST:PORT: want a usage error\n%s", r)
	}
	if r := run(t, t.TempDir(), nil, "bench", "--tls", "--insecure", "--pin", "sha256//AAAA", "127.0.0.1:1"); r.code != 2 {
		t.Errorf("bench --tls --insecure --pin: want a usage error (they contradict)\n%s", r)
	}
}

func TestInterruptedGetLeavesNoFile(t *testing.T) {
	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 slow"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("SIZE f.bin"), ftptest.Reply("213 1000"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR f.bin"), ftptest.Reply("150 here"),
		ftptest.DataAccept(), ftptest.DataSend(bytes.Repeat([]byte("x"), 10)),
		ftptest.Stall(),
	}, ftptest.WithoutLog())
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "get", "ftp://"+srv.Addr+"/f.bin")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GORACE=atexit_sleep_ms=0"}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the data has started to arrive: the .part file holds bytes.
	for i := 0; ; i++ {
		if fi, err := os.Stat(filepath.Join(dir, "f.bin.part")); err == nil && fi.Size() == 10 {
			break
		}
		if i == 500 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the download never started: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("interrupted get: %v, want exit 130\n%s", err, errb.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("an interrupted download left %v", ents)
	}
	srv.Close()
}
