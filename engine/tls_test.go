package engine

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/goleak"
)

// The link (tls.go) under crypto/tls, without gnet: a TLS 1.3 session is
// recorded once between a real client and server, and the server's bytes are
// then replayed to a fresh client over a link, in pieces, the way the loop
// would hand them over: pushed to a handshake worker first, then lent in loop
// mode. The replaying client draws the same randomness as the recorded one
// (testing/cryptotest), so its ClientHello, and hence every key, is the
// recording's.

// recSeed seeds the global randomness of both the recording and each replay.
const recSeed = 0x46545053

// recTime is the clock of both sides: the certificate stays valid forever.
var recTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// recPlain is what the server sends after the handshake, one write per
// piece: records of 1 byte, a full 16 KiB record, and odd sizes.
var recPlain = func() [][]byte {
	var out [][]byte
	for i, n := range []int{1, 100, 16 << 10, 5000, 7, 16<<10 + 1} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		out = append(out, b)
	}
	return out
}()

// recording is one TLS 1.3 session as the client saw it.
type recording struct {
	hello     []byte // the client's first write: its ClientHello
	server    []byte // every byte the server sent, close_notify last
	handshake int    // how many of them the server had sent when its handshake ended
	plain     []byte // the application data in them
}

var recCert = sync.OnceValues(func() (tls.Certificate, error) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ftps.test"},
		NotBefore:    recTime.Add(-time.Hour),
		NotAfter:     recTime.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"ftps.test"},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
})

// recClientConfig is the client's side: verification on, X25519 only (no
// ML-KEM share, whose size would change nothing but the cost).
func recClientConfig(t testing.TB) *tls.Config {
	cert, err := recCert()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{
		ServerName:       "ftps.test",
		RootCAs:          pool,
		Time:             func() time.Time { return recTime },
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
}

// tapWriter records what goes through a net.Conn's Write.
type tapWriter struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	mark   int // set by the server once its handshake returns
}

func (w *tapWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, bytes.Clone(p))
	w.mu.Unlock()
	return w.Conn.Write(p)
}

func (w *tapWriter) all() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Join(w.writes, nil)
}

var (
	recMu   sync.Mutex
	recDone *recording
)

// record makes the recording once per process, over loopback TCP.
func record(t *testing.T) *recording {
	t.Helper()
	recMu.Lock()
	defer recMu.Unlock()
	if recDone != nil {
		return recDone
	}
	cert, err := recCert()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cryptotest.SetGlobalRandom(t, recSeed)
	srv := make(chan error, 1)
	var sw *tapWriter
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srv <- err
			return
		}
		sw = &tapWriter{Conn: c}
		tc := tls.Server(sw, &tls.Config{Certificates: []tls.Certificate{cert}, Time: func() time.Time { return recTime }})
		defer tc.Close()
		if err := tc.Handshake(); err != nil {
			srv <- err
			return
		}
		sw.mark = len(sw.all())
		for _, p := range recPlain {
			if _, err := tc.Write(p); err != nil {
				srv <- err
				return
			}
		}
		srv <- tc.Close() // close_notify
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cw := &tapWriter{Conn: c}
	tc := tls.Client(cw, recClientConfig(t))
	got, err := io.ReadAll(tc) // the handshake, then every record up to close_notify
	if err != nil {
		t.Fatalf("recording: client: %v", err)
	}
	if err := <-srv; err != nil {
		t.Fatalf("recording: server: %v", err)
	}
	want := bytes.Join(recPlain, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("recording: client read %d bytes, want %d", len(got), len(want))
	}
	if cs := tc.ConnectionState(); cs.Version != tls.VersionTLS13 {
		t.Fatalf("recording: %s, want TLS 1.3", tls.VersionName(cs.Version))
	}
	recDone = &recording{hello: cw.writes[0], server: sw.all(), handshake: sw.mark, plain: want}
	return recDone
}

