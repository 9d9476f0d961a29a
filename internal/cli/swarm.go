package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "swarm",
		args:    "URL",
		summary: "run many sessions at once against one server",
		help: `
Open -n sessions to the server a URL names, -c at a time and at most --rate new
connections per second, on --loops event loops. Each logs in, runs the --cmd
commands in order (LIST, NLST and RETR read their data into a discard sink),
then quits; with --hold it stays logged in until the duration is over. At the
end it prints the aggregate: sessions ok, errors by kind, p50/p99 of connect,
login and total time, bytes moved (--json: one JSON object). Sessions that fail
do not disturb the others; -v prints each failure as it happens.

Plain FTP only (the engine has no TLS). The open-file limit is raised to the
hard limit when needed; a run the hard limit cannot hold stops with a message
that says how to raise it.

Examples:
  asyncftp swarm -n 1000 -c 200 --cmd PWD --cmd "RETR 1k.bin" ftp://bench:pw@127.0.0.1:2121/
  asyncftp swarm -n 10000 --hold 30s ftp://127.0.0.1:2121/`,
		minArgs:  1,
		maxArgs:  1,
		complete: []argKind{argNone},
		flags:    swarmFlags,
	})
}

// swarmOptions are the flags of swarm.
type swarmOptions struct {
	n, conc, loops  int
	rate            float64
	hold, timeout   time.Duration
	cmds            []string
	verbose, asJSON bool
}

func swarmFlags(f *pflag.FlagSet) runFunc {
	o := &swarmOptions{n: 100, loops: 1}
	f.IntVarP(&o.n, "sessions", "n", o.n, "sessions to open (`N`)")
	f.IntVarP(&o.conc, "concurrency", "c", 0, "sessions at once (`N`; 0: all)")
	f.IntVar(&o.loops, "loops", o.loops, "event loops (`N`); 0 = one per core")
	f.Float64Var(&o.rate, "rate", 0, "new connections per second (`PER_S`; 0: no cap)")
	f.DurationVar(&o.hold, "hold", 0, "keep every session logged in this long (`DURATION`) before QUIT")
	f.DurationVar(&o.timeout, "timeout", 0, timeoutHelp)
	f.StringArrayVar(&o.cmds, "cmd", nil, "a command to run after login (`'VERB ARG'`), in order (repeatable)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print each failed session")
	f.BoolVar(&o.asJSON, "json", false, "print the statistics as one JSON object")
	return func(ctx context.Context, e *Env, pos []string) error { return runSwarm(ctx, e, *o, pos) }
}

func runSwarm(ctx context.Context, e *Env, o swarmOptions, pos []string) error {
	n, conc, loops, rate, hold, timeout, cmds, verbose, asJSON :=
		o.n, o.conc, o.loops, o.rate, o.hold, o.timeout, o.cmds, o.verbose, o.asJSON
	if n < 1 || conc < 0 || loops < 0 || rate < 0 {
		return usageErrorf("-n must be at least 1; -c, --loops and --rate at least 0")
	}
	if hold > 0 && conc > 0 && conc < n {
		return usageErrorf("--hold keeps every session open: -c must be 0 or at least -n")
	}
	t, err := ParseURL(pos[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	if t.TLS != session.TLSNone {
		return usageErrorf("swarm runs on the event-loop engine, which has no TLS: use an ftp:// URL")
	}
	creds, warnings := ResolveCreds(t, e.Getenv)
	for _, w := range warnings {
		fmt.Fprintf(e.Stderr, "asyncftp: warning: %s\n", w)
	}
	cfg := &session.Config{User: creds.User, Password: creds.Password, Account: session.Secret(creds.Account)}
	if timeout > 0 {
		cfg.Timeouts.Greeting, cfg.Timeouts.Reply, cfg.Timeouts.DataConnect = timeout, timeout, timeout
		cfg.Timeouts.DataIdle = timeout
	}
	if err := cfg.Validate(); err != nil {
		return usageErrorf("credentials: %v", err)
	}
	var script []swarm.Step
	for _, c := range cmds {
		verb, arg, _ := strings.Cut(strings.TrimSpace(c), " ")
		st := swarm.Step{Cmd: ftp.Cmd(strings.ToUpper(verb), arg)}
		if err := st.Cmd.Validate(); err != nil || verb == "" {
			return usageErrorf("--cmd %q: not a command", c)
		}
		switch st.Cmd.Verb {
		case "LIST", "NLST", "MLSD", "RETR":
			st.Data = &session.Data{Sink: io.Discard}
		case "STOR", "APPE", "STOU", "QUIT":
			return usageErrorf("--cmd %s: swarm runs read-only commands (QUIT comes by itself)", st.Cmd.Verb)
		}
		script = append(script, st)
	}
	jobs := make([]swarm.Job, n)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: t.Addr(), Config: cfg, Script: script}
	}
	eng, err := engine.New(engine.Options{Loops: swarm.Loops(loops), ConnectTimeout: timeout})
	if err != nil {
		return err
	}
	defer eng.Close()
	sw, err := swarm.Start(ctx, eng, jobs, swarm.Options{
		Concurrency: conc, Rate: rate, Hold: hold > 0,
		OnResult: func(r swarm.Result) {
			if verbose && r.Err != nil {
				fmt.Fprintf(e.Stderr, "session %d: %s: %v\n", r.Index, swarm.Kind(r.Err), r.Err)
			}
		},
	})
	if err != nil {
		return err
	}
	if hold > 0 {
		select {
		case <-sw.Held():
			fmt.Fprintf(e.Stderr, "asyncftp swarm: %d sessions logged in and held for %v\n", sw.HeldCount(), hold)
			select {
			case <-time.After(hold):
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
		sw.Release()
	}
	st := sw.Wait()
	if asJSON {
		b, _ := json.Marshal(st)
		fmt.Fprintln(e.Stdout, string(b))
	} else {
		fmt.Fprintf(e.Stdout, "sessions %d  ok %d  failed %d  bytes %d  wall %.2fs\n", st.Sessions, st.OK, st.Failed, st.Bytes, st.Wall.Seconds())
		fmt.Fprintf(e.Stdout, "connect p50 %v p99 %v   login p50 %v p99 %v   total p50 %v p99 %v\n",
			st.Connect.P50, st.Connect.P99, st.Login.P50, st.Login.P99, st.Total.P50, st.Total.P99)
		for k, v := range st.Errors {
			fmt.Fprintf(e.Stdout, "errors %-12s %d\n", k, v)
		}
	}
	if st.Failed > 0 {
		return failure(fmt.Errorf("%d of %d sessions failed", st.Failed, st.Sessions))
	}
	return nil
}
