package fsm_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/internal/ftptest"
	"github.com/asyncftp/asyncftp/session"
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

// ---- scripted server: replies and data in every order ----

// retrScript is a download of payload as the client's default EPSV sees it,
// with body steps between the 150 and the end.
func retrScript(path string, body ...ftptest.Step) ftptest.Script {
	s := steps(ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR "+path), ftptest.Reply("150 opening data connection"),
		ftptest.DataAccept())
	return append(s, body...)
}

// TestTransfer226BeforeData: the server sends 226 and only then the data. The
// transfer completes with every byte, after the data connection's end.
func TestTransfer226BeforeData(t *testing.T) {
	leakCheck(t)
	payload := pattern(t, "226-first", 200<<10)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			mem := &transcript.Memory{}
			srv, c := dialScripted(t, ctx, script(scriptLogin(),
				retrScript("early.bin",
					ftptest.Reply("226 transfer complete"),
					ftptest.Delay(100*time.Millisecond),
					ftptest.DataSend(payload), ftptest.DataClose()),
				scriptQuit()), mem, func(o *client.Options) { o.OnLoop = m.onLoop })
			h := newHashSink()
			n, err := c.Retr(ctx, "early.bin", h)
			if err != nil || n != int64(len(payload)) || h.Sum() != sumOf(payload) {
				t.Fatalf("Retr: n=%d sink=%d err=%v", n, h.n, err)
			}
			if !hasNote(mem, "final reply before data end") {
				t.Errorf("the 226 did not arrive first:\n%v", mem.Lines())
			}
			quitAndCheck(t, ctx, srv, c, "EPSV", "RETR early.bin")
		})
	}
}

// TestTransfer226AfterDataEOF: the data connection ends first, the 226 comes
// later; the transfer completes when it does.
func TestTransfer226AfterDataEOF(t *testing.T) {
	leakCheck(t)
	payload := pattern(t, "226-last", 200<<10)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			mem := &transcript.Memory{}
			srv, c := dialScripted(t, ctx, script(scriptLogin(),
				retrScript("late.bin",
					ftptest.DataSend(payload), ftptest.DataClose(),
					ftptest.Delay(100*time.Millisecond),
					ftptest.Reply("226 transfer complete")),
				scriptQuit()), mem, func(o *client.Options) { o.OnLoop = m.onLoop })
			h := newHashSink()
			n, err := c.Retr(ctx, "late.bin", h)
			if err != nil || n != int64(len(payload)) || h.Sum() != sumOf(payload) {
				t.Fatalf("Retr: n=%d sink=%d err=%v", n, h.n, err)
			}
			closed := entryIndex(mem, transcript.Note, "data connection closed after "+strconv.Itoa(len(payload))+" bytes")
			final := entryIndex(mem, transcript.Server, "226 transfer complete")
			if closed < 0 || final < 0 || closed > final {
				t.Errorf("want the data end noted before the 226:\n%v", mem.Lines())
			}
			quitAndCheck(t, ctx, srv, c, "EPSV", "RETR late.bin")
		})
	}
}

