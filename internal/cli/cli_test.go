package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/session"
	"github.com/spf13/pflag"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in         string
		host       string
		port       int
		user, pass string
		hasPass    bool
		path       string
		tls        session.TLSMode
		str        string // String(), "" = not checked
		wantErr    string
	}{
		{in: "ftp://example.org", host: "example.org", port: 21, path: "", str: "ftp://example.org:21/"},
		{in: "ftp://example.org/", host: "example.org", port: 21, path: ""},
		{in: "ftp://example.org/pub/file.txt", host: "example.org", port: 21, path: "pub/file.txt"},
		{in: "ftp://example.org/%2Fetc/motd", host: "example.org", port: 21, path: "/etc/motd", str: "ftp://example.org:21/%2Fetc/motd"},
		{in: "ftp://example.org/a%20b/c%23d", host: "example.org", port: 21, path: "a b/c#d", str: "ftp://example.org:21/a%20b/c%23d"},
		{in: "FTP://Example.org:2121/x", host: "Example.org", port: 2121, path: "x"},
		{in: "ftp://alice@h/x", host: "h", port: 21, user: "alice", path: "x", str: "ftp://alice@h:21/x"},
		{in: "ftp://alice:s%40cret@h/x", host: "h", port: 21, user: "alice", pass: "s@cret", hasPass: true, path: "x", str: "ftp://alice:****@h:21/x"},
		{in: "ftp://a%40b.c:@h/", host: "h", port: 21, user: "a@b.c", hasPass: true},
		{in: "ftp://[::1]:2121/x", host: "::1", port: 2121, path: "x", str: "ftp://[::1]:2121/x"},
		{in: "ftps://h/x", host: "h", port: 990, path: "x", tls: session.TLSImplicit},
		{in: "ftps://h:2990/", host: "h", port: 2990, tls: session.TLSImplicit},
		{in: "http://h/", wantErr: "unsupported scheme"},
		{in: "example.org/x", wantErr: "not a URL"},
		{in: "ftp:///x", wantErr: "no host"},
		{in: "ftp://h:0/", wantErr: "bad port"},
		{in: "ftp://h:70000/", wantErr: "bad port"},
		{in: "ftp://h/x?y", wantErr: "query"},
		{in: "ftp://h/x#y", wantErr: "fragment"},
		{in: "ftp://h/a%0D%0ADELE%20x", wantErr: "CR or LF"},
		{in: "ftp://h/a%00", wantErr: "NUL"},
		{in: "ftp://us er:pa ss@h/", wantErr: "malformed"},
	}
	for _, c := range cases {
		got, err := ParseURL(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseURL(%q): error %v, want one saying %q", c.in, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pa ss") {
				t.Errorf("ParseURL(%q): the error repeats the password: %v", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if got.Host != c.host || got.Port != c.port || got.User != c.user || got.Pass.Reveal() != c.pass ||
			got.HasPass != c.hasPass || got.Path != c.path || got.TLS != c.tls {
			t.Errorf("ParseURL(%q) = %+v", c.in, *got)
		}
		if c.str != "" && got.String() != c.str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", c.in, got.String(), c.str)
		}
		if c.pass != "" && strings.Contains(got.String(), c.pass) {
			t.Errorf("String() shows the password: %q", got.String())
		}
	}
}

func TestSafeName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "../evil", "/etc/passwd", "a/b", `..\evil`, `a\b`, "nul\x00x", "x/", "/"} {
		if err := SafeName(bad); !errors.Is(err, ftp.ErrUnsafePath) {
			t.Errorf("SafeName(%q) = %v, want ErrUnsafePath", bad, err)
		}
	}
	for _, good := range []string{"a", ".hidden", "v1..2.txt", "...", "name with spaces", " leading", "ünïcødé-日本語.txt", "x.part", "a:b"} {
		if err := SafeName(good); err != nil {
			t.Errorf("SafeName(%q) = %v, want nil", good, err)
		}
	}
	// The error shows a hostile name escaped, never raw control bytes.
	err := SafeName("a/\x1b[2Jb")
	if err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("SafeName error not escaped: %q", err)
	}
}

