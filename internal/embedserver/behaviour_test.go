package embedserver

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// These tests pin what goftp.io/server/v2 v2.0.3 actually sends, as recorded
// in the package documentation. A goftp upgrade that changes any of it
// should fail here first.

// rawReply sends line and returns the reply bytes exactly as received,
// CR and LF included, up to the final "NNN " line.
func rawReply(t *testing.T, c *rawClient, line string) string {
	t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		s, err := c.tp.R.ReadString('\n')
		b.WriteString(s)
		if err != nil {
			t.Fatalf("%s: %v (so far %q)", line, err, b.String())
		}
		if len(s) >= 4 && s[3] == ' ' && s[0] >= '1' && s[0] <= '5' {
			return b.String()
		}
	}
}

func TestGoftpFeatAndControlReplies(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	if c.Greeting != "Welcome to the Go FTP Server" {
		t.Errorf("greeting %q", c.Greeting)
	}

	feat := rawReply(t, c, "FEAT")
	if !strings.HasPrefix(feat, "211-Extensions supported:\n UTF8\n") || !strings.HasSuffix(feat, "\n\r\n211 End\r\n") {
		t.Errorf("FEAT framing changed: %q", feat)
	}
	for _, want := range []string{" EPSV\n", " EPRT\n", " CLNT\n", " MLST Type*;Modify*;Size*;\n"} {
		if !strings.Contains(feat, want) {
			t.Errorf("FEAT lacks %q: %q", want, feat)
		}
	}
	for _, absent := range []string{"SIZE", "MDTM", "REST", "MLSD", "TVFS", "AUTH", "LPRT"} {
		if strings.Contains(feat, absent) {
			t.Errorf("FEAT now announces %s: %q", absent, feat)
		}
	}

	c.expect(530, "SYST") // SYST needs login
	c.expect(331, "USER anonymous")
	c.expect(553, "PASS") // an empty password is a missing parameter
	c.expect(230, "PASS guest@")
	if msg := c.expect(215, "SYST"); msg != "UNIX Type: L8" {
		t.Errorf("SYST %q", msg)
	}
	if msg := c.expect(227, "PASV"); !regexp.MustCompile(`^Entering Passive Mode \(127,0,0,1,\d+,\d+\)$`).MatchString(msg) {
		t.Errorf("PASV %q", msg)
	}
	if msg := c.expect(229, "EPSV"); !regexp.MustCompile(`^Entering Extended Passive Mode \(\|\|\|\d+\|\)$`).MatchString(msg) {
		t.Errorf("EPSV %q", msg)
	}
	c.expect(229, "EPSV ALL") // accepted, and PASV still works afterwards
	c.expect(227, "PASV")
	if msg := c.expect(213, "SIZE /65537-bytes.bin"); msg != "65537" {
		t.Errorf("SIZE %q", msg)
	}
	c.expect(213, "SIZE /pub") // a directory has a SIZE (its inode size)
	if msg := c.expect(450, "SIZE /missing"); msg != "path /missing not found" {
		t.Errorf("SIZE missing %q", msg)
	}
	if msg := c.expect(213, "MDTM /README.txt"); msg != "20240102030405" {
		t.Errorf("MDTM %q", msg)
	}
	if msg := c.expect(450, "MDTM /missing"); msg != "File not available" {
		t.Errorf("MDTM missing %q", msg)
	}
	if got := rawReply(t, c, "MLST /pub/hello.txt"); got != "250-Start\n Type=file;Modify=20240102030405;Size=45; hello.txt\r\n250 End\r\n" {
		t.Errorf("MLST %q", got)
	}
	if got := rawReply(t, c, "STAT"); !strings.Contains(got, "\nConnected to  (2.0beta)\n") {
		t.Errorf("STAT %q", got)
	}
	c.expect(350, "REST 100")
	for _, line := range []string{"ABOR", "HELP", "SITE CHMOD 644 x", "MFMT 20240101000000 x", "HASH x", "LPRT 4,4,127,0,0,1,2,4,1"} {
		c.expect(500, "%s", line)
	}
	c.expect(550, "PBSZ 0") // no TLS configured
	c.expect(550, "AUTH TLS")
	c.expect(200, "OPTS UTF8 ON")
	c.expect(550, "OPTS UTF8 OFF")
	if got := rawReply(t, c, "QUIT"); got != "221 Goodbye\r\n" {
		t.Errorf("QUIT %q", got)
	}
	if _, err := c.tp.ReadLine(); err == nil {
		t.Error("control connection still open after QUIT")
	}
}

