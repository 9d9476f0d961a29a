package main_test

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI against real servers (vsftpd, pure-ftpd, proftpd and their TLS
// instances), as fsm_test/servers/servers.sh starts them for .ci/run. Without a
// server's address the subtest is skipped, or fails when
// ASYNCFTP_REQUIRE_SERVERS=1, the convention of fsm_test.
func TestRealServers(t *testing.T) {
	servers := []struct {
		name, env string
		tls       bool
	}{
		{"vsftpd", "ASYNCFTP_VSFTPD_ADDR", false},
		{"pure-ftpd", "ASYNCFTP_PUREFTPD_ADDR", false},
		{"proftpd", "ASYNCFTP_PROFTPD_ADDR", false},
		{"vsftpd-tls", "ASYNCFTP_VSFTPD_TLS_ADDR", true},
		{"pure-ftpd-tls", "ASYNCFTP_PUREFTPD_TLS_ADDR", true},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			addr := os.Getenv(s.env)
			if addr == "" {
				msg := s.env + " not set: " + s.name + " is not running (.ci/run starts it: bash fsm_test/servers/servers.sh start, then source fsm_test/servers/run/env)"
				if os.Getenv("ASYNCFTP_REQUIRE_SERVERS") == "1" {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
			user, pass, manifest := os.Getenv("ASYNCFTP_SERVERS_USER"), os.Getenv("ASYNCFTP_SERVERS_PASS"), os.Getenv("ASYNCFTP_SERVERS_MANIFEST")
			if user == "" || pass == "" || manifest == "" {
				t.Fatalf("%s is set but not ASYNCFTP_SERVERS_USER/PASS/MANIFEST: source the whole fsm_test/servers/run/env", s.env)
			}
			var tlsArgs []string
			if s.tls {
				ca := os.Getenv("ASYNCFTP_SERVERS_CA")
				if ca == "" {
					t.Fatal("ASYNCFTP_SERVERS_CA not set")
				}
				tlsArgs = []string{"--tls", "--ca", ca}
			}
			with := func(args ...string) []string {
				return append(append(args[:1:1], tlsArgs...), args[1:]...)
			}
			tree := readTree(t, manifest)
			dir := t.TempDir()
			target := filepath.Join(dir, "mirror")

			// Anonymous: a whole mirror, byte-exact; symbolic links are skipped or fetched as their target.
			r := run(t, dir, nil, with("mirror", "-j", "3", "--json", "ftp://"+addr+"/", target)...)
			if r.code != 0 {
				t.Fatalf("mirror\n%s", r)
			}
			nfiles := 0
			for _, e := range tree {
				local := filepath.Join(target, filepath.FromSlash(e.path))
				switch e.typ {
				case "dir":
					if fi, err := os.Stat(local); err != nil || !fi.IsDir() {
						t.Errorf("folder %q not mirrored: %v", e.path, err)
					}
				case "file":
					nfiles++
					if got := fileSHA(t, local); got != e.sha {
						t.Errorf("%q: sha256 %s, want %s", e.path, got, e.sha)
					}
				case "dirlink":
					// Skipped, or followed as the folder it leads to.
					if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
						t.Errorf("link to a folder %q mirrored as a file", e.path)
					}
				case "link":
					if _, err := os.Lstat(local); err == nil {
						nfiles++
						if got := fileSHA(t, local); got != e.sha {
							t.Errorf("link %q fetched with sha256 %s, want its target's %s", e.path, got, e.sha)
						}
					}
				}
			}
			rs := records(t, r.stdout)
			if last := rs[len(rs)-1]; last.Counts["downloaded"] != int64(nfiles) {
				t.Errorf("mirror summary %+v, want %d downloaded", last, nfiles)
			}
			r = run(t, dir, nil, with("mirror", "--json", "ftp://"+addr+"/", target)...)
			if rs := records(t, r.stdout); r.code != 0 || rs[len(rs)-1].Counts["downloaded"] != 0 {
				t.Errorf("second mirror fetched again\n%s", r)
			}

			// get -j 3 --active: several files through a pool, the server
			// connecting to us for each, byte-exact.
			args := with("get", "-j", "3", "--active", "-v", "--json", "-o", filepath.Join(dir, "active")+"/")
			want := map[string]string{}
			for _, e := range tree {
				base := path.Base(e.path)
				if e.typ != "file" || want[base] != "" || len(want) == 6 || strings.Trim(e.path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != "" {
					continue
				}
				want[base] = e.sha
				args = append(args, "ftp://"+addr+"/"+e.path)
			}
			r = run(t, dir, nil, args...)
			if r.code != 0 || len(want) < 2 || (!strings.Contains(r.stderr, "C: EPRT ") && !strings.Contains(r.stderr, "C: PORT ")) {
				t.Fatalf("get -j 3 --active of %d files\n%s", len(want), r)
			}
			for base, sha := range want {
				if got := fileSHA(t, filepath.Join(dir, "active", base)); got != sha {
					t.Errorf("active %s: sha256 %s, want %s", base, got, sha)
				}
			}

			// The read-write user: put, get back, mkdir, mv, rm, with the password from the environment.
			env := []string{"ASYNCFTP_PASSWORD=" + pass}
			base := "ftp://" + user + "@" + addr
			name := fmt.Sprintf("cli-%s-%d", s.name, os.Getpid())
			src := filepath.Join(dir, "up.bin")
			data := []byte(strings.Repeat("asyncftp cli round trip\n", 5000))
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			steps := [][]string{
				{"mkdir", base + "/" + name},
				{"put", src, base + "/" + name + "/"},
				{"get", base + "/" + name + "/up.bin", "-o", filepath.Join(dir, "back.bin")},
				{"mv", base + "/" + name + "/up.bin", "moved.bin"},
				{"ls", base + "/" + name + "/"},
				{"rm", base + "/" + name + "/moved.bin"},
				{"rm", "-d", base + "/" + name},
			}
			for _, args := range steps {
				r := run(t, dir, env, with(args...)...)
				if r.code != 0 {
					t.Fatalf("%q\n%s", args, r)
				}
				if args[0] == "ls" && !strings.Contains(r.stdout, "moved.bin") {
					t.Errorf("ls after mv lacks moved.bin\n%s", r)
				}
				if strings.Contains(r.stdout+r.stderr, pass) {
					t.Errorf("%q printed the password", args)
				}
			}
			if fileSHA(t, filepath.Join(dir, "back.bin")) != fileSHA(t, src) {
				t.Error("round trip changed the file")
			}
		})
	}
}

type treeEntry struct{ path, typ, sha string }

// readTree reads servers.sh's manifest: path, type, size, sha256 per line.
func readTree(t *testing.T, path string) []treeEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tree []treeEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 4 {
			t.Fatalf("manifest line %q", sc.Text())
		}
		tree = append(tree, treeEntry{path: cols[0], typ: cols[1], sha: cols[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tree
}