func TestRemotePaths(t *testing.T) {
	for _, c := range []struct{ dir, name, join string }{
		{"", "a", "a"}, {"/", "a", "/a"}, {"pub", "a", "pub/a"}, {"pub/", "a", "pub/a"}, {"/x/y", "z", "/x/y/z"},
	} {
		if got := remoteJoin(c.dir, c.name); got != c.join {
			t.Errorf("remoteJoin(%q, %q) = %q, want %q", c.dir, c.name, got, c.join)
		}
	}
	for _, c := range []struct{ p, dir, base string }{
		{"a", "", "a"}, {"/a", "/", "a"}, {"pub/a", "pub", "a"}, {"pub/a/", "pub", "a"}, {"/x/y/z", "/x/y", "z"}, {"", "", ""},
	} {
		if got := remoteDir(c.p); got != c.dir {
			t.Errorf("remoteDir(%q) = %q, want %q", c.p, got, c.dir)
		}
		if got := remoteBase(c.p); got != c.base {
			t.Errorf("remoteBase(%q) = %q, want %q", c.p, got, c.base)
		}
	}
	src := &Target{Host: "h", Port: 21}
	for _, c := range []struct{ from, arg, want string }{
		{"pub/a.txt", "b.txt", "pub/b.txt"},
		{"pub/a.txt", "../b.txt", "pub/../b.txt"},
		{"pub/a.txt", "/abs/b.txt", "/abs/b.txt"},
		{"a.txt", "b.txt", "b.txt"},
		{"pub/a.txt", "ftp://h/other/c.txt", "other/c.txt"},
	} {
		got, err := renameTarget(src, c.from, c.arg)
		if err != nil || got != c.want {
			t.Errorf("renameTarget(%q, %q) = %q, %v; want %q", c.from, c.arg, got, err, c.want)
		}
	}
	if _, err := renameTarget(src, "a", "ftp://elsewhere/x"); err == nil {
		t.Error("renameTarget to another server: no error")
	}
}

