package transcript_test

import (
	"fmt"
	"os"
	"time"

	"github.com/asyncftp/asyncftp/transcript"
)

// A session records each control line as it goes; the transcript reads
// like the classic asyncore FTP client article, with the password masked.
func Example() {
	var m transcript.Memory
	rec := func(d transcript.Dir, line string) {
		m.Record(transcript.Entry{Session: 1, Time: time.Now(), Dir: d, Line: line})
	}
	rec(transcript.Server, "220 ftp.example.com FTP server ready.")
	rec(transcript.Client, "USER anonymous")
	rec(transcript.Server, "331 Guest login ok, send your complete e-mail address as password.")
	rec(transcript.Client, "PASS guest@example.com")
	rec(transcript.Server, "230 Guest login ok, access restrictions apply.")
	rec(transcript.Client, "PASV")
	rec(transcript.Server, "227 Entering Passive Mode (127,0,0,1,156,65)")
	rec(transcript.Note, "data connection to 127.0.0.1:40001")
	rec(transcript.Client, "RETR README")
	rec(transcript.Server, "150 Opening BINARY mode data connection for README (2048 bytes).")
	rec(transcript.Server, "226 Transfer complete.")
	rec(transcript.Client, "QUIT")
	rec(transcript.Server, "221 Goodbye.")
	for _, l := range m.Lines() {
		fmt.Println(l)
	}
	// Output:
	// S: 220 ftp.example.com FTP server ready.
	// C: USER anonymous
	// S: 331 Guest login ok, send your complete e-mail address as password.
	// C: PASS ****
	// S: 230 Guest login ok, access restrictions apply.
	// C: PASV
	// S: 227 Entering Passive Mode (127,0,0,1,156,65)
	// #: data connection to 127.0.0.1:40001
	// C: RETR README
	// S: 150 Opening BINARY mode data connection for README (2048 bytes).
	// S: 226 Transfer complete.
	// C: QUIT
	// S: 221 Goodbye.
}

// The text sink adds time and session id, masks passwords and escapes
// control bytes from hostile servers.
func ExampleText() {
	t := time.Date(2024, 5, 1, 12, 4, 5, 0, time.UTC)
	s := transcript.Text(os.Stdout)
	s.Record(transcript.Entry{Session: 7, Time: t, Dir: transcript.Client, Line: "USER anonymous"})
	s.Record(transcript.Entry{Session: 7, Time: t.Add(8 * time.Millisecond), Dir: transcript.Server, Line: "331 Password required."})
	s.Record(transcript.Entry{Session: 7, Time: t.Add(9 * time.Millisecond), Dir: transcript.Client, Line: "PASS secret"})
	s.Record(transcript.Entry{Session: 7, Time: t.Add(20 * time.Millisecond), Dir: transcript.Server, Line: "230 \x1b]0;owned\x07Welcome"})
	// Output:
	// 2024-05-01T12:04:05.000000000Z #7 C: USER anonymous
	// 2024-05-01T12:04:05.008000000Z #7 S: 331 Password required.
	// 2024-05-01T12:04:05.009000000Z #7 C: PASS ****
	// 2024-05-01T12:04:05.020000000Z #7 S: 230 \x1b]0;owned\x07Welcome
}

func ExampleJSON() {
	t := time.Date(2024, 5, 1, 12, 4, 5, 0, time.UTC)
	s := transcript.JSON(os.Stdout)
	s.Record(transcript.Entry{Session: 7, Time: t, Dir: transcript.Client, Line: "USER anonymous"})
	s.Record(transcript.Entry{Session: 7, Time: t.Add(8 * time.Millisecond), Dir: transcript.Server, Line: "331 Password required."})
	// Output:
	// {"session":7,"time":"2024-05-01T12:04:05Z","dir":"C","line":"USER anonymous"}
	// {"session":7,"time":"2024-05-01T12:04:05.008Z","dir":"S","line":"331 Password required."}
}

func ExampleMask() {
	fmt.Println(transcript.Mask("PASS secret"))
	fmt.Println(transcript.Mask("acct 1234"))
	fmt.Println(transcript.Mask("PASS"))
	fmt.Println(transcript.Mask("USER anonymous"))
	// Output:
	// PASS ****
	// acct ****
	// PASS
	// USER anonymous
}

// A slow sink goes behind Async so the event loop never waits for it.
func ExampleAsync() {
	a := transcript.Async(transcript.Text(os.Stdout), 1024)
	a.Record(transcript.Entry{Session: 3, Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Dir: transcript.Note, Line: "TLS handshake done"})
	a.Close() // flushes the queue and stops the goroutine
	fmt.Println("dropped:", a.Dropped())
	// Output:
	// 2024-05-01T00:00:00.000000000Z #3 #: TLS handshake done
	// dropped: 0
}
