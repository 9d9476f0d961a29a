package fsm_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/transcript"
)

// Helpers of the conformance suite (conformance_test.go): the servers it runs
// against (targets), their expected trees, and the result matrix.

// Environment variables the suite reads. fsm_test/servers/servers.sh start
// writes them to fsm_test/servers/run/env.
const (
	envRequire  = "ASYNCFTP_REQUIRE_SERVERS" // "1": a missing real server fails the suite
	envOut      = "ASYNCFTP_INTEROP_OUT"     // write the matrix as Markdown to this file
	envUser     = "ASYNCFTP_SERVERS_USER"
	envPass     = "ASYNCFTP_SERVERS_PASS"
	envTree     = "ASYNCFTP_SERVERS_TREE"
	envManifest = "ASYNCFTP_SERVERS_MANIFEST"
)

// Markers around the generated part of docs/interop.md: when the file named by
// ASYNCFTP_INTEROP_OUT holds both, only the text between them is replaced.
const (
	matrixBegin = "<!-- conformance-matrix:begin -->"
	matrixEnd   = "<!-- conformance-matrix:end -->"
)

// treeEntry is one entry of the tree a server serves.
type treeEntry struct {
	Path   string       // slash-separated, relative to the served root
	Type   listing.Type // File, Dir or Link
	Size   int64        // content bytes (a link: its target's, what RETR gives); 0 for directories
	SHA256 string       // of the content; "" for directories
	Target string       // a link's target, as stored
	ToDir  bool         // a link to a folder: nothing to retrieve
}

// restStorMode is what a server does with REST n + STOR when the file is longer
// than n + the bytes sent.
type restStorMode string

const (
	restKeepTail restStorMode = "writes at n, keeps the tail"     // vsftpd, proftpd
	restTruncate restStorMode = "writes at n, truncates the tail" // pure-ftpd
	restAppend   restStorMode = "appends at the end, ignores n"   // goftp
)

// quirks are a server's documented behaviours where servers differ. The suite
// asserts them, so a changed server (or a client that misreads it) fails.
type quirks struct {
	mlsd        bool         // FEAT lists MLST and MLSD works
	feat        []string     // features FEAT must announce
	syst        string       // SYST reply text
	nlstDots    bool         // NLST of a directory lists "." and ".."
	missingRetr int          // reply code to RETR of a missing file
	missingSize int          // reply code to SIZE of a missing file
	appeReplace bool         // APPE replaces the file instead of appending
	restStor    restStorMode // REST n + STOR into a longer file
}

// target is one server the suite runs against.
type target struct {
	name   string
	envVar string // the variable that gives its address ("" for goftp)
	tls    bool   // an FTPS instance: tested by the FTPS tests, only noted here

	// Filled by setup (real servers: from the environment; goftp: by starting it).
	addr       string
	user, pass string
	tree       []treeEntry
	modTime    func(path string) (time.Time, error) // what MDTM must answer
	q          quirks
	setup      func(t *testing.T, tg *target) // fails or skips t if the server is not there
	hide       string                         // a per-run server path (goftp's temporary root) kept out of notes
	greeting   string                         // first line of the 220 greeting, noted in the matrix
	featureSet []string                       // what FEAT announced, noted in the matrix
}

