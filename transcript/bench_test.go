package transcript

import (
	"testing"
)

func BenchmarkMask(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"ordinary", "RETR /pub/some/long/path/file.tar.gz"},
		{"pass", "PASS guest@example.com"},
		{"masked", "PASS ****"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Mask(bc.line)
			}
		})
	}
}

func BenchmarkTextRecord(b *testing.B) {
	for _, bc := range []struct {
		name string
		e    Entry
	}{
		{"server", Entry{Session: 7, Time: t0, Dir: Server, Line: "226 Transfer complete."}},
		{"pass", Entry{Session: 7, Time: t0, Dir: Client, Line: "PASS guest@example.com"}},
		{"hostile", Entry{Session: 7, Time: t0, Dir: Server, Line: "220 \x1b[2J\xff\u202e hello"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := Text(discard{})
			b.ReportAllocs()
			for b.Loop() {
				s.Record(bc.e)
			}
		})
	}
}

func BenchmarkJSONRecord(b *testing.B) {
	s := JSON(discard{})
	e := Entry{Session: 7, Time: t0, Dir: Server, Line: "226 Transfer complete."}
	b.ReportAllocs()
	for b.Loop() {
		s.Record(e)
	}
}
