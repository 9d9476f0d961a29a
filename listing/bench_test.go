package listing

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseUnix measures Parse on a proftpd-style body of 1000 lines and
// reports lines per second.
func BenchmarkParseUnix(b *testing.B) {
	const n = 1000
	var sb strings.Builder
	sb.WriteString("total 4000\r\n")
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, "-rw-r--r--   1 ftp      ftp      %8d Jun %2d 10:%02d file-%d.txt\r\n", i*37, i%28+1, i%60, i)
		case 1:
			fmt.Fprintf(&sb, "drwxr-xr-x   2 ftp      ftp          4096 Dec %2d  2019 dir %d\r\n", i%28+1, i)
		case 2:
			fmt.Fprintf(&sb, "lrwxrwxrwx   1 ftp      ftp            12 Mar  3 17:01 link%d -> target/%d\r\n", i, i)
		default:
			fmt.Fprintf(&sb, "-rw-r--r--    1 1000       1000       %10d Jan 01 00:00 a name with spaces %d\r\n", i*1013, i)
		}
	}
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := Parse(body, refNow)
		if len(res.Entries) != n || len(res.Bad) != 0 {
			b.Fatalf("got %d entries, %d bad", len(res.Entries), len(res.Bad))
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
