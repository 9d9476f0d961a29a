// Package netdriver drives an asyncftp session over net.Conn, with one goroutine
// per connection; it carries FTPS (crypto/tls), which gnet cannot, and plain sessions too.
//
// # Goroutines
//
// One goroutine owns the session: every call into it and every callback it makes
// (Driver methods, Request.Done, the login result) runs there, one at a time, in
// the order it was submitted. The other goroutines never touch the session; they
// submit functions to that owner:
//
//   - the control goroutine dials (and, for implicit FTPS, runs the handshake),
//     then reads the control connection and hands each read to Receive, waiting
//     until it has been taken before reading again. That wait is what makes AUTH
//     TLS safe: after the read that held the 234 reply, this goroutine runs the
//     TLS handshake itself, so no byte the server sends after the 234 can be read
//     as clear text;
//   - the writer goroutine writes what the session queues, so Write never blocks
//     the owner even when the server stops reading;
//   - one goroutine per data connection dials, runs the data TLS handshake after
//     the transfer command went out, and copies the bytes with idle deadlines;
//   - a single time.AfterFunc timer, re-armed by Reschedule, submits Tick.
//
// Submissions go through an unbounded FIFO queue, so a callback may queue more
// work (Conn.Do from inside Request.Done) without deadlocking. When the session
// has ended and every goroutine has reported its end, the owner goroutine exits
// and [Conn.Done] is closed.
//
// # TLS
//
// [TLSOptions] says how the server is authenticated: by default with the system
// roots and the host name of the address; or with a custom CA pool; or by a
// pinned public key; or, loudly, not at all. One tls.Config, with ServerName set
// and one ClientSessionCache, serves the control connection and every data
// connection of a session, so that data connections resume the control
// connection's TLS session, as vsftpd's require_ssl_reuse demands. See
// docs/ftps.md for the design and its costs.
package netdriver
