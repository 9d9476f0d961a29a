// Package ftptls holds what an FTPS session decides about TLS, whichever driver
// carries its bytes: how the server is authenticated, and one tls.Config per
// session so that data connections resume the control connection's session.
//
// [Options] says how the server is authenticated: by default with the system
// roots and the host name of the address; or with a custom CA pool; or by a
// pinned public key; or, loudly, not at all. [Options.Setup] turns it into a
// [Setup] for one session: one tls.Config with ServerName always set and one
// ClientSessionCache, shared by the control connection and every data
// connection, as vsftpd's require_ssl_reuse demands. The gnet engine and
// package netdriver both take their TLS from here. See docs/ftps.md.
package ftptls
