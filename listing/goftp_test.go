package listing

import (
	"fmt"
	"io/fs"
	"testing"
	"time"
)

// TestGoFileModeLines builds lines the way goftp.io/server's LIST does (the
// mode as fs.FileMode.String prints it, "1", owner, group, the size padded to
// 12 columns, then " Jan _2 15:04 " or " Jan _2  2006 ") for every kind of
// mode, and checks each parses to the right type, size, time and name.
func TestGoFileModeLines(t *testing.T) {
	modes := []struct {
		mode fs.FileMode
		want Type
	}{
		{0o644, File},
		{0o755 | fs.ModeDir, Dir},
		{0o777 | fs.ModeSymlink, Link},
		{0o666 | fs.ModeDevice, Other},
		{0o666 | fs.ModeDevice | fs.ModeCharDevice, Other},
		{0o644 | fs.ModeNamedPipe, Other},
		{0o777 | fs.ModeSocket, Other},
		{0o755 | fs.ModeSetuid, File},
		{0o755 | fs.ModeSetgid, File},
		{0o777 | fs.ModeDir | fs.ModeSticky, Dir},
		{0o644 | fs.ModeAppend, File},
		{0o600 | fs.ModeTemporary, File},
		{0o644 | fs.ModeIrregular, Other},
		{0o600 | fs.ModeAppend | fs.ModeExclusive, File},
		{0o755 | fs.ModeDir | fs.ModeSetgid | fs.ModeSticky | fs.ModeAppend, Dir},
		{0, File},
	}
	times := []time.Time{
		utc(2024, 6, 1, 9, 5, 0),  // recent: time of day shown
		utc(2019, 12, 9, 0, 0, 0), // old: year shown
	}
	for _, m := range modes {
		for _, mt := range times {
			layout := " Jan _2 15:04 "
			if mt.Before(refNow.AddDate(-1, 0, 0)) {
				layout = " Jan _2  2006 "
			}
			const name = " odd  name.txt"
			line := fmt.Sprintf("%s 1 %s %s %12d%s%s", m.mode, "owner", "group", 1234, mt.Format(layout), name)
			e, err := ParseLine(line, refNow)
			if err != nil {
				t.Errorf("%q: %v", line, err)
				continue
			}
			if e.Type != m.want || e.Size != 1234 || !e.Time.Equal(mt) || e.Name != name {
				t.Errorf("%q: got type %v size %d time %v name %q; want %v 1234 %v %q",
					line, e.Type, e.Size, e.Time, e.Name, m.want, mt, name)
			}
		}
	}
}
