package fsm_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/transcript"
)

// Transfer semantics (issue #3) end to end: the blocking client on the gnet
// engine against the embedded goftp server (byte-exact RETR/STOR, resume,
// listings) and against the scripted ftptest server (replies and data in
// every order, broken passive replies, EPSV refused).

// edgeFiles are the generated files around the 64 KiB read-buffer size.
var edgeFiles = []string{"empty.txt", "one-byte.bin", "65535-bytes.bin", "65536-bytes.bin", "65537-bytes.bin"}

// TestTransferRetrExact downloads 0 B, 1 B and 64 KiB−1/+0/+1 files in both data
// modes and checks length and SHA-256 against the generated tree. Off the loop
// the sink is a file on disk; on the loop, a hash.
func TestTransferRetrExact(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 60*time.Second)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dialEmbed(t, ctx, srv, m.onLoop, nil)
			for _, name := range edgeFiles {
				f := embedFile(t, srv, name)
				if m.onLoop {
					h := newHashSink()
					n, err := c.Retr(ctx, "/"+name, h)
					if err != nil || n != f.Size || h.n != f.Size || h.Sum() != f.SHA256 {
						t.Errorf("RETR %s: n=%d sink=%d err=%v, sha ok=%v", name, n, h.n, err, h.Sum() == f.SHA256)
					}
					continue
				}
				out := filepath.Join(t.TempDir(), "out")
				fh, err := os.Create(out)
				if err != nil {
					t.Fatal(err)
				}
				n, err := c.Retr(ctx, "/"+name, fh)
				fh.Close()
				sum, size := sumFile(t, out)
				if err != nil || n != f.Size || size != f.Size || sum != f.SHA256 {
					t.Errorf("RETR %s: n=%d file=%d err=%v, sha ok=%v", name, n, size, err, sum == f.SHA256)
				}
			}
		})
	}
}

// TestTransferStorExact uploads the same sizes in both modes, then checks the
// file on the server's disk and downloads it again.
func TestTransferStorExact(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 60*time.Second)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dialEmbed(t, ctx, srv, m.onLoop, nil)
			for _, size := range []int64{0, 1, 65535, 65536, 65537} {
				name := "up-" + m.name + "-" + strconv.FormatInt(size, 10) + ".bin"
				want := pattern(t, name, size)
				var src io.Reader = bytes.NewReader(want)
				if !m.onLoop {
					src = embedserver.PatternReader(name, size) // no WriterTo: io.Copy in chunks
				}
				n, err := c.Stor(ctx, "/"+name, src)
				if err != nil || n != size {
					t.Errorf("STOR %d bytes: n=%d err=%v", size, n, err)
					continue
				}
				if sum, got := sumFile(t, filepath.Join(srv.Root, name)); sum != sumOf(want) || got != size {
					t.Errorf("STOR %d bytes: server has %d bytes, sha ok=%v", size, got, sum == sumOf(want))
				}
				h := newHashSink()
				if n, err := c.Retr(ctx, "/"+name, h); err != nil || n != size || h.Sum() != sumOf(want) {
					t.Errorf("RETR back %d bytes: n=%d err=%v", size, n, err)
				}
			}
		})
	}
}

// TestTransferRetrResume resumes downloads with REST: the bytes before the
// offset (read from the server's disk) followed by RetrFrom's bytes hash to
// the whole file. A second case resumes a download whose sink broke.
func TestTransferRetrResume(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 60*time.Second)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mem := &transcript.Memory{}
			c := dialEmbed(t, ctx, srv, m.onLoop, mem)
			for _, name := range []string{"65537-bytes.bin", "1MiB.bin"} {
				f := embedFile(t, srv, name)
				whole, err := os.ReadFile(filepath.Join(srv.Root, name))
				if err != nil {
					t.Fatal(err)
				}
				off := f.Size/2 + 1
				var tail bytes.Buffer
				n, err := c.RetrFrom(ctx, "/"+name, &tail, off)
				if err != nil || n != f.Size-off {
					t.Fatalf("RetrFrom %s @%d: n=%d err=%v", name, off, n, err)
				}
				if got := sumOf(append(whole[:off:off], tail.Bytes()...)); got != f.SHA256 {
					t.Errorf("RetrFrom %s @%d: head+tail does not hash to the file", name, off)
				}
				if entryIndex(mem, transcript.Client, "REST "+strconv.FormatInt(off, 10)) < 0 {
					t.Errorf("no REST %d in the transcript:\n%v", off, mem.Lines())
				}
			}

			// A sink that breaks after 40000 bytes: the transfer fails with a
			// typed error, the session goes on, and the download resumes from
			// the count the error reports.
			f := embedFile(t, srv, "1MiB.bin")
			var head bytes.Buffer
			_, err := c.Retr(ctx, "/1MiB.bin", &failingWriter{w: &head, limit: 40000})
			var te *ftp.TransferError
			if !errors.As(err, &te) || !errors.Is(err, ftp.ErrIncomplete) || !errors.Is(err, errSinkFull) {
				t.Fatalf("Retr into a breaking sink: err=%v, want a TransferError wrapping the sink's error", err)
			}
			if te.Got != int64(head.Len()) || te.Got != 40000 {
				t.Errorf("TransferError.Got=%d, sink kept %d bytes", te.Got, head.Len())
			}
			var rest bytes.Buffer
			if _, err := c.RetrFrom(ctx, "/1MiB.bin", &rest, te.Got); err != nil {
				t.Fatalf("resume @%d: %v", te.Got, err)
			}
			if got := sumOf(append(head.Bytes(), rest.Bytes()...)); got != f.SHA256 {
				t.Errorf("broken download + resume does not hash to the file (%d+%d bytes)", head.Len(), rest.Len())
			}
		})
	}
}

