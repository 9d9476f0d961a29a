package ftp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCommandValidate(t *testing.T) {
	bad := []Command{
		{Verb: "USER", Arg: "alice\r\nDELE x"},
		{Verb: "USER", Arg: "alice\nDELE x"},
		{Verb: "USER", Arg: "alice\r"},
		{Verb: "CWD", Arg: "dir\x00"},
		{Verb: "PASS", Arg: "hunter2\r\nRMD /"},
		{Verb: "RETR", Arg: "\n"},
		{Verb: ""},
		{Verb: "", Arg: "x"},
		{Verb: "RE TR"},
		{Verb: "RETR\r\n"},
		{Verb: "RETR\n"},
		{Verb: "RE\x00TR"},
		{Verb: "R\x7fTR"},
		{Verb: "RÉTR"},
		{Verb: "\tNOOP"},
	}
	for _, c := range bad {
		err := c.Validate()
		var ae *ArgumentError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Validate(%q %q) = %v, want an *ArgumentError", c.Verb, c.Arg, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q shows the password", err)
		}
	}
	good := []Command{
		Cmd("NOOP"),
		Cmd("RETR", "file with spaces.txt"),
		Cmd("CWD", "grüße/日本"),
		Cmd("SITE", "CHMOD", "644", "x"),
		Cmd("PASS", "p@ss word\t!"),
		{Verb: "xpwd"},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%q %q) = %v", c.Verb, c.Arg, err)
		}
	}
}

func TestCommandLine(t *testing.T) {
	if got := string(Cmd("NOOP").AppendLine(nil)); got != "NOOP\r\n" {
		t.Errorf("NOOP line %q", got)
	}
	if got := string(Cmd("SITE", "CHMOD", "644", "a b").AppendLine([]byte("x"))); got != "xSITE CHMOD 644 a b\r\n" {
		t.Errorf("SITE line %q", got)
	}
	if got := Cmd("RETR", "a").String(); got != "RETR a" {
		t.Errorf("String %q", got)
	}
}

// TestCommandNeverShowsSecret prints PASS and ACCT commands with every fmt
// verb and flag and looks for the secret.
func TestCommandNeverShowsSecret(t *testing.T) {
	const secret = "hunter2-Secret"
	cmds := []Command{Cmd("PASS", secret), {Verb: "pass", Arg: secret}, Cmd("ACCT", secret), {Verb: "Acct", Arg: secret}}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3v", "%-20s", "%#q", "% x", "%o", "%e", "%U"}
	for _, c := range cmds {
		for _, v := range verbs {
			for _, arg := range []any{c, &c, []Command{c}, struct{ C Command }{c}, map[string]Command{"k": c}} {
				got := fmt.Sprintf(v, arg)
				if strings.Contains(got, secret) {
					t.Errorf("Sprintf(%q, %T) = %q shows the secret", v, arg, got)
				}
			}
		}
		if s := c.String(); !strings.HasSuffix(s, " ****") {
			t.Errorf("String() = %q, want the argument masked", s)
		}
		// The wire form carries the secret, of course.
		if !strings.Contains(string(c.AppendLine(nil)), secret) {
			t.Error("AppendLine lost the argument")
		}
	}
	// Other commands print in full.
	if got := fmt.Sprintf("%v %#v", Cmd("RETR", "a.txt"), Cmd("RETR", "a.txt")); got != `RETR a.txt ftp.Command{"RETR a.txt"}` {
		t.Errorf("got %q", got)
	}
	if got := fmt.Sprintf("%v", Cmd("PASS")); got != "PASS" {
		t.Errorf("bare PASS printed %q", got)
	}
}
