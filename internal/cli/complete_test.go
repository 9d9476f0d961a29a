package cli

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// complete asks for completions the way a shell's completion script does:
// the hidden __complete command with the words typed so far, the last one
// being the word under the cursor. It returns the offered words and the
// directive cobra ends its answer with.
func complete(t *testing.T, env map[string]string, words ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	e, stdout, _ := testEnv()
	e.Getenv = func(k string) string { return env[k] }
	if code := Main(append([]string{cobra.ShellCompRequestCmd}, words...), e); code != ExitOK {
		t.Fatalf("__complete %q: exit %d", words, code)
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		t.Fatalf("__complete %q: no directive line in %q", words, stdout)
	}
	var d int
	for _, c := range last[1:] {
		d = d*10 + int(c-'0')
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t") // a description follows a tab
		got = append(got, name)
	}
	return got, cobra.ShellCompDirective(d)
}

func TestCompleteCommandsAndFlags(t *testing.T) {
	got, _ := complete(t, nil, "")
	for _, want := range []string{"ls", "get", "put", "mkdir", "rm", "mv", "mirror", "demo", "version", "completion"} {
		if !slices.Contains(got, want) {
			t.Errorf("commands: %q lacks %s", got, want)
		}
	}
	if slices.Contains(got, "serve") {
		t.Errorf("commands: the hidden serve is offered: %q", got)
	}
	got, _ = complete(t, nil, "get", "--")
	for _, want := range []string{"--jobs", "--output", "--continue", "--timeout", "--data-mode", "--json"} {
		if !slices.Contains(got, want) {
			t.Errorf("get flags: %q lacks %s", got, want)
		}
	}
	if got, _ := complete(t, nil, "mirror", "--data-mode", ""); !slices.Equal(got, []string{"passive", "active", "auto"}) {
		t.Errorf("--data-mode values: %q", got)
	}
	if got, d := complete(t, nil, "get", "f"); !slices.Equal(got, []string{"ftp://", "ftps://"}) || d&cobra.ShellCompDirectiveNoSpace == 0 {
		t.Errorf("schemes: %q directive %d", got, d)
	}
	// put's first argument is a local file: the shell's own completion.
	if got, d := complete(t, nil, "put", ""); len(got) != 0 || d != cobra.ShellCompDirectiveDefault {
		t.Errorf("put FILE: %q directive %d", got, d)
	}
	// mirror's second is a local folder.
	if _, d := complete(t, nil, "mirror", "ftp://127.0.0.1:1/", ""); d != cobra.ShellCompDirectiveFilterDirs {
		t.Errorf("mirror DIR: directive %d", d)
	}
}

// TestCompletionScripts: the three shells' scripts are printed and call back
// into asyncftp's __complete.
func TestCompletionScripts(t *testing.T) {
	for sh, marker := range map[string]string{"bash": "complete -o default -F __start_asyncftp asyncftp", "zsh": "#compdef asyncftp", "fish": "complete -c asyncftp"} {
		e, stdout, errb := testEnv()
		if code := Main([]string{"completion", sh}, e); code != ExitOK || !strings.Contains(stdout.String(), marker) || !strings.Contains(stdout.String(), "__complete") {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", sh, code, errb, marker)
		}
	}
	e, _, _ := testEnv()
	if code := Main([]string{"completion", "tcsh"}, e); code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", code, ExitUsage)
	}
}

func TestCompleteRemotePaths(t *testing.T) {
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "ftp://" + srv.Addr + "/"

	got, d := complete(t, nil, "get", base+"pub/")
	if want := []string{base + "pub/hello.txt", base + "pub/nested/"}; !sameSet(got, want) {
		t.Errorf("pub/: %q, want %q", got, want)
	}
	if d&cobra.ShellCompDirectiveNoSpace == 0 || d&cobra.ShellCompDirectiveNoFileComp == 0 {
		t.Errorf("pub/: directive %d, want NoSpace|NoFileComp (a folder goes on)", d)
	}
	// Only the names with the typed prefix; one file ends the word.
	got, d = complete(t, nil, "get", base+"pub/he")
	if !slices.Equal(got, []string{base + "pub/hello.txt"}) || d&cobra.ShellCompDirectiveNoSpace != 0 {
		t.Errorf("pub/he: %q directive %d", got, d)
	}
	// Names are escaped as in a URL, so that the word stays one argument.
	got, _ = complete(t, nil, "ls", base+"pub/nested/deeper/")
	if !slices.Equal(got, []string{base + "pub/nested/deeper/deep%20file.bin"}) {
		t.Errorf("deeper/: %q", got)
	}
	// Every argument of get is a URL; flags before and between them are fine.
	got, _ = complete(t, nil, "get", "-j", "2", base+"README.txt", "--no-epsv", base+"pub/n")
	if !slices.Equal(got, []string{base + "pub/nested/"}) {
		t.Errorf("third word of get: %q", got)
	}
	// put completes its second argument remotely.
	got, _ = complete(t, nil, "put", "x.txt", base+"p")
	if !slices.Equal(got, []string{base + "pub/"}) {
		t.Errorf("put x.txt p: %q", got)
	}
}

