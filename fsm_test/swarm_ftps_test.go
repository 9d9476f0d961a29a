package fsm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
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
	var files []embedserver.File
	for _, f := range srv.Files() {
		if !f.Dir && f.Size > 0 && f.Size < 1<<20 {
			files = append(files, f)
		}
	}
	cfg := &session.Config{User: embedserver.DefaultUser, Password: session.Secret(embedserver.DefaultPassword), TLS: session.TLSExplicit}
	const n = 60
	jobs := make([]swarm.Job, n)
	for i := range jobs {
		f := files[i%len(files)]
		sink := &sumSink{h: sha256.New()}
		check := func(r session.Result) error {
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if got := hex.EncodeToString(sink.h.Sum(nil)); got != f.SHA256 || r.Bytes != f.Size {
				return fmt.Errorf("%s: %d bytes, sha256 %s; want %d, %s", f.Path, r.Bytes, got, f.Size, f.SHA256)
			}
			return nil
		}
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg, Script: []swarm.Step{
			{Cmd: ftp.Cmd("PWD")},
			{Cmd: ftp.Cmd("TYPE", "I")},
			{Cmd: ftp.Cmd("LIST"), Data: &session.Data{Sink: io.Discard}},
			{Cmd: ftp.Cmd("RETR", "/"+f.Path), Data: &session.Data{Sink: sink}, Check: check},
		}}
	}
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
