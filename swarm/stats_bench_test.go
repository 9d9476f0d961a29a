package swarm

import (
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// BenchmarkRecord folds n results into a swarm's statistics and reports the
// heap they hold afterwards (heap-B, after a GC): the same for ten thousand
// results as for ten million, since timings go into fixed-size histograms and
// errors into counts by kind. Run it once per size:
//
//	go test ./swarm -run '^$' -bench Record -benchtime 1x
func BenchmarkRecord(b *testing.B) {
	failed := &ftp.ClosedError{During: "connect to 127.0.0.1:1", Err: errors.New("refused")}
	for _, n := range []int{10_000, 10_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var held uint64
			for b.Loop() {
				before := heapInUse()
				acc := newAccumulator(n)
				for i := 0; i < n; i++ {
					d := time.Duration(i%5000+1) * 37 * time.Microsecond
					r := Result{Index: i, Connect: d / 4, Login: d / 2, Total: d, Bytes: 1024}
					if i%97 == 0 {
						r.Err = failed
					}
					acc.add(r)
				}
				st := acc.stats(time.Second)
				held = heapInUse() - before
				runtime.KeepAlive(acc)
				if st.OK+st.Failed != n || st.Total.Count != int64(st.OK) {
					b.Fatalf("stats %d ok %d failed", st.OK, st.Failed)
				}
			}
			b.ReportMetric(float64(held), "heap-B")
		})
	}
}

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
