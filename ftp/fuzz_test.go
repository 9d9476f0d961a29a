package ftp

import (
	"bufio"
	"bytes"
	"errors"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// realReplies is control-connection output of real servers (vsftpd 3.0.3,
// ProFTPD 1.3.8, Pure-FTPd 1.0.50, goftp), used to seed the fuzzers.
var realReplies = []string{
	"220 (vsFTPd 3.0.3)\r\n",
	"331 Please specify the password.\r\n230 Login successful.\r\n",
	"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n",
	"227 Entering Passive Mode (127,0,0,1,117,141).\r\n150 Here comes the directory listing.\r\n226 Directory send OK.\r\n",
	"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 1 of 50 allowed.\r\n" +
		"220-Local time is now 13:43. Server port: 2121.\r\n220 You will be disconnected after 15 minutes of inactivity.\r\n",
	"220 ProFTPD Server (asyncftp) [127.0.0.1]\r\n331 Anonymous login ok, send your complete email address as your password\r\n" +
		"230-Welcome, archive user ftp@127.0.0.1 !\r\n230-\r\n230-The local time is: Thu Nov 26 13:43:16 2026\r\n230 Anonymous access granted, restrictions apply\r\n",
	"211-Features:\r\n AUTH TLS\r\n CCC\r\n CLNT\r\n EPRT\r\n EPSV\r\n HOST\r\n LANG en-US*\r\n MDTM\r\n MFF modify;UNIX.group;UNIX.mode;\r\n" +
		" MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;UNIX.ownername*;\r\n" +
		" PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n SSCN\r\n TVFS\r\n UTF8\r\n211 End\r\n",
	"229 Entering Extended Passive Mode (|||30123|)\r\n",
	"257 \"/dir with \"\"quotes\"\"\" is the current directory\r\n",
	"220 Welcome to the Go FTP Server\r\n530 Incorrect password, not logged in\r\n",
	"213 20240501120405\r\n213 3145735\r\n",
	"120 Service ready in 2 minutes.\n220 Ready\n",
	"421 Timeout.\r\n",
	"250-first\r\n220 inner\r\n250x\r\n250 end\r\n",
}

// FuzzReader feeds arbitrary bytes, whole and split at a chosen point, and
// checks the bounds, that splitting changes nothing, and that a reply both
// Reader and net/textproto accept reads the same in both.
func FuzzReader(f *testing.F) {
	for i, s := range realReplies {
		f.Add([]byte(s), uint16(i*7))
	}
	f.Add([]byte("200 "+strings.Repeat("x", 100)+"\r\n"), uint16(50))
	f.Add([]byte("211-a\r\n b\r\n c\r\n d\r\n e\r\n f\r\n g\r\n h\r\n211 end\r\n"), uint16(3))
	f.Add([]byte("\x00\xff\r\n"), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		const maxLine, maxLines = 64, 8
		read := func(chunks ...[]byte) ([]Reply, error, *Reader) {
			r := &Reader{MaxLineLength: maxLine, MaxReplyLines: maxLines}
			var got []Reply
			for _, c := range chunks {
				if err := r.Feed(c, func(rep Reply) error { got = append(got, rep); return nil }); err != nil {
					return got, err, r
				}
				if r.Buffered() > maxLine+1 {
					t.Fatalf("holds %d bytes, bound %d", r.Buffered(), maxLine)
				}
			}
			return got, nil, r
		}
		whole, werr, r := read(in)
		k := int(split) % (len(in) + 1)
		parts, perr, _ := read(in[:k], in[k:])
		if !reflect.DeepEqual(whole, parts) || (werr == nil) != (perr == nil) {
			t.Fatalf("split at %d changed the result:\n whole %v %v\n split %v %v", k, whole, werr, parts, perr)
		}
		if werr != nil {
			if !errors.Is(werr, ErrProtocol) || r.Err() != werr {
				t.Fatalf("error %v (%T) is not a sticky protocol error", werr, werr)
			}
		}
		for _, rep := range whole {
			if rep.Code < 100 || rep.Code > 599 || len(rep.Lines) == 0 || len(rep.Lines) > maxLines {
				t.Fatalf("bad reply %v", rep)
			}
			for _, l := range rep.Lines {
				if len(l) > maxLine || strings.Contains(l, "\n") {
					t.Fatalf("bad line %q", l)
				}
			}
		}
		// Differential check with net/textproto on the first reply.
		if len(whole) == 0 || bytes.Contains(in, []byte("\r\r")) || bytes.ContainsAny(in[:4], "\r\n") {
			return
		}
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(in)))
		code, msg, err := tp.ReadResponse(0)
		if err != nil {
			return // textproto refuses more (a lone "200", say); only compare agreements
		}
		if code != whole[0].Code || msg != whole[0].Message() {
			t.Fatalf("Reader %d %q, textproto %d %q", whole[0].Code, whole[0].Message(), code, msg)
		}
	})
}