// TestCompleteCredentials: a server without anonymous logins is listed with
// the netrc's login, or the URL's.
func TestCompleteCredentials(t *testing.T) {
	srv, err := embedserver.Start(embedserver.Options{NoAnonymous: true, Users: map[string]string{"carol": "c-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, _, _ := net.SplitHostPort(srv.Addr)
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine "+host+" login carol password c-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "ftp://" + srv.Addr + "/pub/"
	if got, _ := complete(t, map[string]string{"NETRC": netrc}, "ls", "ftp://"+srv.Addr+"/p"); !slices.Equal(got, []string{want}) {
		t.Errorf("netrc: %q, want %q", got, want)
	}
	want = "ftp://carol:c-pw@" + srv.Addr + "/pub/"
	if got, _ := complete(t, nil, "ls", "ftp://carol:c-pw@"+srv.Addr+"/p"); !slices.Equal(got, []string{want}) {
		t.Errorf("URL credentials: %q, want %q", got, want)
	}
	if got, _ := complete(t, map[string]string{PasswordEnv: "c-pw"}, "ls", "ftp://carol@"+srv.Addr+"/p"); len(got) != 1 {
		t.Errorf("%s: %q", PasswordEnv, got)
	}
	// Without credentials the login fails: nothing is offered, and nothing
	// but cobra's directive line is printed.
	if got, _ := complete(t, nil, "ls", "ftp://"+srv.Addr+"/p"); len(got) != 0 {
		t.Errorf("refused login: %q", got)
	}
}

// TestCompleteFailsQuietly: no server, or one that never greets, offers
// nothing and ends within the completion's bound instead of hanging the
// shell.
func TestCompleteFailsQuietly(t *testing.T) {
	refused := ftptest.RefusedAddr(t)
	silent := ftptest.NewServer(t, ftptest.Script{ftptest.Stall()}, ftptest.WithoutLog())
	// The login works; the listing's data connection opens and stays silent.
	stalled := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hi"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 pw"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 ok"),
		ftptest.Expect("FEAT"), ftptest.Reply("211 none"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.ExpectAny(), ftptest.Reply("150 here it comes"),
		ftptest.DataAccept(), ftptest.Stall(),
	}, ftptest.WithoutLog())
	for _, addr := range []string{refused, silent.Addr, stalled.Addr} {
		stalledBefore := len(stalled.Commands())
		start := time.Now()
		e, stdout, stderr := testEnv()
		code := Main([]string{cobra.ShellCompRequestCmd, "get", "ftp://" + addr + "/pub/"}, e)
		took := time.Since(start)
		t.Logf("%s: nothing offered after %v", addr, took.Round(time.Millisecond))
		if code != ExitOK || !strings.HasPrefix(stdout.String(), ":") {
			t.Errorf("%s: exit %d, completions %q", addr, code, stdout)
		}
		if s := stderr.String(); strings.Contains(s, "asyncftp") || strings.Contains(s, "error") {
			t.Errorf("%s: error text %q", addr, s)
		}
		if addr == stalled.Addr && !slices.ContainsFunc(stalled.Commands()[stalledBefore:], func(c string) bool { return strings.HasPrefix(c, "MLSD") || strings.HasPrefix(c, "LIST") }) {
			t.Errorf("the stalling server was never asked for a listing: %q", stalled.Commands())
		}
		if took > completionTimeout+5*time.Second {
			t.Errorf("%s: completion took %v, bound %v", addr, took, completionTimeout)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
