package handlers

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// fakeExchange records what a handler asks for.
type fakeExchange struct {
	cmd                     ftp.Command
	user, password, account string
	tls                     bool

	sent     []ftp.Command
	expected int
	fired    []string
	result   any
	feats    Features
	passive  []any
	noEPSV   bool
	startTLS int
	notes    []string
}

func (x *fakeExchange) Command() ftp.Command { return x.cmd }
func (x *fakeExchange) User() string         { return x.user }
func (x *fakeExchange) Password() string     { return x.password }
func (x *fakeExchange) Account() string      { return x.account }
func (x *fakeExchange) WantTLS() bool        { return x.tls }
func (x *fakeExchange) Send(c ftp.Command, h Handler) error {
	if err := c.Validate(); err != nil {
		return err
	}
	x.sent = append(x.sent, c)
	return nil
}
func (x *fakeExchange) Expect(Handler)         { x.expected++ }
func (x *fakeExchange) Fire(e string) error    { x.fired = append(x.fired, e); return nil }
func (x *fakeExchange) SetResult(v any)        { x.result = v }
func (x *fakeExchange) SetFeatures(f Features) { x.feats = f }
func (x *fakeExchange) RefuseEPSV()            { x.noEPSV = true }
func (x *fakeExchange) StartTLS() error        { x.startTLS++; return nil }
func (x *fakeExchange) Note(msg string)        { x.notes = append(x.notes, msg) }
func (x *fakeExchange) OpenPassive(h string, p int) error {
	x.passive = append(x.passive, h, p)
	return nil
}

func reply(code int, lines ...string) ftp.Reply {
	if len(lines) == 0 {
		lines = []string{""}
	}
	return ftp.Reply{Code: code, Lines: lines}
}

// replyErr checks that err unpacks to an *ftp.Error with code.
func replyErr(t *testing.T, err error, code int) {
	t.Helper()
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("err = %v, want an *ftp.Error with code %d", err, code)
	}
}

