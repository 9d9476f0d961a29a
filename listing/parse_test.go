package listing

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// unixCases are ls -l lines in the shapes vsftpd, proftpd, pure-ftpd,
// goftp.io/server and plain ls produce. refNow is 2024-06-15 12:00 UTC.
var unixCases = []lineCase{
	{"proftpd file this year",
		"-rw-r--r--   1 ftp      ftp          1234 Jun  1 10:00 file.txt",
		Entry{Name: "file.txt", Type: File, Size: 1234, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"proftpd dir older year",
		"drwxr-xr-x   2 ftp      ftp          4096 Dec  2  2011 pub",
		Entry{Name: "pub", Type: Dir, Size: 4096, Time: utc(2011, 12, 2, 0, 0, 0)}},
	{"vsftpd numeric owners zero-padded day",
		"-rw-r--r--    1 1000     1000       524288 Jun 01 09:05 backup.tar.gz",
		Entry{Name: "backup.tar.gz", Type: File, Size: 524288, Time: utc(2024, 6, 1, 9, 5, 0)}},
	{"vsftpd old year",
		"drwxr-xr-x    3 0        0            4096 Jan 05  2020 incoming",
		Entry{Name: "incoming", Type: Dir, Size: 4096, Time: utc(2020, 1, 5, 0, 0, 0)}},
	{"pure-ftpd wide columns",
		"-rw-r--r--    1 1000       1000             1234 Mar  3 17:01 notes.md",
		Entry{Name: "notes.md", Type: File, Size: 1234, Time: utc(2024, 3, 3, 17, 1, 0)}},
	{"pure-ftpd dir",
		"drwxr-xr-x    2 ftpuser    ftpgroup         4096 Oct 31 23:59 halloween",
		Entry{Name: "halloween", Type: Dir, Size: 4096, Time: utc(2023, 10, 31, 23, 59, 0)}},
	{"goftp file",
		"-rw-r--r-- 1 owner group         1234 Jan  2 15:04 name",
		Entry{Name: "name", Type: File, Size: 1234, Time: utc(2024, 1, 2, 15, 4, 0)}},
	{"goftp dir old year",
		"drwxr-xr-x 1 owner group         4096 Jan  2  2006 old dir",
		Entry{Name: "old dir", Type: Dir, Size: 4096, Time: utc(2006, 1, 2, 0, 0, 0)}},
	{"goftp symlink (Go FileMode letters)",
		"Lrwxrwxrwx 1 owner group           11 Jun 10 08:00 latest",
		Entry{Name: "latest", Type: Link, Size: 11, Time: utc(2024, 6, 10, 8, 0, 0)}},
	{"goftp sticky dir (two Go letters)",
		"dtrwxrwxrwx 1 owner group         4096 Jun 10 08:00 tmp",
		Entry{Name: "tmp", Type: Dir, Size: 4096, Time: utc(2024, 6, 10, 8, 0, 0)}},
	{"goftp char device",
		"Dcrw-rw-rw- 1 owner group            0 Jun 10 08:00 tty",
		Entry{Name: "tty", Type: Other, Size: 0, Time: utc(2024, 6, 10, 8, 0, 0)}},
	{"goftp setuid file",
		"urwxr-xr-x 1 owner group         5000 Jun 10 08:00 tool",
		Entry{Name: "tool", Type: File, Size: 5000, Time: utc(2024, 6, 10, 8, 0, 0)}},
	{"symlink with target",
		"lrwxrwxrwx   1 root     root            7 Jan  1  2020 bin -> usr/bin",
		Entry{Name: "bin", Type: Link, Size: 7, Time: utc(2020, 1, 1, 0, 0, 0), Target: "usr/bin"}},
	{"symlink target with arrow",
		"lrwxrwxrwx   1 root     root            9 Feb  3 04:05 a -> b -> c",
		Entry{Name: "a", Type: Link, Size: 9, Time: utc(2024, 2, 3, 4, 5, 0), Target: "b -> c"}},
	{"symlink without target",
		"lrwxrwxrwx   1 root     root            7 Feb  3 04:05 justname",
		Entry{Name: "justname", Type: Link, Size: 7, Time: utc(2024, 2, 3, 4, 5, 0)}},
	{"file name with arrow is not split",
		"-rw-r--r--   1 ftp      ftp            10 Feb  3 04:05 x -> y",
		Entry{Name: "x -> y", Type: File, Size: 10, Time: utc(2024, 2, 3, 4, 5, 0)}},
	{"name with spaces",
		"-rw-r--r--   1 ftp      ftp          2048 May 20 13:37 my holiday photo.jpg",
		Entry{Name: "my holiday photo.jpg", Type: File, Size: 2048, Time: utc(2024, 5, 20, 13, 37, 0)}},
	{"name with leading spaces",
		"-rw-r--r--   1 ftp      ftp             5 Jun  1 10:00   two leading.txt",
		Entry{Name: "  two leading.txt", Type: File, Size: 5, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"name with trailing spaces",
		"-rw-r--r--   1 ftp      ftp             5 Jun  1 10:00 trailing  ",
		Entry{Name: "trailing  ", Type: File, Size: 5, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"name after year with leading space",
		"-rw-r--r--   1 ftp      ftp             5 Jun  1  2019  lead",
		Entry{Name: " lead", Type: File, Size: 5, Time: utc(2019, 6, 1, 0, 0, 0)}},
	{"name that looks like a date",
		"-rw-r--r--   1 ftp      ftp             5 Jun  1 10:00 Jun  1 10:00 x",
		Entry{Name: "Jun  1 10:00 x", Type: File, Size: 5, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"name that looks like a year",
		"-rw-r--r--   1 ftp      ftp             5 Jun  1  2020 2021",
		Entry{Name: "2021", Type: File, Size: 5, Time: utc(2020, 6, 1, 0, 0, 0)}},
	{"UTF-8 name",
		"-rw-r--r--   1 ftp      ftp            12 Apr  9 07:30 Grüße 日本.txt",
		Entry{Name: "Grüße 日本.txt", Type: File, Size: 12, Time: utc(2024, 4, 9, 7, 30, 0)}},
	{"char device major, minor",
		"crw-rw-rw-   1 root     root       1,   3 Jan  1  2020 null",
		Entry{Name: "null", Type: Other, Size: -1, Time: utc(2020, 1, 1, 0, 0, 0)}},
	{"char device short form",
		"crw-rw-rw- 1 root root 1, 3 Jan 1 2020 null",
		Entry{Name: "null", Type: Other, Size: -1, Time: utc(2020, 1, 1, 0, 0, 0)}},
	{"block device glued major,minor",
		"brw-rw----   1 root     disk     259,0 Jun 14 09:59 nvme0n1",
		Entry{Name: "nvme0n1", Type: Other, Size: -1, Time: utc(2024, 6, 14, 9, 59, 0)}},
	{"named pipe",
		"prw-r--r--   1 root     root            0 Jun 14 23:59 fifo",
		Entry{Name: "fifo", Type: Other, Size: 0, Time: utc(2024, 6, 14, 23, 59, 0)}},
	{"socket",
		"srwxrwxrwx   1 root     root            0 Jun 14 23:59 mysqld.sock",
		Entry{Name: "mysqld.sock", Type: Other, Size: 0, Time: utc(2024, 6, 14, 23, 59, 0)}},
	{"missing group column",
		"-rw-r--r-- 1 owner 1234 Jan 1 10:00 name",
		Entry{Name: "name", Type: File, Size: 1234, Time: utc(2024, 1, 1, 10, 0, 0)}},
	{"missing link count",
		"drwxr-xr-x   folder        0 Jun 10 08:00 dir",
		Entry{Name: "dir", Type: Dir, Size: 0, Time: utc(2024, 6, 10, 8, 0, 0)}},
	{"ACL plus mark",
		"drwxrwxr-x+  3 alice    staff        4096 Mar 10 08:05 shared",
		Entry{Name: "shared", Type: Dir, Size: 4096, Time: utc(2024, 3, 10, 8, 5, 0)}},
	{"macOS xattr at mark and leap day",
		"-rw-r--r--@  1 bob      staff      120345 Feb 29  2024 report.pdf",
		Entry{Name: "report.pdf", Type: File, Size: 120345, Time: utc(2024, 2, 29, 0, 0, 0)}},
	{"SELinux dot mark",
		"-rw-r--r--.  1 root     root            0 Jun 10 11:11 selinux",
		Entry{Name: "selinux", Type: File, Size: 0, Time: utc(2024, 6, 10, 11, 11, 0)}},
	{"setuid",
		"-rwsr-xr-x   1 root     root        54256 Mar 27  2019 passwd",
		Entry{Name: "passwd", Type: File, Size: 54256, Time: utc(2019, 3, 27, 0, 0, 0)}},
	{"setgid dir and sticky",
		"drwxrwsr-t   2 root     staff        4096 Jun 15 11:30 drop",
		Entry{Name: "drop", Type: Dir, Size: 4096, Time: utc(2024, 6, 15, 11, 30, 0)}},
	{"capital S and T",
		"-rwSr-Sr-T   1 root     root            1 Jun 15 11:30 odd",
		Entry{Name: "odd", Type: File, Size: 1, Time: utc(2024, 6, 15, 11, 30, 0)}},
	{"sticky tmp",
		"drwxrwxrwt  12 root     root         4096 Jun 15 11:30 tmp",
		Entry{Name: "tmp", Type: Dir, Size: 4096, Time: utc(2024, 6, 15, 11, 30, 0)}},
	{"owner and group named like months",
		"-rw-r--r--   1 jan      may          1234 Jun  1 10:00 months",
		Entry{Name: "months", Type: File, Size: 1234, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"upper-case month",
		"-rw-r--r--   1 ftp      ftp          1234 JAN 15 10:00 shout",
		Entry{Name: "shout", Type: File, Size: 1234, Time: utc(2024, 1, 15, 10, 0, 0)}},
	{"big size",
		"-rw-r--r--   1 ftp      ftp   10737418240 Jun  1 10:00 disk.img",
		Entry{Name: "disk.img", Type: File, Size: 10737418240, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"day before month",
		"-rw-r--r--   1 ftp      ftp          1234 15 Jun 10:00 euro",
		Entry{Name: "euro", Type: File, Size: 1234, Time: utc(2024, 6, 15, 10, 0, 0)}},
	{"BSD ls -T full time",
		"-rw-r--r--   1 user     staff        1234 Jan  5 10:11:12 2021 bsd",
		Entry{Name: "bsd", Type: File, Size: 1234, Time: utc(2021, 1, 5, 10, 11, 12)}},
	{"long-iso time style",
		"-rw-r--r-- 1 user group 1234 2021-03-04 05:06 iso name",
		Entry{Name: "iso name", Type: File, Size: 1234, Time: utc(2021, 3, 4, 5, 6, 0)}},
	{"future date within slack stays this year",
		"-rw-r--r--   1 ftp      ftp             1 Jun 16 11:00 soon",
		Entry{Name: "soon", Type: File, Size: 1, Time: utc(2024, 6, 16, 11, 0, 0)}},
	{"future date beyond slack is last year",
		"-rw-r--r--   1 ftp      ftp             1 Jun 18 10:00 lastyear",
		Entry{Name: "lastyear", Type: File, Size: 1, Time: utc(2023, 6, 18, 10, 0, 0)}},
	{"ls could not stat",
		"-????????? ? ? ? ?            ? broken",
		Entry{Name: "broken", Type: File, Size: -1}},
	{"ls could not stat link",
		"l????????? ? ? ? ?            ? dangling",
		Entry{Name: "dangling", Type: Link, Size: -1}},
	{"dot and dot-dot",
		"drwxr-xr-x   2 ftp      ftp          4096 Jun  1 10:00 ..",
		Entry{Name: "..", Type: Dir, Size: 4096, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"CRLF ending stripped",
		"-rw-r--r--   1 ftp      ftp          1234 Jun  1 10:00 crlf.txt\r\n",
		Entry{Name: "crlf.txt", Type: File, Size: 1234, Time: utc(2024, 6, 1, 10, 0, 0)}},
	{"tab before name",
		"-rw-r--r--   1 ftp      ftp          1234 Jun  1 10:00\ttabbed",
		Entry{Name: "tabbed", Type: File, Size: 1234, Time: utc(2024, 6, 1, 10, 0, 0)}},
}

// dosCases are IIS / MS-DOS style lines.
var dosCases = []lineCase{
	{"IIS dir",
		"01-16-02  11:14AM       <DIR>          epsgroup",
		Entry{Name: "epsgroup", Type: Dir, Size: -1, Time: utc(2002, 1, 16, 11, 14, 0)}},
	{"IIS file with spaces",
		"06-15-24  01:05PM                 1234 file name.txt",
		Entry{Name: "file name.txt", Type: File, Size: 1234, Time: utc(2024, 6, 15, 13, 5, 0)}},
	{"IIS four-digit year, midnight",
		"01-16-2002  12:00AM                    0 midnight.txt",
		Entry{Name: "midnight.txt", Type: File, Size: 0, Time: utc(2002, 1, 16, 0, 0, 0)}},
	{"IIS noon",
		"01-16-2002  12:30PM                   10 noon.txt",
		Entry{Name: "noon.txt", Type: File, Size: 10, Time: utc(2002, 1, 16, 12, 30, 0)}},
	{"IIS 1990s two-digit year",
		"12-31-99  11:59PM       <DIR>          Y2K",
		Entry{Name: "Y2K", Type: Dir, Size: -1, Time: utc(1999, 12, 31, 23, 59, 0)}},
	{"24-hour clock",
		"01-16-2002  23:14                 1234 late.txt",
		Entry{Name: "late.txt", Type: File, Size: 1234, Time: utc(2002, 1, 16, 23, 14, 0)}},
	{"separate AM/PM field",
		"04/05/2023  07:08 PM    <DIR>          Program Files",
		Entry{Name: "Program Files", Type: Dir, Size: -1, Time: utc(2023, 4, 5, 19, 8, 0)}},
	{"thousands separators",
		"04/05/2023  07:08 AM        1,234,567 big.bin",
		Entry{Name: "big.bin", Type: File, Size: 1234567, Time: utc(2023, 4, 5, 7, 8, 0)}},
	{"ISO date with seconds",
		"2023-04-05  07:08:09       <DIR>          iso",
		Entry{Name: "iso", Type: Dir, Size: -1, Time: utc(2023, 4, 5, 7, 8, 9)}},
	{"day-month order when first number is no month",
		"31-12-2020  10:00                 1234 euro.txt",
		Entry{Name: "euro.txt", Type: File, Size: 1234, Time: utc(2020, 12, 31, 10, 0, 0)}},
	{"junction with target",
		`01-16-02  11:14AM    <JUNCTION>     Documents [C:\Users\x\Documents]`,
		Entry{Name: "Documents", Type: Link, Size: -1, Time: utc(2002, 1, 16, 11, 14, 0), Target: `C:\Users\x\Documents`}},
	{"lower-case dir marker and am",
		"02-29-24  09:00am       <dir>          leap",
		Entry{Name: "leap", Type: Dir, Size: -1, Time: utc(2024, 2, 29, 9, 0, 0)}},
}

// eplfCases are EPLF lines, as in the format's specification.
var eplfCases = []lineCase{
	{"file",
		"+i8388621.48594,m825718503,r,s280,\tdjb.html",
		Entry{Name: "djb.html", Type: File, Size: 280, Time: time.Unix(825718503, 0).UTC()}},
	{"dir",
		"+i8388621.50690,m824255907,/,\t514",
		Entry{Name: "514", Type: Dir, Size: -1, Time: time.Unix(824255907, 0).UTC()}},
	{"no type facts, name with spaces",
		"+m824255907,up644,\tsome file",
		Entry{Name: "some file", Type: Unknown, Size: -1, Time: time.Unix(824255907, 0).UTC()}},
	{"bad size is ignored",
		"+r,sXYZ,\tx",
		Entry{Name: "x", Type: File, Size: -1}},
}

// mlsxCases are MLSD lines (and MLST entry lines) that ParseLine detects.
var mlsxCases = []lineCase{
	{"proftpd file",
		"modify=20240105143000;perm=adfrw;size=1234;type=file;unique=FD00U2A;UNIX.group=1000;UNIX.groupname=alice;UNIX.mode=0644;UNIX.owner=1000;UNIX.ownername=alice; report 2024.pdf",
		Entry{Name: "report 2024.pdf", Type: File, Size: 1234, Time: utc(2024, 1, 5, 14, 30, 0), Format: MLSD,
			Facts: map[string]string{"modify": "20240105143000", "perm": "adfrw", "size": "1234", "type": "file",
				"unique": "FD00U2A", "unix.group": "1000", "unix.groupname": "alice", "unix.mode": "0644",
				"unix.owner": "1000", "unix.ownername": "alice"}}},
	{"pure-ftpd cdir with sizd",
		"type=cdir;sizd=4096;modify=20240105143000;UNIX.mode=0755;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a1; .",
		Entry{Name: ".", Type: Dir, Size: 4096, Time: utc(2024, 1, 5, 14, 30, 0), Format: MLSD,
			Facts: map[string]string{"type": "cdir", "sizd": "4096", "modify": "20240105143000",
				"unix.mode": "0755", "unix.uid": "1000", "unix.gid": "1000", "unique": "803g2a1"}}},
	{"IIS dir with spaces in name",
		"modify=20090706120000;type=dir; Folder With Spaces",
		Entry{Name: "Folder With Spaces", Type: Dir, Size: -1, Time: utc(2009, 7, 6, 12, 0, 0), Format: MLSD,
			Facts: map[string]string{"modify": "20090706120000", "type": "dir"}}},
	{"goftp mixed-case facts, name with semicolons",
		"Type=file;Modify=20240105143000;Size=1234; name; with; semicolons",
		Entry{Name: "name; with; semicolons", Type: File, Size: 1234, Time: utc(2024, 1, 5, 14, 30, 0), Format: MLSD,
			Facts: map[string]string{"type": "file", "modify": "20240105143000", "size": "1234"}}},
	{"FileZilla milliseconds",
		"type=file;size=0;modify=20240101000000.250;perms=awrfd; empty.txt",
		Entry{Name: "empty.txt", Type: File, Size: 0, Time: time.Date(2024, 1, 1, 0, 0, 0, 250e6, time.UTC), Format: MLSD,
			Facts: map[string]string{"type": "file", "size": "0", "modify": "20240101000000.250", "perms": "awrfd"}}},
	{"OS.unix=slink with target",
		"type=OS.unix=slink:/usr/share/doc;modify=20240105143000;UNIX.mode=0777; doc",
		Entry{Name: "doc", Type: Link, Size: -1, Time: utc(2024, 1, 5, 14, 30, 0), Target: "/usr/share/doc", Format: MLSD,
			Facts: map[string]string{"type": "OS.unix=slink:/usr/share/doc", "modify": "20240105143000", "unix.mode": "0777"}}},
	{"OS.unix=symlink without target",
		"type=OS.unix=symlink;size=7; lnk",
		Entry{Name: "lnk", Type: Link, Size: 7, Format: MLSD,
			Facts: map[string]string{"type": "OS.unix=symlink", "size": "7"}}},
	{"OS.unix device",
		"type=OS.unix=chardev;modify=20240105143000; tty0",
		Entry{Name: "tty0", Type: Other, Size: -1, Time: utc(2024, 1, 5, 14, 30, 0), Format: MLSD,
			Facts: map[string]string{"type": "OS.unix=chardev", "modify": "20240105143000"}}},
	{"fact value with a space (proftpd with LDAP group)",
		"modify=20220804154300;perm=adfrw;size=0;type=file;UNIX.groupname=domain users;UNIX.mode=0777; testfile",
		Entry{Name: "testfile", Type: File, Size: 0, Time: utc(2022, 8, 4, 15, 43, 0), Format: MLSD,
			Facts: map[string]string{"modify": "20220804154300", "perm": "adfrw", "size": "0", "type": "file",
				"unix.groupname": "domain users", "unix.mode": "0777"}}},
	{"MLST entry line with leading space",
		" type=file;size=1024;modify=20240105143000.5; /pub/readme.txt",
		Entry{Name: "/pub/readme.txt", Type: File, Size: 1024, Time: time.Date(2024, 1, 5, 14, 30, 0, 5e8, time.UTC), Format: MLSD,
			Facts: map[string]string{"type": "file", "size": "1024", "modify": "20240105143000.5"}}},
	{"bad values leave fields unknown",
		"type=file;size=lots;modify=20241340000000; odd",
		Entry{Name: "odd", Type: File, Size: -1, Format: MLSD,
			Facts: map[string]string{"type": "file", "size": "lots", "modify": "20241340000000"}}},
	{"no type fact",
		"size=5;modify=20240105143000; notype",
		Entry{Name: "notype", Type: Unknown, Size: 5, Time: utc(2024, 1, 5, 14, 30, 0), Format: MLSD,
			Facts: map[string]string{"size": "5", "modify": "20240105143000"}}},
	{"name with leading space",
		"type=file;size=5;  spaced",
		Entry{Name: " spaced", Type: File, Size: 5, Format: MLSD,
			Facts: map[string]string{"type": "file", "size": "5"}}},
}

func runLineCases(t *testing.T, format Format, cases []lineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want.Format == 0 {
				want.Format = format
			}
			want.Raw = strings.TrimRight(tc.line, "\r\n")
			got, err := ParseLine(tc.line, refNow)
			if err != nil {
				t.Fatalf("ParseLine(%q) error: %v", tc.line, err)
			}
			checkEntry(t, got, want)
		})
	}
}

func TestParseLineUnix(t *testing.T) { runLineCases(t, Unix, unixCases) }
func TestParseLineDOS(t *testing.T)  { runLineCases(t, DOS, dosCases) }
func TestParseLineEPLF(t *testing.T) { runLineCases(t, EPLF, eplfCases) }
func TestParseLineMLSx(t *testing.T) { runLineCases(t, MLSD, mlsxCases) }
func TestParseMLSxCases(t *testing.T) { // the same lines through ParseMLSx
	for _, tc := range mlsxCases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			want.Raw = tc.line
			got, err := ParseMLSx(tc.line)
			if err != nil {
				t.Fatalf("ParseMLSx(%q) error: %v", tc.line, err)
			}
			checkEntry(t, got, want)
		})
	}
}

// TestParseMLSxOnly covers lines that only ParseMLSx accepts: with no facts,
// the RFC 3659 layout is a space before the name, which ParseLine cannot tell
// from noise.
func TestParseMLSxOnly(t *testing.T) {
	cases := []lineCase{
		{"MLSD line without facts", " name only", Entry{Name: "name only"}},
		{"MLST line without facts", "  /pub/file", Entry{Name: "/pub/file"}},
		{"no facts, name with semicolon", " a; b", Entry{Name: "a; b"}},
		{"no facts, name starting with semicolon", " ; b", Entry{Name: "; b"}},
		{"empty fact items", "type=dir;;size=3;; d", Entry{Name: "d", Type: Dir, Size: 3,
			Facts: map[string]string{"type": "dir", "size": "3"}}},
		{"fact names lower-cased byte-wise (fuzz)", "tYpe\xf2\xf2=x; 0", Entry{Name: "0",
			Facts: map[string]string{"type\xf2\xf2": "x"}}},
		{"CRLF", "type=pdir; ..\r\n", Entry{Name: "..", Type: Dir, Facts: map[string]string{"type": "pdir"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			want.Format = MLSD
			if want.Size == 0 {
				want.Size = -1
			}
			if want.Facts == nil {
				want.Facts = map[string]string{}
			}
			want.Raw = strings.TrimRight(tc.line, "\r\n")
			got, err := ParseMLSx(tc.line)
			if err != nil {
				t.Fatalf("ParseMLSx(%q) error: %v", tc.line, err)
			}
			checkEntry(t, got, want)
		})
	}
}

func TestParseMLSxErrors(t *testing.T) {
	cases := []struct {
		line string
		want error // nil: any error other than the sentinels
	}{
		{"", ErrNoEntry},
		{"   ", ErrNoEntry},
		{"\r\n", ErrNoEntry},
		{"type=file;size=1;", nil},  // no "; " at all
		{"type=file;size=1; ", nil}, // empty name
		{"typefile;size=1; x", nil}, // item without '='
		{"=file; x", nil},           // empty fact name
		{"ty pe=file; x", nil},      // space in fact name
		{"no facts here", nil},      // no leading space, no facts
		{"type=file; a\nb", nil},    // line break inside
		{strings.Repeat("a", MaxLineLength+1), ErrLineTooLong},
	}
	for _, tc := range cases {
		e, err := ParseMLSx(tc.line)
		if err == nil {
			t.Errorf("ParseMLSx(%q) = %+v, want error", tc.line, e)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("ParseMLSx(%q) error = %v, want %v", tc.line, err, tc.want)
		}
		if tc.want == nil && (errors.Is(err, ErrNoEntry) || errors.Is(err, ErrUnknownFormat)) {
			t.Errorf("ParseMLSx(%q) error = %v, want a specific parse error", tc.line, err)
		}
		if e.Name != "" || e.Raw != "" || e.Facts != nil {
			t.Errorf("ParseMLSx(%q) returned a non-zero Entry with an error: %+v", tc.line, e)
		}
	}
}

func TestParseLineErrors(t *testing.T) {
	cases := []struct {
		line string
		want error // nil: a specific (non-sentinel) error
	}{
		{"", ErrNoEntry},
		{"\r\n", ErrNoEntry},
		{" \t ", ErrNoEntry},
		{"total 12", ErrNoEntry},
		{"total 0\r", ErrNoEntry},
		{"TOTAL 1.5K", ErrNoEntry},
		{"total", ErrUnknownFormat},
		{"totally 12", ErrUnknownFormat},
		{"hello world", ErrUnknownFormat},
		{"226 Transfer complete.", ErrUnknownFormat},
		{" indented garbage", ErrUnknownFormat},
		{"/pub/dir:", ErrUnknownFormat},
		{"-rw-r--r-x1 x", ErrUnknownFormat}, // not a permission field
		{"Xrw-r--r-- 1 u g 5 Jun  1 10:00 x", ErrUnknownFormat},
		{"-rwxrwxrwq 1 u g 5 Jun  1 10:00 x", ErrUnknownFormat},
		{"01/02", ErrUnknownFormat},
		{"13-13-2002  10:00  5 x", ErrUnknownFormat},
		{strings.Repeat("x", MaxLineLength+1), ErrLineTooLong},
		{"drwxr-xr-x   2 ftp      ftp          4096", nil},
		{"-rw-r--r--   1 ftp      ftp             5 Jun  1 10:00", nil},
		{"-rw-r--r--   1 ftp      ftp             5 Jun  1 10:00 ", nil},
		{"-rw-r--r--   1 ftp      ftp             5 Feb 30  2020 x", nil},
		{"-rw-r--r--   1 ftp      ftp          5KiB Jun  1 10:00 x", nil},
		{"-rw-r--r--   1 ftp      ftp             5 Jun  1 24:00 x", nil},
		{"-rw-r--r--   1 ftp      ftp   99999999999999999999 Jun  1 10:00 x", nil},
		{"-????????? ? ? ? ? x", nil},
		{"01-16-02  11:14AM", nil},
		{"01-16-02  13:14PM       <DIR>          x", nil},
		{"01-16-02  11:14AM       <FILE>         x", nil},
		{"01-16-02  11:14AM       <DIR>", nil},
		{"01-16-02  11:14AM       <DIR>          a\nb", nil},
		{"+i1,r,s3", nil},
		{"+i1,r,s3,\t", nil},
	}
	for _, tc := range cases {
		e, err := ParseLine(tc.line, refNow)
		if err == nil {
			t.Errorf("ParseLine(%q) = %+v, want error", tc.line, e)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("ParseLine(%q) error = %v, want %v", tc.line, err, tc.want)
		}
		if tc.want == nil && (errors.Is(err, ErrNoEntry) || errors.Is(err, ErrUnknownFormat) || errors.Is(err, ErrLineTooLong)) {
			t.Errorf("ParseLine(%q) error = %v, want a specific parse error", tc.line, err)
		}
		if e.Name != "" || e.Raw != "" || e.Facts != nil {
			t.Errorf("ParseLine(%q) returned a non-zero Entry with an error: %+v", tc.line, e)
		}
	}
}

// TestMaxLineLength checks the limit is inclusive and ignores the line end.
func TestMaxLineLength(t *testing.T) {
	prefix := "-rw-r--r--   1 ftp      ftp             5 Jun  1 10:00 "
	line := prefix + strings.Repeat("n", MaxLineLength-len(prefix))
	e, err := ParseLine(line+"\r\n", refNow)
	if err != nil || len(e.Name) != MaxLineLength-len(prefix) {
		t.Fatalf("line of exactly MaxLineLength: %v (name length %d)", err, len(e.Name))
	}
	if _, err := ParseLine(line+"n", refNow); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("line one past MaxLineLength: err = %v, want ErrLineTooLong", err)
	}
}

// TestZeroNow checks that a zero now means the current time.
func TestZeroNow(t *testing.T) {
	now := time.Now().UTC()
	line := "-rw-r--r--   1 ftp      ftp             5 " + now.Format("Jan _2 15:04") + " x"
	e, err := ParseLine(line, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Time.Year() != now.Year() {
		t.Fatalf("year = %d, want %d", e.Time.Year(), now.Year())
	}
}

func TestIsSelfOrParent(t *testing.T) {
	cases := []struct {
		e    Entry
		want bool
	}{
		{Entry{Name: "/pub", Facts: map[string]string{"type": "cdir"}}, true},
		{Entry{Name: "/", Facts: map[string]string{"type": "PDIR"}}, true},
		{Entry{Name: "sub", Facts: map[string]string{"type": "dir"}}, false},
		{Entry{Name: "."}, true},
		{Entry{Name: ".."}, true},
		{Entry{Name: "..."}, false},
		{Entry{Name: ".hidden"}, false},
	}
	for _, tc := range cases {
		if got := tc.e.IsSelfOrParent(); got != tc.want {
			t.Errorf("%+v.IsSelfOrParent() = %v, want %v", tc.e, got, tc.want)
		}
	}
}

func TestStrings(t *testing.T) {
	types := map[Type]string{Unknown: "unknown", File: "file", Dir: "dir", Link: "link", Other: "other", 9: "Type(9)"}
	for v, want := range types {
		if got := v.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", v, got, want)
		}
	}
	formats := map[Format]string{0: "unknown", Unix: "unix", MLSD: "mlsd", DOS: "dos", EPLF: "eplf", 9: "Format(9)"}
	for v, want := range formats {
		if got := v.String(); got != want {
			t.Errorf("Format(%d).String() = %q, want %q", v, got, want)
		}
	}
}
