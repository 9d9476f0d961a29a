package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
)

// Transfer benchmarks against the embedded goftp server. The server runs in
// this process, so its CPU (and its allocations) are included in every figure:
// they measure the whole loopback transfer, not the client alone.
//
//	go test -run='^$' -bench=. -benchtime=10x ./engine/
//
// MB/s comes from b.SetBytes; BenchmarkRetrBigMemory also reports the peak Go
// heap and the peak resident set size while one 256 MiB file downloads.

const benchSize = 64 << 20 // one transfer of the throughput benchmarks

// counter is a non-blocking sink that only counts. It has no ReadFrom, so
// io.Copy reads with its own 32 KiB buffer, as it would into a file.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// benchServer starts the embedded server with a file of size bytes at
// /bench.bin and a client on a private engine, both closed at cleanup.
func benchServer(b *testing.B, size int64, onLoop, skipSize bool) (*embedserver.Server, *client.Client) {
	b.Helper()
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	if size > 0 {
		if _, err := embedserver.WriteBigFile(srv.Root, "bench.bin", size); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, &client.Options{
		Config:   session.Config{User: embedserver.DefaultUser, Password: embedserver.DefaultPassword},
		OnLoop:   onLoop,
		SkipSize: skipSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return srv, c
}

func benchRetr(b *testing.B, onLoop bool) {
	_, c := benchServer(b, benchSize, onLoop, false)
	ctx := context.Background()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var w counter
		if n, err := c.Retr(ctx, "/bench.bin", &w); err != nil || n != benchSize || w.n != benchSize {
			b.Fatalf("Retr: n=%d sink=%d err=%v", n, w.n, err)
		}
	}
}

// BenchmarkRetrOnLoop downloads 64 MiB per op with the bytes handed to the sink
// on the event loop (client.Options.OnLoop).
func BenchmarkRetrOnLoop(b *testing.B) { benchRetr(b, true) }

// BenchmarkRetrOffLoop downloads 64 MiB per op on a goroutine of its own (the
// client default).
func BenchmarkRetrOffLoop(b *testing.B) { benchRetr(b, false) }

func benchStor(b *testing.B, onLoop bool) {
	_, c := benchServer(b, 0, onLoop, true)
	data := bytes.Repeat([]byte("asyncftp"), benchSize/8)
	ctx := context.Background()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := c.Stor(ctx, "/up.bin", bytes.NewReader(data)); err != nil || n != benchSize {
			b.Fatalf("Stor: n=%d err=%v", n, err)
		}
	}
}

// BenchmarkStorOnLoop uploads 64 MiB per op, read from a bytes.Reader on the
// event loop in 64 KiB chunks gated on the outbound buffer.
func BenchmarkStorOnLoop(b *testing.B) { benchStor(b, true) }

// BenchmarkStorOffLoop uploads 64 MiB per op on a goroutine of its own.
func BenchmarkStorOffLoop(b *testing.B) { benchStor(b, false) }

func benchSetup(b *testing.B, onLoop bool) {
	_, c := benchServer(b, 0, onLoop, true)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := c.Retr(ctx, "/empty.txt", &counter{}); err != nil || n != 0 {
			b.Fatalf("Retr: n=%d err=%v", n, err)
		}
	}
}

// BenchmarkDataSetupOnLoop is the cost of one data connection with nothing in
// it: EPSV, dial, enrol on the loop, RETR of an empty file, 150, EOF, 226.
func BenchmarkDataSetupOnLoop(b *testing.B) { benchSetup(b, true) }

// BenchmarkDataSetupOffLoop is the same with the data connection on a
// goroutine of its own.
func BenchmarkDataSetupOffLoop(b *testing.B) { benchSetup(b, false) }

// BenchmarkRetrBigMemory downloads a 256 MiB file per op and reports the peak
// Go heap (runtime/metrics, sampled every 5 ms) and the peak resident set size
// of the process (VmHWM from /proc/self/status, after resetting it by writing
// 5 to /proc/self/clear_refs) during the download, with the goftp server in the
// same process. Memory that stays flat shows as peaks far below 256 MiB.
func BenchmarkRetrBigMemory(b *testing.B) {
	const size = 256 << 20
	for _, m := range []struct {
		name   string
		onLoop bool
	}{{"OnLoop", true}, {"OffLoop", false}} {
		b.Run(m.name, func(b *testing.B) {
			_, c := benchServer(b, size, m.onLoop, false)
			ctx := context.Background()
			b.SetBytes(size)
			b.ReportAllocs()
			var heapPeak, rssPeak, heapBase uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				runtime.GC()
				heapBase = heapLive()
				resetPeakRSS(b)
				s := startSampler()
				b.StartTimer()
				var w counter
				n, err := c.Retr(ctx, "/bench.bin", &w)
				b.StopTimer()
				peak := s.stop()
				if err != nil || n != size {
					b.Fatalf("Retr: n=%d err=%v", n, err)
				}
				heapPeak = max(heapPeak, peak)
				rssPeak = max(rssPeak, peakRSS(b))
				b.StartTimer()
			}
			b.ReportMetric(float64(heapPeak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(heapBase)/(1<<20), "base-heap-MiB")
			b.ReportMetric(float64(rssPeak)/(1<<20), "peak-RSS-MiB")
		})
	}
}

