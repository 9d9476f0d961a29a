package ftptest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// A split stream is the same stream: handshake, replies and data arrive
// intact through a plain crypto/tls client.
func TestSplitWrites(t *testing.T) {
	noLeaks(t)
	cfg, pool := SelfSignedTLS()
	body := strings.Repeat("split ", 3000)
	srv := NewServer(t, Script{
		Reply("220 hello"),
		Expect("AUTH TLS"), Reply("234 go ahead"),
		SplitWrites(), StartTLS(cfg),
		Reply("200 over TLS, a byte at a time"),
		Expect("EPSV"), PassiveEPSV(),
		Expect("RETR f"), DataAcceptTLS(nil), DataSend([]byte(body)), DataClose(),
		Reply("226 done"),
		Expect("QUIT"), Reply("221 bye"),
	})
	c := dial(t, srv.Addr)
	c.want("220 hello")
	c.cmd("AUTH TLS", "234 go ahead")
	c.startTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})
	c.want("200 over TLS, a byte at a time")
	c.send("EPSV")
	port := c.epsvPort()
	c.send("RETR f")
	d := tls.Client(dialData(t, port), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if got, err := io.ReadAll(d); err != nil || string(got) != body {
		t.Errorf("TLS data: %d bytes, %v", len(got), err)
	}
	c.want("226 done")
	c.cmd("QUIT", "221 bye")
}

// Each fault reaches a plain crypto/tls client as the error it stands for.
func TestTLSFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []Step
		check func(got []byte, err error) bool
	}{
		{"DataSendCut", []Step{DataSend([]byte("whole")), DataSendCut([]byte("cut in two"), 5)},
			func(got []byte, err error) bool { return string(got) == "whole" && errors.Is(err, io.ErrUnexpectedEOF) }},
		{"DataTLSAlert", []Step{DataSend([]byte("before")), DataTLSAlert()},
			func(got []byte, err error) bool {
				var oe *net.OpError
				return string(got) == "before" && errors.As(err, &oe) && oe.Op == "remote error" && strings.Contains(err.Error(), "bad record MAC")
			}},
		{"DataTCPSendForged", []Step{DataSend([]byte("before")), DataTCPSend(ForgedRecord(32))},
			func(got []byte, err error) bool {
				var oe *net.OpError
				return string(got) == "before" && errors.As(err, &oe) && oe.Op == "local error" && strings.Contains(err.Error(), "bad record MAC")
			}},
		{"DataTCPSendOversized", []Step{DataTCPSend(OversizedRecordHeader())},
			func(got []byte, err error) bool {
				var rhe tls.RecordHeaderError
				return len(got) == 0 && errors.As(err, &rhe) && strings.Contains(rhe.Msg, "oversized")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			cfg, pool := SelfSignedTLS()
			script := Script{
				Reply("220 hello"),
				Expect("AUTH TLS"), Reply("234 go ahead"), StartTLS(cfg),
				Expect("EPSV"), PassiveEPSV(),
				Expect("RETR f"), DataAcceptTLS(nil),
			}
			script = append(script, tc.steps...)
			script = append(script, Reply("226 done"), Expect("QUIT"), Reply("221 bye"))
			srv := NewServer(t, script)
			c := dial(t, srv.Addr)
			c.want("220 hello")
			c.cmd("AUTH TLS", "234 go ahead")
			c.startTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})
			c.send("EPSV")
			port := c.epsvPort()
			c.send("RETR f")
			raw := dialData(t, port)
			d := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			var got []byte
			buf := make([]byte, 1024)
			var err error
			for err == nil {
				var n int
				n, err = d.Read(buf)
				got = append(got, buf[:n]...)
			}
			if !tc.check(got, err) {
				t.Errorf("client read %q, then %v", got, err)
			}
			raw.Close() // the server waits for nothing more on it
			c.want("226 done")
			c.cmd("QUIT", "221 bye")
		})
	}
}
