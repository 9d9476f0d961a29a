package fsm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/embedserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

// sumSink hashes one session's download. The step's Check reads it from the
// loop; the lock keeps the race detector's view simple.
type sumSink struct {
	mu sync.Mutex
	h  hash.Hash
}

func (s *sumSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h.Write(p)
}

// TestSwarmAgainstGoftp runs a small swarm against the embedded goftp server:
// every session logs in, lists the root, downloads one file of the generated
// tree and checks its SHA-256; a few give a wrong password and must fail with
// 530 without disturbing the others.
func TestSwarmAgainstGoftp(t *testing.T) {
	leakCheck(t)
	srv, err := embedserver.Start(embedserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e, err := engine.New(engine.Options{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	good := &session.Config{User: embedserver.DefaultUser, Password: session.Secret(embedserver.DefaultPassword)}
	bad := &session.Config{User: embedserver.DefaultUser, Password: "wrong"}
	const n = 40
	jobs := retrJobs(t, srv, good, n)
	for i := range jobs {
		if i%10 == 7 {
			jobs[i].Config = bad
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	results := map[int]swarm.Result{}
	sw, err := swarm.Start(ctx, e, jobs, swarm.Options{Concurrency: 10, OnResult: func(r swarm.Result) {
		mu.Lock()
		results[r.Index] = r
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	st := sw.Wait()
	if ctx.Err() != nil {
		t.Fatal("swarm did not finish in time")
	}
	for i := 0; i < n; i++ {
		r, ok := results[i]
		if !ok {
			t.Fatalf("job %d: no result", i)
		}
		if i%10 == 7 {
			var fe *ftp.Error
			if !errors.As(r.Err, &fe) || fe.Code != 530 {
				t.Errorf("job %d (wrong password): %v", i, r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("job %d: %v", i, r.Err)
		}
	}
	if st.OK != n-n/10 || st.Errors["reply-530"] != n/10 {
		t.Fatalf("stats %+v", st)
	}
}

// retrJobs makes n swarm jobs against srv: PWD, TYPE I, LIST, and a RETR of
// one of the tree's small files whose SHA-256 and size the step checks.
func retrJobs(t *testing.T, srv *embedserver.Server, cfg *session.Config, n int) []swarm.Job {
	t.Helper()
	var files []embedserver.File
	for _, f := range srv.Files() {
		if !f.Dir && f.Size > 0 && f.Size < 1<<20 {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("the generated tree has no small file")
	}
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
	return jobs
}