// conformanceTargets lists every target: goftp (always there), the three real
// plain servers, and the TLS instances (noted only).
func conformanceTargets() []*target {
	return []*target{
		{name: "goftp", setup: setupGoftp, q: quirks{
			mlsd: true, feat: []string{"EPSV", "EPRT", "MLST", "UTF8"}, syst: "UNIX Type: L8",
			missingRetr: 551, missingSize: 450, appeReplace: true, restStor: restAppend,
		}},
		{name: "vsftpd", envVar: "ASYNCFTP_VSFTPD_ADDR", setup: setupReal, q: quirks{
			feat: []string{"EPSV", "EPRT", "PASV", "MDTM", "SIZE", "REST", "TVFS"}, syst: "UNIX Type: L8",
			missingRetr: 550, missingSize: 550, restStor: restKeepTail,
		}},
		{name: "pure-ftpd", envVar: "ASYNCFTP_PUREFTPD_ADDR", setup: setupReal, q: quirks{
			mlsd: true, feat: []string{"EPSV", "EPRT", "PASV", "MDTM", "SIZE", "REST", "MLST", "MLSD", "UTF8", "TVFS"},
			syst: "UNIX Type: L8", nlstDots: true, missingRetr: 550, missingSize: 550, restStor: restTruncate,
		}},
		{name: "proftpd", envVar: "ASYNCFTP_PROFTPD_ADDR", setup: setupReal, q: quirks{
			mlsd: true, feat: []string{"EPSV", "EPRT", "MDTM", "SIZE", "REST", "MLST", "UTF8", "TVFS"},
			syst: "UNIX Type: L8", missingRetr: 550, missingSize: 550, restStor: restKeepTail,
		}},
		{name: "vsftpd-tls", envVar: "ASYNCFTP_VSFTPD_TLS_ADDR", tls: true},
		{name: "pure-ftpd-tls", envVar: "ASYNCFTP_PUREFTPD_TLS_ADDR", tls: true},
	}
}

// setupGoftp starts the embedded goftp server for the running test; it stops at
// the test's end.
func setupGoftp(t *testing.T, tg *target) {
	srv := startEmbed(t)
	tg.addr, tg.hide = srv.Addr, srv.Root
	tg.user, tg.pass = embedserver.DefaultUser, embedserver.DefaultPassword
	for _, f := range srv.Files() {
		e := treeEntry{Path: f.Path, Type: listing.File, Size: f.Size, SHA256: f.SHA256}
		if f.Dir {
			e = treeEntry{Path: f.Path, Type: listing.Dir}
		}
		tg.tree = append(tg.tree, e)
	}
	checkSpecialNames(t, tg, false)
	tg.modTime = func(string) (time.Time, error) { return embedserver.SampleModTime(), nil }
}

// setupReal reads a real server's address and the shared test settings from
// the environment. Without its address the test is skipped, or fails when
// ASYNCFTP_REQUIRE_SERVERS=1.
func setupReal(t *testing.T, tg *target) {
	tg.addr = os.Getenv(tg.envVar)
	if tg.addr == "" {
		msg := fmt.Sprintf("%s not set: %s is not running (`.ci/run` starts it: bash fsm_test/servers/servers.sh start, then source fsm_test/servers/run/env)", tg.envVar, tg.name)
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s, and %s=1 requires every server", msg, envRequire)
		}
		t.Skip(msg)
	}
	for _, v := range []string{envUser, envPass, envTree, envManifest} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s is set but %s is not: source the whole fsm_test/servers/run/env", tg.envVar, v)
		}
	}
	tg.user, tg.pass = os.Getenv(envUser), os.Getenv(envPass)
	tree, err := readManifest(os.Getenv(envManifest))
	if err != nil {
		t.Fatal(err)
	}
	tg.tree = tree
	checkSpecialNames(t, tg, true)
	root := os.Getenv(envTree)
	tg.modTime = func(p string) (time.Time, error) {
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))) // follows links, as MDTM does
		if err != nil {
			return time.Time{}, err
		}
		return fi.ModTime().UTC().Truncate(time.Second), nil
	}
}

