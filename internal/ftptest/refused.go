package ftptest

import (
	"net"
	"strconv"
	"syscall"
)

// RefusedAddr returns a loopback address on which connections are refused
// for as long as the test runs. It holds the port with a socket that is bound
// but never listens. A port that was merely listened on and closed again is
// free for the kernel to hand to the next listener anyone opens (a server's
// data listener, say), and a dial meant to be refused would then connect to
// that listener and sit in its accept queue, to be taken later for another
// session's data connection.
func RefusedAddr(t TB) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("ftptest: socket: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatalf("ftptest: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatalf("ftptest: getsockname: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