// TestTransferFailures: transfers that end without all their bytes fail with
// an error that wraps ftp.ErrIncomplete, never succeed, and leave the session
// usable (a NOOP follows each).
func TestTransferFailures(t *testing.T) {
	leakCheck(t)
	part := pattern(t, "partial", 3000)
	cases := []struct {
		name     string
		size     string // SIZE answer; "" skips SIZE
		body     []ftptest.Step
		code     int   // failure reply the error must carry, 0 = none
		got      int64 // exact byte count, -1 = at most len(part)
		want     int64 // TransferError.Want
		preamble ftptest.Script
	}{
		{
			name: "DataClosedEarlyThen426",
			body: steps(ftptest.DataSend(part), ftptest.DataClose(),
				ftptest.Delay(100*time.Millisecond),
				ftptest.Reply("426 Connection closed; transfer aborted")),
			code: 426, got: 3000, want: -1,
		},
		{
			name: "426AfterPartialData",
			body: steps(ftptest.DataSend(part),
				ftptest.Reply("426 Connection closed; transfer aborted"),
				ftptest.Delay(50*time.Millisecond), ftptest.DataClose()),
			code: 426, got: -1, want: -1,
		},
		{
			name: "451AfterDataEOF",
			body: steps(ftptest.DataSend(part), ftptest.DataClose(),
				ftptest.Reply("451 Local error in processing")),
			// The reply may overtake the bytes: what was not read when
			// it came is dropped, and the count says so.
			code: 451, got: -1, want: -1,
		},
		{
			name: "226ShortOfSize",
			size: "5000",
			body: steps(ftptest.DataSend(part), ftptest.DataClose(),
				ftptest.Reply("226 transfer complete")),
			got: 3000, want: 5000,
		},
		{
			name: "226BeyondSize",
			size: "2000",
			body: steps(ftptest.DataSend(part), ftptest.DataClose(),
				ftptest.Reply("226 transfer complete")),
			got: 3000, want: 2000,
		},
	}
	for _, tc := range cases {
		for _, m := range modes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				ctx := testCtx(t, 30*time.Second)
				var pre ftptest.Script
				cmds := []string{}
				if tc.size != "" {
					pre = steps(ftptest.Expect("SIZE f.bin"), ftptest.Reply("213 "+tc.size))
					cmds = append(cmds, "SIZE f.bin")
				}
				srv, c := dialScripted(t, ctx, script(scriptLogin(), pre,
					retrScript("f.bin", tc.body...),
					steps(ftptest.Expect("NOOP"), ftptest.Reply("200 still here")),
					scriptQuit()), nil, func(o *client.Options) {
					o.OnLoop = m.onLoop
					o.SkipSize = tc.size == ""
				})
				var sink bytes.Buffer
				n, err := c.Retr(ctx, "f.bin", &sink)
				var te *ftp.TransferError
				if !errors.As(err, &te) || !errors.Is(err, ftp.ErrIncomplete) {
					t.Fatalf("Retr: n=%d err=%v, want a *ftp.TransferError", n, err)
				}
				var fe *ftp.Error
				switch {
				case tc.code != 0 && (!errors.As(err, &fe) || fe.Code != tc.code):
					t.Errorf("err=%v, want it to carry the %d reply", err, tc.code)
				case tc.code == 0 && errors.As(err, &fe):
					t.Errorf("err=%v carries a reply; want a size mismatch", err)
				}
				if tc.got >= 0 && te.Got != tc.got || te.Got > int64(len(part)) || te.Want != tc.want {
					t.Errorf("Got=%d Want=%d, want Got=%d Want=%d", te.Got, te.Want, tc.got, tc.want)
				}
				if n != te.Got || int64(sink.Len()) != te.Got || !bytes.Equal(sink.Bytes(), part[:sink.Len()]) {
					t.Errorf("n=%d, sink holds %d bytes (prefix ok=%v), error says %d", n, sink.Len(), bytes.HasPrefix(part, sink.Bytes()), te.Got)
				}
				if err := c.Noop(ctx); err != nil {
					t.Errorf("NOOP after the failed transfer: %v", err)
				}
				quitAndCheck(t, ctx, srv, c, append(cmds, "EPSV", "RETR f.bin", "NOOP")...)
			})
		}
	}
}

// ---- passive replies ----

// TestTransfer227OtherAddress: a 227 naming another host. By default the
// client connects to the control connection's host and the transcript notes
// the difference; with TrustPASVHost it dials the advertised host (here
// 127.0.0.2, where nothing listens, so the transfer fails with a typed error
// and the session goes on).
func TestTransfer227OtherAddress(t *testing.T) {
	leakCheck(t)
	payload := pattern(t, "nat", 70000)
	t.Run("ControlHost", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		mem := &transcript.Memory{}
		srv, c := dialScripted(t, ctx, script(scriptLogin(),
			steps(ftptest.Expect("PASV"), ftptest.PassivePASVAt("192.0.2.7"),
				ftptest.Expect("RETR nat.bin"), ftptest.Reply("150 here"),
				ftptest.DataAccept(), ftptest.DataSend(payload), ftptest.DataClose(),
				ftptest.Reply("226 done")),
			scriptQuit()), mem, func(o *client.Options) { o.Config.DisableEPSV = true })
		h := newHashSink()
		if n, err := c.Retr(ctx, "nat.bin", h); err != nil || n != int64(len(payload)) || h.Sum() != sumOf(payload) {
			t.Fatalf("Retr: n=%d err=%v", n, err)
		}
		if !hasNote(mem, "PASV address 192.0.2.7 differs from the control host; using 127.0.0.1") ||
			!hasNote(mem, "data connection to 127.0.0.1:") {
			t.Errorf("transcript does not note the other address:\n%v", mem.Lines())
		}
		quitAndCheck(t, ctx, srv, c, "PASV", "RETR nat.bin")
	})
	t.Run("Trusted", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		mem := &transcript.Memory{}
		srv, c := dialScripted(t, ctx, script(scriptLogin(),
			steps(ftptest.Expect("PASV"), ftptest.PassivePASVAt("127.0.0.2"),
				ftptest.Expect("NOOP"), ftptest.Reply("200 ok")),
			scriptQuit()), mem, func(o *client.Options) {
			o.Config.DisableEPSV = true
			o.Config.TrustPASVHost = true
		})
		_, err := c.Retr(ctx, "nat.bin", io.Discard)
		var te *ftp.TransferError
		if !errors.As(err, &te) || !errors.Is(err, ftp.ErrClosed) || te.Got != 0 {
			t.Fatalf("Retr via 127.0.0.2: err=%v, want a TransferError wrapping the refused dial", err)
		}
		if !hasNote(mem, "trusting it as configured") || !hasNote(mem, "data connection to 127.0.0.2:") {
			t.Errorf("transcript:\n%v", mem.Lines())
		}
		if err := c.Noop(ctx); err != nil {
			t.Errorf("NOOP: %v", err)
		}
		quitAndCheck(t, ctx, srv, c, "PASV", "NOOP")
	})
}

