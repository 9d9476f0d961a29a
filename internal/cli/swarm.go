package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
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
end it prints the aggregate: sessions ok, errors by kind, p50/p90/p99/p99.9
and max of connect, login and total time, bytes moved (--json: one JSON object
with the encoded histograms). Sessions that fail do not disturb the others; -v
prints each failure as it happens.

Beyond one machine: N processes (hosts, pods), each given the same command and
its own --segment I/N, run one run's sessions, concurrency and rate between
them (session i is in segment i mod N; see docs/distributed.md); give them one
--run-id, and 'asyncftp swarm merge' adds their --json outputs up. The same
--start-at in every segment lines their --rate timetables up. --source spreads
the connections over local addresses, to get past one address's ports.

FTPS too: --tls (explicit, AUTH TLS) or an ftps:// URL (implicit), with --ca,
--pin or --insecure as for the other commands; every session does its own
handshakes, on the same event loops, and its data connections resume its
control connection's TLS session. The open-file limit is raised to the hard
limit when needed; a run the hard limit cannot hold stops with a message that
says how to raise it.

Examples:
  asyncftp swarm -n 1000 -c 200 --cmd PWD --cmd "RETR 1k.bin" ftp://bench:pw@127.0.0.1:2121/
  asyncftp swarm -n 10000 --hold 30s ftp://127.0.0.1:2121/
  asyncftp swarm -n 1000 -c 100 --tls --ca cert.pem --cmd "RETR 1k.bin" ftp://bench:pw@127.0.0.1:2121/
  asyncftp swarm -n 40000 --source 127.0.0.2,127.0.0.3 ftp://127.0.0.1:2121/
  asyncftp swarm --segment 0/2 --run-id r1 -n 1000 --json ftp://127.0.0.1:2121/ > a.json
  asyncftp swarm --segment 1/2 --run-id r1 -n 1000 --json ftp://127.0.0.1:2121/ > b.json
  asyncftp swarm merge a.json b.json`,
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
	segment, runID  string
	startAt         string
	sources         []string
	tls             common // only its FTPS flags
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
	f.BoolVar(&o.asJSON, "json", false, "print the statistics as one JSON object, histograms included")
	f.StringVar(&o.segment, "segment", "", "run only segment `I/N` of the run (0 ≤ I < N)")
	f.StringVar(&o.runID, "run-id", "", "a name for this run, the same in every segment (`ID`)")
	f.StringVar(&o.startAt, "start-at", "", "begin at `TIME` (RFC 3339), the same in every segment: one rate timetable")
	f.StringSliceVar(&o.sources, "source", nil, "local addresses to connect from, in turn (`ADDR[,ADDR…]`)")
	o.tls.registerTLS(f)
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
	var seg swarm.Segment
	if o.segment != "" {
		sg, err := swarm.ParseSegment(o.segment)
		if err != nil {
			return usageErrorf("--segment %q: want I/N with 0 ≤ I < N, such as 0/4", o.segment)
		}
		seg = sg
	}
	var startAt time.Time
	if o.startAt != "" {
		at, err := time.Parse(time.RFC3339, o.startAt)
		if err != nil {
			return usageErrorf("--start-at %q: want an RFC 3339 time, such as 2026-12-05T08:00:00Z", o.startAt)
		}
		startAt = at
	}
	var local []netip.Addr
	for _, a := range o.sources {
		ip, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil {
			return usageErrorf("--source %q: not an IP address", a)
		}
		local = append(local, ip)
	}
	t, err := o.tls.target(pos[0])
	if err != nil {
		return err
	}
	tlsOpts, err := o.tls.clientTLS(e, t)
	if err != nil {
		return err
	}
	creds, warnings := ResolveCreds(t, e.Getenv)
	for _, w := range warnings {
		fmt.Fprintf(e.Stderr, "asyncftp: warning: %s\n", w)
	}
	cfg := &session.Config{User: creds.User, Password: creds.Password, Account: session.Secret(creds.Account), TLS: t.TLS}
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
	// Every session is alike: no job list, so memory does not grow with -n.
	job := swarm.Job{Addr: t.Addr(), Config: cfg, Script: script}
	eng, err := engine.New(engine.Options{Loops: swarm.Loops(loops), ConnectTimeout: timeout, LocalAddrs: local, TLS: tlsOpts})
	if err != nil {
		return err
	}
	defer eng.Close()
	sw, err := swarm.StartFunc(ctx, eng, n, func(int) swarm.Job { return job }, swarm.Options{
		Concurrency: conc, Rate: rate, Hold: hold > 0, Segment: seg, RunID: o.runID, StartAt: startAt,
		OnResult: func(r swarm.Result) {
			if verbose && r.Err != nil {
				fmt.Fprintf(e.Stderr, "session %d: %s: %v\n", r.Index, swarm.Kind(r.Err), r.Err)
			}
		},
	})
	if err != nil {
		if errors.Is(err, ftp.ErrInvalidArgument) {
			return usageErrorf("%v", err) // a split the caps do not allow
		}
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
	if err := printStats(e.Stdout, st, asJSON); err != nil {
		return err
	}
	if st.Failed > 0 {
		return failure(fmt.Errorf("%d of %d sessions failed", st.Failed, st.Sessions))
	}
	return nil
}

// printStats prints a swarm's statistics: one JSON object (what merge reads),
// or a few lines for people.
func printStats(w io.Writer, st swarm.Stats, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	seg := ""
	if st.Segment.N > 1 {
		seg = fmt.Sprintf("  segment %s of %d sessions", st.Segment, st.Jobs)
	}
	fmt.Fprintf(w, "sessions %d  ok %d  failed %d  bytes %d  wall %.2fs%s\n", st.Sessions, st.OK, st.Failed, st.Bytes, st.Wall.Seconds(), seg)
	fmt.Fprintf(w, "%-8s %10s %10s %10s %10s %10s\n", "", "p50", "p90", "p99", "p99.9", "max")
	for _, l := range []struct {
		name string
		l    swarm.Latency
	}{{"connect", st.Connect}, {"login", st.Login}, {"total", st.Total}} {
		fmt.Fprintf(w, "%-8s %10s %10s %10s %10s %10s\n", l.name, msText(l.l.P50), msText(l.l.P90), msText(l.l.P99), msText(l.l.P999), msText(l.l.Max))
	}
	kinds := make([]string, 0, len(st.Errors))
	for k := range st.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "errors %-12s %d\n", k, st.Errors[k])
	}
	return nil
}

func msText(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms" }
