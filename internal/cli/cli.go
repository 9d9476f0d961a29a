// Package cli is the asyncftp command-line tool: subcommands (ls, get, put, mkdir, rm, mv, mirror, demo, serve,
// version, completion) on cobra over the blocking client and the session pool, with ftp:// URLs, netrc credentials, progress bars, JSON and exit codes.
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
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// runFunc is a command's body: it runs with the positional arguments once
// the flags it defined have their values.
type runFunc func(ctx context.Context, e *Env, args []string) error

// argKind says how a positional argument is completed in a shell.
type argKind int

const (
	argNone      argKind = iota // nothing to offer
	argRemote                   // an ftp:// or ftps:// URL: remote paths are listed
	argLocalFile                // a local file (the shell's own completion)
	argLocalDir                 // a local folder
)

// command is one subcommand.
type command struct {
	name    string
	args    string // the positional arguments, for the usage line
	summary string // one line for the command list
	help    string // description and examples, shown by --help
	hidden  bool   // left out of the command list (still documented at its foot)
	// parent names the command this one belongs under ("swarm" for "swarm
	// merge"); "" for a command of its own. Its parent's help describes it.
	parent string
	// minArgs and maxArgs bound the positional arguments (maxArgs < 0: no limit).
	minArgs, maxArgs int
	// complete says how each positional argument is completed; the last kind
	// repeats for the arguments beyond.
	complete []argKind
	// flags defines the command's flags on f and returns the body, which reads
	// their values: a fresh set of variables for each run of the tool.
	flags func(f *pflag.FlagSet) runFunc
}

var commands = map[string]*command{}

func register(c *command) { commands[c.path()] = c }

// path is the command's name as typed after asyncftp: "ls", "swarm merge".
func (c *command) path() string { return strings.TrimSpace(c.parent + " " + c.name) }