// TestTransferPASVNegativeNumbers: port bytes written as negative numbers
// ("-100" for 156) are read by their low eight bits, as Lundh's article
// advises, and the transfer works.
func TestTransferPASVNegativeNumbers(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t, 30*time.Second)
	mem := &transcript.Memory{}
	negative := ftptest.Func(func(c *ftptest.Conn) error {
		port, err := c.ListenData()
		if err != nil {
			return err
		}
		return c.WriteLine(fmt.Sprintf("227 Entering Passive Mode (127,0,0,1,%d,%d)", port>>8-256, port&0xff-256))
	})
	srv, c := dialScripted(t, ctx, script(scriptLogin(),
		steps(ftptest.Expect("PASV"), negative,
			ftptest.Expect("RETR neg"), ftptest.Reply("150 here"),
			ftptest.DataAccept(), ftptest.DataSend([]byte("signed\n")), ftptest.DataClose(),
			ftptest.Reply("226 done")),
		scriptQuit()), mem, func(o *client.Options) { o.Config.DisableEPSV = true })
	var buf bytes.Buffer
	if n, err := c.Retr(ctx, "neg", &buf); err != nil || n != 7 || buf.String() != "signed\n" {
		t.Fatalf("Retr: n=%d %q err=%v\n%v", n, buf.String(), err, mem.Lines())
	}
	quitAndCheck(t, ctx, srv, c, "PASV", "RETR neg")
}

// TestTransferMalformedPassive: broken 227 and 229 replies fail the transfer
// with a *ftp.ProtocolError (errors.Is ftp.ErrProtocol) before any data
// command goes out; the session stays usable.
func TestTransferMalformedPassive(t *testing.T) {
	leakCheck(t)
	cases := []struct{ verb, reply string }{
		{"PASV", "227 Entering Passive Mode (127,0,0,1,200)"},
		{"PASV", "227 Entering Passive Mode (127,0,0,1,0,0)"},
		{"PASV", "227 Entering Passive Mode"},
		{"PASV", "227 Entering Passive Mode (127.0.0.1:2000)"},
		{"EPSV", "229 Entering Extended Passive Mode (|||0|)"},
		{"EPSV", "229 Entering Extended Passive Mode (|||70000|)"},
		{"EPSV", "229 Entering Extended Passive Mode (|||-21|)"},
		{"EPSV", "229 Entering Extended Passive Mode (|||2000)"},
		{"EPSV", "229 Entering Extended Passive Mode |||2000|"},
		{"EPSV", "229 Entering Extended Passive Mode (|1|127.0.0.1|2000|)"},
	}
	for _, tc := range cases {
		t.Run(tc.reply, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			srv, c := dialScripted(t, ctx, script(scriptLogin(),
				steps(ftptest.Expect(tc.verb), ftptest.Reply(tc.reply),
					ftptest.Expect("NOOP"), ftptest.Reply("200 ok")),
				scriptQuit()), nil, func(o *client.Options) { o.Config.DisableEPSV = tc.verb == "PASV" })
			n, err := c.Retr(ctx, "x", io.Discard)
			var pe *ftp.ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ftp.ErrProtocol) || n != 0 {
				t.Fatalf("Retr: n=%d err=%v, want a *ftp.ProtocolError", n, err)
			}
			if err := c.Noop(ctx); err != nil {
				t.Errorf("NOOP: %v", err)
			}
			quitAndCheck(t, ctx, srv, c, tc.verb, "NOOP")
		})
	}
}

