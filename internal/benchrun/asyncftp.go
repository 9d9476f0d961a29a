package benchrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

// LifecycleScript is the lifecycle scenario's script after the login: PWD,
// TYPE I, LIST read whole, RETR of the small file (the swarm adds QUIT).
// Transfers go to io.Discard on the loop; sizes are checked when known.
func LifecycleScript(p Params) []swarm.Step {
	return []swarm.Step{
		{Cmd: ftp.Cmd("PWD")},
		{Cmd: ftp.Cmd("TYPE", "I")},
		{Cmd: ftp.Cmd("LIST"), Data: &session.Data{Sink: io.Discard}, Check: sizeCheck("LIST", p.ListSize)},
		{Cmd: ftp.Cmd("RETR", p.SmallFile), Data: &session.Data{Sink: io.Discard}, Check: sizeCheck("RETR", p.SmallSize)},
	}
}

func sizeCheck(what string, want int64) func(session.Result) error {
	if want <= 0 {
		return nil
	}
	return func(r session.Result) error {
		if r.Bytes != want {
			return fmt.Errorf("%w: %s moved %d bytes, want %d", ftp.ErrIncomplete, what, r.Bytes, want)
		}
		return nil
	}
}

// RunAsyncftp runs p's scenario with the asyncftp engine through a swarm.
func RunAsyncftp(ctx context.Context, p Params) (Report, error) {
	p.Defaults()
	r := Report{Client: "asyncftp", Scenario: p.Scenario, Sessions: p.Sessions, Concurrency: p.Concurrency}
	loops := swarm.Loops(p.Loops)
	r.Loops = loops
	cfg := &session.Config{User: p.User, Password: session.Secret(p.Password)}
	eopts := engine.Options{Loops: loops}
	if p.TLS {
		r.TLS = true
		cfg.TLS = session.TLSExplicit
		cfg.Timeouts = TLSTimeouts
		eopts.TLS = ftptls.Options{RootCAs: p.RootCAs, ServerName: ServerName}
		if p.Auth != nil {
			eopts.TLS = *p.Auth
		}
		// 10,000 sessions that log in at once queue for the handshake
		// workers; the default (the connect timeout) would fail the last.
		eopts.HandshakeTimeout = 2 * time.Minute
	}
	var script []swarm.Step
	opts := swarm.Options{}
	switch p.Scenario {
	case Lifecycle:
		script = LifecycleScript(p)
		opts.Concurrency = p.Concurrency
	case Idle:
		opts.Hold = true
		r.Concurrency = p.Sessions
	case BigRetr:
		script = []swarm.Step{{Cmd: ftp.Cmd("RETR", p.BigFile), Data: &session.Data{Sink: io.Discard}, Check: sizeCheck("RETR", p.BigSize)}}
		r.Sessions, r.Concurrency = 1, 1
		p.Sessions = 1
	default:
		return r, fmt.Errorf("benchrun: unknown scenario %q", p.Scenario)
	}
	// Every session is alike: no job list, so memory does not grow with -n.
	job := swarm.Job{Addr: p.Addr, Config: cfg, Script: script}
	e, err := engine.New(eopts)
	if err != nil {
		return r, err
	}
	defer e.Close()
	if p.Profile != "" {
		f, err := os.Create(p.Profile)
		if err != nil {
			return r, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
		defer pprof.StopCPUProfile()
	}

	var errs Errors
	opts.OnResult = func(res swarm.Result) {
		if res.Err != nil {
			errs.Add(swarm.Kind(res.Err), res.Err)
		}
	}
	var (
		rss0 int64
		g0   int
	)
	if p.Scenario == Idle {
		rss0, g0 = IdleSnapshot()
	}
	m := StartMeter()
	sw, err := swarm.StartFunc(ctx, e, p.Sessions, func(int) swarm.Job { return job }, opts)
	if err != nil {
		return r, err
	}
	if p.Scenario == Idle {
		select {
		case <-sw.Held():
		case <-ctx.Done():
			sw.Stop()
		}
		if p.IdleSettle > 0 {
			time.Sleep(p.IdleSettle)
		}
		rss1, g1 := IdleSnapshot()
		r.FillIdle(rss0, g0, rss1, g1, sw.HeldCount())
		if err := WriteHeapProfile(p.HeapProfile); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun: heap profile:", err)
		}
		sw.Release()
	}
	st := sw.Wait()
	m.Fill(&r, nil)
	r.EndRSSKiB = SettledRSS() / 1024
	runtime.KeepAlive(sw)
	r.OK, r.Failed, r.Bytes = st.OK, st.Failed, st.Bytes
	r.Errors, r.FirstError = errs.Count, errs.First
	r.P50Ms, r.P99Ms = ms(st.Total.P50), ms(st.Total.P99)
	if p.Scenario == BigRetr && st.Total.Max > 0 {
		r.MBps = float64(st.Bytes) / st.Total.Max.Seconds() / 1e6
	}
	return r, nil
}