// Main runs the tool with args (without the program name) and returns the exit code.
func Main(args []string, e *Env) int {
	if len(args) == 0 {
		mainHelp(e.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-help": // Go-flag spelling, still accepted
		args = append([]string{"--help"}, args[1:]...)
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	ran := false
	root := newRoot(e, &ran)
	args = singleDashLongFlags(root, args)
	root.SetArgs(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := root.ExecuteContextC(ctx)
	if err != nil && !ran {
		// Cobra's own complaints (unknown command or flag, bad arguments) are
		// usage errors; those of a command's body carry their own code.
		var ee *exitError
		if !errors.As(err, &ee) {
			err = usageErrorf("%v", err)
		}
	}
	name := ""
	if c != nil && c != root {
		name = strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
	}
	return report(e, name, ctx, err)
}

// newRoot builds the command tree for one run: the asyncftp root, a cobra
// command per registered subcommand, and cobra's completion and help
// commands. ran is set once a command's body starts, which tells its errors
// from cobra's.
func newRoot(e *Env, ran *bool) *cobra.Command {
	root := &cobra.Command{
		Use:           "asyncftp",
		Short:         "an FTP client built on the asyncftp engine",
		SilenceErrors: true, // report prints them, with the exit code
		SilenceUsage:  true,
	}
	root.SetIn(e.Stdin)
	root.SetOut(e.Stdout)
	root.SetErr(e.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	root.Flags().BoolP("help", "h", false, "show this help")

	byCobra := map[*cobra.Command]*command{}
	root.SetHelpFunc(func(cc *cobra.Command, args []string) {
		switch c := byCobra[cc]; {
		case cc == root:
			mainHelp(cc.OutOrStdout())
		case c != nil:
			commandHelp(cc.OutOrStdout(), c, cc.Flags())
		default: // cobra's completion commands
			otherHelp(cc.OutOrStdout(), cc)
		}
	})

	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := commandOrder(names[i]), commandOrder(names[j])
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	byName := map[string]*cobra.Command{}
	for _, n := range names {
		c := commands[n]
		cc := &cobra.Command{
			Use:    strings.TrimSpace(c.name + " [flags] " + c.args),
			Short:  c.summary,
			Hidden: c.hidden,
			Args:   c.checkArgs,
		}
		f := cc.Flags()
		f.SortFlags = false // the help lists them in the order they were defined
		run := c.flags(f)
		f.BoolP("help", "h", false, "show this help")
		cc.RunE = func(cc *cobra.Command, args []string) error {
			*ran = true
			return run(cc.Context(), e, args)
		}
		cc.ValidArgsFunction = c.completeArgs(e)
		registerFlagCompletions(cc)
		byCobra[cc] = c
		byName[n] = cc
		if c.parent == "" {
			root.AddCommand(cc)
		}
	}
	for _, n := range names {
		if c := commands[n]; c.parent != "" {
			byName[c.parent].AddCommand(byName[n])
		}
	}

	// cobra's completion command (bash, zsh, fish, powershell) only prints
	// its help for a shell it does not know; here that is a usage error.
	root.InitDefaultCompletionCmd()
	if comp, _, err := root.Find([]string{"completion"}); err == nil && comp != root {
		comp.Use = "completion SHELL"
		comp.Args = cobra.ArbitraryArgs
		comp.RunE = func(cc *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("name a shell: asyncftp completion bash|zsh|fish|powershell")
			}
			return usageErrorf("no completion for the shell %q: bash, zsh, fish or powershell", args[0])
		}
	}
	return root
}

// checkArgs checks the number of positional arguments.
func (c *command) checkArgs(_ *cobra.Command, pos []string) error {
	switch {
	case len(pos) < c.minArgs:
		return usageErrorf("missing arguments: usage is asyncftp %s [flags] %s", c.path(), c.args)
	case c.maxArgs >= 0 && len(pos) > c.maxArgs:
		return usageErrorf("too many arguments (%q): usage is asyncftp %s [flags] %s", pos[c.maxArgs:], c.path(), c.args)
	}
	return nil
}

// singleDashLongFlags rewrites -name to --name for the long flags of the
// command args names, so that the spellings Go's flag package accepted
// (-json, -timeout 5s) keep working under pflag, where a single dash starts
// short flags. Values of flags are left alone, and so is everything after "--".
func singleDashLongFlags(root *cobra.Command, args []string) []string {
	sub, _, err := root.Find(args)
	if err != nil || sub == root {
		return args
	}
	i := slices.Index(args, sub.Name())
	if i < 0 {
		return args
	}
	out := slices.Clone(args)
	f := sub.Flags()
	for j := i + 1; j < len(out); j++ {
		a := out[j]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			if a == "--" {
				break
			}
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var fl *pflag.Flag
		switch {
		case strings.HasPrefix(a, "--"):
			fl = f.Lookup(name)
		case len(name) > 1 && f.Lookup(name) != nil:
			fl = f.Lookup(name)
			out[j] = "-" + a
		case len(name) == 1:
			fl = f.ShorthandLookup(name)
		}
		if fl != nil && !hasValue && fl.NoOptDefVal == "" {
			j++ // the next word is this flag's value
		}
	}
	return out
}

// report prints err (if any) and turns it into an exit code.
func report(e *Env, name string, ctx context.Context, err error) int {
	if err == nil {
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
	prefix := "asyncftp " + name
	if name == "" {
		prefix = "asyncftp"
	}
	if ee == nil || !ee.reported {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prefix, err)
	}
	if code == ExitUsage {
		fmt.Fprintf(e.Stderr, "Run '%s --help' for usage.\n", prefix)
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
		if !c.hidden && c.parent == "" {
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

Shell completion (commands, flags, and remote paths: ftp://HOST/pub/<TAB>):
  source <(asyncftp completion bash)     also zsh and fish; see 'asyncftp completion --help'

Run 'asyncftp COMMAND --help' for a command's flags and examples.

`)
	fmt.Fprintln(w, exitCodesHelp)
}

// commandOrder keeps the command list in the order a user meets them.
func commandOrder(name string) int {
	order := []string{"demo", "ls", "get", "put", "mkdir", "rm", "mv", "mirror", "bench", "swarm", "serve", "version"}
	for i, n := range order {
		if n == name {
			return i
		}
	}
	return len(order)
}

// commandHelp prints a command's help: usage line, description, flags, exit codes.
func commandHelp(w io.Writer, c *command, f *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: asyncftp %s [flags] %s\n\n", c.path(), c.args)
	fmt.Fprintln(w, strings.TrimSpace(c.help))
	if f != nil && f.HasAvailableFlags() {
		fmt.Fprintln(w, "\nFlags:")
		fmt.Fprint(w, flagUsages(f))
	}
	if f != nil && f.Lookup("tls") != nil && f.Lookup("ca") != nil {
		fmt.Fprintln(w, "\n"+credentialsHelp)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitCodesHelp)
}

// otherHelp prints the help of the commands cobra adds (completion and its
// shells) in the layout of ours.
func otherHelp(w io.Writer, cc *cobra.Command) {
	fmt.Fprintf(w, "Usage: %s\n\n", cc.UseLine())
	text := cc.Long
	if text == "" {
		text = cc.Short
	}
	fmt.Fprintln(w, strings.TrimSpace(text))
	if cc.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, sub := range cc.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-11s %s\n", sub.Name(), sub.Short)
			}
		}
	}
	if cc.Flags().HasAvailableFlags() {
		fmt.Fprintln(w, "\nFlags:")
		fmt.Fprint(w, flagUsages(cc.Flags()))
	}
}

// flagUsages lists f's visible flags in two columns, the names (with the
// argument pflag takes from the backquoted word of the usage) and the usage
// wrapped to 80 columns. pflag's own FlagUsages marks every boolean flag
// "[=true|false]", which says more about pflag than about the flag.
func flagUsages(f *pflag.FlagSet) string {
	const col, width = 25, 80
	var b strings.Builder
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		left := "    --" + fl.Name
		if fl.Shorthand != "" {
			left = "-" + fl.Shorthand + ", --" + fl.Name
		}
		arg, usage := pflag.UnquoteUsage(fl)
		if fl.Value.Type() != "bool" && arg != "" {
			left += " " + arg
		}
		words := strings.Fields(usage)
		switch def := fl.DefValue; {
		case fl.Value.Type() == "bool", def == "", def == "0", def == "0s", def == "[]":
		default:
			words = append(words, "(default "+def+")") // never split
		}
		b.WriteString("  " + left)
		pos := 2 + len(left)
		if pos >= col-1 {
			b.WriteString("\n")
			pos = 0
		}
		b.WriteString(strings.Repeat(" ", col-pos))
		pos = col
		for i, word := range words {
			if i > 0 && pos+1+len(word) > width {
				b.WriteString("\n" + strings.Repeat(" ", col))
				pos = col
			} else if i > 0 {
				b.WriteString(" ")
				pos++
			}
			b.WriteString(word)
			pos += len(word)
		}
		b.WriteString("\n")
	})
	return b.String()
}