func TestLoginHandlers(t *testing.T) {
	t.Run("greeting 220 sends USER", func(t *testing.T) {
		x := &fakeExchange{user: "alice"}
		if err := Greeting(x, reply(220, "hi")); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x.sent, []ftp.Command{ftp.Cmd("USER", "alice")}) || !reflect.DeepEqual(x.fired, []string{states.SendUser}) {
			t.Fatalf("sent %v fired %v", x.sent, x.fired)
		}
	})
	t.Run("greeting 220 with TLS sends AUTH TLS", func(t *testing.T) {
		x := &fakeExchange{user: "alice", tls: true}
		if err := Greeting(x, reply(220)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x.sent, []ftp.Command{ftp.Cmd("AUTH", "TLS")}) || !reflect.DeepEqual(x.fired, []string{states.Secure}) {
			t.Fatalf("sent %v fired %v", x.sent, x.fired)
		}
	})
	t.Run("greeting 120 waits", func(t *testing.T) {
		x := &fakeExchange{}
		if err := Greeting(x, reply(120)); err != nil || x.expected != 1 || len(x.sent) != 0 {
			t.Fatalf("err %v expected %d sent %v", err, x.expected, x.sent)
		}
	})
	for _, code := range []int{421, 500, 230, 331} {
		x := &fakeExchange{}
		replyErr(t, Greeting(x, reply(code)), code)
		if len(x.sent) != 0 || len(x.fired) != 0 {
			t.Errorf("greeting %d: sent %v fired %v", code, x.sent, x.fired)
		}
	}
	t.Run("USER 331 sends PASS", func(t *testing.T) {
		x := &fakeExchange{cmd: ftp.Cmd("USER", "alice"), password: "pw"}
		if err := User(x, reply(331)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x.sent, []ftp.Command{ftp.Cmd("PASS", "pw")}) || !reflect.DeepEqual(x.fired, []string{states.SendPass}) {
			t.Fatalf("sent %v fired %v", x.sent, x.fired)
		}
	})
	for _, code := range []int{230, 202} {
		x := &fakeExchange{cmd: ftp.Cmd("USER", "a")}
		if err := User(x, reply(code)); err != nil || !reflect.DeepEqual(x.fired, []string{states.LoggedIn}) || len(x.sent) != 0 {
			t.Errorf("USER %d: err %v fired %v sent %v", code, err, x.fired, x.sent)
		}
		x = &fakeExchange{cmd: ftp.Cmd("PASS", "p")}
		if err := Pass(x, reply(code)); err != nil || !reflect.DeepEqual(x.fired, []string{states.LoggedIn}) {
			t.Errorf("PASS %d: err %v fired %v", code, err, x.fired)
		}
		x = &fakeExchange{cmd: ftp.Cmd("ACCT", "a")}
		if err := Acct(x, reply(code)); err != nil || !reflect.DeepEqual(x.fired, []string{states.LoggedIn}) {
			t.Errorf("ACCT %d: err %v fired %v", code, err, x.fired)
		}
	}
	t.Run("332 with an account sends ACCT", func(t *testing.T) {
		for _, h := range []Handler{User, Pass} {
			x := &fakeExchange{account: "acct1"}
			if err := h(x, reply(332)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x.sent, []ftp.Command{ftp.Cmd("ACCT", "acct1")}) || !reflect.DeepEqual(x.fired, []string{states.SendAcct}) {
				t.Fatalf("sent %v fired %v", x.sent, x.fired)
			}
		}
	})
	t.Run("332 without an account fails", func(t *testing.T) {
		for _, h := range []Handler{User, Pass} {
			x := &fakeExchange{cmd: ftp.Cmd("PASS", "p")}
			err := h(x, reply(332, "Need account"))
			replyErr(t, err, 332)
			if len(x.sent) != 0 {
				t.Fatalf("sent %v", x.sent)
			}
		}
	})
	for _, code := range []int{530, 500, 421, 331} {
		x := &fakeExchange{cmd: ftp.Cmd("PASS", "p")}
		replyErr(t, Pass(x, reply(code)), code)
		replyErr(t, Acct(&fakeExchange{}, reply(code)), code)
	}
	replyErr(t, User(&fakeExchange{}, reply(530)), 530)
	t.Run("password with CRLF is refused", func(t *testing.T) {
		x := &fakeExchange{password: "pw\r\nDELE x"}
		if err := User(x, reply(331)); !errors.Is(err, ftp.ErrInvalidArgument) || len(x.sent) != 0 {
			t.Fatalf("err %v sent %v", err, x.sent)
		}
	})
	t.Run("AUTH", func(t *testing.T) {
		x := &fakeExchange{}
		if err := Auth(x, reply(234)); err != nil || x.startTLS != 1 {
			t.Fatalf("234: err %v startTLS %d", err, x.startTLS)
		}
		x = &fakeExchange{cmd: ftp.Cmd("AUTH", "TLS")}
		err := Auth(x, reply(502))
		if !errors.Is(err, ftp.ErrUnsupported) || x.startTLS != 0 {
			t.Fatalf("502: err %v startTLS %d", err, x.startTLS)
		}
		replyErr(t, err, 502)
	})
}

