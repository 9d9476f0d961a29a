package benchrun

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/asyncftp/asyncftp/internal/leanserver"
)

func TestRunAsyncftpScenarios(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
	srv, err := leanserver.Start(leanserver.Options{BigSize: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, p := range []Params{
		{Scenario: Lifecycle, Sessions: 60, Concurrency: 10, ListSize: int64(len(leanserver.Listing))},
		{Scenario: Lifecycle, Sessions: 60, Concurrency: 10, Loops: 2},
		{Scenario: Idle, Sessions: 50},
		{Scenario: BigRetr, BigSize: 3 << 20},
	} {
		p.Addr = srv.Addr
		r, err := RunAsyncftp(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", p.Scenario, err)
		}
		if r.Failed != 0 || r.OK != r.Sessions || r.OK == 0 {
			t.Fatalf("%s: %+v", p.Scenario, r)
		}
		switch p.Scenario {
		case Lifecycle:
			if want := int64(p.Sessions) * (int64(len(leanserver.Listing)) + 1024); r.Bytes != want {
				t.Errorf("lifecycle moved %d bytes, want %d", r.Bytes, want)
			}
		case Idle:
			if r.IdleRSSHeld == 0 || r.IdleRSSBefore == 0 {
				t.Errorf("idle RSS not read: %+v", r)
			}
		case BigRetr:
			if r.Bytes != 3<<20 || r.MBps <= 0 {
				t.Errorf("bigretr: %+v", r)
			}
		}
	}
	// A wrong size is an error, not a success.
	r, err := RunAsyncftp(context.Background(), Params{Scenario: Lifecycle, Addr: srv.Addr, Sessions: 3, SmallSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 3 || r.OK != 0 || r.FirstError == "" {
		t.Fatalf("size mismatch not reported: %+v", r)
	}
}
