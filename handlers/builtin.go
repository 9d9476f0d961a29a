package handlers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// Greeting reads the reply that arrives on connect. 220 starts the login (or AUTH
// TLS first, when the session wants TLS); 120 means "wait, the real greeting
// follows"; anything else (421 above all) ends the session.
func Greeting(x Exchange, r ftp.Reply) error {
	switch {
	case r.Code == 120:
		x.Expect(Greeting)
		return nil
	case r.Code == 220 && x.WantTLS():
		if err := x.Send(ftp.Cmd("AUTH", "TLS"), Auth); err != nil {
			return err
		}
		return x.Fire(states.Secure)
	case r.Code == 220:
		return sendUser(x)
	default:
		return r.Err(ftp.Command{})
	}
}

func sendUser(x Exchange) error {
	if err := x.Send(ftp.Cmd("USER", x.User()), User); err != nil {
		return err
	}
	return x.Fire(states.SendUser)
}

// Auth reads the reply to AUTH TLS: 234 starts the handshake; anything else is a
// refusal, and a session that asked for TLS never goes on in clear text.
func Auth(x Exchange, r ftp.Reply) error {
	if r.Code != 234 {
		return fmt.Errorf("%w: AUTH TLS refused: %w", ftp.ErrUnsupported, r.Err(x.Command()))
	}
	return x.StartTLS()
}

// AfterTLS continues the login once the TLS handshake on the control connection
// has completed. The session calls it; it is exported so that a custom login can
// reuse it.
func AfterTLS(x Exchange) error { return sendUser(x) }

// User reads the reply to USER: 230 logs in at once, 331 asks for the password,
// 332 for an account; anything else fails the login.
func User(x Exchange, r ftp.Reply) error {
	switch r.Code {
	case 230, 202:
		return x.Fire(states.LoggedIn)
	case 331:
		if err := x.Send(ftp.Cmd("PASS", x.Password()), Pass); err != nil {
			return err
		}
		return x.Fire(states.SendPass)
	case 332:
		return sendAcct(x, r)
	default:
		return r.Err(x.Command())
	}
}

// Pass reads the reply to PASS: 230 or 202 logs in, 332 asks for an account
// (an error when none is configured), anything else fails the login.
func Pass(x Exchange, r ftp.Reply) error {
	switch r.Code {
	case 230, 202:
		return x.Fire(states.LoggedIn)
	case 332:
		return sendAcct(x, r)
	default:
		return r.Err(x.Command())
	}
}

func sendAcct(x Exchange, r ftp.Reply) error {
	if x.Account() == "" {
		return fmt.Errorf("%w: server asks for an account and none is configured", r.Err(x.Command()))
	}
	if err := x.Send(ftp.Cmd("ACCT", x.Account()), Acct); err != nil {
		return err
	}
	return x.Fire(states.SendAcct)
}

// Acct reads the reply to ACCT: 230 or 202 logs in.
func Acct(x Exchange, r ftp.Reply) error {
	if r.Code == 230 || r.Code == 202 {
		return x.Fire(states.LoggedIn)
	}
	return r.Err(x.Command())
}

// Simple accepts any 2yz reply and hands the reply itself to the caller. It is
// the fallback for verbs without a handler of their own (CWD, CDUP, TYPE, DELE,
// RMD, NOOP, OPTS, SITE, PBSZ, PROT, …).
func Simple(x Exchange, r ftp.Reply) error {
	if r.Class() != 2 {
		return r.Err(x.Command())
	}
	x.SetResult(r)
	return nil
}

// Intermediate accepts 3yz ("go on") as success: REST and RNFR answer 350.
func Intermediate(x Exchange, r ftp.Reply) error {
	if r.Class() != 3 && r.Class() != 2 {
		return r.Err(x.Command())
	}
	x.SetResult(r)
	return nil
}

// Rename returns the handler for RNFR that sends RNTO to on 350: a follow-up
// command chosen by a handler, the article's pattern in one line.
func Rename(to string) Handler {
	return func(x Exchange, r ftp.Reply) error {
		if r.Code != 350 {
			return r.Err(x.Command())
		}
		return x.Send(ftp.Cmd("RNTO", to), Simple)
	}
}

// Quit reads the reply to QUIT. 221 is the normal answer; the session closes the
// connection either way, and a server that just closes is fine too.
func Quit(x Exchange, r ftp.Reply) error {
	if r.Class() != 2 {
		return r.Err(x.Command())
	}
	return nil
}

// Pwd reads 257 and hands the quoted path (with "" unescaped) to the caller.
func Pwd(x Exchange, r ftp.Reply) error {
	if r.Code != 257 {
		return r.Err(x.Command())
	}
	p, err := ParsePath(r.Last())
	if err != nil {
		return err
	}
	x.SetResult(p)
	return nil
}

