package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "mkdir",
		args:    "URL",
		summary: "create a remote folder",
		help: `
Create the folder a URL names (MKD). With -p, create the missing parent
folders too, and succeed if the folder already exists.

Examples:
  asyncftp mkdir ftp://alice@example.org/incoming/2024
  asyncftp mkdir -p ftp://alice@example.org/backup/2024/06/01`,
		minArgs:  1,
		maxArgs:  1,
		complete: []argKind{argRemote},
		flags: func(f *pflag.FlagSet) runFunc {
			o := &common{}
			var parents bool
			f.BoolVarP(&parents, "parents", "p", false, "create parent folders as needed; no error if the folder exists")
			o.register(f)
			return func(ctx context.Context, e *Env, pos []string) error { return runMkdir(ctx, e, o, parents, pos) }
		},
	})
}

func runMkdir(ctx context.Context, e *Env, o *common, parents bool, pos []string) error {
	t, err := o.target(pos[0])
	if err != nil {
		return err
	}
	dir := strings.TrimRight(t.Path, "/")
	if dir == "" {
		return usageErrorf("the URL names no folder to create: %s", t)
	}
	rec := Record{Op: "mkdir", URL: t.String(), Path: dir}
	return runOne(ctx, e, o, t, rec, "mkdir "+dir, "created "+safeText(dir), func(c *conn) error {
		if parents {
			return mkdirAll(ctx, c, dir)
		}
		return c.MakeDir(ctx, dir)
	})
}

// mkdirAll creates dir and its missing parents. A parent that cannot be
// created is fine if it exists (CWD into it works); the last MKD must succeed
// or the folder must exist.
func mkdirAll(ctx context.Context, c *conn, dir string) error {
	start, err := c.Pwd(ctx)
	if err != nil {
		return err
	}
	prefix := ""
	if strings.HasPrefix(dir, "/") {
		prefix = "/"
	}
	var made string
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		if made == "" {
			made = prefix + part
		} else {
			made += "/" + part
		}
		if mkErr := c.MakeDir(ctx, made); mkErr != nil {
			if replyCode(mkErr) == 0 {
				return mkErr // the session failed, not the MKD
			}
			// Exists already? Ask by changing into it, then back.
			if cwdErr := c.Cwd(ctx, made); cwdErr != nil {
				return mkErr
			}
			if err := c.Cwd(ctx, start); err != nil {
				return err
			}
		}
	}
	return nil
}
