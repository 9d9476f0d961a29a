package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "version",
		args:    "",
		summary: "print the version",
		help: `
Print asyncftp's version, the source revision it was built from (when the
build recorded it) and the Go toolchain.

Examples:
  asyncftp version
  asyncftp version --json`,
		flags: func(f *pflag.FlagSet) runFunc {
			var asJSON bool
			f.BoolVar(&asJSON, "json", false, "print one JSON object")
			return func(ctx context.Context, e *Env, _ []string) error { return runVersion(e, asJSON) }
		},
	})
}

func runVersion(e *Env, asJSON bool) error {
	v := Version()
	if asJSON {
		(&printer{w: e.Stdout, json: true}).record(Record{Op: "version", Status: "ok", Version: v}, "")
		return nil
	}
	fmt.Fprintf(e.Stdout, "asyncftp %s\n", v)
	return nil
}

// Version describes the build: module version, revision, Go version, platform.
func Version() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev
		if dirty {
			v += "+modified"
		}
	}
	return fmt.Sprintf("%s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