// TestTransferEPSVRefused: a server that answers EPSV with 500 or 502 gets
// PASV at once, and for every later transfer of the session PASV directly.
func TestTransferEPSVRefused(t *testing.T) {
	leakCheck(t)
	for _, code := range []string{"500", "502"} {
		t.Run(code, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			mem := &transcript.Memory{}
			get := func(path, body string) ftptest.Script {
				return steps(ftptest.Expect("PASV"), ftptest.PassivePASV(),
					ftptest.Expect("RETR "+path), ftptest.Reply("150 here"),
					ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
					ftptest.Reply("226 done"))
			}
			srv, c := dialScripted(t, ctx, script(scriptLogin(),
				steps(ftptest.Expect("EPSV"), ftptest.Reply(code+" EPSV not understood")),
				get("a", "first"), get("b", "second"),
				scriptQuit()), mem, nil)
			for _, f := range []struct{ path, body string }{{"a", "first"}, {"b", "second"}} {
				var buf bytes.Buffer
				if _, err := c.Retr(ctx, f.path, &buf); err != nil || buf.String() != f.body {
					t.Fatalf("Retr %s: %q err=%v", f.path, buf.String(), err)
				}
			}
			if !hasNote(mem, "server refused EPSV; using PASV from now on") {
				t.Errorf("transcript:\n%v", mem.Lines())
			}
			quitAndCheck(t, ctx, srv, c, "EPSV", "PASV", "RETR a", "PASV", "RETR b")
		})
	}
}

// ---- listings, APPE, REST refused ----

// TestTransferListScripted: client.List parses LIST output when FEAT lacks
// MLST (bad lines are kept, not dropped) and uses MLSD when FEAT has it;
// NameList splits NLST lines.
func TestTransferListScripted(t *testing.T) {
	leakCheck(t)
	list := "total 3\r\n" +
		"-rw-r--r--   1 ftp      ftp          1234 Jan  5  2023 notes.txt\r\n" +
		"drwxr-xr-x   2 ftp      ftp          4096 Mar  1  2023  sub dir\r\n" +
		"lrwxrwxrwx   1 ftp      ftp             7 Feb  2  2024 link -> target\r\n" +
		"this line is no listing\r\n"
	mlsd := "type=cdir;modify=20240102030405; /d\r\n" +
		"type=pdir;modify=20240102030405; /\r\n" +
		"Type=file;Size=10;Modify=20240102030405; a b.txt\r\n" +
		"type=dir;modify=20230101000000; sub\r\n"
	data := func(verb, body string) ftptest.Script {
		return steps(ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect(verb), ftptest.Reply("150 listing"),
			ftptest.DataAccept(), ftptest.DataSend([]byte(body)), ftptest.DataClose(),
			ftptest.Reply("226 done"))
	}
	t.Run("LIST", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		srv, c := dialScripted(t, ctx, script(scriptLogin(),
			steps(ftptest.Expect("FEAT"), ftptest.Reply("211-Features:", " SIZE", " MDTM", "211 End")),
			data("LIST", list), data("NLST /d", "a.txt\r\nb c.txt\r\n\r\n"),
			scriptQuit()), nil, nil)
		res, err := c.List(ctx, "")
		if err != nil || len(res.Entries) != 3 || len(res.Bad) != 1 {
			t.Fatalf("List: %+v err=%v", res, err)
		}
		want := []struct {
			name, typ, target string
			size              int64
		}{{"notes.txt", "file", "", 1234}, {" sub dir", "dir", "", 4096}, {"link", "link", "target", 7}}
		for i, w := range want {
			e := res.Entries[i]
			if e.Name != w.name || e.Type.String() != w.typ || e.Target != w.target || e.Size != w.size {
				t.Errorf("entry %d: %+v, want %+v", i, e, w)
			}
		}
		if b := res.Bad[0]; b.Raw != "this line is no listing" || b.Line != 5 {
			t.Errorf("bad line: %+v", b)
		}
		names, err := c.NameList(ctx, "/d")
		if err != nil || len(names) != 2 || names[0] != "a.txt" || names[1] != "b c.txt" {
			t.Errorf("NameList: %q err=%v", names, err)
		}
		quitAndCheck(t, ctx, srv, c, "FEAT", "EPSV", "LIST", "EPSV", "NLST /d")
	})
	t.Run("MLSD", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		srv, c := dialScripted(t, ctx, script(scriptLogin(),
			steps(ftptest.Expect("FEAT"), ftptest.Reply("211-Features:", " MLST type*;size*;modify*;", " SIZE", "211 End")),
			data("MLSD /d", mlsd),
			scriptQuit()), nil, nil)
		res, err := c.List(ctx, "/d")
		if err != nil || len(res.Entries) != 2 || len(res.Bad) != 0 {
			t.Fatalf("List: %+v err=%v", res, err)
		}
		if e := res.Entries[0]; e.Name != "a b.txt" || e.Type.String() != "file" || e.Size != 10 || !e.Time.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("entry 0: %+v", e)
		}
		if e := res.Entries[1]; e.Name != "sub" || e.Type.String() != "dir" {
			t.Errorf("entry 1: %+v", e)
		}
		quitAndCheck(t, ctx, srv, c, "FEAT", "EPSV", "MLSD /d")
	})
}