// fakeGnet is the part of a gnet.Conn a link uses; any other method panics
// (the nil embedded interface), which would show that the link grew a need.
type fakeGnet struct {
	gnet.Conn
	mu    sync.Mutex
	wrote [][]byte
	async int // writes through AsyncWrite (handshake mode)
	// afterAsync, if set, runs after each AsyncWrite with the count so far.
	afterAsync func(n int)
	// failWrite, if set, makes Write fail after running it (an OnClose).
	failWrite func()
}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 21}

func (f *fakeGnet) LocalAddr() net.Addr  { return fakeAddr }
func (f *fakeGnet) RemoteAddr() net.Addr { return fakeAddr }

func (f *fakeGnet) AsyncWrite(p []byte, _ gnet.AsyncCallback) error {
	f.mu.Lock()
	f.wrote = append(f.wrote, p)
	f.async++
	n := f.async
	f.mu.Unlock()
	if f.afterAsync != nil {
		f.afterAsync(n)
	}
	return nil
}

func (f *fakeGnet) Write(p []byte) (int, error) {
	if f.failWrite != nil {
		// gnet closes a connection whose write fails right there, and its
		// OnClose runs before Write returns.
		f.failWrite()
		return 0, syscall.ECONNRESET
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wrote = append(f.wrote, bytes.Clone(p))
	return len(p), nil
}

func (f *fakeGnet) first() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.wrote) == 0 {
		return nil
	}
	return f.wrote[0]
}

// replayStats says how a replay went, for tests that want the path taken.
type replayStats struct {
	pushed, lent int // chunks handed over in handshake mode, in loop mode
	blocked      int // loop-mode Reads that ended in "would block"
}

// replay feeds rec's server bytes, cut into the given chunks, to a fresh
// client over a link and checks that it reads exactly rec's plaintext and
// then close_notify. With hsPush > 0 exactly that many chunks go to the
// handshake worker, and the rest to loop mode; with 0 the chunks go to the
// worker until it has finished, as on the engine.
func replay(t *testing.T, rec *recording, chunks [][]byte, hsPush int) replayStats {
	t.Helper()
	var st replayStats
	cryptotest.SetGlobalRandom(t, recSeed)
	fg := &fakeGnet{}
	l := newLink(fg)
	tc := tls.Client(l, recClientConfig(t))
	done := make(chan error, 1)
	go func() { done <- tc.Handshake() }()

	// Handshake mode: push a chunk, then wait until the worker has taken
	// every byte or finished; the bytes it has not taken when it finishes
	// stay in the link for loop mode, as on the engine.
	var herr error
	finished := false
	i := 0
	deadline := time.Now().Add(10 * time.Second)
	for !finished {
		if i < len(chunks) && (hsPush == 0 || i < hsPush) {
			l.push(chunks[i])
			i++
			st.pushed++
		}
		for {
			select {
			case herr = <-done:
				finished = true
			default:
			}
			if finished || (i < len(chunks) && (hsPush == 0 || i < hsPush) && l.buffered() == 0) {
				break
			}
			if time.Now().After(deadline) {
				l.fail(io.ErrUnexpectedEOF)
				t.Fatalf("handshake still running after all %d chunks (%d bytes buffered)", i, l.buffered())
			}
			runtime.Gosched()
		}
	}
	if herr != nil {
		if !bytes.Equal(fg.first(), rec.hello) {
			t.Fatalf("the replaying client's ClientHello is not the recording's (did crypto/tls change how it draws randomness?); handshake: %v", herr)
		}
		t.Fatalf("handshake: %v", herr)
	}

	// Loop mode: what the handshake left, then each chunk lent as gnet
	// lends its buffer, scribbled over once taken back.
	l.settle()
	var got []byte
	eof := false
	p := make([]byte, 16<<10)
	drain := func() {
		for !eof {
			n, err := tc.Read(p)
			got = append(got, p[:n]...)
			switch {
			case err == nil:
			case isWouldBlock(err):
				st.blocked++
				return
			case err == io.EOF:
				eof = true
			default:
				t.Fatalf("Read after %d plaintext bytes: %v", len(got), err)
			}
		}
	}
	drain()
	lent := make([]byte, 0, 64<<10)
	for ; i < len(chunks); i++ {
		if eof {
			t.Fatalf("close_notify read with %d chunks still to come", len(chunks)-i)
		}
		lent = append(lent[:0], chunks[i]...)
		l.lend(lent)
		st.lent++
		drain()
		l.release()
		for j := range lent {
			lent[j] = 0xAA // gnet reuses its buffer
		}
	}
	if !eof {
		t.Fatalf("no close_notify after the last chunk; %d of %d plaintext bytes", len(got), len(rec.plain))
	}
	if !bytes.Equal(got, rec.plain) {
		t.Fatalf("plaintext differs: %d bytes, want %d", len(got), len(rec.plain))
	}
	if fg.async == 0 {
		t.Fatalf("the handshake wrote nothing through AsyncWrite")
	}
	return st
}

