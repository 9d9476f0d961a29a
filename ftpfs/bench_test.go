package ftpfs_test

import (
	"context"
	"io"
	"testing"

	"github.com/asyncftp/asyncftp/ftpfs"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

// BenchmarkRead streams a 64 MiB file through Open and Read into
// io.Discard. B/op shows what a read allocates: a bounded amount, far below
// the file's size, since bytes pass through a pipe and are never buffered
// whole.
func BenchmarkRead(b *testing.B) {
	root := b.TempDir()
	const size = 64 << 20
	if _, err := embedserver.WriteBigFile(root, "big.bin", size); err != nil {
		b.Fatal(err)
	}
	srv, err := embedserver.Start(embedserver.Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	p, err := pool.New(nil, srv.Addr, session.Config{}, pool.Options{Size: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	fsys, err := ftpfs.New(ctx, p, "/")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		f, err := fsys.Open("big.bin")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		f.Close()
	}
}
