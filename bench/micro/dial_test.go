// Package micro holds micro-benchmarks of the pieces behind the engine's cost
// per connection. Run: cd bench && go test -run XXX -bench . ./micro
package micro

import (
	"context"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// acceptor accepts and closes connections until stopped: the far side of every
// dial below (the same for every variant, so the differences are the dialler's).
func acceptor(b *testing.B) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String(), func() { l.Close(); wg.Wait() }
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds the process CPU per connection (both ends live in this process).
func report(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuNow()-cpu0)/float64(b.N), "cpu-ns/conn")
}

// handler closes every enrolled connection as soon as it opens.
type handler struct {
	gnet.BuiltinEventEngine
	loop   chan gnet.EventLoop
	opened chan struct{}
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if c.Context() == "anchor" {
		h.loop <- c.EventLoop()
		return nil, gnet.None
	}
	h.opened <- struct{}{}
	return nil, gnet.Close
}

func startGnet(b *testing.B) (*gnet.Client, gnet.EventLoop, *handler, func()) {
	h := &handler{loop: make(chan gnet.EventLoop, 1), opened: make(chan struct{}, 1024)}
	cli, err := gnet.NewClient(h, gnet.WithNumEventLoop(1), gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(quiet{}))
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		b.Fatal(err)
	}
	fds, _ := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	f1, f2 := newFile(fds[0]), newFile(fds[1])
	c, err := net.FileConn(f2)
	if err != nil {
		b.Fatal(err)
	}
	f2.Close()
	if _, err := cli.EnrollContext(c, "anchor"); err != nil {
		b.Fatal(err)
	}
	el := <-h.loop
	return cli, el, h, func() { f1.Close(); cli.Stop() }
}

// BenchmarkDialPlain: what a goroutine-per-connection client pays to connect
// and close.
func BenchmarkDialPlain(b *testing.B) {
	addr, stop := acceptor(b)
	defer stop()
	d := net.Dialer{Timeout: 10 * time.Second}
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	report(b, cpu0)
}

// BenchmarkDialEnrollLoop: the engine's path before this work: dial on a
// goroutine, EventLoop.Enroll (gnet's worker pool dups the descriptor and
// registers the copy on the loop), wait for OnOpen, close on the loop.
func BenchmarkDialEnrollLoop(b *testing.B) {
	addr, stop := acceptor(b)
	defer stop()
	_, el, h, stopG := startGnet(b)
	defer stopG()
	d := net.Dialer{Timeout: 10 * time.Second}
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := d.DialContext(context.Background(), "tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			res, err := el.Enroll(context.Background(), c)
			if err != nil {
				b.Error(err)
				return
			}
			<-res
		}()
		<-done
		<-h.opened
	}
	report(b, cpu0)
}

// BenchmarkDialEnrollClient: dial, then Client.EnrollContext on the dialling
// goroutine (no worker pool hop); the client has one loop.
func BenchmarkDialEnrollClient(b *testing.B) {
	addr, stop := acceptor(b)
	defer stop()
	cli, _, h, stopG := startGnet(b)
	defer stopG()
	d := net.Dialer{Timeout: 10 * time.Second}
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := d.DialContext(context.Background(), "tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := cli.EnrollContext(c, nil); err != nil {
				b.Error(err)
			}
		}()
		<-done
		<-h.opened
	}
	report(b, cpu0)
}

// BenchmarkDialRawEpoll: what a loop that owned its sockets would pay: a
// non-blocking socket, connect (EINPROGRESS), wait on the loop's epoll for
// writability, SO_ERROR, TCP_NODELAY, close. No goroutine, no duplicate
// descriptor, no second poller. gnet v2.9.7 has no public way to register such
// a socket, which is why the engine dials through net.Dialer and Enroll.
func BenchmarkDialRawEpoll(b *testing.B) {
	addr, stop := acceptor(b)
	defer stop()
	ta, _ := net.ResolveTCPAddr("tcp", addr)
	sa := &unix.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(ep)
	events := make([]unix.EpollEvent, 8)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
			b.Fatal(err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			b.Fatal(err)
		}
		for {
			n, err := unix.EpollWait(ep, events, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				b.Fatal(err)
			}
			break
		}
		if e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
			b.Fatal(err, e)
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		unix.Close(fd)
	}
	report(b, cpu0)
}
