// Package session is the sans-I/O core of an FTP client session: reply assembly,
// the command queue, the state machine and the handlers, with no sockets.
//
// # The contract
//
// A [Session] never reads a socket, sleeps, or starts a goroutine. Its driver (the
// gnet engine, the net.Conn driver used for TLS, a test, or an embedder's own loop)
// feeds it what happened and carries out what it asks:
//
//	driver → session                 session → driver ([Driver])
//	Connected(remote, local)         Write(p)          bytes for the control connection
//	Receive(p)                       OpenData(req)     dial a data connection
//	ControlClosed(err)               CloseData(req)    drop it
//	Secured(err)                     StartTLS()        handshake on the control connection
//	DataOpened(req)                  Close()           close everything
//	DataIn(req, p)                   Reschedule(t)     call Tick at t (zero: never)
//	DataClosed(req, n, err)          Listen(req)       active mode: listen, accept the server
//	Listening(req, addr, err)
//	Tick(now)
//
// All calls into a Session, and the callbacks it makes, happen on one goroutine:
// the driver's. A Session is not safe for concurrent use; the drivers serialise
// access (the engine runs everything on the session's event loop).
//
// Users queue work with [Session.Do]: a command, an optional handler, optional data
// to move, and a completion callback that runs on the driver's goroutine. This is
// the command list of Lundh's article, done with typed results.
//
// Data bytes move in the driver. For a download kept on the event loop the driver
// hands each chunk to [Session.DataIn]; for one moved off the loop, and for every
// upload, the driver copies between the socket and the caller's io.Writer or
// io.Reader and reports the count in [Session.DataClosed]. Either way the session
// decides when a transfer is complete: only when the data connection has reached
// its end *and* the control connection has answered 226 or 250, in either order.
package session
