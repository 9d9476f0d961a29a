package ftptest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/asyncftp/asyncftp/internal/ftptest"
)

// exampleT stands in for the *testing.T that a real test passes to NewServer.
type exampleT struct{ cleanups []func() }

func (e *exampleT) Helper()                           {}
func (e *exampleT) Cleanup(f func())                  { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) Errorf(format string, args ...any) { fmt.Printf("error: "+format+"\n", args...) }
func (e *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (e *exampleT) Logf(string, ...any)               {}
func (e *exampleT) finish() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// A download whose 226 reply comes before the data connection closes. The
// client here is a bare net.Conn; real tests drive the project's client.
func Example() {
	t := &exampleT{}
	defer t.finish()

	srv := ftptest.NewServer(t, ftptest.Script{
		ftptest.Reply("220 hello"),
		ftptest.Expect("USER anonymous"), ftptest.Reply("331 password please"),
		ftptest.ExpectPrefix("PASS "), ftptest.Reply("230 logged in"),
		ftptest.Expect("EPSV"), ftptest.PassiveEPSV(),
		ftptest.Expect("RETR hello.txt"), ftptest.Reply("150 here it comes"),
		ftptest.DataAccept(),
		ftptest.DataSend([]byte("hello, world\n")),
		ftptest.Reply("226 done"),
		ftptest.DataClose(),
		ftptest.Expect("QUIT"), ftptest.Reply("221 bye"),
		ftptest.Close(),
	})

	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	reply := func() string {
		line, _ := r.ReadString('\n')
		line = strings.TrimSuffix(line, "\r\n")
		if i := strings.Index(line, "(|||"); i >= 0 {
			fmt.Println(line[:i] + "(|||port|)") // the port changes from run to run
		} else {
			fmt.Println(line)
		}
		return line
	}
	send := func(cmd string) { fmt.Fprintf(conn, "%s\r\n", cmd) }

	reply()
	send("USER anonymous")
	reply()
	send("PASS guest")
	reply()
	send("EPSV")
	var port int
	epsv := reply()
	fmt.Sscanf(epsv[strings.Index(epsv, "|||")+3:], "%d", &port)
	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		panic(err)
	}
	send("RETR hello.txt")
	reply()
	body, _ := io.ReadAll(data)
	data.Close()
	fmt.Printf("data: %q\n", body)
	reply()
	send("QUIT")
	reply()
	conn.Close()

	srv.Wait() // the server has read all the client sent
	fmt.Printf("%q\n", srv.Commands())
	// Output:
	// 220 hello
	// 331 password please
	// 230 logged in
	// 229 Entering Extended Passive Mode (|||port|)
	// 150 here it comes
	// data: "hello, world\n"
	// 226 done
	// 221 bye
	// ["USER anonymous" "PASS guest" "EPSV" "RETR hello.txt" "QUIT"]
}