func TestCommandHandlers(t *testing.T) {
	x := &fakeExchange{}
	if err := Pwd(x, reply(257, `"/a ""b""" is cwd`)); err != nil || x.result != `/a "b"` {
		t.Errorf("PWD: %v %v", x.result, err)
	}
	if err := Pwd(&fakeExchange{}, reply(257, "no quotes")); !errors.Is(err, ftp.ErrProtocol) {
		t.Errorf("PWD without quotes: %v", err)
	}
	replyErr(t, Pwd(&fakeExchange{}, reply(550)), 550)

	x = &fakeExchange{}
	if err := Mkd(x, reply(257, `"/new" created`)); err != nil || x.result != "/new" {
		t.Errorf("MKD: %v %v", x.result, err)
	}
	x = &fakeExchange{}
	if err := Mkd(x, reply(250, "created")); err != nil || !reflect.DeepEqual(x.result, reply(250, "created")) {
		t.Errorf("MKD without path: %v %v", x.result, err)
	}

	x = &fakeExchange{}
	if err := Syst(x, reply(215, "UNIX Type: L8")); err != nil || x.result != "UNIX Type: L8" {
		t.Errorf("SYST: %v %v", x.result, err)
	}

	x = &fakeExchange{}
	feat := ftp.Reply{Code: 211, Lines: []string{"Features:", " SIZE", " MLST size*;", "End"}}
	if err := Feat(x, feat); err != nil || !x.feats.Has("SIZE") || x.feats["MLST"] != "size*;" || !reflect.DeepEqual(x.result, x.feats) {
		t.Errorf("FEAT: %v %v %v", x.feats, x.result, err)
	}
	for _, code := range []int{500, 502} {
		x = &fakeExchange{}
		if err := Feat(x, reply(code)); err != nil || x.feats == nil || len(x.feats) != 0 {
			t.Errorf("FEAT %d: %v %v", code, x.feats, err)
		}
	}
	replyErr(t, Feat(&fakeExchange{}, reply(421)), 421)

	x = &fakeExchange{}
	if err := Size(x, reply(213, "3145735")); err != nil || x.result != int64(3145735) {
		t.Errorf("SIZE: %v %v", x.result, err)
	}
	for _, s := range []string{"", "-1", "abc", "12 bytes", "99999999999999999999"} {
		if err := Size(&fakeExchange{}, reply(213, s)); !errors.Is(err, ftp.ErrProtocol) {
			t.Errorf("SIZE %q: %v", s, err)
		}
	}
	replyErr(t, Size(&fakeExchange{}, reply(550)), 550)

	x = &fakeExchange{}
	if err := Mdtm(x, reply(213, "20240501120405")); err != nil || !x.result.(time.Time).Equal(time.Date(2024, 5, 1, 12, 4, 5, 0, time.UTC)) {
		t.Errorf("MDTM: %v %v", x.result, err)
	}
	if err := Mdtm(&fakeExchange{}, reply(213, "yesterday")); !errors.Is(err, ftp.ErrProtocol) {
		t.Errorf("MDTM garbage: %v", err)
	}

	x = &fakeExchange{}
	mlst := ftp.Reply{Code: 250, Lines: []string{"Listing /a", " type=file;size=3; /a", "End"}}
	if err := Mlst(x, mlst); err != nil || x.result != "type=file;size=3; /a" {
		t.Errorf("MLST: %v %v", x.result, err)
	}
	if err := Mlst(&fakeExchange{}, reply(250, "no entry")); !errors.Is(err, ftp.ErrProtocol) {
		t.Errorf("MLST without entry: %v", err)
	}

	for _, h := range []Handler{Simple, Intermediate} {
		x = &fakeExchange{}
		if err := h(x, reply(200, "ok")); err != nil || !reflect.DeepEqual(x.result, reply(200, "ok")) {
			t.Errorf("200: %v %v", x.result, err)
		}
		replyErr(t, h(&fakeExchange{}, reply(550)), 550)
		replyErr(t, h(&fakeExchange{}, reply(150)), 150)
	}
	replyErr(t, Simple(&fakeExchange{}, reply(350)), 350)
	if err := Intermediate(&fakeExchange{}, reply(350)); err != nil {
		t.Errorf("350 to REST: %v", err)
	}

	x = &fakeExchange{cmd: ftp.Cmd("RNFR", "a")}
	if err := Rename("b")(x, reply(350)); err != nil || !reflect.DeepEqual(x.sent, []ftp.Command{ftp.Cmd("RNTO", "b")}) {
		t.Errorf("RNFR 350: %v %v", x.sent, err)
	}
	replyErr(t, Rename("b")(&fakeExchange{}, reply(550)), 550)
	if err := Rename("b\r\nDELE c")(&fakeExchange{}, reply(350)); !errors.Is(err, ftp.ErrInvalidArgument) {
		t.Errorf("RNTO with CRLF: %v", err)
	}

	if err := Quit(&fakeExchange{}, reply(221)); err != nil {
		t.Errorf("QUIT 221: %v", err)
	}
	replyErr(t, Quit(&fakeExchange{}, reply(500)), 500)
}