// TestTransferStorResume uploads a file in two parts: STOR of the head, then
// StorFrom (REST n + STOR) of the tail. goftp appends at REST n when the file
// has n bytes.
func TestTransferStorResume(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 60*time.Second)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mem := &transcript.Memory{}
			c := dialEmbed(t, ctx, srv, m.onLoop, mem)
			name := "resume-" + m.name + ".bin"
			whole := pattern(t, name, 300001)
			off := int64(123457)
			if n, err := c.Stor(ctx, "/"+name, bytes.NewReader(whole[:off])); err != nil || n != off {
				t.Fatalf("STOR head: n=%d err=%v", n, err)
			}
			n, err := c.StorFrom(ctx, "/"+name, bytes.NewReader(whole[off:]), off)
			if err != nil || n != int64(len(whole))-off {
				t.Fatalf("StorFrom @%d: n=%d err=%v\n%v", off, n, err, mem.Lines())
			}
			if sum, size := sumFile(t, filepath.Join(srv.Root, name)); sum != sumOf(whole) {
				t.Errorf("server file after resume: %d bytes, want %d, sha ok=%v", size, len(whole), sum == sumOf(whole))
			}
			if entryIndex(mem, transcript.Client, "REST "+strconv.FormatInt(off, 10)) < 0 {
				t.Errorf("no REST in the transcript")
			}
		})
	}
}

// TestTransferAppendCreates appends to a file that does not exist yet: APPE
// creates it. (goftp v2.0.3 replaces an existing file on APPE without REST;
// TestTransferAppendScripted checks what the client sends.)
func TestTransferAppendCreates(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 30*time.Second)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mem := &transcript.Memory{}
			c := dialEmbed(t, ctx, srv, m.onLoop, mem)
			name := "appended-" + m.name + ".log"
			n, err := c.Append(ctx, "/"+name, bytes.NewReader([]byte("first line\n")))
			if err != nil || n != 11 {
				t.Fatalf("Append: n=%d err=%v", n, err)
			}
			if b, err := os.ReadFile(filepath.Join(srv.Root, name)); err != nil || string(b) != "first line\n" {
				t.Errorf("server file %q err=%v", b, err)
			}
			if entryIndex(mem, transcript.Client, "APPE /"+name) < 0 {
				t.Errorf("no APPE in the transcript")
			}
		})
	}
}

// TestTransferRetrMissing: a failure reply before any data is the server's
// *ftp.Error itself (not an incomplete transfer), and the session goes on.
func TestTransferRetrMissing(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 30*time.Second)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dialEmbed(t, ctx, srv, m.onLoop, nil)
			n, err := c.Retr(ctx, "/no-such-file", io.Discard)
			var fe *ftp.Error
			if !errors.As(err, &fe) || fe.Code != 551 || errors.Is(err, ftp.ErrIncomplete) || n != 0 {
				t.Fatalf("Retr of a missing file: n=%d err=%v, want the 551 reply as *ftp.Error", n, err)
			}
			h := newHashSink()
			f := embedFile(t, srv, "pub/hello.txt")
			if _, err := c.Retr(ctx, "/pub/hello.txt", h); err != nil || h.Sum() != f.SHA256 {
				t.Errorf("next Retr after the failure: %v", err)
			}
		})
	}
}

// TestTransferListEmbedded lists through the client: goftp's FEAT has MLST, so
// List uses MLSD; NameList uses NLST.
func TestTransferListEmbedded(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 30*time.Second)
	mem := &transcript.Memory{}
	c := dialEmbed(t, ctx, srv, false, mem)
	res, err := c.List(ctx, "/pub")
	if err != nil || len(res.Bad) != 0 || len(res.Entries) != 2 {
		t.Fatalf("List /pub: %+v err=%v", res, err)
	}
	if e := res.Entries[0]; e.Name != "hello.txt" || e.Type.String() != "file" || e.Size != 45 || !e.Time.Equal(embedserver.SampleModTime()) {
		t.Errorf("entry 0: %+v", e)
	}
	if e := res.Entries[1]; e.Name != "nested" || e.Type.String() != "dir" {
		t.Errorf("entry 1: %+v", e)
	}
	if entryIndex(mem, transcript.Client, "MLSD /pub") < 0 {
		t.Errorf("List did not use MLSD:\n%v", mem.Lines())
	}
	names, err := c.NameList(ctx, "/pub")
	if err != nil || len(names) != 2 || names[0] != "hello.txt" || names[1] != "nested" {
		t.Errorf("NameList /pub: %q err=%v", names, err)
	}
	root, err := c.List(ctx, "")
	if err != nil || len(root.Bad) != 0 {
		t.Fatalf("List root: %v, bad lines %v", err, root.Bad)
	}
	var top int
	for _, f := range srv.Files() {
		if !bytes.Contains([]byte(f.Path), []byte("/")) {
			top++
		}
	}
	if len(root.Entries) != top {
		t.Errorf("List root: %d entries, the tree has %d at the top", len(root.Entries), top)
	}
}
