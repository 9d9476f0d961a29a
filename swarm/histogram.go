package swarm

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/asyncftp/asyncftp/ftp"
)

// Histogram bounds: durations are recorded in whole microseconds, from 1 µs to
// an hour, to three significant digits. Every histogram of every swarm has this
// geometry, so that slices recorded by different processes merge bucket for
// bucket.
const (
	histUnit    = time.Microsecond
	histHighest = int64(time.Hour / histUnit)
	// HistogramDigits is the histograms' precision in significant decimal
	// digits: a percentile read from one is within 0.1% (plus the 1 µs unit) of
	// the duration of that rank.
	HistogramDigits = 3
)

// Histogram counts durations in buckets of fixed relative width: its memory is
// the same (about 190 KB) whether it holds ten durations or ten million, and two
// histograms add up bucket for bucket ([Histogram.Merge]), which a list of
// percentiles cannot. It is an HdrHistogram; in JSON it is the standard
// compressed, base64 encoding that HdrHistogram's tools in other languages read.
// The zero value is empty and ready to use.
type Histogram struct {
	h *hdrhistogram.Histogram
}

func (h *Histogram) init() {
	if h.h == nil {
		h.h = hdrhistogram.New(1, histHighest, HistogramDigits)
	}
}

// Record adds one duration. Durations past an hour count as an hour; the exact
// maximum is kept beside the histogram, in [Latency.Max].
func (h *Histogram) Record(d time.Duration) {
	h.init()
	v := int64(d / histUnit)
	if v < 0 {
		v = 0
	}
	if v > histHighest {
		v = histHighest
	}
	_ = h.h.RecordValue(v) // in range by construction
}

// Count returns the number of durations recorded.
func (h *Histogram) Count() int64 {
	if h.h == nil {
		return 0
	}
	return h.h.TotalCount()
}

// Percentile returns the duration at percentile p (0–100), nearest rank, as the
// upper end of its bucket: within 10^-[HistogramDigits] of the true value.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.h == nil {
		return 0
	}
	return time.Duration(h.h.ValueAtPercentile(p)) * histUnit
}

// Merge adds every duration of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.h == nil {
		return
	}
	h.init()
	h.h.Merge(o.h) // same geometry: nothing is dropped
}

// MarshalJSON encodes the histogram as a string (HdrHistogram's V2 compressed
// encoding, in base64). Its receiver is a value so that a Stats value marshals
// its histograms too.
func (h Histogram) MarshalJSON() ([]byte, error) {
	h.init() // a copy: an empty histogram encodes as one
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON decodes what MarshalJSON wrote. A histogram of another
// geometry (another tool, another version) is refused: its buckets would not
// line up with this one's when merged.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: swarm: histogram: %v", ftp.ErrInvalidArgument, err)
	}
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return fmt.Errorf("%w: swarm: histogram: %v", ftp.ErrInvalidArgument, err)
	}
	if d.LowestTrackableValue() != 1 || d.HighestTrackableValue() != histHighest || d.SignificantFigures() != HistogramDigits {
		return fmt.Errorf("%w: swarm: histogram of another geometry (lowest %d, highest %d, %d digits; want 1, %d, %d)",
			ftp.ErrInvalidArgument, d.LowestTrackableValue(), d.HighestTrackableValue(), d.SignificantFigures(), histHighest, HistogramDigits)
	}
	h.h = d
	return nil
}
