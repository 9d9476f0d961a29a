// Package cli is the asyncftp command-line tool: subcommands (ls, get, put, mkdir, rm, mv, mirror, demo, serve,
// version) over the blocking client and the session pool, with ftp:// URLs, netrc credentials, progress bars, JSON and exit codes.
//
// cmd/asyncftp is a one-line main around [Main]; everything else lives here so that
// each subcommand sits in a file of its own and the helpers can be unit-tested.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/asyncftp/asyncftp/ftp"
)

// Exit codes of the asyncftp command.
const (
	ExitOK          = 0   // everything asked for was done
	ExitUsage       = 2   // bad command line: unknown command or flag, missing or malformed argument
	ExitConnect     = 3   // could not connect, or the server refused the login
	ExitFailure     = 4   // connected, but a command or transfer failed (or a mirror skipped unsafe names)
	ExitInterrupted = 130 // stopped by SIGINT or SIGTERM
)

// exitCodesHelp is shown at the end of every --help.
const exitCodesHelp = `Exit codes:
  0    success
  2    usage error (unknown command or flag, missing or malformed argument)
  3    connection or login failure (refused, timed out, 530 Not logged in, TLS failure)
  4    a command or transfer failed after login (missing file, permission denied,
       short transfer, local write error; for mirror also: unsafe names skipped)
  130  interrupted (Ctrl-C)`

// credentialsHelp is shown by the help of every command that logs in.
const credentialsHelp = `Login: the URL's user and password; else $ASYNCFTP_PASSWORD for that user (or
the netrc login); else ~/.netrc or the file $NETRC names; else anonymous.
The password is never printed, not even with -v.`

// Env is what a run of the tool sees of the outside world.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// StdoutTerminal reports whether Stdout is a terminal: progress bars are
	// drawn only then.
	StdoutTerminal bool
}

// Std returns the process's own environment.
func Std() *Env {
	return &Env{
		Stdin:          os.Stdin,
		Stdout:         os.Stdout,
		Stderr:         os.Stderr,
		Getenv:         os.Getenv,
		StdoutTerminal: term.IsTerminal(int(os.Stdout.Fd())),
	}
}

// command is one subcommand.
type command struct {
	name    string
	args    string // the positional arguments, for the usage line
	summary string // one line for the command list
	help    string // description and examples, shown by --help
	hidden  bool   // left out of the command list (still documented at its foot)
	run     func(ctx context.Context, e *Env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// Main runs the tool with args (without the program name) and returns the exit code.
func Main(args []string, e *Env) int {
	if len(args) == 0 {
		mainHelp(e.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return Main([]string{args[1], "--help"}, e)
			}
		}
		mainHelp(e.Stdout)
		return ExitOK
	case "-version", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.Stderr, "asyncftp: unknown command %q\nRun 'asyncftp --help' for the list of commands.\n", name)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, e, args[1:])
	return report(e, c, ctx, err)
}

// report prints err (if any) and turns it into an exit code.
func report(e *Env, c *command, ctx context.Context, err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return ExitOK
	}
	var ee *exitError
	code := ExitFailure
	if errors.As(err, &ee) {
		code = ee.code
	}
	if ctx.Err() != nil && (errors.Is(err, ftp.ErrCanceled) || errors.Is(err, context.Canceled)) {
		code = ExitInterrupted
	}
	if ee == nil || !ee.reported {
		fmt.Fprintf(e.Stderr, "asyncftp %s: %v\n", c.name, err)
	}
	if code == ExitUsage {
		fmt.Fprintf(e.Stderr, "Run 'asyncftp %s --help' for usage.\n", c.name)
	}
	return code
}

// exitError carries the exit code an error should produce.
type exitError struct {
	code     int
	err      error
	reported bool // already printed; report stays silent
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errHelpShown ends a run after --help printed the help.
var errHelpShown = errors.New("help shown")

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

func connectError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitConnect, err: err}
}

func failure(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitFailure, err: err}
}

func mainHelp(w io.Writer) {
	fmt.Fprint(w, `asyncftp: an FTP client built on the asyncftp engine.

Usage:
  asyncftp COMMAND [flags] ARGS...

Commands:
`)
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return commandOrder(names[i]) < commandOrder(names[j]) })
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Start here:
  asyncftp demo                          the article's FTP session, live, against a built-in server
  asyncftp serve                         run that built-in server yourself (127.0.0.1, sample tree)
  asyncftp ls ftp://127.0.0.1:PORT/      then talk to it

URLs:
  ftp://[USER[:PASSWORD]@]HOST[:PORT]/PATH    plain FTP (port 21); --tls for explicit FTPS
  ftps://[USER[:PASSWORD]@]HOST[:PORT]/PATH   implicit FTPS (port 990)
  Characters such as '@', ':', '/' and spaces in USER, PASSWORD or PATH are
  percent-encoded (%40, %3A, %2F, %20). PATH is relative to the login folder;
  a PATH that starts with %2F (ftp://host/%2Fetc/motd) is absolute.

Credentials, first found wins:
  1. USER and PASSWORD in the URL (avoid the password there: it shows in 'ps')
  2. the environment variable ASYNCFTP_PASSWORD, for the URL's user or the netrc login
  3. ~/.netrc (or the file named by $NETRC): 'machine HOST login USER password PW'
  4. anonymous
  Passwords are never printed: transcripts show 'PASS ****'.

Run 'asyncftp COMMAND --help' for a command's flags and examples.

`)
	fmt.Fprintln(w, exitCodesHelp)
}

// commandOrder keeps the command list in the order a user meets them.
func commandOrder(name string) int {
	order := []string{"demo", "ls", "get", "put", "mkdir", "rm", "mv", "mirror", "bench", "serve", "version"}
	for i, n := range order {
		if n == name {
			return i
		}
	}
	return len(order)
}

// commandHelp prints a command's help: usage line, description, flags, exit codes.
func commandHelp(w io.Writer, c *command, fs *flagSet) {
	fmt.Fprintf(w, "Usage: asyncftp %s [flags] %s\n\n", c.name, c.args)
	fmt.Fprintln(w, strings.TrimSpace(c.help))
	if fs != nil && len(fs.docs) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.printDefaults(w)
	}
	if fs != nil && fs.Lookup("tls") != nil {
		fmt.Fprintln(w, "\n"+credentialsHelp)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitCodesHelp)
}