// checkSpecialNames makes sure the expected tree holds the names that trip up
// parsers (so that a listing test cannot pass on a tree without them): a
// space inside a name, a non-ASCII name, and on the real servers a name with a
// leading space and a symlink.
func checkSpecialNames(t *testing.T, tg *target, real bool) {
	t.Helper()
	has := func(what string, ok func(e treeEntry) bool) {
		if !slices.ContainsFunc(tg.tree, ok) {
			t.Fatalf("%s: the expected tree has no %s", tg.name, what)
		}
	}
	base := func(e treeEntry) string { return path.Base(e.Path) }
	has("name with a space", func(e treeEntry) bool { return strings.Contains(strings.TrimSpace(base(e)), " ") })
	has("non-ASCII name", func(e treeEntry) bool { return strings.IndexFunc(e.Path, func(r rune) bool { return r > 127 }) >= 0 })
	has("nested directory", func(e treeEntry) bool { return e.Type == listing.Dir && strings.Contains(e.Path, "/") })
	if real {
		has("name with a leading space", func(e treeEntry) bool { return strings.HasPrefix(base(e), " ") })
		has("symlink", func(e treeEntry) bool { return e.Type == listing.Link && !e.ToDir })
		has("symlink to a folder", func(e treeEntry) bool { return e.ToDir })
	}
}

