package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "mv",
		args:    "URL NEWPATH",
		summary: "rename or move a remote file or folder",
		help: `
Rename the file or folder a URL names (RNFR, RNTO). NEWPATH is a remote path
relative to the folder the URL's file is in, like a name given to mv in that
folder; a NEWPATH that starts with '/' is absolute on the server. NEWPATH may
also be a URL on the same server.

Examples:
  asyncftp mv ftp://alice@example.org/incoming/a.txt b.txt          # incoming/b.txt
  asyncftp mv ftp://alice@example.org/incoming/a.txt ../archive/a.txt
  asyncftp mv ftp://alice@example.org/incoming/a.txt /archive/a.txt`,
		minArgs:  2,
		maxArgs:  2,
		complete: []argKind{argRemote, argNone},
		flags: func(f *pflag.FlagSet) runFunc {
			o := &common{}
			o.register(f)
			return func(ctx context.Context, e *Env, pos []string) error { return runMv(ctx, e, o, pos) }
		},
	})
}

func runMv(ctx context.Context, e *Env, o *common, pos []string) error {
	t, err := o.target(pos[0])
	if err != nil {
		return err
	}
	from := strings.TrimRight(t.Path, "/")
	if from == "" {
		return usageErrorf("the URL names nothing to rename: %s", t)
	}
	to, err := renameTarget(t, from, pos[1])
	if err != nil {
		return err
	}
	rec := Record{Op: "mv", URL: t.String(), Path: from, To: to}
	return runOne(ctx, e, o, t, rec, "mv "+from+" "+to, "renamed "+safeText(from)+" to "+safeText(to),
		func(c *conn) error { return c.Rename(ctx, from, to) })
}

// renameTarget resolves NEWPATH against the source's folder.
func renameTarget(t *Target, from, arg string) (string, error) {
	if strings.Contains(arg, "://") {
		u, err := ParseURL(arg)
		if err != nil {
			return "", usageErrorf("NEWPATH: %v", err)
		}
		if u.Host != t.Host || u.Port != t.Port {
			return "", usageErrorf("NEWPATH is on another server (%s); mv renames on one server", u.Addr())
		}
		arg = u.Path
		if arg == "" {
			return "", usageErrorf("NEWPATH names no file")
		}
		return arg, nil
	}
	if arg == "" {
		return "", usageErrorf("NEWPATH is empty")
	}
	if strings.HasPrefix(arg, "/") {
		return arg, nil
	}
	return remoteJoin(remoteDir(from), arg), nil
}
