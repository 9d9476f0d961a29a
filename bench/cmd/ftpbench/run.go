package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/internal/leanserver"
)

// A case is one scenario at one size, run by every client in every round.
type benchCase struct {
	scenario    string
	sessions    int
	concurrency int
	resumption  string // FTPS: "on" or "off" (the server's session tickets)
}

func (c benchCase) String() string {
	res := ""
	if c.resumption != "" {
		res = " resume=" + c.resumption
	}
	switch c.scenario {
	case benchrun.Lifecycle:
		return fmt.Sprintf("lifecycle n=%d c=%d%s", c.sessions, c.concurrency, res)
	case benchrun.Idle:
		return fmt.Sprintf("idle c=%d", c.sessions)
	}
	return "bigretr"
}

// A contender is one client process configuration.
type contender struct {
	impl  string
	loops int
}

func (c contender) String() string {
	switch c.impl {
	case "asyncftp":
		return fmt.Sprintf("asyncftp (%d loop%s)", c.loops, plural(c.loops))
	case "netdriver":
		return "asyncftp netdriver"
	case "client-engine":
		return "asyncftp client (engine)"
	}
	return c.impl
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	scenarios := fs.String("scenarios", "lifecycle,idle,bigretr", "scenarios to run")
	clientList := fs.String("clients", "", "clients to compare (default asyncftp,jlaffaye,floor; with -tls asyncftp,netdriver,jlaffaye,floor)")
	loopsList := fs.String("loops", "1,2", "asyncftp loop counts to run (each is a contender)")
	rounds := fs.Int("rounds", 3, "rounds; clients alternate their order each round")
	sessions := fs.Int("sessions", 5000, "lifecycle sessions per run")
	concList := fs.String("concurrency", "1000,100", "lifecycle concurrency levels")
	idleList := fs.String("idle", "10000", "idle sessions held at once (a list: one case each)")
	withTLS := fs.Bool("tls", false, "explicit FTPS (AUTH TLS, PBSZ 0, PROT P) for every client")
	resList := fs.String("resumption", "on,off", "with -tls: lifecycle with the server's session tickets on and/or off")
	settle := fs.Duration("settle", 0, "idle: wait this long once all sessions are held before measuring (default 2s with -tls)")
	bigSize := fs.Int64("bigsize", 1<<30, "bigretr file size in bytes")
	twBound := fs.Int("tw-bound", 300, "wait before each run until fewer TIME_WAIT sockets than this")
	twMax := fs.Duration("tw-max", 150*time.Second, "longest wait for TIME_WAIT to drain")
	out := fs.String("out", "ftpbench-results.jsonl", "append every run's JSON line here")
	table := fs.String("table", "", "write the markdown summary here too")
	strict := fs.Bool("strict", false, "exit with an error if any session of any run failed (for CI)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clientList == "" {
		*clientList = "asyncftp,jlaffaye,floor"
		if *withTLS {
			*clientList = "asyncftp,netdriver,jlaffaye,floor"
		}
	}
	if *withTLS && *settle == 0 {
		*settle = 2 * time.Second
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	resumptions := []string{""}
	if *withTLS {
		resumptions = split(*resList)
	}
	var cases []benchCase
	for _, s := range split(*scenarios) {
		switch s {
		case benchrun.Lifecycle:
			for _, c := range split(*concList) {
				n, _ := strconv.Atoi(c)
				for _, res := range resumptions {
					cases = append(cases, benchCase{s, *sessions, n, res})
				}
			}
		case benchrun.Idle:
			for _, c := range split(*idleList) {
				n, _ := strconv.Atoi(c)
				cases = append(cases, benchCase{s, n, n, resumptions[0]})
			}
		case benchrun.BigRetr:
			cases = append(cases, benchCase{s, 1, 1, resumptions[0]})
		default:
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	var contenders []contender
	for _, c := range split(*clientList) {
		if c == "asyncftp" {
			for _, l := range split(*loopsList) {
				n, _ := strconv.Atoi(l)
				contenders = append(contenders, contender{c, n})
			}
			continue
		}
		contenders = append(contenders, contender{c, 0})
	}

	var certFile string
	if *withTLS {
		dir, err := os.MkdirTemp("", "ftpbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		certFile = filepath.Join(dir, "server.pem")
	}
	srv, err := startServer(ctx, exe, *bigSize, certFile)
	if err != nil {
		return err
	}
	defer srv.stop()
	outF, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer outF.Close()

	machine := machineLine()
	fmt.Fprintln(os.Stderr, "machine:", machine)
	var all []benchrun.Report
	for round := 1; round <= *rounds; round++ {
		for _, bc := range cases {
			order := rotate(contenders, round-1)
			if bc.scenario == benchrun.BigRetr {
				order = append(order, contender{"plain", 0})
			}
			for _, ct := range order {
				if ct.impl == "asyncftp" && ct.loops != 1 && bc.scenario != benchrun.Lifecycle {
					continue // loops are compared on lifecycle only
				}
				tw, err := waitTimeWait(ctx, *twBound, *twMax)
				if err != nil {
					return err
				}
				st0, err := srv.cpu()
				if err != nil {
					return err
				}
				r, err := runClient(ctx, exe, ct, bc, srv, *bigSize, certFile, *settle)
				if err != nil {
					return fmt.Errorf("%v %v round %d: %w", ct, bc, round, err)
				}
				st1, err := srv.cpu()
				if err != nil {
					return err
				}
				r.ServerCPUS = st1.cpu - st0.cpu
				r.ServerCtrlTLS = st1.ctrlTLS - st0.ctrlTLS
				r.ServerDataTLS = st1.dataTLS - st0.dataTLS
				r.ServerDataResumed = st1.dataResumed - st0.dataResumed
				r.TimeWaitBefore = tw
				r.Round = round
				all = append(all, r)
				b, _ := json.Marshal(r)
				outF.Write(append(b, '\n'))
				fmt.Fprintf(os.Stderr, "round %d %-22s %-24s ok %5d/%-5d cpu/1000 %.3f wall %.2fs server cpu %.2fs rss/sess %.0f B g/sess %.3f mb/s %.0f resumed %d/%d tw %d\n",
					round, bc, ct, r.OK, r.Sessions, r.CPUPer1000, r.WallS, r.ServerCPUS, r.IdleRSSPerSessB, r.IdleGoroutinesPerSes, r.MBps,
					r.ServerDataResumed, r.ServerDataTLS, tw)
			}
		}
	}
	md := summary(all, machine, strings.Join(os.Args, " "))
	fmt.Print(md)
	if *table != "" {
		if err := os.WriteFile(*table, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if *strict {
		for _, r := range all {
			if r.Failed > 0 || r.OK == 0 {
				return fmt.Errorf("%s %s: %d of %d sessions failed, first: %s", r.Client, r.Scenario, r.Failed, r.Sessions, r.FirstError)
			}
		}
	}
	return nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func rotate(c []contender, k int) []contender {
	out := make([]contender, 0, len(c))
	for i := range c {
		out = append(out, c[(i+k)%len(c)])
	}
	return out
}

// server is the lean server's process.
type server struct {
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Reader
	ftp, raw string
	// FTPS: tickets on, tickets off, the crypto/tls sender.
	ftps, ftpsOff, rawTLS string
}

func startServer(ctx context.Context, exe string, big int64, certFile string) (*server, error) {
	args := []string{"server", "-bigsize", strconv.FormatInt(big, 10)}
	if certFile != "" {
		args = append(args, "-tls", "-certout", certFile)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	for {
		line, err := s.out.ReadString('\n')
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("server: %w", err)
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "FTP":
			s.ftp = f[1]
		case len(f) == 2 && f[0] == "RAW":
			s.raw = f[1]
		case len(f) == 2 && f[0] == "FTPS":
			s.ftps = f[1]
		case len(f) == 2 && f[0] == "FTPSOFF":
			s.ftpsOff = f[1]
		case len(f) == 2 && f[0] == "RAWTLS":
			s.rawTLS = f[1]
		case len(f) == 1 && f[0] == "READY":
			return s, nil
		}
	}
}

// serverStats is what the server says about itself.
type serverStats struct {
	cpu                           float64
	active                        int
	ctrlTLS, dataTLS, dataResumed int64
}

// cpu asks the server for its CPU seconds so far, its open sessions and its
// TLS handshake counts.
func (s *server) cpu() (serverStats, error) {
	var st serverStats
	if _, err := io.WriteString(s.in, "CPU\n"); err != nil {
		return st, err
	}
	line, err := s.out.ReadString('\n')
	if err != nil {
		return st, err
	}
	if _, err := fmt.Sscanf(line, "CPU %f %d %d %d %d", &st.cpu, &st.active, &st.ctrlTLS, &st.dataTLS, &st.dataResumed); err != nil {
		return st, fmt.Errorf("server said %q: %w", line, err)
	}
	return st, nil
}

func (s *server) stop() {
	s.in.Close()
	s.cmd.Wait()
}

func runClient(ctx context.Context, exe string, ct contender, bc benchCase, srv *server, big int64, certFile string, settle time.Duration) (benchrun.Report, error) {
	addr, raw := srv.ftp, srv.raw
	if certFile != "" {
		addr, raw = srv.ftps, srv.rawTLS
		if bc.resumption == "off" {
			addr = srv.ftpsOff
		}
	}
	args := []string{"client", "-impl", ct.impl, "-scenario", bc.scenario,
		"-addr", addr, "-raw", raw,
		"-n", strconv.Itoa(bc.sessions), "-c", strconv.Itoa(bc.concurrency),
		"-loops", strconv.Itoa(ct.loops),
		"-bigsize", strconv.FormatInt(big, 10),
		"-listsize", strconv.Itoa(len(leanserver.Listing)),
		"-settle", settle.String()}
	if certFile != "" {
		args = append(args, "-tls", "-ca", certFile, "-resumption", bc.resumption)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return benchrun.Report{}, err
	}
	var r benchrun.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("client printed %q: %w", stdout.String(), err)
	}
	if r.Client == "asyncftp" {
		r.Client = ct.String()
	}
	// The child's own getrusage at exit and the kernel's account agree; take
	// the kernel's (it includes the exit) for the whole-process figures.
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.UserS = time.Duration(ru.Utime.Nano()).Seconds()
			r.SysS = time.Duration(ru.Stime.Nano()).Seconds()
			r.CPUS = r.UserS + r.SysS
			r.MaxRSSKiB = ru.Maxrss
		}
	}
	return r, nil
}

// timeWait counts TCP sockets in TIME_WAIT (state 06) on this machine.
func timeWait() (int, error) {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return 0, err
		}
		sc := bufio.NewScanner(file)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 3 && fields[3] == "06" {
				n++
			}
		}
		file.Close()
	}
	return n, nil
}

func waitTimeWait(ctx context.Context, bound int, max time.Duration) (int, error) {
	deadline := time.Now().Add(max)
	for {
		n, err := timeWait()
		if err != nil {
			return 0, err
		}
		if n < bound || time.Now().After(deadline) {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func machineLine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores, Linux %s, %s", model, runtime.NumCPU(), kernel, runtime.Version())
}

// stat is a median with its spread.
type stat struct{ med, lo, hi float64 }

func (s stat) fmt(prec int) string {
	if s.lo == s.hi {
		return strconv.FormatFloat(s.med, 'f', prec, 64)
	}
	return fmt.Sprintf("%s (%s–%s)", strconv.FormatFloat(s.med, 'f', prec, 64),
		strconv.FormatFloat(s.lo, 'f', prec, 64), strconv.FormatFloat(s.hi, 'f', prec, 64))
}

func median(rs []benchrun.Report, f func(benchrun.Report) float64) stat {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{m, v[0], v[len(v)-1]}
}

// summary renders the median of the rounds, with the spread (min–max), per
// scenario and client.
func summary(all []benchrun.Report, machine, command string) string {
	if len(all) > 0 && all[0].TLS {
		return summaryTLS(all, machine, command)
	}
	type key struct {
		scenario string
		conc     int
		client   string
	}
	groups := map[key][]benchrun.Report{}
	var keys []key
	for _, r := range all {
		k := key{r.Scenario, r.Concurrency, r.Client}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s\n\nCommand: `%s`\n\n", machine, command)
	fmt.Fprintf(&b, "Median of %d rounds, (min–max) in brackets.\n\n", len(groups[keys[0]]))
	b.WriteString("| scenario | client | sessions | ok | errors | wall s | client CPU s | CPU s / 1,000 sessions | sessions / CPU s | server CPU s | peak RSS MiB | RSS / idle session | p50 ms | p99 ms | MB/s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		rs := groups[k]
		scen := k.scenario
		if scen == benchrun.Lifecycle {
			scen = fmt.Sprintf("lifecycle c=%d", k.conc)
		} else if scen == benchrun.Idle {
			scen = fmt.Sprintf("idle c=%d", k.conc)
		}
		errs := 0
		for _, r := range rs {
			errs += r.Failed
		}
		rss := "–"
		if k.scenario == benchrun.Idle {
			rss = median(rs, func(r benchrun.Report) float64 { return r.IdleRSSPerSessB / 1024 }).fmt(1) + " KiB"
		}
		mbs := "–"
		if k.scenario == benchrun.BigRetr {
			mbs = median(rs, func(r benchrun.Report) float64 { return r.MBps }).fmt(0)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			scen, k.client, rs[0].Sessions,
			median(rs, func(r benchrun.Report) float64 { return float64(r.OK) }).fmt(0),
			errs,
			median(rs, func(r benchrun.Report) float64 { return r.WallS }).fmt(2),
			median(rs, func(r benchrun.Report) float64 { return r.RunCPUS }).fmt(2),
			median(rs, func(r benchrun.Report) float64 { return r.CPUPer1000 }).fmt(3),
			median(rs, func(r benchrun.Report) float64 { return r.SessionsPerCPUS }).fmt(0),
			median(rs, func(r benchrun.Report) float64 { return r.ServerCPUS }).fmt(2),
			median(rs, func(r benchrun.Report) float64 { return float64(r.MaxRSSKiB) / 1024 }).fmt(0),
			rss,
			median(rs, func(r benchrun.Report) float64 { return r.P50Ms }).fmt(1),
			median(rs, func(r benchrun.Report) float64 { return r.P99Ms }).fmt(1),
			mbs)
	}
	return b.String()
}

// summaryTLS is summary for FTPS runs: a row per scenario, resumption and
// client, with the idle goroutines and the data handshakes the server saw
// resume.
func summaryTLS(all []benchrun.Report, machine, command string) string {
	type key struct {
		scenario   string
		conc       int
		sessions   int
		resumption string
		client     string
	}
	groups := map[key][]benchrun.Report{}
	var keys []key
	for _, r := range all {
		k := key{r.Scenario, r.Concurrency, r.Sessions, r.Resumption, r.Client}
		if r.Scenario != benchrun.Lifecycle {
			k.resumption = "–"
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	order := map[string]int{benchrun.Idle: 0, benchrun.Lifecycle: 1, benchrun.BigRetr: 2}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.scenario != b.scenario {
			return order[a.scenario] < order[b.scenario]
		}
		if a.conc != b.conc {
			return a.conc > b.conc
		}
		return a.resumption < b.resumption
	})
	suites := map[string]bool{}
	for _, r := range all {
		if r.TLSSuite != "" {
			suites[r.TLSSuite] = true
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s\n\nCommand: `%s`\n\n", machine, command)
	for s := range suites {
		fmt.Fprintf(&b, "Negotiated: %s\n\n", s)
	}
	rounds := 0
	for _, k := range keys {
		rounds = max(rounds, len(groups[k]))
	}
	fmt.Fprintf(&b, "Median of up to %d rounds, (min–max) in brackets; \"runs\" says how many.\n\n", rounds)
	b.WriteString("| scenario | resumption | client | runs | ok | errors | wall s | client CPU s | CPU s / 1,000 sessions | server CPU s | peak RSS MiB | RSS / idle session | goroutines / idle session | p50 ms | p99 ms | MB/s | data handshakes resumed |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		rs := groups[k]
		scen := k.scenario
		switch scen {
		case benchrun.Lifecycle:
			scen = fmt.Sprintf("lifecycle n=%d c=%d", k.sessions, k.conc)
		case benchrun.Idle:
			scen = fmt.Sprintf("idle n=%d", k.sessions)
		}
		errs := 0
		for _, r := range rs {
			errs += r.Failed
		}
		rss, gor, mbs, resumed := "–", "–", "–", "–"
		if k.scenario == benchrun.Idle {
			rss = median(rs, func(r benchrun.Report) float64 { return r.IdleRSSPerSessB / 1024 }).fmt(1) + " KiB"
			gor = median(rs, func(r benchrun.Report) float64 { return r.IdleGoroutinesPerSes }).fmt(3)
		}
		if k.scenario == benchrun.BigRetr {
			mbs = median(rs, func(r benchrun.Report) float64 { return r.MBps }).fmt(0)
		}
		if k.scenario != benchrun.Idle {
			resumed = median(rs, func(r benchrun.Report) float64 { return float64(r.ServerDataResumed) }).fmt(0) + " / " +
				median(rs, func(r benchrun.Report) float64 { return float64(r.ServerDataTLS) }).fmt(0)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			scen, k.resumption, k.client, len(rs),
			median(rs, func(r benchrun.Report) float64 { return float64(r.OK) }).fmt(0),
			errs,
			median(rs, func(r benchrun.Report) float64 { return r.WallS }).fmt(2),
			median(rs, func(r benchrun.Report) float64 { return r.RunCPUS }).fmt(2),
			median(rs, func(r benchrun.Report) float64 { return r.CPUPer1000 }).fmt(3),
			median(rs, func(r benchrun.Report) float64 { return r.ServerCPUS }).fmt(2),
			median(rs, func(r benchrun.Report) float64 { return float64(r.MaxRSSKiB) / 1024 }).fmt(0),
			rss, gor,
			median(rs, func(r benchrun.Report) float64 { return r.P50Ms }).fmt(1),
			median(rs, func(r benchrun.Report) float64 { return r.P99Ms }).fmt(1),
			mbs, resumed)
	}
	return b.String()
}

// tableMain prints the summary of the JSON lines in one or more results
// files (a run cut short still has every finished run in its file).
func tableMain(args []string) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	command := fs.String("command", "", "the command line to print above the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var all []benchrun.Report
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r benchrun.Report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", name, err)
			}
			all = append(all, r)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	if len(all) == 0 {
		return fmt.Errorf("no results")
	}
	fmt.Print(summary(all, machineLine(), *command))
	return nil
}
