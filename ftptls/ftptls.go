package ftptls

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/asyncftp/asyncftp/ftp"
)

// Options say how an FTPS session authenticates its server. The zero value
// verifies the certificate chain against the system roots and the host name of
// the address dialled.
type Options struct {
	// Config is a base client configuration; it is cloned, never changed. Nil
	// means a fresh one with TLS 1.2 as the minimum. Its ServerName and
	// ClientSessionCache are used when set (a cache shared by several sessions
	// lets control connections resume each other too).
	Config *tls.Config
	// ServerName is the name the certificate must hold, and the key under which
	// TLS sessions are cached. "" means Config.ServerName, or else the host of
	// the address dialled (an IP address is checked against the certificate's IP
	// SANs). Data connections use the same name whatever address they go to, so
	// that they find the control connection's session.
	ServerName string
	// RootCAs replaces the system roots (a private CA, a self-signed server
	// certificate).
	RootCAs *x509.CertPool
	// Pins, when not empty, authenticate the server by its public key instead of
	// by a chain: the leaf certificate's SubjectPublicKeyInfo must hash (SHA-256)
	// to one of them. Chain, host name and expiry are not checked then, as with
	// an SSH host key; this is how a self-signed server is trusted without a CA.
	// The pin is of the key, not of the whole certificate, so it survives a
	// renewal that keeps the key (the form curl's --pinnedpubkey takes).
	Pins []Pin
	// Insecure turns verification off: any certificate is accepted, and the
	// transcript says "TLS certificate verification DISABLED" at every
	// handshake. For tests and lab servers only. It cannot be combined with Pins.
	Insecure bool
}

// Pin is the SHA-256 hash of a certificate's DER-encoded SubjectPublicKeyInfo.
type Pin [sha256.Size]byte

// PinOf returns the pin of cert's public key.
func PinOf(cert *x509.Certificate) Pin { return sha256.Sum256(cert.RawSubjectPublicKeyInfo) }

// String returns the pin as curl writes it: "sha256//" and standard base64.
func (p Pin) String() string { return "sha256//" + base64.StdEncoding.EncodeToString(p[:]) }

// ParsePin reads a pin written as "sha256//BASE64" (curl), as plain standard
// base64, or as 64 hex digits, optionally in colon-separated pairs. The error
// wraps ftp.ErrInvalidArgument.
func ParsePin(s string) (Pin, error) {
	var p Pin
	s = strings.TrimSpace(s)
	raw := strings.TrimPrefix(s, "sha256//")
	if b, err := base64.StdEncoding.DecodeString(raw); err == nil && len(b) == len(p) {
		copy(p[:], b)
		return p, nil
	}
	if raw == s { // no curl prefix: hex is possible too
		if b, err := hex.DecodeString(strings.ReplaceAll(s, ":", "")); err == nil && len(b) == len(p) {
			copy(p[:], b)
			return p, nil
		}
	}
	return p, &ftp.ArgumentError{Verb: "pin", Reason: "want sha256//BASE64 or 64 hex digits of a SHA-256 of a SubjectPublicKeyInfo"}
}

// ErrPinMismatch: the server's public key is not among Options.Pins.
var ErrPinMismatch = errors.New("ftptls: server public key matches no pinned key")

// PinMismatchError is the handshake error when the server's key matches no pin.
// errors.Is(err, ErrPinMismatch) is true for it.
type PinMismatchError struct {
	Got Pin // the pin of the certificate the server presented
}

// Error shows the pin of the key the server presented, so it can be checked
// and, if right, added to Options.Pins.
func (e *PinMismatchError) Error() string {
	return "public key " + e.Got.String() + " matches no pinned key"
}

// Unwrap makes errors.Is(err, ErrPinMismatch) true.
func (e *PinMismatchError) Unwrap() error { return ErrPinMismatch }

// Setup is one session's TLS: the config its control connection and all its
// data connections share, and what the transcript says about it.
type Setup struct {
	// Config has ServerName set and a ClientSessionCache. Drivers hand it to
	// tls.Client as it is; nothing changes it after Setup returns.
	Config *tls.Config
	// Verify says how the server is authenticated, for the transcript.
	Verify string
	// Insecure is true when verification is off.
	Insecure bool
}