func TestPassiveHandlers(t *testing.T) {
	x := &fakeExchange{}
	if err := EPSV(x, reply(229, "Entering Extended Passive Mode (|||2121|)")); err != nil || !reflect.DeepEqual(x.passive, []any{"", 2121}) {
		t.Errorf("EPSV 229: %v %v", x.passive, err)
	}
	for _, code := range []int{500, 502} {
		x = &fakeExchange{}
		if err := EPSV(x, reply(code)); err != nil || !x.noEPSV || !reflect.DeepEqual(x.sent, []ftp.Command{ftp.Cmd("PASV")}) {
			t.Errorf("EPSV %d: noEPSV %v sent %v err %v", code, x.noEPSV, x.sent, err)
		}
	}
	if err := EPSV(&fakeExchange{}, reply(229, "(|||0|)")); !errors.Is(err, ftp.ErrProtocol) {
		t.Errorf("EPSV bad port: %v", err)
	}
	replyErr(t, EPSV(&fakeExchange{}, reply(425)), 425)

	x = &fakeExchange{}
	if err := PASV(x, reply(227, "Entering Passive Mode (10,1,2,3,4,1)")); err != nil || !reflect.DeepEqual(x.passive, []any{"10.1.2.3", 1025}) {
		t.Errorf("PASV 227: %v %v", x.passive, err)
	}
	if err := PASV(&fakeExchange{}, reply(227, "Entering Passive Mode (10,1,2,3,0,0)")); !errors.Is(err, ftp.ErrProtocol) {
		t.Errorf("PASV port 0: %v", err)
	}
	replyErr(t, PASV(&fakeExchange{}, reply(500)), 500)
}

func TestTransferHandler(t *testing.T) {
	for _, code := range []int{125, 150} {
		x := &fakeExchange{}
		if err := Transfer(x, reply(code)); err != nil || x.expected != 1 || !reflect.DeepEqual(x.fired, []string{states.Transfer}) {
			t.Errorf("%d: expected %d fired %v err %v", code, x.expected, x.fired, err)
		}
	}
	for _, code := range []int{226, 250} {
		x := &fakeExchange{}
		if err := Transfer(x, reply(code)); err != nil || x.expected != 0 || len(x.fired) != 0 {
			t.Errorf("%d: expected %d fired %v err %v", code, x.expected, x.fired, err)
		}
	}
	for _, code := range []int{425, 426, 451, 550, 552} {
		replyErr(t, Transfer(&fakeExchange{}, reply(code)), code)
	}
	// After the first 1yz the handler that reads on fires no more events.
	x := &fakeExchange{}
	var next Handler
	xe := &expectExchange{fakeExchange: x, next: &next}
	if err := Transfer(xe, reply(125)); err != nil || next == nil {
		t.Fatalf("125: %v", err)
	}
	for _, code := range []int{150, 150} {
		h := next
		next = nil
		if err := h(xe, reply(code)); err != nil || next == nil {
			t.Fatalf("second %d: %v", code, err)
		}
	}
	if err := next(xe, reply(226)); err != nil {
		t.Fatal(err)
	}
	replyErr(t, next(xe, reply(426)), 426)
	if !reflect.DeepEqual(x.fired, []string{states.Transfer}) {
		t.Fatalf("fired %v, want one Transfer", x.fired)
	}
}

// expectExchange keeps the handler a handler passes to Expect.
type expectExchange struct {
	*fakeExchange
	next *Handler
}

func (x *expectExchange) Expect(h Handler) { x.expected++; *x.next = h }

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if h := r.Lookup("PWD"); reflect.ValueOf(h).Pointer() != reflect.ValueOf(Handler(Pwd)).Pointer() {
		t.Error("NewRegistry does not fall back to the built-in PWD handler")
	}
	if h := r.Lookup("pwd"); reflect.ValueOf(h).Pointer() != reflect.ValueOf(Handler(Pwd)).Pointer() {
		t.Error("Lookup is case-sensitive")
	}
	if h := r.Lookup("SITE"); reflect.ValueOf(h).Pointer() != reflect.ValueOf(Handler(Simple)).Pointer() {
		t.Error("an unknown verb does not fall back to Simple")
	}
	called := false
	mine := func(x Exchange, rep ftp.Reply) error { called = true; return nil }
	r.Register("pwd", mine)
	if err := r.Lookup("PWD")(&fakeExchange{}, reply(257, `"/"`)); err != nil || !called {
		t.Error("override not used")
	}
	if h := Builtin().Lookup("PWD"); reflect.ValueOf(h).Pointer() != reflect.ValueOf(Handler(Pwd)).Pointer() {
		t.Error("registering in a NewRegistry changed the built-in one")
	}
	r.Register("PWD", nil)
	if h := r.Lookup("PWD"); reflect.ValueOf(h).Pointer() != reflect.ValueOf(Handler(Pwd)).Pointer() {
		t.Error("Register(nil) did not remove the override")
	}
	if h := Builtin().Lookup(Connect); reflect.ValueOf(h).Pointer() != reflect.ValueOf(Handler(Greeting)).Pointer() {
		t.Error("no greeting handler under Connect")
	}
}
