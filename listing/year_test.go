package listing

import (
	"testing"
	"time"
)

// TestYearInference checks how "Mon DD HH:MM" dates, which carry no year,
// are placed around New Year and leap days.
func TestYearInference(t *testing.T) {
	kiritimati := time.FixedZone("UTC+14", 14*3600)
	cases := []struct {
		name string
		now  time.Time
		date string // "Mon DD HH:MM" as ls prints it
		want time.Time
	}{
		{"just after New Year, last evening", utc(2025, 1, 1, 0, 30, 0), "Dec 31 23:59", utc(2024, 12, 31, 23, 59, 0)},
		{"just after New Year, minutes ago", utc(2025, 1, 1, 0, 30, 0), "Jan  1 00:15", utc(2025, 1, 1, 0, 15, 0)},
		{"just after New Year, server a day ahead", utc(2025, 1, 1, 0, 30, 0), "Jan  2 10:00", utc(2025, 1, 2, 10, 0, 0)},
		{"just after New Year, far future is last year", utc(2025, 1, 1, 0, 30, 0), "Jan  5 10:00", utc(2024, 1, 5, 10, 0, 0)},
		{"just after New Year, early December", utc(2025, 1, 1, 0, 30, 0), "Dec  1 08:00", utc(2024, 12, 1, 8, 0, 0)},
		{"New Year's Eve, server already in new year", utc(2024, 12, 31, 23, 0, 0), "Jan  1 00:30", utc(2025, 1, 1, 0, 30, 0)},
		{"New Year's Eve, an hour ago", utc(2024, 12, 31, 23, 0, 0), "Dec 31 22:00", utc(2024, 12, 31, 22, 0, 0)},
		{"New Year's Eve, last week", utc(2024, 12, 31, 23, 0, 0), "Dec 25 10:00", utc(2024, 12, 25, 10, 0, 0)},
		{"New Year's Eve, January is this year's", utc(2024, 12, 31, 23, 0, 0), "Jan  3 10:00", utc(2024, 1, 3, 10, 0, 0)},
		{"mid-year, just over the slack", utc(2024, 6, 15, 12, 0, 0), "Jun 17 12:01", utc(2023, 6, 17, 12, 1, 0)},
		{"mid-year, just within the slack", utc(2024, 6, 15, 12, 0, 0), "Jun 17 12:00", utc(2024, 6, 17, 12, 0, 0)},
		{"leap day from a later year", utc(2025, 3, 1, 0, 0, 0), "Feb 29 12:00", utc(2024, 2, 29, 12, 0, 0)},
		{"leap day in a leap year", utc(2024, 3, 1, 0, 0, 0), "Feb 29 12:00", utc(2024, 2, 29, 12, 0, 0)},
		{"leap day seen in January of a leap year", utc(2024, 1, 10, 0, 0, 0), "Feb 29 12:00", utc(2020, 2, 29, 12, 0, 0)},
		{"now's wall clock is used, not its instant", time.Date(2025, 1, 1, 0, 30, 0, 0, kiritimati), "Dec 31 23:59", utc(2024, 12, 31, 23, 59, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := "-rw-r--r--   1 ftp      ftp          1234 " + tc.date + " f"
			e, err := ParseLine(line, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Time.Equal(tc.want) || e.Time.Location() != time.UTC {
				t.Fatalf("now %v, %q: Time = %v, want %v", tc.now, tc.date, e.Time, tc.want)
			}
		})
	}
}
