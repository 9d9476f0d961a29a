package pool_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

// Download every file of a folder with four sessions at once.
func Example() {
	srv, err := embedserver.Start(embedserver.Options{}) // a server to talk to
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	eng, err := engine.New(engine.Options{})
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	ctx := context.Background()
	p, err := pool.New(eng, srv.Addr, session.Config{}, pool.Options{Size: 4})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	list, err := p.List(ctx, "/")
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	for _, e := range list.Entries {
		if e.Size != 1000 && e.Size != 65536 {
			continue // keep the output short
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := sha256.New()
			n, err := p.Retr(ctx, "/"+e.Name, h)
			mu.Lock()
			lines = append(lines, fmt.Sprintf("%s: %d bytes, err %v", e.Name, n, err))
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// 1000-bytes.bin: 1000 bytes, err <nil>
	// 65536-bytes.bin: 65536 bytes, err <nil>
}
