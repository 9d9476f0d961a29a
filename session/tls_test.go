package session

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

func TestExplicitTLSLogin(t *testing.T) {
	for _, clear := range []bool{false, true} {
		r := newRig(t, &Config{User: "alice", Password: "pw", TLS: TLSExplicit, ClearData: clear})
		queued := r.do(ftp.Cmd("PWD"), nil)
		r.recv("220 ready")
		r.sent("AUTH TLS")
		r.state(states.Securing)
		// Replies injected after 234 in the same read came in clear text and
		// must not be taken as if they came over TLS.
		r.recv("234 go ahead", "331 injected", "230 injected")
		if r.d.tls != 1 {
			t.Fatalf("StartTLS called %d times", r.d.tls)
		}
		r.sent()
		r.state(states.Securing)
		r.recv("230 more clear text") // before the handshake completes: dropped
		r.sent()
		r.state(states.Securing)
		r.s.Secured(nil)
		r.sent("USER alice")
		r.state(states.UserSent)
		r.recv("331 password please")
		r.sent("PASS pw")
		r.recv("230 welcome")
		if r.login.once(t).Err != nil {
			t.Fatal(r.login.res.Err)
		}
		// Protection comes before anything queued.
		r.sent("PBSZ 0")
		r.recv("200 PBSZ=0")
		prot := "PROT P"
		if clear {
			prot = "PROT C"
		}
		r.sent(prot)
		r.recv("200 ok")
		r.sent("PWD")
		r.recv(`257 "/" is cwd`)
		if queued.once(t).Value != "/" {
			t.Fatalf("queued PWD: %+v", queued.res)
		}
		r.state(states.Ready)
		// Data connections are protected unless ClearData.
		r.do(ftp.Cmd("LIST"), &Data{Sink: io.Discard})
		r.sent("EPSV")
		r.recv("229 (|||2121|)")
		if r.d.opens[0].TLS == clear {
			t.Fatalf("ClearData %v: data request TLS %v", clear, r.d.opens[0].TLS)
		}
	}
}

func TestImplicitTLSProtects(t *testing.T) {
	r := newRig(t, &Config{TLS: TLSImplicit})
	r.recv("220 ready")
	r.sent("USER anonymous") // no AUTH: the driver secured the connection already
	r.recv("230 ok")
	r.sent("PBSZ 0")
	r.recv("200 ok")
	r.sent("PROT P")
	r.recv("200 ok")
	r.state(states.Ready)
}

func TestTLSRefusals(t *testing.T) {
	t.Run("AUTH refused", func(t *testing.T) {
		r := newRig(t, &Config{TLS: TLSExplicit})
		r.recv("220 ready")
		r.sent("AUTH TLS")
		r.recv("502 AUTH not supported")
		err := r.failed(ftp.ErrUnsupported)
		replyError(t, err, 502)
		r.sent() // never USER in clear text
		if r.d.tls != 0 {
			t.Fatal("handshake started after a refusal")
		}
	})
	t.Run("handshake fails", func(t *testing.T) {
		r := newRig(t, &Config{TLS: TLSExplicit})
		r.recv("220 ready")
		r.sent("AUTH TLS")
		r.recv("234 ok")
		cause := errors.New("x509: certificate signed by unknown authority")
		r.s.Secured(cause)
		if !errors.Is(r.failed(cause), cause) {
			t.Fatal("cause lost")
		}
		r.sent()
	})
	t.Run("handshake never ends", func(t *testing.T) {
		r := newRig(t, &Config{TLS: TLSExplicit, Timeouts: Timeouts{Greeting: 2 * time.Second}})
		r.recv("220 ready")
		r.recv("234 ok")
		r.advance(2 * time.Second)
		r.failed(ftp.ErrTimeout)
		r.sent("AUTH TLS")
	})
	for _, refuse := range []string{"PBSZ", "PROT"} {
		t.Run(refuse+" refused", func(t *testing.T) {
			r := newRig(t, &Config{TLS: TLSExplicit})
			queued := r.do(ftp.Cmd("RETR", "secret.txt"), &Data{Sink: io.Discard})
			r.recv("220 ready")
			r.recv("234 ok")
			r.s.Secured(nil)
			r.recv("331 pw")
			r.recv("230 ok")
			r.sent("AUTH TLS", "USER anonymous", "PASS anonymous@", "PBSZ 0")
			if refuse == "PROT" {
				r.recv("200 ok")
				r.sent("PROT P")
			}
			r.recv("534 Request denied for policy reasons")
			// No silent downgrade: the session ends, nothing is transferred.
			err := r.failed(ftp.ErrUnsupported)
			replyError(t, err, 534)
			if qerr := queued.once(t).Err; !errors.Is(qerr, ftp.ErrUnsupported) {
				t.Fatalf("queued transfer got %v", qerr)
			}
			r.sent()
			if len(r.d.opens) != 0 {
				t.Fatal("a data connection was opened")
			}
		})
	}
}
