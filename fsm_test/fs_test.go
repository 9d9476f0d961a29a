package fsm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/asyncftp/asyncftp/ftpfs"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

// TestFSRealServers runs fstest.TestFS through package ftpfs against vsftpd
// (LIST only), pure-ftpd and proftpd (MLST and MLSD), on the tree servers.sh
// serves to anonymous users: spaces, a leading space, UTF-8, an empty file
// and folder, nested folders and a symlink. Then every file and the link
// must read as the manifest says (ReadLink gives the link's target), and a
// walk must find exactly the manifest's paths. Without a server's address the subtest is skipped (failed with
// ASYNCFTP_REQUIRE_SERVERS=1).
func TestFSRealServers(t *testing.T) {
	for _, tg := range conformanceTargets() {
		if tg.envVar == "" || tg.tls {
			continue // goftp: package ftpfs's own tests
		}
		t.Run(tg.name, func(t *testing.T) {
			leakCheck(t)
			tg.setup(t, tg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			p, err := pool.New(nil, tg.addr, session.Config{}, pool.Options{Size: 3}) // anonymous: the read-only tree
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := p.Close(ctx); err != nil {
					t.Errorf("closing the pool: %v", err)
				}
			}()
			fsys, err := ftpfs.New(ctx, p, "/")
			if err != nil {
				t.Fatal(err)
			}
			fsys = fsys.WithContext(ctx)

			var want []string
			for _, e := range tg.tree {
				want = append(want, e.Path)
			}
			if err := fstest.TestFS(fsys, want...); err != nil {
				t.Fatal(err)
			}

			// Content and sizes as the manifest says; links read through.
			for _, e := range tg.tree {
				fi, err := fs.Stat(fsys, e.Path)
				if err != nil {
					t.Errorf("Stat(%q): %v", e.Path, err)
					continue
				}
				// Stat follows a link: one to a folder is a folder.
				if (e.Type == listing.Dir || e.ToDir) != fi.IsDir() {
					t.Errorf("Stat(%q): IsDir %v, want type %v (to a folder: %v)", e.Path, fi.IsDir(), e.Type, e.ToDir)
				}
				if e.Type == listing.Dir {
					continue
				}
				if e.Type == listing.Link {
					if target, err := fsys.ReadLink(e.Path); target != e.Target || err != nil {
						t.Errorf("ReadLink(%q) = %q, %v; want %q", e.Path, target, err, e.Target)
					}
					if li, err := fsys.Lstat(e.Path); err != nil || li.Mode()&fs.ModeSymlink == 0 {
						t.Errorf("Lstat(%q) = %v, %v; want the link", e.Path, li, err)
					}
				}
				if e.ToDir {
					// Through the link, the folder's own entries.
					got, err := fs.ReadDir(fsys, e.Path)
					want := tg.children(e.Target)
					if err != nil || len(got) != len(want) {
						t.Errorf("ReadDir(%q) through the link: %d entries, %v; want %d (those of %q)", e.Path, len(got), err, len(want), e.Target)
					}
					for i := range min(len(got), len(want)) {
						if got[i].Name() != path.Base(want[i].Path) {
							t.Errorf("ReadDir(%q)[%d] = %q, want %q", e.Path, i, got[i].Name(), path.Base(want[i].Path))
						}
					}
					continue
				}
				b, err := fs.ReadFile(fsys, e.Path)
				sum := sha256.Sum256(b)
				if err != nil || int64(len(b)) != e.Size || hex.EncodeToString(sum[:]) != e.SHA256 || fi.Size() != e.Size {
					t.Errorf("%q: read %d bytes (Stat says %d), err %v; want %d bytes of sha256 %s", e.Path, len(b), fi.Size(), err, e.Size, e.SHA256)
				}
			}

			// The walk finds exactly the manifest's paths, links as links.
			var walked []string
			err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if name == "." {
					return nil
				}
				walked = append(walked, name)
				e := tg.file(t, name)
				if got := d.Type()&fs.ModeSymlink != 0; got != (e.Type == listing.Link) {
					t.Errorf("%q: symlink %v in the walk, manifest type %v", name, got, e.Type)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(walked)
			slices.Sort(want)
			if !slices.Equal(walked, want) {
				t.Errorf("walk found\n  %q\nwant\n  %q", walked, want)
			}
			if st := p.Stats(); st.Replaced != 0 {
				t.Errorf("%d sessions replaced: stopped reads must leave sessions logged in", st.Replaced)
			}
		})
	}
}
