// Package engine drives asyncftp sessions on a gnet v2 event loop: it owns every
// socket, feeds control-connection bytes to each session, opens data connections
// on the session's own loop, and keeps all deadlines in one heap per loop.
//
// # Rules of the loop
//
// Everything a session does runs on the event loop its control connection was
// enrolled on, and so do its data connections; no session state is touched by two
// goroutines. Nothing that blocks runs there:
//
//   - connections are dialled off the loop with a connect timeout (gnet's own
//     dial has none), by dialler goroutines that are reused while dials keep
//     coming, and then enrolled on the chosen loop (each loop belongs to a gnet
//     client of its own, so the dialler enrols it directly);
//   - timeouts are deadlines in a per-loop heap, swept by a task that gnet's ticker
//     schedules onto each loop (the ticker itself runs on another goroutine and
//     never touches a session);
//   - a transfer whose io.Writer or io.Reader may block is moved off the loop
//     (session.Data.OffLoop) to a goroutine with real TCP back-pressure.
//
// Callbacks given to the engine (login results, request completions) run on the
// loop, so they must not block either. From inside one, use the *session.Session
// directly; from any other goroutine, go through [Conn].
package engine