// TestTransferAppendScripted: Append sends APPE and exactly the reader's
// bytes, in both modes.
func TestTransferAppendScripted(t *testing.T) {
	leakCheck(t)
	payload := pattern(t, "appe", 150000)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			srv, c := dialScripted(t, ctx, script(scriptLogin(),
				steps(ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
					ftptest.Expect("APPE log.bin"), ftptest.Reply("150 go ahead"),
					ftptest.DataAccept(), ftptest.DataReceive(), ftptest.Reply("226 appended")),
				scriptQuit()), nil, func(o *client.Options) { o.OnLoop = m.onLoop })
			n, err := c.Append(ctx, "log.bin", bytes.NewReader(payload))
			if err != nil || n != int64(len(payload)) {
				t.Fatalf("Append: n=%d err=%v", n, err)
			}
			quitAndCheck(t, ctx, srv, c, "EPSV", "APPE log.bin")
			if got := srv.Received(); len(got) != 1 || !bytes.Equal(got[0], payload) {
				t.Errorf("server received %d uploads", len(got))
			}
		})
	}
}

// TestTransferStorFromRefused: a server that refuses REST fails StorFrom with
// its reply as *ftp.Error (not an incomplete transfer), before STOR is sent.
func TestTransferStorFromRefused(t *testing.T) {
	leakCheck(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			srv, c := dialScripted(t, ctx, script(scriptLogin(),
				steps(ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
					ftptest.Expect("REST 100"), ftptest.Reply("502 REST not implemented"),
					ftptest.Expect("NOOP"), ftptest.Reply("200 ok")),
				scriptQuit()), nil, func(o *client.Options) { o.OnLoop = m.onLoop })
			_, err := c.StorFrom(ctx, "f", bytes.NewReader([]byte("tail")), 100)
			var fe *ftp.Error
			if !errors.As(err, &fe) || fe.Code != 502 || errors.Is(err, ftp.ErrIncomplete) {
				t.Fatalf("StorFrom: err=%v, want the 502 reply", err)
			}
			if err := c.Noop(ctx); err != nil {
				t.Errorf("NOOP: %v", err)
			}
			quitAndCheck(t, ctx, srv, c, "EPSV", "REST 100", "NOOP")
		})
	}
}

// ---- off-loop back-pressure and idle bounds ----

