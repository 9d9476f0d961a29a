package ftptls_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/embedserver"
)

// tlsServer is a crypto/tls server on loopback that answers every
// connection's handshake, writes one byte so that TLS 1.3 tickets reach the
// client, and closes. It counts the handshakes that resumed.
type tlsServer struct {
	addr    string
	leaf    *x509.Certificate
	pool    *x509.CertPool
	resumed chan bool
}

func newTLSServer(t *testing.T, maxVersion uint16) *tlsServer {
	t.Helper()
	scfg, ccfg, err := embedserver.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	scfg = scfg.Clone()
	scfg.MaxVersion = maxVersion
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: ln.Addr().String(), leaf: scfg.Certificates[0].Leaf, pool: ccfg.RootCAs, resumed: make(chan bool, 16)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				s.resumed <- tc.ConnectionState().DidResume
				tc.Write([]byte("x"))
				io.Copy(io.Discard, tc) // until the client closes
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

// handshake dials the server with st's config and reads the server's byte
// (which carries the TLS 1.3 ticket along).
func handshake(t *testing.T, addr string, st *ftptls.Setup) (tls.ConnectionState, error) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, st.Config)
	if err := c.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("reading the server's byte: %v", err)
	}
	c.Close()
	return c.ConnectionState(), nil
}

func TestParsePinForms(t *testing.T) {
	var want ftptls.Pin
	for i := range want {
		want[i] = byte(i * 7)
	}
	hexPin := fmt.Sprintf("%x", want[:])
	var pairs []string
	for i := 0; i < len(hexPin); i += 2 {
		pairs = append(pairs, strings.ToUpper(hexPin[i:i+2]))
	}
	for _, in := range []string{
		want.String(),
		strings.TrimPrefix(want.String(), "sha256//"),
		hexPin,
		strings.Join(pairs, ":"),
		"  " + want.String() + "\n",
	} {
		got, err := ftptls.ParsePin(in)
		if err != nil || got != want {
			t.Errorf("ParsePin(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{
		"",
		"sha256//",
		"sha256//" + hexPin, // the curl prefix is for base64 only
		hexPin[:62],
		"sha256//AAAA",
		"md5//" + strings.TrimPrefix(want.String(), "sha256//"),
	} {
		_, err := ftptls.ParsePin(in)
		if !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("ParsePin(%q): err %v, want one wrapping ftp.ErrInvalidArgument", in, err)
		}
	}
}

func TestSetupServerName(t *testing.T) {
	base := &tls.Config{ServerName: "from-config.example", MinVersion: tls.VersionTLS13}
	for _, c := range []struct {
		opts ftptls.Options
		addr string
		want string
	}{
		{ftptls.Options{}, "ftp.example.org:21", "ftp.example.org"},
		{ftptls.Options{}, "[::1]:990", "::1"},
		{ftptls.Options{Config: base}, "127.0.0.1:21", "from-config.example"},
		{ftptls.Options{Config: base, ServerName: "override.example"}, "127.0.0.1:21", "override.example"},
	} {
		st, err := c.opts.Setup(c.addr)
		if err != nil {
			t.Fatalf("%+v %s: %v", c.opts, c.addr, err)
		}
		if st.Config.ServerName != c.want {
			t.Errorf("%s: ServerName %q, want %q", c.addr, st.Config.ServerName, c.want)
		}
		if st.Config.ClientSessionCache == nil {
			t.Errorf("%s: no session cache: data connections could not resume", c.addr)
		}
	}
	if base.ServerName != "from-config.example" || base.ClientSessionCache != nil {
		t.Error("Setup changed the caller's Config")
	}
	if _, err := (&ftptls.Options{}).Setup("no-port"); !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Errorf("address without a port: %v, want ftp.ErrInvalidArgument", err)
	}
	if _, err := (&ftptls.Options{Insecure: true, Pins: []ftptls.Pin{{}}}).Setup("h:21"); !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Errorf("Insecure with Pins: %v, want ftp.ErrInvalidArgument", err)
	}
	// Two sessions never share a cache unless the caller gives one.
	a, _ := (&ftptls.Options{}).Setup("h:21")
	b, _ := (&ftptls.Options{}).Setup("h:21")
	if a.Config.ClientSessionCache == b.Config.ClientSessionCache {
		t.Error("two sessions share one ticket cache")
	}
}