// Mkd reads 257 to MKD; the created path, when the server quotes one, is the
// result (otherwise the reply).
func Mkd(x Exchange, r ftp.Reply) error {
	if r.Class() != 2 {
		return r.Err(x.Command())
	}
	if p, err := ParsePath(r.Last()); err == nil {
		x.SetResult(p)
	} else {
		x.SetResult(r)
	}
	return nil
}

// Syst reads 215 and hands the system type (e.g. "UNIX Type: L8") to the caller.
func Syst(x Exchange, r ftp.Reply) error {
	if r.Code != 215 {
		return r.Err(x.Command())
	}
	x.SetResult(r.Last())
	return nil
}

// Feat reads the FEAT reply into a [Features] set. A server without FEAT (500,
// 502) simply has no features; that is not an error.
func Feat(x Exchange, r ftp.Reply) error {
	switch {
	case r.Code == 211:
		f := ParseFeatures(r)
		x.SetFeatures(f)
		x.SetResult(f)
		return nil
	case r.Code == 500 || r.Code == 502:
		f := Features{}
		x.SetFeatures(f)
		x.SetResult(f)
		return nil
	default:
		return r.Err(x.Command())
	}
}

// Size reads 213 and hands the size as an int64.
func Size(x Exchange, r ftp.Reply) error {
	if r.Code != 213 {
		return r.Err(x.Command())
	}
	n, err := strconv.ParseInt(strings.TrimSpace(r.Last()), 10, 64)
	if err != nil || n < 0 {
		return &ftp.ProtocolError{Reason: "SIZE reply is not a size", Line: r.Last()}
	}
	x.SetResult(n)
	return nil
}

// Mdtm reads 213 YYYYMMDDHHMMSS[.sss] and hands a UTC time.Time.
func Mdtm(x Exchange, r ftp.Reply) error {
	if r.Code != 213 {
		return r.Err(x.Command())
	}
	t, err := ParseTime(strings.TrimSpace(r.Last()))
	if err != nil {
		return err
	}
	x.SetResult(t)
	return nil
}

// Mlst reads the 250 reply of MLST; the entry line (the one that starts with a
// space) is the result, for the listing package to parse.
func Mlst(x Exchange, r ftp.Reply) error {
	if r.Code != 250 {
		return r.Err(x.Command())
	}
	for _, l := range r.Lines {
		if strings.HasPrefix(l, " ") {
			x.SetResult(l[1:])
			return nil
		}
	}
	return &ftp.ProtocolError{Reason: "MLST reply has no entry line", Line: r.Message()}
}

// EPSV reads 229 (|||port|) and asks for the data connection to the control
// host. 500 or 502 means the server does not know EPSV: remember that and try
// PASV instead.
func EPSV(x Exchange, r ftp.Reply) error {
	switch r.Code {
	case 229:
		port, err := ParseEPSV(r.Last())
		if err != nil {
			return err
		}
		return x.OpenPassive("", port)
	case 500, 502:
		x.RefuseEPSV()
		x.Note("server refused EPSV; using PASV from now on")
		return x.Send(ftp.Cmd("PASV"), PASV)
	default:
		return r.Err(x.Command())
	}
}

// PASV reads 227 and asks for the data connection. The advertised host is passed
// on, but the session uses the control host unless told to trust it.
func PASV(x Exchange, r ftp.Reply) error {
	if r.Code != 227 {
		return r.Err(x.Command())
	}
	host, port, err := ParsePASV(r.Last())
	if err != nil {
		return err
	}
	return x.OpenPassive(host, port)
}

// Transfer reads the replies to a data command (LIST, RETR, STOR, …): 125 or 150
// says the transfer has begun and another reply follows; 226 or 250 says the
// server's side is complete. The session itself waits for the data connection too:
// a transfer succeeds only when both sides are done.
func Transfer(x Exchange, r ftp.Reply) error {
	if r.Preliminary() {
		x.Expect(transferGoing)
		return x.Fire(states.Transfer)
	}
	return transferGoing(x, r)
}

// transferGoing reads the replies after the first 1yz. A server that sends
// another (125, then 150) does not move the state machine a second time.
func transferGoing(x Exchange, r ftp.Reply) error {
	switch {
	case r.Preliminary():
		x.Expect(transferGoing)
		return nil
	case r.Class() == 2:
		return nil
	default:
		return r.Err(x.Command())
	}
}

// ParseTime parses the RFC 3659 time-val YYYYMMDDHHMMSS[.sss] as UTC.
func ParseTime(s string) (time.Time, error) {
	layout := "20060102150405"
	if len(s) > 15 && s[14] == '.' {
		layout += "." + strings.Repeat("0", len(s)-15)
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return time.Time{}, &ftp.ProtocolError{Reason: "bad time value", Line: s}
	}
	return t, nil
}
