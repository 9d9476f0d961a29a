package leanserver

import (
	"crypto/tls"
	"encoding/pem"

	"github.com/asyncftp/asyncftp/internal/embedserver"
)

// SelfSigned makes a fresh ECDSA P-256 certificate for 127.0.0.1, ::1 and
// localhost (the embedded server's, embedserver.SelfSignedTLS) and returns a
// server config for Options.TLS and the certificate in PEM, which a client
// adds to its root pool (the certificate is its own CA). Clients verify it
// under the name "127.0.0.1".
func SelfSigned() (*tls.Config, []byte, error) {
	cfg, _, err := embedserver.SelfSignedTLS()
	if err != nil {
		return nil, nil, err
	}
	der := cfg.Certificates[0].Certificate[0]
	return cfg, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
