package fsm_test

import (
	"slices"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/listing"
)

// TestListLeavesOutSelfAndParent: against a server whose LIST sends "." and
// ".." lines and whose MLSD sends cdir and pdir facts, client.List gives only
// the folder's entries, and ListAll gives every line the server sent.
func TestListLeavesOutSelfAndParent(t *testing.T) {
	leakCheck(t)
	list := "total 4\r\n" +
		"drwxr-xr-x   3 ftp ftp 4096 Jan  2  2024 .\r\n" +
		"drwxr-xr-x  10 ftp ftp 4096 Jan  2  2024 ..\r\n" +
		"-rw-r--r--   1 ftp ftp    5 Jan  2  2024 .hidden\r\n" +
		"drwxr-xr-x   2 ftp ftp 4096 Jan  2  2024 sub dir\r\n"
	mlsd := "type=cdir;modify=20240102030405;perm=el; /d\r\n" +
		"type=pdir;modify=20240102030405;perm=el; /\r\n" +
		"type=file;size=3;modify=20240102030405; ...\r\n" +
		"type=dir;modify=20240102030405; sub\r\n"
	data := func(verb, body string) ftptest.Script {
		return steps(ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect(verb), ftptest.Reply("150 listing"),
			ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
			ftptest.Reply("226 done"))
	}
	names := func(r listing.Result) []string {
		var out []string
		for _, e := range r.Entries {
			out = append(out, e.Name)
		}
		return out
	}
	cases := []struct {
		name, feat, verb, body string
		all, kept              []string
	}{
		{"LIST", " SIZE", "LIST /d", list, []string{".", "..", ".hidden", "sub dir"}, []string{".hidden", "sub dir"}},
		{"MLSD", " MLST type*;size*;modify*;", "MLSD /d", mlsd, []string{"/d", "/", "...", "sub"}, []string{"...", "sub"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			srv, cl := dialScripted(t, ctx, script(scriptLogin(),
				steps(ftptest.Expect("FEAT"), ftptest.Reply("211-Features:", c.feat, "211 End")),
				data(c.verb, c.body), data(c.verb, c.body),
				scriptQuit()), nil, nil)
			res, err := cl.List(ctx, "/d")
			if err != nil || len(res.Bad) != 0 {
				t.Fatalf("List: %+v err=%v", res, err)
			}
			if got := names(res); !slices.Equal(got, c.kept) {
				t.Errorf("List names %q, want %q", got, c.kept)
			}
			all, err := cl.ListAll(ctx, "/d")
			if err != nil || len(all.Bad) != 0 {
				t.Fatalf("ListAll: %+v err=%v", all, err)
			}
			if got := names(all); !slices.Equal(got, c.all) {
				t.Errorf("ListAll names %q, want %q", got, c.all)
			}
			quitAndCheck(t, ctx, srv, cl, "FEAT", "EPSV", c.verb, "EPSV", c.verb)
		})
	}
}
