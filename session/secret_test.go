package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/asyncftp/asyncftp/ftp"
)

const password = "Hunter2-pa55"

// fmtVerbs is every verb and flag combination worth trying. %p is left out:
// fmt prints a non-pointer's raw value for a verb it cannot apply and does not
// consult Format or String then ("%!p(session.Secret=...)"), so no method can
// mask it; nothing in asyncftp formats with %p.
var fmtVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%#q", "%x", "%X", "% x", "%d", "%t", "%o",
	"%e", "%g", "%c", "%U", "%10s", "%-10v", "%.3s", "%08v", "%T"}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(password)
	for _, v := range fmtVerbs {
		for _, arg := range []any{s, &s, []Secret{s}, map[Secret]Secret{s: s}, struct{ P Secret }{s}} {
			if got := fmt.Sprintf(v, arg); strings.Contains(got, password) || strings.Contains(got, "Hunter") {
				t.Errorf("Sprintf(%q, %T) = %q", v, arg, got)
			}
		}
	}
	for _, v := range []any{s, struct{ P Secret }{s}, map[string]Secret{"p": s}, []Secret{s}} {
		b, err := json.Marshal(v)
		if err != nil || strings.Contains(string(b), password) || !strings.Contains(string(b), "****") {
			t.Errorf("json.Marshal(%T) = %s, %v", v, b, err)
		}
	}
	if s.Reveal() != password || s.String() != "****" {
		t.Error("Reveal or String wrong")
	}
}

func TestConfigNeverPrintsPassword(t *testing.T) {
	cfg := Config{User: "alice", Password: Secret(password), Account: "acct"}
	for _, v := range fmtVerbs {
		for _, arg := range []any{cfg, &cfg} {
			if got := fmt.Sprintf(v, arg); strings.Contains(got, password) {
				t.Errorf("Sprintf(%q, %T) shows the password: %q", v, arg, got)
			}
		}
	}
	if got := fmt.Sprintf("%+v", cfg); !strings.Contains(got, "Password:****") || !strings.Contains(got, "User:alice") {
		t.Errorf("%%+v = %q", got)
	}
}

// TestPasswordNeverLeavesTheSession runs logins that fail in many ways with a
// transcript sink that does not mask, and greps everything the session gives
// out: transcript lines, error strings, results.
func TestPasswordNeverLeavesTheSession(t *testing.T) {
	endings := [][]string{
		{"530 Login incorrect"},
		{"421 bye"},
		{"332 need account"},
		{"500 PASS " + "????"},
		{"230 ok", "200 unsolicited"},
	}
	for _, end := range endings {
		r := newRig(t, &Config{User: "alice", Password: Secret(password)})
		r.recv("220 hi")
		r.recv("331 pw")
		if got := r.d.all[len(r.d.all)-1]; got != "PASS "+password {
			t.Fatalf("wire line %q", got)
		}
		for _, l := range end {
			r.recv(l)
		}
		var outputs []string
		outputs = append(outputs, r.trace.text())
		if err := r.s.Err(); err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
		}
		outputs = append(outputs, fmt.Sprintf("%+v %#v", r.login.res, r.login.res))
		for _, o := range outputs {
			if strings.Contains(o, password) {
				t.Errorf("after %q the password leaked: %s", end, o)
			}
		}
		if !strings.Contains(r.trace.text(), "C: PASS ****") {
			t.Errorf("transcript lacks the masked PASS:\n%s", r.trace.text())
		}
	}
	// ACCT is masked the same way.
	r := newRig(t, &Config{User: "bob", Account: password})
	r.recv("220 hi")
	r.recv("332 account")
	r.sent("USER bob", "ACCT "+password)
	if strings.Contains(r.trace.text(), password) || !strings.Contains(r.trace.text(), "C: ACCT ****") {
		t.Errorf("ACCT in transcript:\n%s", r.trace.text())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{User: "alice\r\nDELE x"},
		{User: "a", Password: "pw\nRMD /"},
		{User: "a", Password: "pw\x00"},
		{User: "a", Account: "x\ry"},
	} {
		err := cfg.Validate()
		var ae *ftp.ArgumentError
		if !errors.As(err, &ae) || !errors.Is(err, ftp.ErrInvalidArgument) {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error %q shows the password", err)
		}
	}
	if err := (&Config{User: "alice", Password: "p w!", Account: "a"}).Validate(); err != nil {
		t.Errorf("good config refused: %v", err)
	}
	// A session whose credentials slipped past Validate still never sends
	// them: the USER handler's Send validates again.
	r := newRig(t, &Config{User: "alice\r\nDELE x"})
	r.recv("220 hi")
	r.sent()
	r.failed(ftp.ErrInvalidArgument)
}
