package netdriver

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/asyncftp/asyncftp/ftp"
)

// TLSOptions say how an FTPS session authenticates its server. The zero value
// verifies the certificate chain against the system roots and the host name of
// the address dialled.
type TLSOptions struct {
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

// ErrPinMismatch: the server's public key is not among TLSOptions.Pins.
var ErrPinMismatch = errors.New("netdriver: server public key matches no pinned key")

// PinMismatchError is the handshake error when the server's key matches no pin.
// errors.Is(err, ErrPinMismatch) is true for it.
type PinMismatchError struct {
	Got Pin // the pin of the certificate the server presented
}

// Error shows the pin of the key the server presented, so it can be checked
// and, if right, added to TLSOptions.Pins.
func (e *PinMismatchError) Error() string {
	return "public key " + e.Got.String() + " matches no pinned key"
}

// Unwrap makes errors.Is(err, ErrPinMismatch) true.
func (e *PinMismatchError) Unwrap() error { return ErrPinMismatch }

// tlsSetup is the per-session TLS configuration with what the transcript says
// about it.
type tlsSetup struct {
	cfg    *tls.Config
	verify string // how the server is authenticated, for the transcript
	noAuth bool   // verification is off
}

func (st *tlsSetup) insecure() bool { return st.noAuth }

// setup builds the session's config for the server at addr.
func (o *TLSOptions) setup(addr string) (*tlsSetup, error) {
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
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	st := &tlsSetup{cfg: cfg}
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
		st.verify = fmt.Sprintf("server key pinned (%d pin(s)); chain and name not checked", len(pins))
	case o.Insecure || cfg.InsecureSkipVerify && cfg.VerifyConnection == nil && cfg.VerifyPeerCertificate == nil:
		cfg.InsecureSkipVerify = true
		st.noAuth = true
		st.verify = "TLS certificate verification DISABLED: the server is not authenticated"
	default:
		if o.RootCAs != nil {
			cfg.RootCAs = o.RootCAs
		}
		roots := "the system roots"
		if cfg.RootCAs != nil {
			roots = "the configured CA pool"
		}
		st.verify = fmt.Sprintf("certificate verified for %q against %s", cfg.ServerName, roots)
	}
	return st, nil
}

// describe is the transcript note for a finished control handshake.
func (st *tlsSetup) describe(cs tls.ConnectionState) string {
	s := fmt.Sprintf("TLS %s, %s, server name %q", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), st.cfg.ServerName)
	if cs.DidResume {
		s += ", resumed"
	}
	if len(cs.PeerCertificates) > 0 {
		s += ", certificate " + cs.PeerCertificates[0].Subject.String()
	}
	return s
}

// handshakeError names the server in a failed handshake's error, so that a
// verification failure (unknown authority, say) says which host it was about.
func handshakeError(addr, name string, err error) error {
	return fmt.Errorf("%s (server name %q): %w", addr, name, err)
}