func TestResolveCreds(t *testing.T) {
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	content := "machine h login bob password bobpw account acc\nmachine h2 login carol password carolpw\ndefault login anonymous password me@example.org\n"
	if err := os.WriteFile(netrc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) func(string) string {
		m := map[string]string{"NETRC": netrc}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	target := func(raw string) *Target {
		tg, err := ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	cases := []struct {
		url, user, pass, account, source string
		env                              func(string) string
	}{
		{"ftp://alice:urlpw@h/", "alice", "urlpw", "", "url", env(PasswordEnv, "envpw")},
		{"ftp://alice@h/", "alice", "envpw", "", "env", env(PasswordEnv, "envpw")},
		{"ftp://h/", "bob", "bobpw", "acc", "netrc", env()},
		{"ftp://h/", "bob", "envpw", "acc", "env", env(PasswordEnv, "envpw")},
		{"ftp://bob@h/", "bob", "bobpw", "acc", "netrc", env()},
		{"ftp://dave@h/", "dave", "", "", "none", env()},
		{"ftp://h2/", "carol", "carolpw", "", "netrc", env()},
		{"ftp://other/", "anonymous", "me@example.org", "", "netrc", env()},
		{"ftp://other/", "anonymous", "me@example.org", "", "netrc", env(PasswordEnv, "ignored-for-anonymous")},
		{"ftp://h/", "", "", "", "anonymous", func(k string) string { return map[string]string{"NETRC": filepath.Join(dir, "missing")}[k] }},
	}
	for _, c := range cases {
		got, warnings := ResolveCreds(target(c.url), c.env)
		if got.User != c.user || got.Password.Reveal() != c.pass || got.Account != c.account || got.Source != c.source {
			t.Errorf("%s: got user %q password %q account %q source %q; want %q %q %q %q",
				c.url, got.User, got.Password.Reveal(), got.Account, got.Source, c.user, c.pass, c.account, c.source)
		}
		if len(warnings) != 0 {
			t.Errorf("%s: warnings %q", c.url, warnings)
		}
	}

	// A netrc others can read is used, with a warning that names no password.
	if err := os.Chmod(netrc, 0o644); err != nil {
		t.Fatal(err)
	}
	got, warnings := ResolveCreds(target("ftp://h/"), env())
	if got.Source != "netrc" || len(warnings) != 1 || !strings.Contains(warnings[0], "chmod 600") || strings.Contains(warnings[0], "bobpw") {
		t.Errorf("world-readable netrc: %+v %q", got, warnings)
	}
	// A broken netrc is ignored with a warning.
	if err := os.WriteFile(netrc, []byte("machine h login a login b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, warnings = ResolveCreds(target("ftp://h/"), env())
	if got.Source != "anonymous" || len(warnings) != 1 {
		t.Errorf("broken netrc: %+v %q", got, warnings)
	}
	// A Config printed with %v or %+v never shows the password.
	cfg := session.Config{User: "bob", Password: session.Secret("bobpw")}
	if s := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg); strings.Contains(s, "bobpw") {
		t.Errorf("Config printed the password: %s", s)
	}
}

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain.txt":        "plain.txt",
		"ünïcødé-日本語.txt":  "ünïcødé-日本語.txt",
		" leading":         `" leading"`,
		"esc\x1b[2J":       `"esc\x1b[2J"`,
		"new\nline":        `"new\x0aline"`,
		"back\\slash":      `"back\\slash"`,
		"bidi\u202eevil":   `"bidi\xe2\x80\xaeevil"`,
		"bad\xffutf8":      `"bad\xffutf8"`,
		`quote"d` + "\x00": `"quote\"d\x00"`,
	} {
		if got := safeText(in); got != want {
			t.Errorf("safeText(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "64KiB": 64 << 10, "8MiB": 8 << 20, "1GiB": 1 << 30, "3M": 3 << 20, "2k": 2 << 10, "5 MB": 5 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5MiB", "99999999999GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}

// testCommand registers a command "x" with -o/--output and the given number
// of arguments for the length of the test; run records what the body saw.
func testCommand(t *testing.T, min, max int) (out *string, pos *[]string) {
	t.Helper()
	out, pos = new(string), new([]string)
	register(&command{name: "x", args: "A B", summary: "test", minArgs: min, maxArgs: max,
		flags: func(f *pflag.FlagSet) runFunc {
			f.StringVarP(out, "output", "o", "", "`FILE`")
			o := &common{}
			o.register(f)
			return func(_ context.Context, _ *Env, args []string) error {
				*pos = args
				return nil
			}
		}})
	t.Cleanup(func() { delete(commands, "x") })
	return out, pos
}

func testEnv() (*Env, *strings.Builder, *strings.Builder) {
	var out, errb strings.Builder
	return &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, &out, &errb
}

func TestFlagsInterleaved(t *testing.T) {
	out, pos := testCommand(t, 2, 2)
	for _, args := range [][]string{
		{"-o", "f", "a", "b"},
		{"a", "-o", "f", "b"},
		{"a", "b", "--output=f"},
		{"--output", "f", "--", "a", "b"},
		{"a", "-of", "b"},
		{"-output", "f", "a", "b"}, // Go-flag spelling of a long flag
		{"a", "-output=f", "b"},    // the same with '='
		{"-o", "-json", "a", "b"},  // a value that looks like a flag stays a value
		{"a", "--json", "-o", "f", "b", "-v"},
	} {
		*out, *pos = "", nil
		e, _, errb := testEnv()
		code := Main(append([]string{"x"}, args...), e)
		want := "f"
		if args[1] == "-json" {
			want = "-json"
		}
		if code != ExitOK || *out != want || strings.Join(*pos, ",") != "a,b" {
			t.Errorf("x %q: exit %d, args %q, -o %q; stderr %s", args, code, *pos, *out, errb)
		}
	}
	*pos = nil
	if e, _, _ := testEnv(); Main([]string{"x", "--", "-o", "x"}, e) != ExitOK || strings.Join(*pos, ",") != "-o,x" {
		t.Errorf("after --: %q", *pos)
	}
	for _, args := range [][]string{{"a"}, {"a", "b", "c"}, {"--nope", "a", "b"}, {"-z", "a", "b"}, {"--timeout", "soon", "a", "b"}} {
		e, _, errb := testEnv()
		if code := Main(append([]string{"x"}, args...), e); code != ExitUsage || !strings.Contains(errb.String(), "Run 'asyncftp x --help' for usage.") {
			t.Errorf("x %q: exit %d, want %d with a usage hint; stderr %s", args, code, ExitUsage, errb)
		}
	}
	for _, h := range []string{"-h", "--help", "-help"} {
		*pos = nil
		e, stdout, _ := testEnv()
		if code := Main([]string{"x", "a", h}, e); code != ExitOK || *pos != nil || !strings.HasPrefix(stdout.String(), "Usage: asyncftp x [flags] A B") {
			t.Errorf("x a %s: exit %d, ran %v, help %q", h, code, *pos != nil, stdout)
		}
	}
}

// TestHelpLayout pins the layout of a command's --help: usage line,
// description, flags in the order they were defined with their arguments and
// defaults, the login rules for commands that connect, the exit codes.
func TestHelpLayout(t *testing.T) {
	e, stdout, _ := testEnv()
	if code := Main([]string{"get", "--help"}, e); code != ExitOK {
		t.Fatalf("get --help: exit %d", code)
	}
	h := stdout.String()
	order := []string{"Usage: asyncftp get [flags] URL...", "Examples:", "Flags:",
		"-o, --output FILE|DIR", "-c, --continue", "-j, --jobs N", "(default 4)",
		"-v, --verbose", "--json", "-q, --quiet", "--timeout DURATION", "--keepalive DURATION", "(default 30s)",
		"-h, --help", "Login:", "Exit codes:", "130  interrupted"}
	at := 0
	for _, want := range order {
		i := strings.Index(h[at:], want)
		if i < 0 {
			t.Fatalf("get --help: %q missing or out of order\n%s", want, h)
		}
		at += i + len(want)
	}
	e, stdout, _ = testEnv()
	if code := Main([]string{"--help"}, e); code != ExitOK || !strings.Contains(stdout.String(), "completion bash") {
		t.Errorf("--help: exit %d, no word of completion\n%s", code, stdout)
	}
	// Commands without a network say nothing of logins.
	e, stdout, _ = testEnv()
	if Main([]string{"version", "--help"}, e); strings.Contains(stdout.String(), "Login:") {
		t.Errorf("version --help speaks of logins\n%s", stdout)
	}
}

func TestUnknownCommand(t *testing.T) {
	e, _, errb := testEnv()
	if code := Main([]string{"lss"}, e); code != ExitUsage || !strings.Contains(errb.String(), `unknown command "lss"`) ||
		!strings.Contains(errb.String(), "ls") || !strings.Contains(errb.String(), "asyncftp --help") {
		t.Errorf("lss: exit %d\n%s", code, errb)
	}
	e, stdout, _ := testEnv()
	if code := Main([]string{"--version"}, e); code != ExitOK || !strings.HasPrefix(stdout.String(), "asyncftp ") {
		t.Errorf("--version: exit %d %q", code, stdout)
	}
}

func TestDataFlags(t *testing.T) {
	e := &Env{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}, Getenv: func(string) string { return "" }}
	target := &Target{Scheme: "ftp", Host: "127.0.0.1", Port: 21}
	cases := []struct {
		args      []string
		mode      session.DataMode
		active    session.ActiveOptions
		keepalive time.Duration
		idle      time.Duration
		usage     bool
	}{
		{args: nil, mode: session.DataPassive, keepalive: 30 * time.Second, idle: 30 * time.Second},
		{args: []string{"--active"}, mode: session.DataActive, keepalive: 30 * time.Second, idle: 30 * time.Second},
		{args: []string{"--data-mode", "active"}, mode: session.DataActive, keepalive: 30 * time.Second, idle: 30 * time.Second},
		{args: []string{"--active", "--data-mode=active"}, mode: session.DataActive, keepalive: 30 * time.Second, idle: 30 * time.Second},
		{args: []string{"--data-mode", "AUTO", "--active-ports", "50000-50099"}, mode: session.DataAuto,
			active: session.ActiveOptions{PortMin: 50000, PortMax: 50099}, keepalive: 30 * time.Second, idle: 30 * time.Second},
		{args: []string{"--active", "--active-addr", "203.0.113.7", "--keepalive", "5s"}, mode: session.DataActive,
			active: session.ActiveOptions{Advertise: "203.0.113.7"}, keepalive: 5 * time.Second, idle: 5 * time.Second},
		{args: []string{"--keepalive", "0"}, mode: session.DataPassive, keepalive: 0, idle: -1},
		{args: []string{"--active", "--data-mode", "passive"}, usage: true},
		{args: []string{"--active", "--data-mode", "auto"}, usage: true},
		{args: []string{"--data-mode", "both"}, usage: true},
		{args: []string{"--active", "--active-ports", "70000-70001"}, usage: true},
		{args: []string{"--active", "--active-ports", "6000-5000"}, usage: true},
		{args: []string{"--active", "--active-ports", "6000"}, usage: true},
		{args: []string{"--active", "--active-addr", "host.example"}, usage: true},
		{args: []string{"--active-ports", "5000-6000"}, usage: true}, // passive: the range would be ignored
		{args: []string{"--keepalive", "-5s"}, usage: true},
	}
	for _, c := range cases {
		o := &common{}
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		o.register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		cfg, _, err := o.config(e, target, nil)
		var ee *exitError
		if c.usage {
			if !errors.As(err, &ee) || ee.code != ExitUsage {
				t.Errorf("%q: %v, want a usage error", c.args, err)
			}
			if _, terr := o.target("ftp://127.0.0.1/"); !errors.As(terr, &ee) || ee.code != ExitUsage {
				t.Errorf("%q: target() accepts the flags: %v", c.args, terr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if cfg.DataMode != c.mode || cfg.Active != c.active || cfg.Keepalive != c.keepalive || cfg.IdleKeepalive != c.idle {
			t.Errorf("%q: mode %v active %+v keepalive %v idle %v; want %v %+v %v %v", c.args,
				cfg.DataMode, cfg.Active, cfg.Keepalive, cfg.IdleKeepalive, c.mode, c.active, c.keepalive, c.idle)
		}
	}
}
