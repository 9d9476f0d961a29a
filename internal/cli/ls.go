package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/listing"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "ls",
		args:    "URL",
		summary: "list a remote folder",
		help: `
List the folder a URL names (the login folder for ftp://HOST/). The listing
comes from MLSD when the server announces MLST in FEAT, from LIST otherwise,
and is parsed into type, size, time and name. Names are printed as the server
sent them; control characters are shown as \xHH so that a hostile name cannot
drive your terminal. Lines that no parser understands are reported on stderr.

Examples:
  asyncftp ls ftp://ftp.example.org/pub/
  asyncftp ls --json ftp://127.0.0.1:2121/ | jq -r 'select(.type=="file") | .name'
  asyncftp ls -v ftp://alice@example.org/        # with the transcript on stderr`,
		minArgs:  1,
		maxArgs:  1,
		complete: []argKind{argRemote},
		flags:    lsFlags,
	})
}

func lsFlags(f *pflag.FlagSet) runFunc {
	o := &common{}
	o.register(f)
	var raw bool
	f.BoolVar(&raw, "raw", false, "print the listing lines as the server sent them (escaped), not parsed")
	return func(ctx context.Context, e *Env, pos []string) error { return runLs(ctx, e, o, raw, pos) }
}

func runLs(ctx context.Context, e *Env, o *common, raw bool, pos []string) error {
	t, err := o.target(pos[0])
	if err != nil {
		return err
	}
	c, err := o.dial(ctx, e, t, nil, o.transcriptSink(e, false))
	if err != nil {
		return err
	}
	defer c.quit(ctx)

	res, err := c.List(ctx, t.Path)
	if err != nil {
		return failure(fmt.Errorf("list %s: %w", t, err))
	}
	p := newPrinter(e, o)
	for _, en := range res.Entries {
		r := Record{Op: "ls", Status: "ok", Path: remoteJoin(t.Path, en.Name), Name: en.Name, Type: en.Type.String(), Target: en.Target}
		if en.Size >= 0 {
			r.Size = int64p(en.Size)
		}
		if !en.Time.IsZero() {
			r.Time = en.Time.Format(time.RFC3339)
		}
		if raw {
			r.Raw = en.Raw
			p.record(r, escapeLine(en.Raw, false))
			continue
		}
		p.record(r, lsLine(en))
	}
	for _, b := range res.Bad {
		fmt.Fprintf(e.Stderr, "asyncftp ls: warning: listing line %d not understood: %s\n", b.Line, safeText(b.Raw))
	}
	return nil
}

// lsLine formats one entry: type, size, time, name.
func lsLine(en listing.Entry) string {
	size := "-"
	if en.Size >= 0 && en.Type != listing.Dir {
		size = fmt.Sprint(en.Size)
	}
	name := safeText(en.Name)
	switch en.Type {
	case listing.Dir:
		name += "/"
	case listing.Link:
		if en.Target != "" {
			name += " -> " + safeText(en.Target)
		}
	}
	return strings.TrimRight(fmt.Sprintf("%-5s %12s  %-16s  %s", en.Type, size, formatTime(en.Time, en.Format == listing.Unix), name), " ")
}