// buffered is how many pushed or lent bytes crypto/tls has not read yet.
func (l *link) buffered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.in)
}

// chunksOf cuts b into pieces whose sizes come from sizes in turn: a byte
// below 240 is a size of 1 to 240, a higher one 4 KiB to 64 KiB. No sizes
// means one piece.
func chunksOf(b, sizes []byte) [][]byte {
	if len(sizes) == 0 {
		return [][]byte{b}
	}
	var out [][]byte
	for k := 0; len(b) > 0; k++ {
		s := sizes[k%len(sizes)]
		n := int(s) + 1
		if s >= 240 {
			n = int(s-239) * 4096
		}
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// FuzzTLSLinkReplay replays the recorded session to a client over a link,
// split wherever the fuzzer likes: the handshake worker and the loop-mode
// drain must together always deliver the recording's plaintext, byte exact,
// and its close_notify.
func FuzzTLSLinkReplay(f *testing.F) {
	f.Add([]byte{})                // everything at once
	f.Add([]byte{0})               // byte by byte
	f.Add([]byte{4, 200, 17, 250}) // mixed
	f.Add([]byte{255})             // 64 KiB pieces
	f.Add([]byte{2, 0, 0, 239})
	f.Fuzz(func(t *testing.T, sizes []byte) {
		rec := record(t)
		replay(t, rec, chunksOf(rec.server, sizes), 0)
	})
}

// TestTLSLinkReplayByteByByte is the fuzz target's hardest seed as a plain
// test: every byte of the session handed over on its own.
func TestTLSLinkReplayByteByByte(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := record(t)
	st := replay(t, rec, chunksOf(rec.server, []byte{0}), 0)
	if st.lent == 0 {
		t.Errorf("no byte reached loop mode: %+v", st)
	}
}

// TestTLSKeepsNoTemporaryError pins what loop mode rests on: crypto/tls
// does not keep the link's "would block" (a temporary net.Error) as the
// connection's error, and goes on with a partial record where it stopped.
// The handshake's bytes go over whole, then every later byte alone, in loop
// mode: if a later Go kept the error, the first partial record would end the
// stream and the plaintext would be short.
func TestTLSKeepsNoTemporaryError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := record(t)
	chunks := [][]byte{rec.server[:rec.handshake]}
	for i := rec.handshake; i < len(rec.server); i++ {
		chunks = append(chunks, rec.server[i:i+1])
	}
	st := replay(t, rec, chunks, 1)
	if st.lent != len(rec.server)-rec.handshake {
		t.Fatalf("%d single bytes lent, want %d (the handshake took some?)", st.lent, len(rec.server)-rec.handshake)
	}
	if st.blocked < st.lent-32 { // a record ends at most every few hundred bytes here, far fewer than 32 times
		t.Fatalf("only %d Reads would block for %d single bytes", st.blocked, st.lent)
	}
	var ne net.Error
	if !errors.As(errWouldBlock, &ne) || !ne.Temporary() || ne.Timeout() {
		t.Fatal("errWouldBlock must be a temporary, non-timeout net.Error")
	}
}

// fakeLoop runs what the engine queues on a loop at once, on the caller.
type fakeLoop struct{ gnet.EventLoop }

func (fakeLoop) Execute(ctx context.Context, r gnet.Runnable) error { return r.Run(ctx) }

// TestTLSHandshakeOutlivesPeerEnd: a server whose data and FIN follow its
// handshake so closely (a small file) that the loop sees the FIN before the
// worker has reported the handshake: OnClose ends the link (link.ended) just
// after the client's Finished went out. That is the end of the stream, not a
// cancellation: the handshake succeeded, and every byte the server sent is
// still there for the loop to read. The worker used to report io.EOF as the
// handshake's result, and the download looked empty.
func TestTLSHandshakeOutlivesPeerEnd(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := record(t)
	cryptotest.SetGlobalRandom(t, recSeed)
	fg := &fakeGnet{}
	l := newLink(fg)
	tc := tls.Client(l, recClientConfig(t))
	// Everything the server sends is there before the worker runs; the FIN
	// is taken as soon as the client's second flight (its Finished) leaves.
	l.push(rec.server)
	fg.afterAsync = func(n int) {
		if n == 2 {
			l.ended()
		}
	}
	if err := runHandshake(l, tc); err != nil {
		t.Fatalf("handshake result %v; the handshake itself succeeded", err)
	}
	l.mu.Lock()
	eof := l.eof
	l.mu.Unlock()
	if !eof {
		t.Fatal("the FIN was not taken during the handshake: the test missed its moment")
	}
	l.settle()
	got, err := io.ReadAll(tc)
	if err != nil || !bytes.Equal(got, rec.plain) {
		t.Fatalf("read %d of %d plaintext bytes after the handshake, %v", len(got), len(rec.plain), err)
	}
}

// TestTLSFailedWriteClosesWithoutDeadlock: a write through crypto/tls on the
// loop that fails makes gnet close the connection inside the write, and the
// engine's OnClose path ends the session, whose Close would say close_notify.
// tls.Conn.Write holds the Conn's output lock all the while, so a close_notify
// then waits for ever: the whole loop stopped (found by the FTPS benchmark,
// 10,000 sessions against a server that reset connections). closeTLS must see
// the write under way and skip it.
func TestTLSFailedWriteClosesWithoutDeadlock(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := record(t)
	cryptotest.SetGlobalRandom(t, recSeed)
	fg := &fakeGnet{}
	l := newLink(fg)
	tc := tls.Client(l, recClientConfig(t))
	l.push(rec.server[:rec.handshake])
	if err := runHandshake(l, tc); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	l.settle()
	ct := &ctrl{tl: l, tc: tc, secure: true}
	closed := false
	fg.failWrite = func() {
		fg.failWrite = nil
		ct.closeTLS() // what OnClose → ControlClosed → Session.Close → ctrl.Close does
		closed = true
	}
	done := make(chan error, 1)
	go func() {
		_, err := tc.Write([]byte("USER anonymous\r\n"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !closed {
			t.Fatalf("write on a reset connection: %v (close ran: %v); want an error after the close", err, closed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write never returned: close_notify waited for the lock the failing write holds")
	}
}

// runHandshake runs tc's handshake on a handshake worker, as the engine does,
// and returns its result as the loop would see it.
func runHandshake(l *link, tc *tls.Conn) error {
	res := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	h := &handshake{l: l, tc: tc, loop: &loop{el: fakeLoop{}}, timer: time.NewTimer(time.Hour), wg: &wg,
		done: func(err error) { res <- err }}
	newHandshakers(1).submit(h)
	wg.Wait()
	return <-res
}
