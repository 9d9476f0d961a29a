package handlers

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

// Seeds are reply texts (code removed) from real servers: vsftpd 3.0.3,
// ProFTPD 1.3.8, Pure-FTPd 1.0.50, goftp, and the article's examples.
var (
	pasvSeeds = []string{
		"Entering Passive Mode (127,0,0,1,117,141).",
		"Entering Passive Mode (195,100,36,198,219,28)",
		"Entering Passive Mode (194,109,137,227,8,11).",
		"Entering Passive Mode (127,0,0,1,156,64)",
		"Entering Passive Mode 127,0,0,1,4,1",
		"=127,0,0,1,4,1",
		"(127,0,0,1,-1,-1)",
		"(127,0,0,1,0,0)",
	}
	epsvSeeds = []string{
		"Entering Extended Passive Mode (|||30123|)",
		"Entering Extended Passive Mode (|||30123|).",
		"Extended Passive mode OK (|||40001|)",
		"EPSV ok (!!!2121!)",
		"(|||0|)",
		"(|1|127.0.0.1|6446|)",
	}
	pathSeeds = []string{
		`"/" is the current directory`,
		`"/home/ftp" is current directory.`,
		`"/dir1/dir2" is the current directory`,
		`"/with ""quotes""" created`,
		`"/grüße" ok`,
		`"/unterminated`,
		`no quote`,
	}
	featSeeds = []string{
		"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n",
		"211-Features:\r\n AUTH TLS\r\n MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.mode*;UNIX.owner*;\r\n PBSZ\r\n PROT\r\n UTF8\r\n211 End\r\n",
		"211-Extensions supported:\r\n EPRT\r\n IDLE\r\n MDTM\r\n SIZE\r\n MFMT\r\n REST STREAM\r\n MLST type*;size*;sizd*;modify*;UNIX.mode*;UNIX.uid*;UNIX.gid*;unique*;\r\n MLSD\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n UTF8\r\n TVFS\r\n ESTA\r\n PASV\r\n EPSV\r\n ESTP\r\n211 End.\r\n",
		"211 No features\r\n",
	}
)

func FuzzParsePASV(f *testing.F) {
	for _, s := range pasvSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		host, port, err := ParsePASV(text)
		if err != nil {
			if !errors.Is(err, ftp.ErrProtocol) || host != "" || port != 0 {
				t.Fatalf("error %v with %q, %d", err, host, port)
			}
			return
		}
		if port < 1 || port > 65535 {
			t.Fatalf("port %d out of range", port)
		}
		parts := strings.Split(host, ".")
		if len(parts) != 4 {
			t.Fatalf("host %q", host)
		}
		for _, p := range parts {
			if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 || strconv.Itoa(n) != p {
				t.Fatalf("host %q", host)
			}
		}
	})
}

func FuzzParseEPSV(f *testing.F) {
	for _, s := range epsvSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		port, err := ParseEPSV(text)
		if err != nil {
			if !errors.Is(err, ftp.ErrProtocol) || port != 0 {
				t.Fatalf("error %v with port %d", err, port)
			}
			return
		}
		if port < 1 || port > 65535 {
			t.Fatalf("port %d out of range", port)
		}
		if !strings.Contains(text, strconv.Itoa(port)) {
			t.Fatalf("port %d not in %q", port, text)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParsePath(text)
		if err != nil {
			if !errors.Is(err, ftp.ErrProtocol) || p != "" {
				t.Fatalf("error %v with %q", err, p)
			}
			return
		}
		// Quoting the result again must reproduce a prefix of the input
		// after its first quote.
		q := `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		i := strings.IndexByte(text, '"')
		if !strings.HasPrefix(text[i:], q) {
			t.Fatalf("ParsePath(%q) = %q, which quotes as %q", text, p, q)
		}
	})
}

func FuzzParseFeatures(f *testing.F) {
	for _, s := range featSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r ftp.Reader
		_ = r.Feed(in, func(rep ftp.Reply) error {
			feats := ParseFeatures(rep)
			for name, param := range feats {
				if name == "" || name != asciiUpper(name) || strings.ContainsAny(name, " ") {
					t.Fatalf("feature name %q", name)
				}
				if !strings.Contains(asciiUpper(string(in)), name) {
					// Only ASCII letters change case: every other byte of
					// the name is as the server sent it.
					t.Fatalf("feature name %q is not in the reply %q", name, in)
				}
				if param != strings.TrimSpace(param) {
					t.Fatalf("feature %q has untrimmed parameter %q", name, param)
				}
				if !feats.Has(asciiLowerForTest(name)) || !feats.Has(name) {
					t.Fatalf("Has(%q) false", name)
				}
			}
			return nil
		})
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"20240501120405", "20240501120405.123", "19700101000000", "2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			if !errors.Is(err, ftp.ErrProtocol) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if tm.Location() != time.UTC || tm.Format("20060102150405") != s[:14] {
			t.Fatalf("ParseTime(%q) = %v", s, tm)
		}
	})
}

// asciiLowerForTest lower-cases ASCII letters only, the way a caller asking
// Has("mlst") does; every other byte stays.
func asciiLowerForTest(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
