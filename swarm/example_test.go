package swarm_test

import (
	"context"
	"fmt"
	"io"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/internal/leanserver"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

// A hundred sessions on one loop, twenty at a time, each listing the root and
// downloading a file; one of them with a wrong password.
func Example() {
	srv, err := leanserver.Start(leanserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	e, err := engine.New(engine.Options{Loops: swarm.Loops(1)})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	cfg := &session.Config{User: "demo", Password: "secret"}
	script := []swarm.Step{
		{Cmd: ftp.Cmd("LIST"), Data: &session.Data{Sink: io.Discard}},
		{Cmd: ftp.Cmd("RETR", leanserver.SmallName), Data: &session.Data{Sink: io.Discard}},
	}
	jobs := make([]swarm.Job, 100)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg, Script: script}
	}
	jobs[42].Config = &session.Config{User: "failing", Password: "wrong"} // the server refuses "fail…" users

	sw, err := swarm.Start(context.Background(), e, jobs, swarm.Options{
		Concurrency: 20,
		OnResult: func(r swarm.Result) { // on the swarm's delivery goroutine
			if r.Err != nil {
				fmt.Printf("job %d: %s: %v\n", r.Index, swarm.Kind(r.Err), r.Err)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	st := sw.Wait()
	fmt.Printf("%d ok, %d failed, %d bytes\n", st.OK, st.Failed, st.Bytes)
	// Output:
	// job 42: reply-530: ftp: PASS: 530 Login incorrect
	// 99 ok, 1 failed, 120582 bytes
}

// One run split in two, as two processes (here two engines) would run it,
// then merged: each segment gets every other job and half the concurrency.
func ExampleMerge() {
	srv, err := leanserver.Start(leanserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	cfg := &session.Config{User: "demo", Password: "secret"}
	jobs := make([]swarm.Job, 9)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: srv.Addr, Config: cfg, Script: []swarm.Step{{Cmd: ftp.Cmd("PWD")}}}
	}
	var parts []swarm.Stats
	for i := 0; i < 2; i++ {
		e, err := engine.New(engine.Options{})
		if err != nil {
			panic(err)
		}
		sw, err := swarm.Start(context.Background(), e, jobs, swarm.Options{
			Concurrency: 4,
			RunID:       "example", // the same in every segment of the run
			Segment:     swarm.Segment{I: i, N: 2},
		})
		if err != nil {
			panic(err)
		}
		st := sw.Wait()
		e.Close()
		fmt.Printf("segment %v: %d sessions\n", st.Segment, st.Sessions)
		parts = append(parts, st) // in practice: JSON files from each process
	}
	all, err := swarm.Merge(parts...)
	if err != nil {
		panic(err)
	}
	fmt.Printf("whole run: %d sessions, %d ok, %d timed\n", all.Sessions, all.OK, all.Total.Count)

	_, err = swarm.Merge(parts[0], parts[0])
	fmt.Println(err)
	// Output:
	// segment 0/2: 5 sessions
	// segment 1/2: 4 sessions
	// whole run: 9 sessions, 9 ok, 9 timed
	// swarm: merge: ftp: invalid argument: overlapping segments (part 1): segment 0/2 is also part 0
}
