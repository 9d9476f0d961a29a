package handlers

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
)

func isProtocolError(err error) bool {
	var pe *ftp.ProtocolError
	return errors.As(err, &pe) && errors.Is(err, ftp.ErrProtocol)
}

func TestParsePASV(t *testing.T) {
	good := []struct {
		text string
		host string
		port int
	}{
		{"Entering Passive Mode (127,0,0,1,4,1)", "127.0.0.1", 1025},
		{"Entering Passive Mode (127,0,0,1,4,1).", "127.0.0.1", 1025},                     // vsftpd's trailing dot
		{"Entering Passive Mode (195,100,36,198,219,28)", "195.100.36.198", 219*256 + 28}, // the article's
		{"Entering Passive Mode 127,0,0,1,4,1", "127.0.0.1", 1025},                        // no parentheses
		{"127,0,0,1,4,1", "127.0.0.1", 1025},                                              // nothing around
		{"=127,0,0,1,4,1 ok", "127.0.0.1", 1025},                                          // text before and after
		{"Entering Passive Mode (127,0,0,1,4,1", "127.0.0.1", 1025},                       // unclosed
		{"Passive (10, 0, 0, 7, 195, 80) now", "10.0.0.7", 195*256 + 80},                  // spaces after commas
		{"(127 ,0 ,0 ,1 ,4 ,1)", "127.0.0.1", 1025},                                       // spaces before commas
		{"port 21 then (127,0,0,1,4,1)", "127.0.0.1", 1025},                               // a lone number first
		{"(127,0,0,1,-1,-1)", "127.0.0.1", 65535},                                         // negative: low 8 bits
		{"(127,0,0,1,-4,1)", "127.0.0.1", 252*256 + 1},
		{"(127,0,0,1,+4,+1)", "127.0.0.1", 1025},
		{"(127,0,0,1,260,257)", "127.0.0.1", 4*256 + 1}, // over 255: low 8 bits
		{"(127,0,0,1,1024,1)", "127.0.0.1", 1},          // 1024 & 0xff = 0
		{"(300,-1,256,1,4,1)", "44.255.0.1", 1025},      // host numbers too
		{"(127,0,0,1,4,1,9)", "127.0.0.1", 1025},        // the first six count
		{"(1,2,3,4,5,6) and (7,8,9,10,11,12)", "1.2.3.4", 5*256 + 6},
		{"(127,0,0,1,000004,001)", "127.0.0.1", 1025},
		// A tuple starts where a number starts, as the article's regular
		// expression searches: a stray sign before it does not matter.
		{"(--1,0,0,1,4,1)", "255.0.0.1", 1025},
		{"(- 1,0,0,1,4,1)", "1.0.0.1", 1025},
	}
	for _, c := range good {
		host, port, err := ParsePASV(c.text)
		if err != nil || host != c.host || port != c.port {
			t.Errorf("ParsePASV(%q) = %q, %d, %v; want %q, %d", c.text, host, port, err, c.host, c.port)
		}
	}
	bad := []string{
		"",
		"Entering Passive Mode",
		"Entering Passive Mode (127,0,0,1,0,0)",    // port 0
		"(127,0,0,1,256,256)",                      // port 0 after masking
		"(127,0,0,1,-256,0)",                       // port 0 after masking
		"Entering Passive Mode (127,0,0,1,4)",      // five numbers
		"(127,0,0,1,4,)",                           // missing number
		"(127,0,0,,4,1)",                           // missing number
		"(,127,0,0,1,4)",                           // leading comma, five numbers
		"(a,b,c,d,e,f)",                            // garbage
		"(127.0.0.1:1025)",                         // another format
		"(127;0;0;1;4;1)",                          // wrong separator
		"(127,0,0,1,4,1234567890123)",              // too many digits
		"\x00\xff(\x00,\x00)",                      // binary
		strings.Repeat("1,,", 2000),                // never six numbers in a row
		strings.Repeat("9", 100) + ",1,1,1,1,1",    // huge first number
		"(127,0,0,1,4,1" + strings.Repeat("0", 20), // huge last number
	}
	for _, text := range bad {
		host, port, err := ParsePASV(text)
		if err == nil || !isProtocolError(err) {
			t.Errorf("ParsePASV(%.40q) = %q, %d, %v; want a protocol error", text, host, port, err)
		}
	}
}