// heapLive reads the bytes of live and not yet swept heap objects.
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampler records the highest heapLive seen until stop.
type sampler struct {
	peak atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func startSampler() *sampler {
	s := &sampler{done: make(chan struct{})}
	s.peak.Store(heapLive())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if h := heapLive(); h > s.peak.Load() {
					s.peak.Store(h)
				}
			}
		}
	}()
	return s
}

func (s *sampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	if h := heapLive(); h > s.peak.Load() {
		s.peak.Store(h)
	}
	return s.peak.Load()
}

// resetPeakRSS sets VmHWM back to the current RSS (Linux 4.0+).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS (not Linux?): %v", err)
	}
}

// peakRSS reads VmHWM, in bytes.
func peakRSS(b *testing.B) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

var _ io.Writer = (*counter)(nil)

// BenchmarkBackPressure shows what a slow writer costs the loop. Two sessions
// share one engine with one loop: one downloads 16 MiB per op, the other sends
// NOOPs back to back meanwhile and reports their latency (p50, max).
//
//   - OffLoopSlowWriter: the download's writer sleeps 1 ms per Write, off the
//     loop (the client default). TCP flow control holds the server back; the
//     loop, and so the other session, is not involved.
//   - OnLoopFast: the same download with a fast writer on the loop, for
//     comparison. A slow writer on the loop is not measured: it would block
//     the loop, and every session on it, for 1 ms per chunk.
func BenchmarkBackPressure(b *testing.B) {
	const size = 16 << 20
	for _, m := range []struct {
		name   string
		onLoop bool
		delay  time.Duration
	}{{"OffLoopSlowWriter", false, time.Millisecond}, {"OnLoopFast", true, 0}} {
		b.Run(m.name, func(b *testing.B) {
			srv, err := embedserver.Start(embedserver.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			if _, err := embedserver.WriteBigFile(srv.Root, "bench.bin", size); err != nil {
				b.Fatal(err)
			}
			e, err := engine.New(engine.Options{Loops: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()
			dial := func(onLoop bool) *client.Client {
				c, err := client.Dial(ctx, srv.Addr, &client.Options{Engine: e, OnLoop: onLoop})
				if err != nil {
					b.Fatal(err)
				}
				return c
			}
			xfer, pinger := dial(m.onLoop), dial(false)
			defer xfer.Close()
			defer pinger.Close()

			b.SetBytes(size)
			b.ReportAllocs()
			var lat []time.Duration
			var heapPeak uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				stop := make(chan struct{})
				pinged := make(chan []time.Duration)
				go func() {
					var l []time.Duration
					for {
						select {
						case <-stop:
							pinged <- l
							return
						default:
						}
						t0 := time.Now()
						if err := pinger.Noop(ctx); err != nil {
							b.Error(err)
						}
						l = append(l, time.Since(t0))
					}
				}()
				s := startSampler()
				var w io.Writer = &counter{}
				if m.delay > 0 {
					w = &sleepy{w: w, d: m.delay}
				}
				n, err := xfer.Retr(ctx, "/bench.bin", w)
				heapPeak = max(heapPeak, s.stop())
				close(stop)
				lat = append(lat, <-pinged...)
				if err != nil || n != size {
					b.Fatalf("Retr: n=%d err=%v", n, err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "noop-p50-µs")
				b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "noop-max-µs")
				b.ReportMetric(float64(len(lat))/float64(b.N), "noops/op")
			}
			b.ReportMetric(float64(heapPeak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// sleepy is a blocking writer: it sleeps d before every Write.
type sleepy struct {
	w io.Writer
	d time.Duration
}

func (s *sleepy) Write(p []byte) (int, error) {
	time.Sleep(s.d)
	return s.w.Write(p)
}