// Setup builds the session's TLS for the server at addr (host:port).
func (o *Options) Setup(addr string) (*Setup, error) {
	if o.Insecure && len(o.Pins) > 0 {
		return nil, &ftp.ArgumentError{Verb: "TLS", Reason: "Insecure and Pins contradict each other"}
	}
	var cfg *tls.Config
	if o.Config != nil {
		cfg = o.Config.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch {
	case o.ServerName != "":
		cfg.ServerName = o.ServerName
	case cfg.ServerName == "":
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, &ftp.ArgumentError{Verb: "TLS", Reason: "cannot take a server name from " + addr + ": " + err.Error()}
		}
		cfg.ServerName = host
	}
	if cfg.ClientSessionCache == nil {
		// One cache per session: its data connections resume its own control
		// session and nothing else.
		cfg.ClientSessionCache = new(sessionSlot)
	}
	st := &Setup{Config: cfg}
	switch {
	case len(o.Pins) > 0:
		pins := append([]Pin(nil), o.Pins...)
		next := cfg.VerifyConnection
		cfg.InsecureSkipVerify = true // the pin check below replaces chain verification
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			got := PinOf(cs.PeerCertificates[0])
			ok := 0
			for i := range pins {
				ok |= subtle.ConstantTimeCompare(got[:], pins[i][:])
			}
			if ok == 0 {
				return &PinMismatchError{Got: got}
			}
			if next != nil {
				return next(cs)
			}
			return nil
		}
		st.Verify = fmt.Sprintf("server key pinned (%d pin(s)); chain and name not checked", len(pins))
	case o.Insecure || cfg.InsecureSkipVerify && cfg.VerifyConnection == nil && cfg.VerifyPeerCertificate == nil:
		cfg.InsecureSkipVerify = true
		st.Insecure = true
		st.Verify = "TLS certificate verification DISABLED: the server is not authenticated"
	default:
		if o.RootCAs != nil {
			cfg.RootCAs = o.RootCAs
		}
		roots := "the system roots"
		if cfg.RootCAs != nil {
			roots = "the configured CA pool"
		}
		st.Verify = fmt.Sprintf("certificate verified for %q against %s", cfg.ServerName, roots)
	}
	return st, nil
}

// Describe is the transcript note for a finished control handshake.
func (st *Setup) Describe(cs tls.ConnectionState) string {
	s := fmt.Sprintf("TLS %s, %s, server name %q", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), st.Config.ServerName)
	if cs.DidResume {
		s += ", resumed"
	}
	if len(cs.PeerCertificates) > 0 {
		s += ", certificate " + cs.PeerCertificates[0].Subject.String()
	}
	return s
}

// DataNote is the transcript note for a finished data-connection handshake:
// whether it resumed the control connection's session.
func (st *Setup) DataNote(cs tls.ConnectionState) string {
	note := "data connection TLS: full handshake, control session NOT resumed (" + tls.VersionName(cs.Version) + ")"
	if cs.DidResume {
		note = "data connection TLS: resumed the control connection's session (" + tls.VersionName(cs.Version) + ")"
	}
	if st.Insecure {
		note += "; TLS certificate verification DISABLED"
	}
	return note
}

// HandshakeError names the server in a failed handshake's error, so that a
// verification failure (unknown authority, say) says which host it was about.
func (st *Setup) HandshakeError(addr string, err error) error {
	return fmt.Errorf("%s (server name %q): %w", addr, st.Config.ServerName, err)
}

// Ticket is the session ticket a data handshake is about to offer, kept so
// that a handshake the network broke can put it back (see Restore).
type Ticket struct{ state *tls.ClientSessionState }

// Saved returns the ticket the next handshake will offer, if any.
func (st *Setup) Saved() Ticket {
	cfg := st.Config
	if cfg.ClientSessionCache == nil || cfg.SessionTicketsDisabled {
		return Ticket{}
	}
	s, _ := cfg.ClientSessionCache.Get(cfg.ServerName)
	return Ticket{s}
}

// Restore puts t back after a failed data handshake when the failure was the
// transport's. crypto/tls drops a ticket after any failed resumption (RFC
// 5077's advice against bad tickets); a broken connection says nothing about
// the ticket, and without it every later data connection would fail on a
// server that demands reuse.
func (st *Setup) Restore(t Ticket, err error) {
	if t.state != nil && TransportFailure(err) {
		st.Config.ClientSessionCache.Put(st.Config.ServerName, t.state)
	}
}

// TransportFailure tells a handshake that failed because the connection
// broke (end of stream, reset, deadline, cancel) from one that failed in TLS
// itself (an alert either way, a certificate refused).
func TransportFailure(err error) bool {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op != "remote error" && oe.Op != "local error"
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, ftp.ErrClosed) || errors.Is(err, ftp.ErrTimeout) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// ClosedBeforeHandshake reports whether a download's data handshake failed
// only because the server closed the connection first. goftp does that for an
// empty file: it never writes, so its side never starts TLS, and its close may
// even reset our unread ClientHello. Such a server sent nothing: the download
// is empty, and the control connection's reply (protected) decides whether
// that is right. An attacker on the path gains nothing new: cutting a
// protected stream at a record boundary looks the same to crypto/tls, which is
// why a transfer's length is checked against SIZE and the 226.
func ClosedBeforeHandshake(err error) bool {
	return TransportFailure(err) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

// sessionSlot is a session's private ticket cache. A session talks to one
// server name, so one slot does what tls.NewLRUClientSessionCache does for
// many, in a few words of memory instead of a map and a list: thousands of
// idle FTPS sessions each hold one.
type sessionSlot struct {
	mu  sync.Mutex // the handshake runs on a worker, Restore on the loop
	key string
	cs  *tls.ClientSessionState
}

// Get implements tls.ClientSessionCache.
func (c *sessionSlot) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cs == nil || key != c.key {
		return nil, false
	}
	return c.cs, true
}

// Put implements tls.ClientSessionCache; a nil cs forgets the key's ticket.
func (c *sessionSlot) Put(key string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs == nil {
		if key == c.key {
			c.cs = nil
		}
		return
	}
	c.key, c.cs = key, cs
}