func TestParseEPSV(t *testing.T) {
	good := []struct {
		text string
		port int
	}{
		{"Entering Extended Passive Mode (|||6446|)", 6446},
		{"Entering Extended Passive Mode (|||6446|).", 6446},
		{"(|||1|)", 1},
		{"(|||65535|)", 65535},
		{"Extended Passive mode OK (!!!30123!)", 30123}, // any printable delimiter
		{"(###2121#)", 2121},
		{"(~~~2121~)", 2121},
		{"(aaa2121a)", 2121},
		{"(|||02121|)", 2121},
	}
	for _, c := range good {
		port, err := ParseEPSV(c.text)
		if err != nil || port != c.port {
			t.Errorf("ParseEPSV(%q) = %d, %v; want %d", c.text, port, err, c.port)
		}
	}
	bad := []string{
		"",
		"Entering Extended Passive Mode",
		"Entering Extended Passive Mode |||6446|",
		"(|||6446|",
		"|||6446|)",
		"()",
		"(||6446|)",
		"(|||6446)",
		"(||||)",
		"(|||0|)",
		"(|||65536|)",
		"(|||-1|)",
		"(|||+80|)",
		"(|||80 |)",
		"(||| 80|)",
		"(|||8a0|)",
		"(|||99999999999999999999|)",
		"(|127.0.0.1||6446|)", // EPSV never carries a host
		"(|1|127.0.0.1|6446|)",
		"(|||6446#)", // mixed delimiters
		"(#||6446|)",
		"(   6446 )", // space is not a delimiter
		"(\x7f\x7f\x7f6446\x7f)",
		"(\x00\x00\x006446\x00)",
		")(|||6446|",
	}
	for _, text := range bad {
		port, err := ParseEPSV(text)
		if err == nil || !isProtocolError(err) {
			t.Errorf("ParseEPSV(%q) = %d, %v; want a protocol error", text, port, err)
		}
	}
}

func TestParsePath(t *testing.T) {
	good := []struct{ text, path string }{
		{`"/" is the current directory`, "/"},
		{`"/home/ftp"`, "/home/ftp"},
		{`"/a ""b"" c" is current directory`, `/a "b" c`},
		{`""""`, `"`},
		{`""`, ""},
		{`"/with space/and ""quote"""`, `/with space/and "quote"`},
		{`MKD command successful "/new" created`, "/new"}, // text before the quote
		{`"/grüße/日本" ok`, "/grüße/日本"},
		{"\"/a\x00b\xff\" ok", "/a\x00b\xff"},
		{`"/x" "/y"`, "/x"},
	}
	for _, c := range good {
		p, err := ParsePath(c.text)
		if err != nil || p != c.path {
			t.Errorf("ParsePath(%q) = %q, %v; want %q", c.text, p, err, c.path)
		}
	}
	for _, text := range []string{"", "/home is cwd", `"/unterminated`, `"/a""`, `"/a"""" is`, `"`} {
		p, err := ParsePath(text)
		if err == nil || !isProtocolError(err) {
			t.Errorf("ParsePath(%q) = %q, %v; want a protocol error", text, p, err)
		}
	}
}

func TestParseFeatures(t *testing.T) {
	r := ftp.Reply{Code: 211, Lines: []string{
		"Features:", " EPRT", " EPSV", " MDTM", " MLST type*;size*;modify*;", " REST STREAM",
		" utf8", "", "   ", " LANG  en-US*;fr ", "\tTVFS", "End",
	}}
	want := Features{
		"EPRT": "", "EPSV": "", "MDTM": "", "MLST": "type*;size*;modify*;", "REST": "STREAM",
		"UTF8": "", "LANG": "en-US*;fr", "TVFS": "",
	}
	got := ParseFeatures(r)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseFeatures = %v\nwant %v", got, want)
	}
	if !got.Has("mlst") || !got.Has("Utf8") || got.Has("SIZE") || got.Has("End") || got.Has("Features:") {
		t.Errorf("Has is wrong on %v", got)
	}
	// Only ASCII letters fold: other bytes of a name stay as sent, and such
	// a name is found again (strings.ToUpper rewrote invalid UTF-8, and
	// "İ" did not survive a trip through ToLower and ToUpper).
	odd := ParseFeatures(ftp.Reply{Code: 211, Lines: []string{"Features:", " x-İ", " y\xff", "End"}})
	if _, ok := odd["X-İ"]; !ok || !odd.Has("x-İ") || !odd.Has("X-İ") || !odd.Has("y\xff") || !odd.Has("Y\xff") || odd.Has("X-I") {
		t.Errorf("non-ASCII feature names: %q", odd)
	}
	for _, r := range []ftp.Reply{
		{Code: 211, Lines: []string{"No features"}},
		{Code: 211, Lines: []string{"Features:", "End"}},
		{Code: 211},
	} {
		if f := ParseFeatures(r); len(f) != 0 {
			t.Errorf("ParseFeatures(%v) = %v, want none", r, f)
		}
	}
}

func TestParseTime(t *testing.T) {
	good := []struct {
		s    string
		want time.Time
	}{
		{"20240501120405", time.Date(2024, 5, 1, 12, 4, 5, 0, time.UTC)},
		{"20240501120405.123", time.Date(2024, 5, 1, 12, 4, 5, 123e6, time.UTC)},
		{"20240501120405.1", time.Date(2024, 5, 1, 12, 4, 5, 1e8, time.UTC)},
		{"19700101000000", time.Unix(0, 0).UTC()},
	}
	for _, c := range good {
		got, err := ParseTime(c.s)
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", c.s, got, err, c.want)
		}
	}
	for _, s := range []string{"", "2024", "20241301120405", "20240501250405", "2024050112040", "202405011204055",
		"20240501120405.", "20240501120405.abc", "20240501120405Z", "abcdefghijklmn", " 20240501120405"} {
		if got, err := ParseTime(s); err == nil || !isProtocolError(err) {
			t.Errorf("ParseTime(%q) = %v, %v; want a protocol error", s, got, err)
		}
	}
}
