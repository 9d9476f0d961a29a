// Package ftp holds the vocabulary every other asyncftp package shares: commands,
// replies, the reader that turns control-connection bytes into replies, and typed errors.
//
// Nothing here does I/O. Bytes go in through [Reader.Feed]; complete replies come out
// through a callback. Failures are typed: a failure reply is an [*Error] carrying the
// code, a broken stream is a [*ProtocolError], and the sentinel errors ([ErrTimeout],
// [ErrClosed], …) work with errors.Is.
package ftp
