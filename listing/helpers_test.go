package listing

import (
	"maps"
	"testing"
	"time"
)

// refNow is the "now" of the table tests: mid-June, so that year-less dates
// from January to mid-June land in 2024 and later ones in 2023.
var refNow = time.Date(2024, time.June, 15, 12, 0, 0, 0, time.UTC)

func utc(y int, m time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, m, d, h, mi, s, 0, time.UTC)
}

// lineCase is one line and the Entry it must give. Raw is not set in want:
// it is checked against the line (without line ending).
type lineCase struct {
	name string
	line string
	want Entry
}

// checkEntry compares every field of got with want.
func checkEntry(t *testing.T, got, want Entry) {
	t.Helper()
	if got.Name != want.Name {
		t.Errorf("Name = %q, want %q", got.Name, want.Name)
	}
	if got.Type != want.Type {
		t.Errorf("Type = %v, want %v", got.Type, want.Type)
	}
	if got.Size != want.Size {
		t.Errorf("Size = %d, want %d", got.Size, want.Size)
	}
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	if !got.Time.IsZero() && got.Time.Location() != time.UTC {
		t.Errorf("Time location = %v, want UTC", got.Time.Location())
	}
	if got.Target != want.Target {
		t.Errorf("Target = %q, want %q", got.Target, want.Target)
	}
	if got.Format != want.Format {
		t.Errorf("Format = %v, want %v", got.Format, want.Format)
	}
	if (got.Facts == nil) != (want.Facts == nil) || !maps.Equal(got.Facts, want.Facts) {
		t.Errorf("Facts = %#v, want %#v", got.Facts, want.Facts)
	}
	if got.Raw != want.Raw {
		t.Errorf("Raw = %q, want %q", got.Raw, want.Raw)
	}
}
