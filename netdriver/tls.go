package netdriver

import "github.com/asyncftp/asyncftp/ftptls"

// The TLS policy lives in package ftptls, shared with the gnet engine; these
// names keep netdriver's API as it was.
type (
	// TLSOptions say how an FTPS session authenticates its server (see ftptls.Options).
	TLSOptions = ftptls.Options
	// Pin is the SHA-256 hash of a certificate's SubjectPublicKeyInfo (see ftptls.Pin).
	Pin = ftptls.Pin
	// PinMismatchError is the handshake error when the server's key matches no pin.
	PinMismatchError = ftptls.PinMismatchError
)

var (
	// PinOf returns the pin of a certificate's public key.
	PinOf = ftptls.PinOf
	// ParsePin reads a pin ("sha256//BASE64" or 64 hex digits).
	ParsePin = ftptls.ParsePin
	// ErrPinMismatch: the server's public key is not among TLSOptions.Pins.
	ErrPinMismatch = ftptls.ErrPinMismatch
)
