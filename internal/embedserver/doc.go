// Package embedserver runs the real goftp.io/server/v2 FTP server in-process
// on 127.0.0.1, serving a generated, deterministic sample tree.
package embedserver
