package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "rm",
		args:    "URL",
		summary: "delete a remote file (or, with -d, an empty folder)",
		help: `
Delete the file a URL names (DELE). With -d, remove the empty folder it names
instead (RMD). There is no recursive delete.

Examples:
  asyncftp rm ftp://alice@example.org/incoming/old.zip
  asyncftp rm -d ftp://alice@example.org/incoming/2019`,
		minArgs:  1,
		maxArgs:  1,
		complete: []argKind{argRemote},
		flags: func(f *pflag.FlagSet) runFunc {
			o := &common{}
			var dir bool
			f.BoolVarP(&dir, "dir", "d", false, "remove an empty folder (RMD) instead of a file")
			o.register(f)
			return func(ctx context.Context, e *Env, pos []string) error { return runRm(ctx, e, o, dir, pos) }
		},
	})
}

func runRm(ctx context.Context, e *Env, o *common, dir bool, pos []string) error {
	t, err := o.target(pos[0])
	if err != nil {
		return err
	}
	target := strings.TrimRight(t.Path, "/")
	if target == "" {
		return usageErrorf("the URL names nothing to delete: %s", t)
	}
	if !dir && strings.HasSuffix(t.Path, "/") {
		return usageErrorf("%s ends in '/': use -d to remove a folder", t)
	}
	rec := Record{Op: "rm", URL: t.String(), Path: target}
	return runOne(ctx, e, o, t, rec, "rm "+target, "removed "+safeText(target), func(c *conn) error {
		if dir {
			return c.RemoveDir(ctx, target)
		}
		return c.Delete(ctx, target)
	})
}