// TestVerification: the four ways to authenticate the server, each against a
// real handshake.
func TestVerification(t *testing.T) {
	srv := newTLSServer(t, tls.VersionTLS13)
	good := ftptls.PinOf(srv.leaf)
	var bad ftptls.Pin
	copy(bad[:], good[:])
	bad[0] ^= 1

	t.Run("system roots refuse a self-signed server", func(t *testing.T) {
		st, err := (&ftptls.Options{}).Setup(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = handshake(t, srv.addr, st)
		// A machine without a CA bundle refuses it with SystemRootsError.
		var uae x509.UnknownAuthorityError
		var sre x509.SystemRootsError
		if !errors.As(err, &uae) && !errors.As(err, &sre) {
			t.Fatalf("handshake: %v, want x509.UnknownAuthorityError", err)
		}
		if !strings.Contains(st.HandshakeError(srv.addr, err).Error(), srv.addr) {
			t.Error("HandshakeError does not name the server")
		}
	})
	t.Run("CA pool", func(t *testing.T) {
		st, err := (&ftptls.Options{RootCAs: srv.pool}).Setup(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if st.Insecure || !strings.Contains(st.Verify, "configured CA pool") {
			t.Errorf("Verify %q, Insecure %v", st.Verify, st.Insecure)
		}
		if _, err := handshake(t, srv.addr, st); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CA pool, wrong name", func(t *testing.T) {
		st, err := (&ftptls.Options{RootCAs: srv.pool, ServerName: "ftp.example.org"}).Setup(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = handshake(t, srv.addr, st)
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Fatalf("handshake: %v, want x509.HostnameError", err)
		}
		if ftptls.TransportFailure(err) {
			t.Error("a refused certificate counted as a transport failure")
		}
	})
	t.Run("pin", func(t *testing.T) {
		// A pin authenticates by key alone: no CA pool, and a name the
		// certificate does not hold.
		st, err := (&ftptls.Options{Pins: []ftptls.Pin{bad, good}, ServerName: "ftp.example.org"}).Setup(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := handshake(t, srv.addr, st); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong pin", func(t *testing.T) {
		st, err := (&ftptls.Options{Pins: []ftptls.Pin{bad}}).Setup(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = handshake(t, srv.addr, st)
		var pe *ftptls.PinMismatchError
		if !errors.Is(err, ftptls.ErrPinMismatch) || !errors.As(err, &pe) || pe.Got != good {
			t.Fatalf("handshake: %v, want a PinMismatchError naming %v", err, good)
		}
		if !strings.Contains(err.Error(), good.String()) {
			t.Errorf("the error %q does not show the server's pin", err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		st, err := (&ftptls.Options{Insecure: true}).Setup(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Insecure || !strings.Contains(st.Verify, "DISABLED") {
			t.Errorf("Verify %q, Insecure %v: insecure mode must be loud", st.Verify, st.Insecure)
		}
		cs, err := handshake(t, srv.addr, st)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(st.DataNote(cs), "DISABLED") {
			t.Errorf("DataNote %q does not repeat that verification is off", st.DataNote(cs))
		}
	})
}

// TestResumptionAndRestore: a session's second handshake resumes its first
// (what vsftpd's require_ssl_reuse checks), another session's does not, and
// Restore puts back a ticket a broken connection cost, but not one TLS itself
// refused.
func TestResumptionAndRestore(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			srv := newTLSServer(t, v)
			opts := ftptls.Options{RootCAs: srv.pool}
			st, err := opts.Setup(srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := handshake(t, srv.addr, st)
			if err != nil || cs.DidResume {
				t.Fatalf("first handshake: resumed %v, %v", cs.DidResume, err)
			}
			<-srv.resumed
			if st.Saved() == (ftptls.Ticket{}) {
				t.Fatal("no ticket saved after the first handshake")
			}
			cs, err = handshake(t, srv.addr, st)
			if err != nil || !cs.DidResume {
				t.Fatalf("second handshake: resumed %v, %v; want a resumption", cs.DidResume, err)
			}
			if !<-srv.resumed {
				t.Fatal("the server did not see a resumption")
			}
			if !strings.Contains(st.DataNote(cs), "resumed") {
				t.Errorf("DataNote %q", st.DataNote(cs))
			}
			other, _ := opts.Setup(srv.addr)
			if cs, err := handshake(t, srv.addr, other); err != nil || cs.DidResume {
				t.Fatalf("another session resumed this one's ticket: %v, %v", cs.DidResume, err)
			}
			<-srv.resumed

			// Forget the ticket as crypto/tls does after a failed
			// resumption, then Restore it.
			tk := st.Saved()
			st.Config.ClientSessionCache.Put(st.Config.ServerName, nil)
			if st.Saved() != (ftptls.Ticket{}) {
				t.Fatal("Put(nil) did not forget the ticket")
			}
			st.Restore(tk, &net.OpError{Op: "remote error", Err: tls.AlertError(42)}) // TLS refused it: stays forgotten
			if st.Saved() != (ftptls.Ticket{}) {
				t.Fatal("Restore put back a ticket after a TLS failure")
			}
			st.Restore(tk, fmt.Errorf("handshake: %w", io.ErrUnexpectedEOF))
			if st.Saved() != tk {
				t.Fatal("Restore did not put back the ticket after a broken connection")
			}
			if cs, err := handshake(t, srv.addr, st); err != nil || !cs.DidResume {
				t.Fatalf("handshake after Restore: resumed %v, %v", cs.DidResume, err)
			}
			<-srv.resumed
		})
	}
}

func TestTransportFailure(t *testing.T) {
	for _, c := range []struct {
		err       error
		transport bool
		closed    bool
	}{
		{io.EOF, true, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true, true},
		{io.ErrUnexpectedEOF, true, false},
		{&net.OpError{Op: "read", Err: syscall.ETIMEDOUT}, true, false},
		{ftp.ErrClosed, true, false},
		{&ftp.TimeoutError{Op: "handshake"}, true, false},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, false, false},
		{&net.OpError{Op: "local error", Err: errors.New("tls: internal")}, false, false},
		{&tls.CertificateVerificationError{Err: io.EOF}, false, false},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false, false},
		{ftptls.ErrPinMismatch, false, false},
	} {
		if got := ftptls.TransportFailure(c.err); got != c.transport {
			t.Errorf("TransportFailure(%v) = %v, want %v", c.err, got, c.transport)
		}
		if got := ftptls.ClosedBeforeHandshake(c.err); got != c.closed {
			t.Errorf("ClosedBeforeHandshake(%v) = %v, want %v", c.err, got, c.closed)
		}
	}
}

// ExampleParsePin reads a pin as curl's --pinnedpubkey writes it, and as the
// colon-separated hex that openssl prints.
func ExampleParsePin() {
	p, err := ftptls.ParsePin("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	if err != nil {
		fmt.Println(err)
		return
	}
	q, _ := ftptls.ParsePin("E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55")
	fmt.Println(p == q, p)
	// Output: true sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
}
