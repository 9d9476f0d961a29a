package benchrun

import (
	"context"
	"crypto/x509"
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

// The FTPS runs: every session logs in over explicit TLS, every data
// connection is TLS and resumes the control session, idle counts goroutines.
func TestRunAsyncftpFTPS(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
	cfg, pemCert, err := leanserver.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCert) {
		t.Fatal("no certificate in SelfSigned's PEM")
	}
	srv, err := leanserver.Start(leanserver.Options{BigSize: 3 << 20, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, p := range []Params{
		{Scenario: Lifecycle, Sessions: 20, Concurrency: 5, ListSize: int64(len(leanserver.Listing))},
		{Scenario: Idle, Sessions: 20},
		{Scenario: BigRetr, BigSize: 3 << 20},
	} {
		p.Addr, p.TLS, p.RootCAs = srv.Addr, true, pool
		before := srv.Stats()
		r, err := RunAsyncftp(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", p.Scenario, err)
		}
		if r.Failed != 0 || r.OK != r.Sessions || r.OK == 0 || !r.TLS {
			t.Fatalf("%s: %+v", p.Scenario, r)
		}
		st := srv.Stats()
		if d := st.CtrlTLS - before.CtrlTLS; d != int64(r.Sessions) {
			t.Errorf("%s: %d control handshakes for %d sessions", p.Scenario, d, r.Sessions)
		}
		data := map[string]int64{Lifecycle: 2 * int64(r.Sessions), Idle: 0, BigRetr: 1}[p.Scenario]
		if d, res := st.DataTLS-before.DataTLS, st.DataResumed-before.DataResumed; d != data || res != data {
			t.Errorf("%s: %d data handshakes, %d resumed; want %d, all resumed", p.Scenario, d, res, data)
		}
		if p.Scenario == Idle && (r.IdleRSSHeld == 0 || r.IdleGoroutinesHeld == 0) {
			t.Errorf("idle: RSS or goroutines not read: %+v", r)
		}
	}
}