// readManifest reads servers.sh's manifest.tsv (path, type, size, sha256) and
// the links.tsv beside it (path, target).
func readManifest(file string) ([]treeEntry, error) {
	rows, err := readTSV(file, 4)
	if err != nil {
		return nil, err
	}
	links, err := readTSV(filepath.Join(filepath.Dir(file), "links.tsv"), 2)
	if err != nil {
		return nil, err
	}
	targets := map[string]string{}
	for _, l := range links {
		targets[l[0]] = l[1]
	}
	var tree []treeEntry
	for _, r := range rows {
		size, err := strconv.ParseInt(r[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: size of %q: %w", file, r[0], err)
		}
		e := treeEntry{Path: r[0], Size: size}
		switch r[1] {
		case "file":
			e.Type, e.SHA256 = listing.File, r[3]
		case "dir":
			e.Type = listing.Dir
		case "link", "dirlink":
			e.Type, e.Target = listing.Link, targets[r[0]]
			if r[1] == "link" {
				e.SHA256 = r[3]
			} else {
				e.ToDir = true
			}
			if e.Target == "" {
				return nil, fmt.Errorf("%s: link %q has no target in links.tsv", file, r[0])
			}
		default:
			return nil, fmt.Errorf("%s: unknown type %q of %q", file, r[1], r[0])
		}
		tree = append(tree, e)
	}
	if len(tree) == 0 {
		return nil, fmt.Errorf("%s: empty manifest", file)
	}
	return tree, nil
}

func readTSV(file string, fields int) ([][]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if sc.Text() == "" {
			continue
		}
		r := strings.Split(sc.Text(), "\t")
		if len(r) != fields {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", file, n, len(r), fields)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// scrub replaces what changes from run to run in a note (the run's name part,
// goftp's temporary root) with placeholders, so the matrix stays stable.
func (tg *target) scrub(note, run string) string {
	note = strings.ReplaceAll(note, run, "RUN")
	if tg.hide != "" {
		note = strings.ReplaceAll(note, tg.hide, "ROOT")
	}
	note = epsvPort.ReplaceAllString(note, "(|||PORT|)")
	return pasvPort.ReplaceAllString(note, "(${1}P1,P2)")
}

// Passive ports in 229 and 227 replies, which change from run to run.
var (
	epsvPort = regexp.MustCompile(`\(\|\|\|\d+\|\)`)
	pasvPort = regexp.MustCompile(`\((\d+,\d+,\d+,\d+,)\d+,\d+\)`)
)

// children returns the entries directly inside dir ("" is the root).
func (tg *target) children(dir string) []treeEntry {
	var out []treeEntry
	for _, e := range tg.tree {
		if path.Dir(e.Path) == ifElse(dir == "", ".", dir) {
			out = append(out, e)
		}
	}
	return out
}

// dirs returns "" (the root) and every directory of the tree.
func (tg *target) dirs() []string {
	out := []string{""}
	for _, e := range tg.tree {
		if e.Type == listing.Dir {
			out = append(out, e.Path)
		}
	}
	return out
}

// retrievable returns the files and the links to files: what RETR, SIZE and
// MDTM work on.
func (tg *target) retrievable() []treeEntry {
	var out []treeEntry
	for _, e := range tg.tree {
		if e.Type != listing.Dir && !e.ToDir {
			out = append(out, e)
		}
	}
	return out
}

// file returns the entry at p.
func (tg *target) file(t *testing.T, p string) treeEntry {
	t.Helper()
	for _, e := range tg.tree {
		if e.Path == p {
			return e
		}
	}
	t.Fatalf("%s: no %q in the expected tree", tg.name, p)
	return treeEntry{}
}

// largestFile returns the biggest regular file of the tree.
func (tg *target) largestFile() treeEntry {
	var best treeEntry
	for _, e := range tg.tree {
		if e.Type == listing.File && e.Size > best.Size {
			best = e
		}
	}
	return best
}

func ifElse[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// ---- dialling ----

// dialAs logs in to tg (anonymous when user is ""), with the transcript in mem
// when it is not nil, and closes the client at the test's end.
func (tg *target) dialAs(t *testing.T, ctx context.Context, user, pass string, mem *transcript.Memory, tweak func(*session.Config)) *client.Client {
	t.Helper()
	c, err := tg.tryDial(ctx, user, pass, mem, tweak)
	if err != nil {
		t.Fatalf("%s: Dial as %q: %v", tg.name, ifElse(user == "", "anonymous", user), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (tg *target) tryDial(ctx context.Context, user, pass string, mem *transcript.Memory, tweak func(*session.Config)) (*client.Client, error) {
	cfg := session.Config{User: user, Password: session.Secret(pass)}
	if mem != nil {
		cfg.Transcript = mem
	}
	if tweak != nil {
		tweak(&cfg)
	}
	return client.Dial(ctx, tg.addr, &client.Options{Config: cfg})
}

func (tg *target) anon(t *testing.T, ctx context.Context) *client.Client {
	t.Helper()
	return tg.dialAs(t, ctx, "", "", nil, nil)
}

func (tg *target) userClient(t *testing.T, ctx context.Context) *client.Client {
	t.Helper()
	return tg.dialAs(t, ctx, tg.user, tg.pass, nil, nil)
}

// ---- typed errors ----

// replyError returns err as an *ftp.Error, failing t when it is not one.
func replyError(t *testing.T, what string, err error) *ftp.Error {
	t.Helper()
	var fe *ftp.Error
	if !errors.As(err, &fe) {
		t.Fatalf("%s: got %v (%T), want a *ftp.Error reply", what, err, err)
	}
	return fe
}

// wantPermanent checks that err is a 5yz reply (optionally of code want) and
// returns the reply as text for the matrix notes.
func wantPermanent(t *testing.T, what string, err error, want int) string {
	t.Helper()
	fe := replyError(t, what, err)
	if fe.Code/100 != 5 || (want != 0 && fe.Code != want) {
		t.Errorf("%s: reply %d %q, want %s", what, fe.Code, fe.Msg, ifElse(want != 0, strconv.Itoa(want), "5yz"))
	}
	return replyText(fe)
}

// replyText is a reply as "CODE first line", for notes.
func replyText(fe *ftp.Error) string {
	msg, _, _ := strings.Cut(fe.Msg, "\n")
	return fmt.Sprintf("%s → %d %s", ifElse(fe.Verb == "", "greeting", fe.Verb), fe.Code, strings.TrimSpace(msg))
}

// stillUsable checks that the session answers after a failed command.
func stillUsable(t *testing.T, ctx context.Context, c *client.Client) {
	t.Helper()
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("session unusable after the refused command: NOOP: %v", err)
	}
}

// sentLine and gotLine search a transcript for a client line with the prefix
// and a server line with the prefix.
func sentLine(mem *transcript.Memory, prefix string) bool {
	return slices.ContainsFunc(mem.Entries(), func(e transcript.Entry) bool {
		return e.Dir == transcript.Client && strings.HasPrefix(e.Line, prefix)
	})
}

func gotLine(mem *transcript.Memory, prefix string) bool {
	return slices.ContainsFunc(mem.Entries(), func(e transcript.Entry) bool {
		return e.Dir == transcript.Server && strings.HasPrefix(e.Line, prefix)
	})
}

// ---- the matrix ----

// Cell states.
const (
	statePass       = "pass"
	stateFail       = "FAIL"
	stateNotOffered = "not offered"
	stateSkipped    = "skipped"
	stateFTPS       = "see FTPS tests"
)

type cell struct {
	state string
	notes []string
}

// matrix collects server × feature results; safe for concurrent use.
type matrix struct {
	mu       sync.Mutex
	servers  []string
	features []string
	cells    map[[2]string]*cell // {server, feature}
	info     map[string][]string // per server: greeting, FEAT, addresses
}

func newMatrix(servers, features []string) *matrix {
	return &matrix{servers: servers, features: features, cells: map[[2]string]*cell{}, info: map[string][]string{}}
}

func (m *matrix) set(server, feature, state string, notes ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cells[[2]string{server, feature}]
	if c == nil {
		c = &cell{}
		m.cells[[2]string{server, feature}] = c
	}
	c.state = state
	c.notes = append(c.notes, notes...)
}

func (m *matrix) addInfo(server, line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.info[server] = append(m.info[server], line)
}

// markdown renders the matrix: a table (features down, servers across) whose
// cells point to numbered notes holding the replies that explain them.
func (m *matrix) markdown() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `TestConformance` (fsm_test/conformance_test.go) on %s with %s.\n\n",
		time.Now().UTC().Format("2006-01-02"), goftpVersion())
	b.WriteString("| feature |")
	for _, s := range m.servers {
		fmt.Fprintf(&b, " %s |", s)
	}
	b.WriteString("\n|---|")
	for range m.servers {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	var notes []string
	for _, f := range m.features {
		fmt.Fprintf(&b, "| %s |", f)
		for _, s := range m.servers {
			c := m.cells[[2]string{s, f}]
			if c == nil {
				b.WriteString(" — |")
				continue
			}
			text := c.state
			if len(c.notes) > 0 {
				notes = append(notes, fmt.Sprintf("%s, %s: %s", s, f, strings.Join(c.notes, "; ")))
				text = fmt.Sprintf("%s [%d]", text, len(notes))
			}
			fmt.Fprintf(&b, " %s |", text)
		}
		b.WriteString("\n")
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes (replies quoted as the servers sent them):\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, mdEscape(n))
		}
	}
	b.WriteString("\nServers:\n\n")
	for _, s := range m.servers {
		for _, l := range m.info[s] {
			fmt.Fprintf(&b, "- %s: %s\n", s, mdEscape(l))
		}
	}
	return b.String()
}

// mdEscape keeps text from breaking the Markdown list (pipes, stray backticks
// stay readable; line breaks become spaces).
func mdEscape(s string) string {
	return strings.NewReplacer("\r", "", "\n", " ", "|", `\|`).Replace(s)
}

// writeMatrix writes md to file, replacing only the text between the matrix
// markers when the file already has them.
func writeMatrix(file, md string) error {
	old, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out := md
	if i, j := strings.Index(string(old), matrixBegin), strings.Index(string(old), matrixEnd); i >= 0 && j > i {
		out = string(old[:i]) + matrixBegin + "\n" + md + string(old[j:])
	}
	return os.WriteFile(file, []byte(out), 0o644)
}

// goftpVersion names the goftp module version go.mod requires (test binaries
// carry no dependency list in their build info).
func goftpVersion() string {
	const mod = "goftp.io/server/v2"
	b, err := os.ReadFile("../go.mod") // tests run in their package's folder
	if err != nil {
		return mod
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == mod {
			return mod + " " + f[1]
		}
	}
	return mod
}

// sortedKeys returns a FEAT set's names in order, with parameters.
func sortedFeatures(f map[string]string) []string {
	var out []string
	for k, v := range f {
		out = append(out, strings.TrimSpace(k+" "+v))
	}
	sort.Strings(out)
	return out
}
