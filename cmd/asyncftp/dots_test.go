package main_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// dotsServer is a scripted server whose listing of its root holds the
// folder's own entries: "." and ".." lines in LIST, cdir and pdir in MLSD.
// Every connection plays the script: login, FEAT, the listing, then what
// more asks for.
func dotsServer(t *testing.T, mlsd bool, more ...ftptest.Step) *ftptest.Server {
	t.Helper()
	feat, verb := " SIZE", "LIST"
	body := "total 8\r\n" +
		"drwxr-xr-x   3 ftp ftp 4096 Jan 02  2024 .\r\n" +
		"drwxr-xr-x  10 ftp ftp 4096 Jan 02  2024 ..\r\n" +
		"-rw-r--r--   1 ftp ftp    5 Jan 02  2024 ok.txt\r\n" +
		"-rw-r--r--   1 ftp ftp    3 Jan 02  2024 ...\r\n"
	if mlsd {
		feat, verb = " MLST type*;size*;modify*;", "MLSD"
		body = "type=cdir;modify=20240102030405; /\r\n" +
			"type=pdir;modify=20240102030405; /\r\n" +
			"type=file;size=5;modify=20240102030405; ok.txt\r\n" +
			"type=file;size=3;modify=20240102030405; ...\r\n"
	}
	sc := ftptest.Script{
		ftptest.Reply("220 dots"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 in"),
		ftptest.Expect("TYPE I"), ftptest.Reply("200 binary"),
		ftptest.Expect("FEAT"), ftptest.Reply("211-Features:", feat, "211 End"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect(verb), ftptest.Reply("150 listing"),
		ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
		ftptest.Reply("226 done"),
	}
	sc = append(sc, more...)
	sc = append(sc, ftptest.Expect("QUIT"), ftptest.Reply("221 bye"))
	return ftptest.NewServer(t, sc, ftptest.WithoutLog())
}

// TestLsLeavesOutSelfAndParent: ls and ls --json show the folder's entries
// only; ls --raw shows every line as the server sent it.
func TestLsLeavesOutSelfAndParent(t *testing.T) {
	for _, mlsd := range []bool{false, true} {
		name := map[bool]string{false: "LIST", true: "MLSD"}[mlsd]
		t.Run(name, func(t *testing.T) {
			srv := dotsServer(t, mlsd)
			url := "ftp://" + srv.Addr + "/"
			r := run(t, t.TempDir(), nil, "ls", url)
			if r.code != 0 {
				t.Fatalf("ls\n%s", r)
			}
			var last []string
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				f := strings.Fields(l)
				last = append(last, f[len(f)-1])
			}
			if want := []string{"ok.txt", "..."}; !slices.Equal(last, want) {
				t.Errorf("ls names %q, want %q\n%s", last, want, r)
			}

			r = run(t, t.TempDir(), nil, "ls", "--json", url)
			if r.code != 0 {
				t.Fatalf("ls --json\n%s", r)
			}
			var names []string
			for _, rec := range records(t, r.stdout) {
				names = append(names, rec.Name)
			}
			if want := []string{"ok.txt", "..."}; !slices.Equal(names, want) {
				t.Errorf("ls --json names %q, want %q\n%s", names, want, r)
			}

			r = run(t, t.TempDir(), nil, "ls", "--raw", url)
			if r.code != 0 {
				t.Fatalf("ls --raw\n%s", r)
			}
			if n := strings.Count(r.stdout, "\n"); n != 4 {
				t.Errorf("ls --raw: %d lines, want all 4 entries\n%s", n, r)
			}
		})
	}
}

// TestMirrorLeavesOutSelfAndParent: mirror neither enters nor reports "."
// and "..": it fetches the two files and refuses nothing.
func TestMirrorLeavesOutSelfAndParent(t *testing.T) {
	for _, mlsd := range []bool{false, true} {
		name := map[bool]string{false: "LIST", true: "MLSD"}[mlsd]
		t.Run(name, func(t *testing.T) {
			get := func(name, body string) []ftptest.Step {
				return []ftptest.Step{
					ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
					ftptest.Expect("RETR " + name), ftptest.Reply("150 here"),
					ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
					ftptest.Reply("226 done"),
				}
			}
			// Downloads go in path order.
			srv := dotsServer(t, mlsd, append(get("...", "dot"), get("ok.txt", "fine\n")...)...)
			dir := t.TempDir()
			r := run(t, dir, nil, "mirror", "-j", "1", "--json", "ftp://"+srv.Addr+"/", "copy")
			if r.code != 0 {
				t.Fatalf("mirror\n%s", r)
			}
			for _, rec := range records(t, r.stdout) {
				if rec.Name == "." || rec.Name == ".." || rec.Status == "refused" {
					t.Errorf("mirror reported %+v\n%s", rec, r)
				}
			}
			got := snapshot(t, dir)
			want := map[string]string{"copy": "/", "copy/ok.txt": "fine\n", "copy/...": "dot"}
			if len(got) != len(want) {
				t.Errorf("files %v, want %v", got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