func TestGoftpListings(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")

	list, code, _ := c.list("LIST", "")
	if code != 226 || !strings.Contains(list, "-rwxrwxrwx 1 ftp ftp         1000 Jan  2  2024 1000-bytes.bin\r\n") ||
		!strings.Contains(list, " Jan  2  2024 name with spaces.txt\r\n") ||
		!regexp.MustCompile(`(?m)^drwxrwxrwx 1 ftp ftp +\d+ Jan  2  2024 pub\r$`).MatchString(list) ||
		strings.Contains(list, " .\r\n") || strings.HasPrefix(list, "total") {
		t.Errorf("LIST (%d):\n%s", code, list)
	}
	if list, _, _ := c.list("LIST", "-la /pub"); !strings.HasPrefix(list, "-rwxrwxrwx 1 ftp ftp           45 Jan  2  2024 hello.txt\r\n") {
		t.Errorf("LIST -la /pub:\n%s", list)
	}
	if list, _, _ := c.list("LIST", "/pub/hello.txt"); list != "-rwxrwxrwx 1 ftp ftp           45 Jan  2  2024 hello.txt\r\n" {
		t.Errorf("LIST of a file: %q", list)
	}
	if nlst, _, _ := c.list("NLST", "/pub"); nlst != "hello.txt\r\nnested\r\n" {
		t.Errorf("NLST /pub: %q", nlst)
	}
	mlsd, code, _ := c.list("MLSD", "/pub")
	if code != 226 || !regexp.MustCompile(`^Type=file;Modify=20240102030405;Size=45; hello.txt\nType=dir;Modify=20240102030405;Size=\d+; nested\n$`).MatchString(mlsd) {
		t.Errorf("MLSD /pub: %q", mlsd)
	}
	if _, code, msg := c.list("LIST", "/missing"); code != 550 || !strings.HasPrefix(msg, "lstat ") {
		t.Errorf("LIST missing: %d %q", code, msg)
	}
	if _, code, msg := c.retr("/missing", 0); code != 551 || msg != "File not available" {
		t.Errorf("RETR missing: %d %q", code, msg)
	}
	if _, code, msg := c.retr("/pub", 0); code != 551 || msg != "Error reading file" {
		t.Errorf("RETR of a directory: %d %q", code, msg)
	}
	if data, code, msg := c.retr("/1000-bytes.bin", 1000); code != 226 || len(data) != 0 || msg != "Closing data connection, sent 0 bytes" {
		t.Errorf("REST at EOF then RETR: %d %q, %d bytes", code, msg, len(data))
	}
}

func TestGoftpUploadSemantics(t *testing.T) {
	s := startServer(t, Options{})
	c := dialRaw(t, s.Addr, nil)
	c.login(DefaultUser, DefaultPassword)
	path := filepath.Join(s.Root, "up.txt")
	content := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	put := func(verb, body string, rest int64) (int, string) {
		return c.store(verb, "/up.txt", strings.NewReader(body), rest)
	}

	if code, msg := put("STOR", "0123456789", -1); code != 226 || msg != "OK, received 10 bytes" {
		t.Fatalf("STOR: %d %q", code, msg)
	}
	// APPE without REST replaces the file instead of appending.
	if code, _ := put("APPE", "abc", -1); code != 226 || content() != "abc" {
		t.Errorf("APPE: %d, file %q", code, content())
	}
	// REST n + APPE/STOR append at the end whatever n is (O_APPEND) ...
	if code, _ := put("APPE", "de", 3); code != 226 || content() != "abcde" {
		t.Errorf("REST 3 APPE: %d, file %q", code, content())
	}
	if code, _ := put("STOR", "XY", 1); code != 226 || content() != "abcdeXY" {
		t.Errorf("REST 1 STOR: %d, file %q", code, content())
	}
	// ... and an offset past the end fails only after "150".
	if code, msg := put("STOR", "zz", 100); code != 450 || msg != "error during transfer: Offset 100 is beyond file size 7" {
		t.Errorf("REST 100 STOR: %d %q", code, msg)
	}
	if content() != "abcdeXY" {
		t.Errorf("file after failed REST STOR: %q", content())
	}
	// REST then STOR of a file that does not exist just creates it.
	if code, _ := c.store("STOR", "/fresh.txt", strings.NewReader("new"), 5); code != 226 {
		t.Errorf("REST 5 STOR of a new file: %d", code)
	}
	// MKD of an existing directory succeeds (MkdirAll).
	c.expect(257, "MKD /pub")
	// Data commands without PASV/PORT: 425 from this package's wrapper
	// (goftp itself would hang or claim a transfer that never happened).
	c.expect(425, "RETR /up.txt")
	c.expect(425, "LIST")
}