// TestTransferOffLoopSlowSinkAfter226: the 226 arrives while a slow (but
// steadily writing) sink still drains the socket for longer than the data
// idle timeout. The quiet bound applies to gaps, not to the whole wait, so the
// download completes.
func TestTransferOffLoopSlowSinkAfter226(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t, 30*time.Second)
	payload := pattern(t, "slow-sink", 1<<20)
	mem := &transcript.Memory{}
	srv, c := dialScripted(t, ctx, script(scriptLogin(),
		retrScript("slow.bin",
			ftptest.DataSend(payload), ftptest.Reply("226 all sent"), ftptest.DataClose()),
		scriptQuit()), mem, func(o *client.Options) { o.Config.Timeouts.DataIdle = 300 * time.Millisecond })
	h := newHashSink()
	// 32 KiB reads, 30 ms per Write: about a second in all, 30 ms per gap.
	n, err := c.Retr(ctx, "slow.bin", &slowWriter{w: h, delay: 30 * time.Millisecond})
	if err != nil || n != int64(len(payload)) || h.Sum() != sumOf(payload) {
		t.Fatalf("Retr into a slow sink: n=%d err=%v\n%v", n, err, mem.Lines())
	}
	if !hasNote(mem, "final reply before data end") {
		t.Errorf("the 226 did not come before the data end:\n%v", mem.Lines())
	}
	quitAndCheck(t, ctx, srv, c, "EPSV", "RETR slow.bin")
}

// TestTransferOffLoopUploadSlowServer: an off-loop upload, straight on the
// engine, from a bytes.Reader (whose WriteTo hands io.Copy the whole buffer
// in one Write) to a server that reads steadily but slowly, and takes longer
// than the data idle timeout in all. It completes: the idle bound renews with
// every chunk that goes out, not once per Write call.
func TestTransferOffLoopUploadSlowServer(t *testing.T) {
	leakCheck(t)
	payload := pattern(t, "slow-server", 12<<20)
	slowRead := ftptest.Func(func(c *ftptest.Conn) error {
		d := c.Data().(*net.TCPConn)
		_ = d.SetReadBuffer(64 << 10)
		h := sha256.New()
		buf := make([]byte, 64<<10)
		var got int64
		for {
			_ = d.SetReadDeadline(time.Now().Add(c.Timeout()))
			n, err := d.Read(buf)
			h.Write(buf[:n])
			got += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("after %d bytes: %w", got, err)
			}
			time.Sleep(10 * time.Millisecond) // at most 6.5 MB/s
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != sumOf(payload) || got != int64(len(payload)) {
			return fmt.Errorf("server got %d bytes, sha ok=%v", got, sum == sumOf(payload))
		}
		return c.WriteLine("226 received")
	})
	srv := ftptest.NewServer(t, script(scriptLogin(),
		steps(ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
			ftptest.Expect("STOR big.bin"), ftptest.Reply("150 go ahead"),
			ftptest.DataAccept(), slowRead),
		scriptQuit()), ftptest.WithTimeout(10*time.Second))
	e, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	mem := &transcript.Memory{}
	cfg := &session.Config{Transcript: mem, Timeouts: session.Timeouts{DataIdle: time.Second}}
	login := make(chan session.Result, 1)
	conn, err := e.Open(srv.Addr, cfg, func(_ *engine.Conn, r session.Result) { login <- r })
	if err != nil {
		t.Fatal(err)
	}
	if r := <-login; r.Err != nil {
		t.Fatalf("login: %v", r.Err)
	}
	do := func(req *session.Request) session.Result {
		ch := make(chan session.Result, 1)
		req.Done = func(r session.Result) { ch <- r }
		conn.Do(req)
		return <-ch
	}
	if r := do(&session.Request{Cmd: ftp.Cmd("TYPE", "I")}); r.Err != nil {
		t.Fatal(r.Err)
	}
	start := time.Now()
	r := do(&session.Request{Cmd: ftp.Cmd("STOR", "big.bin"),
		Data: &session.Data{Source: bytes.NewReader(payload), OffLoop: true}})
	if r.Err != nil || r.Bytes != int64(len(payload)) {
		t.Fatalf("STOR to a slow server: n=%d err=%v after %v\n%v", r.Bytes, r.Err, time.Since(start), mem.Lines())
	}
	t.Logf("12 MiB to a slow reader in %v (idle bound 1s)", time.Since(start))
	if r := do(&session.Request{Cmd: ftp.Cmd("QUIT")}); r.Err != nil {
		t.Errorf("QUIT: %v", r.Err)
	}
	srv.Wait()
}

