// Package embedserver runs the real goftp.io/server/v2 FTP server in-process
// on 127.0.0.1, serving a generated, deterministic sample tree.
//
// It backs the CLI demo, the end-to-end tests and the benchmarks. Start gives
// a Server on a kernel-chosen port; Close stops it and waits for every
// session goroutine. GenerateTree, WriteBigFile and PatternReader make test
// content whose sizes and SHA-256 sums are known in advance, and
// SelfSignedTLS makes a certificate pair for FTPS.
//
// # What this package adds to goftp
//
//   - Access: named users (Options.Users) read and write; "anonymous" and
//     "ftp" log in with any non-empty password and are read-only. STOR,
//     APPE, DELE, MKD/XMKD, RMD/XRMD, RNFR and RNTO from them get
//     "550 Permission denied: read-only account" before anything happens;
//     the driver refuses too. goftp's Perm interface only feeds the
//     owner/group/mode columns of LIST; it enforces nothing.
//   - Quiet: goftp logs through the standard log package by default, and
//     SIZE and STAT <path> log there on a missing path whatever logger is
//     configured. This package installs its own logger (Options.Logger or
//     nothing) and answers those missing-path cases itself with goftp's
//     exact reply.
//   - Shutdown: goftp's Shutdown only closes the listener, leaves live
//     sessions running, and races with Serve. Close instead closes the
//     listener and every control connection, and connects once to any
//     passive port goftp may still be waiting on (goftp holds a lock for up
//     to 60 s in that Accept, and closing the session waits for it).
//   - Active mode: PORT and EPRT must name the client's own IP and be well
//     formed, else "501 ..." (goftp dials any address it is given, an FTP
//     bounce, and panics on short arguments). LPRT is removed: goftp's
//     panics without an earlier data connection.
//   - Times: MDTM, MLSD/MLST Modify and LIST use UTC (goftp would print the
//     server's local time without saying so).
//   - Data commands (RETR, STOR, APPE, LIST, NLST, MLSD) without a fresh
//     data connection get "425 Use PASV, EPSV, PORT or EPRT first". goftp
//     itself panics on RETR/STOR (recovered, no reply: the client hangs
//     after "150"), answers LIST with "150" then "226 ... sent N bytes"
//     having sent nothing, and after an upload would reuse the finished
//     data socket.
//
// # goftp v2.0.3 behaviour, as observed (pinned by behaviour_test.go)
//
// Control channel:
//   - Greeting "220 Welcome to the Go FTP Server" (Options.WelcomeMessage
//     replaces the text; it must be one line, goftp does not split it).
//   - FEAT: "211-Extensions supported:\n UTF8\n" then EPRT, EPSV, CLNT
//     and "MLST Type*;Modify*;Size*;" (goftp also lists LPRT, removed
//     here) in random order (map order, fixed per server), plus
//     " AUTH TLS\n PBSZ\n PROT\n" when TLS is configured, then
//     "\n\r\n211 End\r\n". The lines inside are separated by
//     bare LF and there is an empty line before the end. SIZE, MDTM, REST
//     STREAM, MLSD and TVFS are not announced although SIZE, MDTM, REST and
//     MLSD work.
//   - Multi-line replies (FEAT, MLST, STAT) all use that "NNN-text\n...\r\n
//     NNN End\r\n" framing with LF-only inner lines.
//   - USER always answers 331; a wrong password 530 "Incorrect password,
//     not logged in"; "PASS" with no argument 553 "action aborted, required
//     param missing". Most commands before login: 530 "not logged in".
//   - Unknown commands (ABOR, HELP, SITE, MFMT, HASH, ...): 500 "Command not
//     found". There is no ABOR.
//   - SIZE: "213 <bytes>" in any TYPE, also for directories (inode size);
//     missing path "450 path <arg> not found". MDTM: "213 YYYYMMDDhhmmss";
//     missing path "450 File not available". MLST: "250-Start\n Type=...;
//     Modify=...;Size=...; <basename>\r\n250 End".
//   - STAT without argument prints "Connected to  (2.0beta)" (empty address
//     and the version twice).
//   - OPTS UTF8 ON: 200; OFF: 550. MODE S / STRU F only.
//   - QUIT: "221 Goodbye", then the server closes the control connection.
//   - All sessions of one server share one session ID in the log.
//
// Data channel:
//   - PASV: "227 Entering Passive Mode (127,0,0,1,p1,p2)" (the IP is the
//     control connection's local address). EPSV (any argument, "ALL"
//     included, which changes nothing): "229 Entering Extended Passive
//     Mode (|||port|)".
//   - PORT/EPRT: goftp connects to the client immediately, during the
//     command, and answers "200 Connection established (<port>)"; the
//     client must already be listening.
//   - The passive listener binds ALL interfaces (":port"), not 127.0.0.1,
//     and waits up to 60 s for one connection. Only the control listener
//     is loopback-only. PassivePorts "LOW-HIGH" picks LOW+rand(HIGH-LOW):
//     HIGH is never used.
//   - LIST lines: "-rwxrwxrwx 1 ftp ftp         1000 Jan  2  2024 name\r\n"
//     (mode is always 0777 from SimplePerm, size right-aligned in 12
//     columns, "Jan _2 15:04" for times within a year); no "total" line,
//     no "." or "..". Options such as "-la" are skipped. LIST of a file
//     lists that file; a missing path gives "550 lstat <server path>: no
//     such file or directory", which shows the server's real path.
//   - Symbolic links: goftp's file driver describes a link by lstat, which
//     its listings and MLST show as a plain file of the link's length while
//     RETR reads the target. This package's driver shows what a link points
//     to instead (a dangling one keeps its own facts), and lists a folder
//     reached through a link (goftp's walk lists nothing there).
//   - NLST: names only, CRLF. MLSD: "Type=file;Modify=YYYYMMDDhhmmss;
//     Size=N; name\n" with LF only and no cdir/pdir entries.
//   - Listings and RETR answer "150 ..." then "226 Closing data connection,
//     sent N bytes"; the server closes the data connection. RETR of a
//     missing file: 551 "File not available" (no 150); of a directory: 150
//     then 551 "Error reading file".
//   - REST n + RETR sends from offset n; REST must come right before.
//   - STOR/APPE answer "150 Data transfer starting" at once, read to EOF and
//     answer "226 OK, received N bytes"; the server does not close the data
//     connection, the client's close ends the upload.
//   - APPE without REST replaces the file (it does not append). REST n +
//     STOR/APPE opens the file in append mode, so data always goes to the
//     end whatever n is; n past the end fails after "150" with "450 error
//     during transfer: Offset n is beyond file size m". REST + STOR of a
//     file that does not exist creates it.
//   - MKD of an existing directory succeeds (MkdirAll).
//
// TLS:
//   - Explicit (Options.TLS, Implicit false): "AUTH TLS" → "234 AUTH
//     command OK" and the handshake; "AUTH SSL" → 550. After AUTH TLS every
//     data connection is TLS, whether or not PBSZ/PROT were sent; PBSZ 0
//     and PROT P answer 200, PROT C 536 "Only P level is supported", both
//     550 before AUTH TLS. The server starts the data-channel handshake only
//     when the transfer command runs: a client must send RETR/STOR/LIST
//     first and handshake afterwards, or both sides wait. There is no check
//     of TLS session reuse between control and data. Active-mode (PORT/EPRT)
//     data connections are never TLS, even after AUTH TLS and PROT P.
//   - Implicit (Implicit true): the control connection is TLS from the
//     first byte, but goftp never marks the session as secure: PBSZ and
//     PROT answer 550 and data connections are plain TCP. AUTH TLS inside
//     implicit TLS answers 234 and tries a second handshake.
//   - goftp's ForceTLS option is dropped by its option defaulting and has
//     no effect.
//   - goftp only takes its TLS config inside ListenAndServe, which insists
//     on listening itself. Start calls it once with port -1 so that it
//     stores the config and fails at once ("invalid port"), then serves on
//     its own listener.
//
// Close limits: a session in the middle of a transfer ends when the
// transfer ends. If a client keeps a data connection open without reading
// (RETR) or without sending or closing (STOR), goftp cannot be interrupted;
// Close returns an error after 10 s and that goroutine ends when the client
// closes.
package embedserver