// activeRetr downloads path in active mode: the test listens, sends PORT
// (or EPRT when eprt is set) and goftp dials back at once.
func activeRetr(t *testing.T, c *rawClient, path string, eprt bool) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if eprt {
		c.expect(200, "EPRT |1|127.0.0.1|%d|", port)
	} else {
		c.expect(200, "PORT 127,0,0,1,%d,%d", port/256, port%256)
	}
	d, err := ln.Accept() // goftp connected during PORT
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c.expect(150, "RETR %s", path)
	data, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := c.read(); code != 226 {
		t.Fatalf("active RETR: %d %s", code, msg)
	}
	return data
}

func TestGoftpActiveMode(t *testing.T) {
	srvCfg, cliCfg, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{TLS: srvCfg})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")
	want := "Hello from the asyncftp embedded FTP server.\n"
	if got := string(activeRetr(t, c, "/pub/hello.txt", false)); got != want {
		t.Errorf("PORT RETR: %q", got)
	}
	if got := string(activeRetr(t, c, "/pub/hello.txt", true)); got != want {
		t.Errorf("EPRT RETR: %q", got)
	}
	for _, bad := range []string{"PORT 10,0,0,1,4,1", "PORT 127,0,0,1", "PORT a,b,c,d,e,f", "EPRT |1|10.0.0.1|1025|", "EPRT |2|::1|1025|", "EPRT junk"} {
		c.expect(501, "%s", bad)
	}

	// Explicit FTPS: goftp wraps passive data sockets in TLS but not active
	// ones, so PORT data stays plain text even after AUTH TLS + PROT P.
	e := dialRaw(t, s.Addr, nil)
	e.authTLS(cliCfg)
	e.login("anonymous", "guest@")
	e.expect(200, "PBSZ 0")
	e.expect(200, "PROT P")
	if got := string(activeRetr(t, e, "/pub/hello.txt", false)); got != want {
		t.Errorf("PORT RETR under explicit FTPS (plain data): %q", got)
	}
}

// TestLinksShowTheirTargets: a link to a file lists and MLSTs with the
// file's facts (goftp alone would give the link's length as a file), a
// folder reached through a link lists its content, and a dangling link keeps
// its own facts.
func TestLinksShowTheirTargets(t *testing.T) {
	root := t.TempDir()
	if _, err := GenerateTree(root); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"to-hello": "pub/hello.txt", "to-nested": "pub/nested", "dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, Options{Root: root})
	c := dialRaw(t, s.Addr, nil)
	c.login("anonymous", "guest@")
	mlsd, code, _ := c.list("MLSD", "/")
	for _, want := range []string{"Type=file;Modify=20240102030405;Size=45; to-hello\n", "Type=dir;Modify=20240102030405;Size=", "; to-nested\n", "Size=7; dangling\n"} {
		if code != 226 || !strings.Contains(mlsd, want) {
			t.Errorf("MLSD / (%d) lacks %q:\n%s", code, want, mlsd)
		}
	}
	if got := rawReply(t, c, "MLST /to-hello"); !strings.Contains(got, " Type=file;Modify=20240102030405;Size=45; to-hello\r\n") {
		t.Errorf("MLST of a link: %q", got)
	}
	if list, code, _ := c.list("LIST", "/to-nested"); code != 226 || !regexp.MustCompile(`(?m)^drwx.* deeper\r$`).MatchString(list) {
		t.Errorf("LIST through a link (%d): %q", code, list)
	}
	if data, code, _ := c.retr("/to-hello", 0); code != 226 || string(data) != "Hello from the asyncftp embedded FTP server.\n" {
		t.Errorf("RETR of a link: %d %q", code, data)
	}
}
