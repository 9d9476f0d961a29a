package fsm_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

// poolTree writes n small files of varied sizes (0 to about 4 KiB) under
// dir/tree and returns their SHA-256 sums by FTP path.
func poolTree(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	root := filepath.Join(dir, "tree")
	sums := map[string]string{}
	for i := 0; i < n; i++ {
		sub := fmt.Sprintf("d%02d", i%10)
		if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("f%04d.bin", i)
		body := pattern(t, name, int64(i*37%4097))
		if err := os.WriteFile(filepath.Join(root, sub, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
		sums["/tree/"+sub+"/"+name] = sumOf(body)
	}
	return sums
}

// TestPoolThousandFiles downloads 1,000 small files through pools of 1, 4 and
// 16 sessions on one engine, each file byte-exact; the directories are listed
// through the pool too.
func TestPoolThousandFiles(t *testing.T) {
	leakCheck(t)
	dir := t.TempDir()
	sums := poolTree(t, dir, 1000)
	srv, err := embedserver.Start(embedserver.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	eng, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, n := range []int{1, 4, 16} {
		t.Run(fmt.Sprintf("j%d", n), func(t *testing.T) {
			ctx := testCtx(t, 120*time.Second)
			start := time.Now()
			p, err := pool.New(eng, srv.Addr, session.Config{}, pool.Options{Size: n})
			if err != nil {
				t.Fatal(err)
			}
			// List the ten folders through the pool, then fetch every file
			// with n workers.
			var paths []string
			var sizes []int64
			for d := 0; d < 10; d++ {
				res, err := p.List(ctx, fmt.Sprintf("/tree/d%02d", d))
				if err != nil || len(res.Bad) != 0 {
					t.Fatalf("List: %v, %d bad lines", err, len(res.Bad))
				}
				for _, e := range res.Entries {
					paths = append(paths, fmt.Sprintf("/tree/d%02d/%s", d, e.Name))
					sizes = append(sizes, e.Size)
				}
			}
			if len(paths) != len(sums) {
				t.Fatalf("listed %d files, want %d", len(paths), len(sums))
			}
			jobs := make(chan int)
			var wg sync.WaitGroup
			var mu sync.Mutex
			bad := 0
			for w := 0; w < n; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						sink := newHashSink()
						got, err := p.RetrFromSize(ctx, paths[i], sink, 0, sizes[i])
						if err != nil || got != sizes[i] || sink.Sum() != sums[paths[i]] {
							mu.Lock()
							bad++
							if bad < 5 {
								t.Errorf("%s: %d bytes of %d, %v", paths[i], got, sizes[i], err)
							}
							mu.Unlock()
						}
					}
				}()
			}
			for i := range paths {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			st := p.Stats()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if bad > 0 {
				t.Fatalf("%d of %d files wrong", bad, len(paths))
			}
			if st.Sessions > n || st.Replaced != 0 || st.Retries != 0 {
				t.Fatalf("stats %+v with %d sessions allowed", st, n)
			}
			t.Logf("-j %d: %d files in %v (%+v)", n, len(paths), time.Since(start).Round(time.Millisecond), st)
		})
	}
}
