package cli

import (
	"context"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/asyncftp/asyncftp/listing"
)

// completionTimeout bounds a remote-path completion from connect to the end of
// the listing: a shell waiting on Tab must not hang on a slow server.
const completionTimeout = 3 * time.Second

// completeArgs returns the cobra completion of c's positional arguments:
// remote paths for URLs, the shell's own file or folder completion for local
// arguments, nothing otherwise.
func (c *command) completeArgs(e *Env) cobra.CompletionFunc {
	return func(cc *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(c.complete) == 0 || (c.maxArgs >= 0 && len(args) >= c.maxArgs) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		kind := c.complete[min(len(args), len(c.complete)-1)]
		switch kind {
		case argLocalFile:
			return nil, cobra.ShellCompDirectiveDefault
		case argLocalDir:
			return nil, cobra.ShellCompDirectiveFilterDirs
		case argRemote:
			ctx := cc.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return completeRemote(ctx, e, commonFromFlags(cc.Flags()), toComplete)
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRemote completes a URL: the schemes while none is typed, then the
// entries of the folder the URL's last '/' ends: ftp://host/pub/RE<TAB> lists
// pub and offers the names that start with RE, folders with a trailing '/'.
// Credentials come from the URL, $ASYNCFTP_PASSWORD or netrc, as for the
// commands. Any failure (no server, a refused login, a timeout) offers
// nothing and prints nothing: a completion must never print errors into the
// command line the user is typing.
func completeRemote(ctx context.Context, e *Env, o *common, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	const none = cobra.ShellCompDirectiveNoFileComp
	scheme, rest, ok := strings.Cut(toComplete, "://")
	if !ok {
		var out []cobra.Completion
		for _, s := range []string{"ftp://", "ftps://"} {
			if strings.HasPrefix(s, strings.ToLower(toComplete)) {
				out = append(out, s)
			}
		}
		return out, none | cobra.ShellCompDirectiveNoSpace
	}
	slash := strings.LastIndex(rest, "/")
	if scheme == "" || slash < 0 {
		return nil, none // still typing the host
	}
	dirURL := scheme + "://" + rest[:slash+1]
	partial := rest[slash+1:]

	if o.timeout <= 0 || o.timeout > completionTimeout {
		o.timeout = completionTimeout
	}
	o.keepalive = 0
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	quiet := *e
	quiet.Stderr = io.Discard // netrc and --insecure warnings
	t, err := o.target(dirURL)
	if err != nil {
		return nil, none
	}
	c, err := o.dial(ctx, &quiet, t, nil, nil)
	if err != nil {
		return nil, none
	}
	defer c.Close()
	res, err := c.List(ctx, t.Path)
	if err != nil {
		return nil, none
	}
	c.Quit(ctx)

	var out []cobra.Completion
	dirs := 0
	for _, en := range res.Entries {
		if en.Name == "" || en.Name == "." || en.Name == ".." {
			continue
		}
		// Escaped as in a URL: spaces, '%', '#' and control bytes cannot
		// break the completion protocol's one-per-line answers.
		name := url.PathEscape(en.Name)
		if !strings.HasPrefix(name, partial) {
			continue
		}
		if en.Type == listing.Dir {
			name += "/"
			dirs++
		}
		out = append(out, dirURL+name)
	}
	if len(out) == 1 && dirs == 0 {
		return out, none // one file: the shell may end the word
	}
	return out, none | cobra.ShellCompDirectiveNoSpace
}

// commonFromFlags reads the connection flags a command was given, so that a
// completion connects the way the command would (FTPS, CA, pins, data mode).
func commonFromFlags(f *pflag.FlagSet) *common {
	b := func(name string) bool { v, _ := f.GetBool(name); return v }
	s := func(name string) string { v, _ := f.GetString(name); return v }
	o := &common{
		tls: b("tls"), insecure: b("insecure"), noEPSV: b("no-epsv"), active: b("active"),
		ca: s("ca"), pin: s("pin"), dataMode: s("data-mode"), activePorts: s("active-ports"), activeAddr: s("active-addr"),
	}
	o.timeout, _ = f.GetDuration("timeout")
	return o
}

// registerFlagCompletions offers the values of the flags that take a word
// from a fixed set, and folders for those that take a folder.
func registerFlagCompletions(cc *cobra.Command) {
	fixed := map[string][]string{
		"data-mode": {"passive", "active", "auto"},
		"scenario":  {"lifecycle", "idle", "bigretr"},
	}
	for name, values := range fixed {
		if cc.Flags().Lookup(name) != nil {
			cc.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	if cc.Flags().Lookup("root") != nil {
		cc.MarkFlagDirname("root")
	}
}