// TestTransferEngineCloseDuringOffLoop: closing the engine while an off-loop
// download feeds a slow sink ends the transfer (a typed error, not a hang) and
// leaves no goroutine behind.
func TestTransferEngineCloseDuringOffLoop(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t, 60*time.Second)
	srv := startEmbed(t)
	if _, err := embedserver.WriteBigFile(srv.Root, "big.bin", 64<<20); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: e})
	if err != nil {
		t.Fatal(err)
	}
	h := newHashSink()
	// 20 ms per Write of at most 32 KiB: the whole file would take 40 s.
	sink := &slowWriter{w: h, delay: 20 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		_, err := c.Retr(ctx, "/big.bin", sink)
		done <- err
	}()
	for i := 0; i < 500 && sink.n.Load() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("engine Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("engine Close waits for the off-loop download to finish")
	}
	// Either the session sees its data connection dropped, or goftp's
	// failure reply to it (551) comes first: an incomplete transfer both ways.
	err = <-done
	if !errors.Is(err, ftp.ErrIncomplete) {
		t.Errorf("Retr: %v, want an incomplete transfer", err)
	}
	c.Close()
}

// ---- 256 MiB ----

// bigSize is the size of the large transfer test's file.
const bigSize = 256 << 20

// TestTransferBig moves a generated 256 MiB file byte-exactly both ways in
// both modes (SHA-256 on both ends) and resumes its download from the middle.
// The uploads read the server's own copy from disk, so that generating the
// pattern does not dominate the run under -race. With -short it is skipped;
// run it alone with
//
//	go test -count=1 -run 'TestTransferBig' ./fsm_test/
func TestTransferBig(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB transfers skipped with -short; run: go test -count=1 -run TestTransferBig ./fsm_test/")
	}
	leakCheck(t)
	srv := startEmbed(t)
	want, err := embedserver.WriteBigFile(srv.Root, "big.bin", bigSize)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(srv.Root, "big.bin")
	ctx := testCtx(t, 5*time.Minute)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := dialEmbed(t, ctx, srv, m.onLoop, nil)
			start := time.Now()
			h := newHashSink()
			if n, err := c.Retr(ctx, "/big.bin", h); err != nil || n != bigSize || h.Sum() != want {
				t.Fatalf("RETR 256 MiB: n=%d err=%v, sha ok=%v", n, err, h.Sum() == want)
			}
			t.Logf("RETR 256 MiB in %v", time.Since(start))

			// Resume from the middle: the head from disk, the tail from the server.
			f, err := os.Open(local)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			off := int64(bigSize/2 + 12345)
			h = newHashSink()
			if _, err := io.Copy(h, io.NewSectionReader(f, 0, off)); err != nil {
				t.Fatal(err)
			}
			if n, err := c.RetrFrom(ctx, "/big.bin", h, off); err != nil || n != bigSize-off || h.Sum() != want {
				t.Errorf("RetrFrom @%d: n=%d err=%v, sha ok=%v", off, n, err, h.Sum() == want)
			}

			name := "big-up-" + m.name + ".bin"
			start = time.Now()
			if n, err := c.Stor(ctx, "/"+name, io.NewSectionReader(f, 0, bigSize)); err != nil || n != bigSize {
				t.Fatalf("STOR 256 MiB: n=%d err=%v", n, err)
			}
			t.Logf("STOR 256 MiB in %v", time.Since(start))
			if sum, size := sumFile(t, filepath.Join(srv.Root, name)); sum != want || size != bigSize {
				t.Errorf("server copy: %d bytes, sha ok=%v", size, sum == want)
			}
			if err := os.Remove(filepath.Join(srv.Root, name)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTransferOnLoopStorBeyondBuffers uploads on the loop far more than the
// socket buffers hold, so the upload must wait for the server again and again
// without ever stalling the loop (which also has to read the 150 and 226).
func TestTransferOnLoopStorBeyondBuffers(t *testing.T) {
	leakCheck(t)
	srv := startEmbed(t)
	ctx := testCtx(t, 2*time.Minute)
	c := dialEmbed(t, ctx, srv, true, nil)
	const size = 48 << 20
	n, err := c.Stor(ctx, "/onloop.bin", embedserver.PatternReader("onloop.bin", size))
	if err != nil || n != size {
		t.Fatalf("on-loop STOR of 48 MiB: n=%d err=%v", n, err)
	}
	wantSum, _ := sumReader(t, embedserver.PatternReader("onloop.bin", size))
	if sum, got := sumFile(t, filepath.Join(srv.Root, "onloop.bin")); sum != wantSum || got != size {
		t.Errorf("server copy: %d bytes, sha ok=%v", got, sum == wantSum)
	}
	if err := c.Noop(ctx); err != nil {
		t.Errorf("NOOP after the upload: %v", err)
	}
}
