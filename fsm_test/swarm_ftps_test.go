package fsm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftptls"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

// TestSwarmFTPS runs a swarm of explicit FTPS sessions on one loop against
// the embedded goftp server: AUTH TLS, login, PBSZ/PROT P, PWD, LIST and a
// byte-exact RETR over protected data connections, all on the event loop.
// Every session must succeed, and none may leave a goroutine or a descriptor.
func TestSwarmFTPS(t *testing.T) {
	ftpsClean(t)
	srv, pool := ftpsEmbed(t, false)
	e, err := engine.New(engine.Options{Loops: 1, TLS: ftptls.Options{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg := &session.Config{User: embedserver.DefaultUser, Password: session.Secret(embedserver.DefaultPassword), TLS: session.TLSExplicit}
	const n = 60
	jobs := retrJobs(t, srv, cfg, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var failed []swarm.Result
	sw, err := swarm.Start(ctx, e, jobs, swarm.Options{Concurrency: 20, OnResult: func(r swarm.Result) {
		if r.Err != nil {
			mu.Lock()
			failed = append(failed, r)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	st := sw.Wait()
	if ctx.Err() != nil {
		t.Fatal("swarm did not finish in time")
	}
	for _, r := range failed {
		t.Errorf("job %d failed at step %d: %v", r.Index, r.Step, r.Err)
	}
	if st.OK != n {
		t.Fatalf("%d of %d FTPS sessions succeeded: %+v", st.OK, n, st)
	}
}
