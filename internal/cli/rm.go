package cli

import (
	"context"
	"fmt"
	"strings"
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
		run: runRm,
	})
}

func runRm(ctx context.Context, e *Env, args []string) error {
	o := &common{}
	fs := newFlagSet(commands["rm"])
	var dir bool
	fs.boolVar(&dir, "d,dir", "remove an empty folder (RMD) instead of a file")
	o.register(fs)
	pos, err := fs.parse(e, args, 1, 1)
	if err != nil {
		return err
	}
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
	c, err := o.dial(ctx, e, t, nil, o.transcriptSink(e, false))
	if err != nil {
		return err
	}
	defer c.quit(ctx)

	p := newPrinter(e, o)
	rec := Record{Op: "rm", URL: t.String(), Path: target}
	if dir {
		err = c.RemoveDir(ctx, target)
	} else {
		err = c.Delete(ctx, target)
	}
	if err != nil {
		p.record(errorRecord(rec, err), "")
		return failure(fmt.Errorf("rm %s: %w", target, err))
	}
	rec.Status = "ok"
	p.record(rec, fmt.Sprintf("removed %s", safeText(target)))
	return nil
}
