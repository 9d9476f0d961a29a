package idleconn_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/idleconn"
)

func TestReadIdleIsTypedTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &idleconn.Conn{Conn: a, Idle: 50 * time.Millisecond}
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	var te *ftp.TimeoutError
	if !errors.As(err, &te) || te.Op != "data idle" {
		t.Fatalf("Read from a silent peer: %v, want *ftp.TimeoutError for data idle", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the idle timeout of 50ms took %v", d)
	}
}

// A long write to a peer that reads slowly but steadily is not idle, even when
// the whole write takes longer than the idle timeout.
func TestSlowSteadyWriteIsNotIdle(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	const idle = 400 * time.Millisecond
	data := bytes.Repeat([]byte("idleconn"), 4*idleconn.Chunk/8)
	got := make(chan []byte, 1)
	go func() {
		var all []byte
		buf := make([]byte, idleconn.Chunk)
		for len(all) < len(data) {
			n, err := io.ReadFull(b, buf[:min(len(buf), len(data)-len(all))])
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
			time.Sleep(idle * 3 / 8) // four pauses: 600 ms in all, longer than idle
		}
		got <- all
	}()
	c := &idleconn.Conn{Conn: a, Idle: idle}
	start := time.Now()
	n, err := c.Write(data)
	if err != nil || n != len(data) {
		t.Fatalf("Write: n=%d err=%v after %v, want %d bytes and no error", n, err, time.Since(start), len(data))
	}
	if all := <-got; !bytes.Equal(all, data) {
		t.Fatalf("peer read %d bytes, not the %d written", len(all), len(data))
	}
}

func TestWriteToStalledPeerTimesOut(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &idleconn.Conn{Conn: a, Idle: 50 * time.Millisecond}
	_, err := c.Write([]byte("nobody reads this"))
	if !errors.Is(err, ftp.ErrTimeout) {
		t.Fatalf("Write to a peer that never reads: %v, want ftp.ErrTimeout", err)
	}
}

func TestTimeoutPassesOtherErrors(t *testing.T) {
	if idleconn.Timeout(nil) != nil {
		t.Fatal("nil became an error")
	}
	if err := idleconn.Timeout(io.EOF); err != io.EOF {
		t.Fatalf("io.EOF became %v", err)
	}
}
