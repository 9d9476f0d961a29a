package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet that knows its flags' aliases (-o and --output) and
// prints them together in --help.
type flagSet struct {
	*flag.FlagSet
	cmd  *command
	docs []flagDoc
}

type flagDoc struct {
	names []string // "o", "output"
	arg   string   // "FILE" ("" for booleans)
	usage string
	def   string // shown as "(default ...)" when not ""
}

func newFlagSet(c *command) *flagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, cmd: c}
}

func (f *flagSet) doc(names, arg, usage, def string) []string {
	n := strings.Split(names, ",")
	f.docs = append(f.docs, flagDoc{names: n, arg: arg, usage: usage, def: def})
	return n
}

func (f *flagSet) boolVar(p *bool, names, usage string) {
	for _, n := range f.doc(names, "", usage, "") {
		f.BoolVar(p, n, *p, usage)
	}
}

func (f *flagSet) stringVar(p *string, names, arg, usage string) {
	def := ""
	if *p != "" {
		def = *p
	}
	for _, n := range f.doc(names, arg, usage, def) {
		f.StringVar(p, n, *p, usage)
	}
}

func (f *flagSet) intVar(p *int, names, arg, usage string) {
	for _, n := range f.doc(names, arg, usage, fmt.Sprint(*p)) {
		f.IntVar(p, n, *p, usage)
	}
}

func (f *flagSet) durationVar(p *time.Duration, names, arg, usage string) {
	def := ""
	if *p != 0 {
		def = p.String()
	}
	for _, n := range f.doc(names, arg, usage, def) {
		f.DurationVar(p, n, *p, usage)
	}
}

func (f *flagSet) printDefaults(w io.Writer) {
	for _, d := range f.docs {
		var parts []string
		for _, n := range d.names {
			if len(n) == 1 {
				parts = append(parts, "-"+n)
			} else {
				parts = append(parts, "--"+n)
			}
		}
		left := strings.Join(parts, ", ")
		if d.arg != "" {
			left += " " + d.arg
		}
		usage := d.usage
		if d.def != "" {
			usage += " (default " + d.def + ")"
		}
		if len(left) <= 22 {
			fmt.Fprintf(w, "  %-22s %s\n", left, usage)
		} else {
			fmt.Fprintf(w, "  %s\n  %-22s %s\n", left, "", usage)
		}
	}
	fmt.Fprintf(w, "  %-22s %s\n", "-h, --help", "show this help")
}

// parse parses args, flags and positional arguments in any order ("--" ends
// the flags), and checks that there are between min and max positional
// arguments (max < 0: no limit). --help prints the help and returns
// errHelpShown; every other problem is a usage error.
func (f *flagSet) parse(e *Env, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			commandHelp(e.Stdout, f.cmd, f)
			return nil, errHelpShown
		}
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		rest := f.Args()
		used := len(args) - len(rest)
		if used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usageErrorf("missing arguments: usage is asyncftp %s [flags] %s", f.cmd.name, f.cmd.args)
	case max >= 0 && len(pos) > max:
		return nil, usageErrorf("too many arguments (%q): usage is asyncftp %s [flags] %s", pos[max:], f.cmd.name, f.cmd.args)
	}
	return pos, nil
}
