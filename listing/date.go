package listing

import "time"

// futureSlack is how far after now a year-less Unix date may lie before it is
// moved to the previous year: more than the widest gap between two time zones
// (26 hours), plus some clock skew.
const futureSlack = 48 * time.Hour

// daysIn returns the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	switch m {
	case time.April, time.June, time.September, time.November:
		return 30
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// validDate reports whether y-m-d is a real calendar date.
func validDate(y int, m time.Month, d int) bool {
	return m >= time.January && m <= time.December && d >= 1 && d <= daysIn(m, y)
}

// parseMonth parses an English three-letter month name, in any case.
func parseMonth(s string) (time.Month, bool) {
	if len(s) != 3 {
		return 0, false
	}
	// OR-ing 0x20 lower-cases ASCII letters; no other byte becomes a letter
	// that way, so the comparison stays exact.
	k := uint32(s[0]|0x20)<<16 | uint32(s[1]|0x20)<<8 | uint32(s[2]|0x20)
	switch k {
	case 'j'<<16 | 'a'<<8 | 'n':
		return time.January, true
	case 'f'<<16 | 'e'<<8 | 'b':
		return time.February, true
	case 'm'<<16 | 'a'<<8 | 'r':
		return time.March, true
	case 'a'<<16 | 'p'<<8 | 'r':
		return time.April, true
	case 'm'<<16 | 'a'<<8 | 'y':
		return time.May, true
	case 'j'<<16 | 'u'<<8 | 'n':
		return time.June, true
	case 'j'<<16 | 'u'<<8 | 'l':
		return time.July, true
	case 'a'<<16 | 'u'<<8 | 'g':
		return time.August, true
	case 's'<<16 | 'e'<<8 | 'p':
		return time.September, true
	case 'o'<<16 | 'c'<<8 | 't':
		return time.October, true
	case 'n'<<16 | 'o'<<8 | 'v':
		return time.November, true
	case 'd'<<16 | 'e'<<8 | 'c':
		return time.December, true
	}
	return 0, false
}

// parseDay parses a day of month: one or two digits, 1 to 31.
func parseDay(s string) (int, bool) {
	if len(s) > 2 {
		return 0, false
	}
	d, ok := atoi(s)
	return d, ok && d >= 1 && d <= 31
}

// parseYear parses a four-digit year.
func parseYear(s string) (int, bool) {
	if len(s) != 4 {
		return 0, false
	}
	return atoi(s)
}

// parseClock parses "H:MM", "HH:MM" or "HH:MM:SS" on a 24-hour clock.
// A leap second (60) is folded into 59.
func parseClock(s string) (h, m, sec int, hasSec, ok bool) {
	i := 0
	for i < len(s) && i < 3 && s[i] != ':' {
		i++
	}
	if i == 0 || i > 2 || i >= len(s) {
		return
	}
	if h, ok = atoi(s[:i]); !ok || h > 23 {
		return 0, 0, 0, false, false
	}
	rest := s[i+1:]
	if len(rest) != 2 && (len(rest) != 5 || rest[2] != ':') {
		return 0, 0, 0, false, false
	}
	if m, ok = atoi(rest[:2]); !ok || m > 59 {
		return 0, 0, 0, false, false
	}
	if len(rest) == 5 {
		hasSec = true
		if sec, ok = atoi(rest[3:]); !ok || sec > 60 {
			return 0, 0, 0, false, false
		}
		if sec == 60 {
			sec = 59
		}
	}
	return h, m, sec, hasSec, true
}

// inferYear places a year-less date: it returns the date in the latest year
// that puts it no more than futureSlack after now's wall clock. Feb 29 goes
// to the latest fitting leap year.
func inferYear(mon time.Month, day, h, m, s int, now time.Time) (time.Time, bool) {
	y0 := now.Year()
	limit := time.Date(y0, now.Month(), now.Day(), now.Hour(), now.Minute(), now.Second(), 0, time.UTC).Add(futureSlack)
	for y := y0 + 1; y >= y0-8; y-- {
		if day > daysIn(mon, y) {
			continue
		}
		t := time.Date(y, mon, day, h, m, s, 0, time.UTC)
		if !t.After(limit) {
			return t, true
		}
	}
	return time.Time{}, false
}
