package swarm_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/swarm"
)

// TestHistogramJSON: a histogram survives JSON with every count, an empty one
// too, and JSON that is not one of ours is refused with a typed error.
func TestHistogramJSON(t *testing.T) {
	var h swarm.Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(3 * time.Hour) // past the range: counted as an hour
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back swarm.Histogram
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Count() != 1001 || back.Percentile(50) != h.Percentile(50) || back.Percentile(100) < time.Hour || back.Percentile(100) > time.Hour+time.Hour/1000 {
		t.Fatalf("read back %d values, p50 %v (was %v), p100 %v", back.Count(), back.Percentile(50), h.Percentile(50), back.Percentile(100))
	}
	var empty, emptyBack swarm.Histogram
	if b, err := json.Marshal(empty); err != nil || json.Unmarshal(b, &emptyBack) != nil || emptyBack.Count() != 0 {
		t.Fatalf("empty histogram: %s, %v", b, err)
	}

	other, err := hdrhistogram.New(1, 1000, 2).Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	otherJSON, _ := json.Marshal(string(other))
	for _, bad := range []string{string(otherJSON), `"not base64!"`, `"SElTVA=="`, `42`, `""`} {
		var x swarm.Histogram
		if err := json.Unmarshal([]byte(bad), &x); !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("%.40s: err %v, want ErrInvalidArgument", bad, err)
		}
	}
}
