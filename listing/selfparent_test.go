package listing

import (
	"slices"
	"strings"
	"testing"
)

// TestWithoutSelfAndParent: the "." and ".." lines of ls -la listings and the
// cdir/pdir facts of MLSD are dropped, everything else (names that merely
// start or end with dots, a dir named like a path) is kept, and the parsers
// themselves keep every entry.
func TestWithoutSelfAndParent(t *testing.T) {
	cases := []struct {
		name  string
		mlsd  bool
		lines []string
		all   []string // names Parse/ParseMLSD give
		kept  []string // names left by WithoutSelfAndParent
	}{
		{
			name: "unix ls -la",
			lines: []string{
				"total 12",
				"drwxr-xr-x   3 ftp ftp 4096 Jan  2  2024 .",
				"drwxr-xr-x  10 ftp ftp 4096 Jan  2  2024 ..",
				"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 .hidden",
				"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 ...",
				"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 ..x",
				"drwxr-xr-x   2 ftp ftp 4096 Jan  2  2024 sub dir",
			},
			all:  []string{".", "..", ".hidden", "...", "..x", "sub dir"},
			kept: []string{".hidden", "...", "..x", "sub dir"},
		},
		{
			name: "unix dots at the end",
			lines: []string{
				"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 a.txt",
				"drwxr-xr-x   3 ftp ftp 4096 Jan  2  2024 .",
				"drwxr-xr-x  10 ftp ftp 4096 Jan  2  2024 ..",
			},
			all:  []string{"a.txt", ".", ".."},
			kept: []string{"a.txt"},
		},
		{
			name: "unix only dots",
			lines: []string{
				"drwxr-xr-x   3 ftp ftp 4096 Jan  2  2024 .",
				"drwxr-xr-x  10 ftp ftp 4096 Jan  2  2024 ..",
			},
			all:  []string{".", ".."},
			kept: nil,
		},
		{
			name: "unix no dots",
			lines: []string{
				"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 a.txt",
				"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 b.txt",
			},
			all:  []string{"a.txt", "b.txt"},
			kept: []string{"a.txt", "b.txt"},
		},
		{
			name: "mlsd cdir and pdir with paths",
			mlsd: true,
			lines: []string{
				"type=cdir;modify=20240102030405;perm=el; /pub/d",
				"type=pdir;modify=20240102030405;perm=el; /pub",
				"type=file;size=3;modify=20240102030405; a b.txt",
				"Type=Cdir;Modify=20240102030405; d",
				"TYPE=PDIR; ..",
				"type=dir;modify=20240102030405; /pub",
				"type=OS.unix=slink:a b.txt; link",
			},
			all:  []string{"/pub/d", "/pub", "a b.txt", "d", "..", "/pub", "link"},
			kept: []string{"a b.txt", "/pub", "link"},
		},
		{
			name: "mlsd dot names without type",
			mlsd: true,
			lines: []string{
				"modify=20240102030405; .",
				"modify=20240102030405; ..",
				"type=file;size=1; . ",
			},
			all:  []string{".", "..", ". "},
			kept: []string{". "},
		},
	}
	names := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := []byte(strings.Join(c.lines, "\r\n") + "\r\n")
			var r Result
			if c.mlsd {
				r = ParseMLSD(body)
			} else {
				r = Parse(body, refNow)
			}
			if len(r.Bad) != 0 {
				t.Fatalf("bad lines: %v", r.Bad)
			}
			if got := names(r.Entries); !slices.Equal(got, c.all) {
				t.Errorf("parsed names %q, want %q", got, c.all)
			}
			before := slices.Clone(r.Entries)
			k := r.WithoutSelfAndParent()
			if got := names(k.Entries); !slices.Equal(got, c.kept) {
				t.Errorf("kept names %q, want %q", got, c.kept)
			}
			if len(r.Entries) != len(before) || !slices.EqualFunc(r.Entries, before, func(a, b Entry) bool { return a.Raw == b.Raw }) {
				t.Errorf("WithoutSelfAndParent changed its receiver")
			}
		})
	}
}

// TestWithoutSelfAndParentKeepsBad: unparsed lines stay reported.
func TestWithoutSelfAndParentKeepsBad(t *testing.T) {
	r := Parse([]byte("drwxr-xr-x 3 ftp ftp 4096 Jan  2  2024 .\r\nnot a listing line\r\n"), refNow)
	k := r.WithoutSelfAndParent()
	if len(k.Entries) != 0 || len(k.Bad) != 1 || k.Bad[0].Line != 2 {
		t.Errorf("got %+v", k)
	}
}
