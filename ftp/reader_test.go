package ftp

import (
	"bufio"
	"errors"
	"fmt"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// feedAll feeds each chunk in turn and returns the replies and the first error.
func feedAll(r *Reader, chunks ...string) ([]Reply, error) {
	var got []Reply
	for _, c := range chunks {
		if err := r.Feed([]byte(c), func(rep Reply) error {
			got = append(got, rep)
			return nil
		}); err != nil {
			return got, err
		}
	}
	return got, nil
}

// protocolError checks that err is a *ProtocolError that errors.Is ErrProtocol.
func protocolError(t *testing.T, err error) *ProtocolError {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want a *ProtocolError", err, err)
	}
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("errors.Is(%v, ErrProtocol) = false", err)
	}
	return pe
}

func TestReaderReplies(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []Reply
	}{
		{"single line", "200 Command okay.\r\n", []Reply{{200, []string{"Command okay."}}}},
		{"bare LF", "220 hello\n331 password\n", []Reply{{220, []string{"hello"}}, {331, []string{"password"}}}},
		{"code alone", "200\r\n", []Reply{{200, []string{""}}}},
		{"code and space", "200 \r\n", []Reply{{200, []string{""}}}},
		{"only the last CR dropped", "200 a\r\r\n", []Reply{{200, []string{"a\r"}}}},
		{"multi-line", "211-Features:\r\n EPSV\r\n MLST size*;modify*;\r\n211 End\r\n",
			[]Reply{{211, []string{"Features:", " EPSV", " MLST size*;modify*;", "End"}}}},
		{"multi-line with bare LF", "230-Welcome\n  to the server\n230 Logged in.\n",
			[]Reply{{230, []string{"Welcome", "  to the server", "Logged in."}}}},
		{"inner lines look like other codes", "250-first\r\n220 other code\r\n550 still text\r\n250 end\r\n",
			[]Reply{{250, []string{"first", "220 other code", "550 still text", "end"}}}},
		{"same code with dash continues, code stripped", "250-first\r\n250-second\r\n250 end\r\n",
			[]Reply{{250, []string{"first", "second", "end"}}}},
		{"same code not followed by space is text", "250-first\r\n250x text\r\n250\r\n250\tx\r\n250 end\r\n",
			[]Reply{{250, []string{"first", "250x text", "250", "250\tx", "end"}}}},
		{"empty and short inner lines are text", "220-a\r\n\r\n2\r\n22\r\n220 b\r\n",
			[]Reply{{220, []string{"a", "", "2", "22", "b"}}}},
		{"end line empty text", "211-x\r\n211 \r\n", []Reply{{211, []string{"x", ""}}}},
		{"NUL and non-UTF-8 kept", "200 a\x00b\xff\xfe\r\n", []Reply{{200, []string{"a\x00b\xff\xfe"}}}},
		{"non-UTF-8 inner line", "211-\xc3\x28\r\n \x00\xff\r\n211 ok\r\n", []Reply{{211, []string{"\xc3\x28", " \x00\xff", "ok"}}}},
		{"two replies in one read", "150 here\r\n226 done\r\n", []Reply{{150, []string{"here"}}, {226, []string{"done"}}}},
		{"codes at the bounds", "100 a\r\n599 b\r\n", []Reply{{100, []string{"a"}}, {599, []string{"b"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Reader
			got, err := feedAll(&r, c.in)
			if err != nil {
				t.Fatalf("Feed: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v\nwant %v", got, c.want)
			}
			if r.Buffered() != 0 || r.InReply() {
				t.Errorf("Buffered %d InReply %v after complete input", r.Buffered(), r.InReply())
			}
		})
	}
}

// TestReaderMatchesTextproto reads multi-line replies with net/textproto's
// ReadResponse, the reference reading of RFC 959, and with Reader.
func TestReaderMatchesTextproto(t *testing.T) {
	inputs := []string{
		"200 ok\r\n",
		"211-Features:\r\n EPSV\r\n211 End\r\n",
		"250-first\r\n220 other code\r\n250-continued\r\n250x text\r\n250\r\n251 near\r\n250 end\r\n",
		"220-\r\n\r\n 220 indented\r\n220 done\r\n",
		"230-a\n230-b\n230 c\n",
		"421-x\r\n\x00\xff\r\n421 y\r\n",
	}
	for _, in := range inputs {
		tp := textproto.NewReader(bufio.NewReader(strings.NewReader(in)))
		code, msg, err := tp.ReadResponse(0)
		if err != nil {
			t.Fatalf("textproto on %q: %v", in, err)
		}
		var r Reader
		got, err := feedAll(&r, in)
		if err != nil || len(got) != 1 {
			t.Fatalf("Reader on %q: %v, %d replies", in, err, len(got))
		}
		if got[0].Code != code || got[0].Message() != msg {
			t.Errorf("on %v:\nReader    %d %v\ntextproto %d %v", in, got[0].Code, got[0].Message(), code, msg)
		}
	}
}

// TestReaderSplitEverywhere feeds a stream split at every byte position, and
// byte by byte, and expects the same replies each time.
func TestReaderSplitEverywhere(t *testing.T) {
	stream := "120 wait\r\n220-Welcome\r\n  220 inner\r\n220-more\n220 ready\r\n" +
		"227 Entering Passive Mode (127,0,0,1,4,1)\r\n211-\r\n\r\n211 \r\n"
	var r Reader
	want, err := feedAll(&r, stream)
	if err != nil || len(want) != 4 {
		t.Fatalf("whole stream: %d replies, %v", len(want), err)
	}
	for i := 0; i <= len(stream); i++ {
		var r Reader
		got, err := feedAll(&r, stream[:i], stream[i:])
		if err != nil {
			t.Fatalf("split at %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d:\n got %v\nwant %v", i, got, want)
		}
	}
	for i := 0; i < len(stream); i++ {
		for j := i; j <= len(stream); j += 7 {
			var r Reader
			got, err := feedAll(&r, stream[:i], stream[i:j], stream[j:])
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("split at %d and %d: %v\n got %v", i, j, err, got)
			}
		}
	}
	var bytewise []string
	for i := range len(stream) {
		bytewise = append(bytewise, stream[i:i+1])
	}
	var r2 Reader
	got, err := feedAll(&r2, bytewise...)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte: %v\n got %v", err, got)
	}
}

func TestReaderLineBound(t *testing.T) {
	t.Run("exactly the bound passes", func(t *testing.T) {
		r := Reader{MaxLineLength: 10}
		got, err := feedAll(&r, "200 123456\r\n")
		if err != nil || len(got) != 1 || got[0].Last() != "123456" {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("bound with CR in another read", func(t *testing.T) {
		r := Reader{MaxLineLength: 10}
		got, err := feedAll(&r, "200 123456", "\r", "\n")
		if err != nil || len(got) != 1 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("one over in one read", func(t *testing.T) {
		r := Reader{MaxLineLength: 10}
		_, err := feedAll(&r, "200 1234567\r\n")
		pe := protocolError(t, err)
		if !strings.Contains(pe.Reason, "longer than the limit") {
			t.Errorf("reason %q", pe.Reason)
		}
	})
	t.Run("one over without CR", func(t *testing.T) {
		r := Reader{MaxLineLength: 10}
		_, err := feedAll(&r, "200 1234567", "\n")
		protocolError(t, err)
	})
	t.Run("endless line is cut off at the bound", func(t *testing.T) {
		r := Reader{MaxLineLength: 10}
		var err error
		n := 0
		for ; n < 1000 && err == nil; n++ {
			err = r.Feed([]byte("a"), func(Reply) error { t.Fatal("no reply expected"); return nil })
			if r.Buffered() > 11 {
				t.Fatalf("holds %d bytes, bound is 10 (+1 for a CR)", r.Buffered())
			}
		}
		protocolError(t, err)
		if n != 12 {
			t.Errorf("failed after %d bytes, want 12", n)
		}
		if r.Buffered() != 0 {
			t.Errorf("still holds %d bytes after failing", r.Buffered())
		}
	})
	t.Run("default bound", func(t *testing.T) {
		var r Reader
		_, err := feedAll(&r, "200 "+strings.Repeat("x", DefaultMaxLineLength))
		protocolError(t, err)
		var r2 Reader
		got, err := feedAll(&r2, "200 "+strings.Repeat("x", DefaultMaxLineLength-4)+"\r\n")
		if err != nil || len(got) != 1 {
			t.Fatalf("a line of exactly %d bytes: %v", DefaultMaxLineLength, err)
		}
	})
	t.Run("inner line of a multi-line reply", func(t *testing.T) {
		r := Reader{MaxLineLength: 10}
		_, err := feedAll(&r, "211-a\r\n", strings.Repeat("b", 11)+"\r\n")
		protocolError(t, err)
	})
}

func TestReaderLineCount(t *testing.T) {
	r := Reader{MaxReplyLines: 3}
	got, err := feedAll(&r, "211-a\r\n b\r\n211 c\r\n")
	if err != nil || len(got) != 1 || len(got[0].Lines) != 3 {
		t.Fatalf("three lines with a bound of 3: %v, %v", got, err)
	}
	_, err = feedAll(&r, "211-a\r\n b\r\n c\r\n211 d\r\n")
	pe := protocolError(t, err)
	if !strings.Contains(pe.Reason, "more lines than the limit") {
		t.Errorf("reason %q", pe.Reason)
	}

	// A multi-line reply whose end never comes stops at the default bound.
	var d Reader
	if err := d.Feed([]byte("211-start\r\n"), func(Reply) error { return nil }); err != nil {
		t.Fatal(err)
	}
	lines := 1
	for lines < 10*DefaultMaxReplyLines {
		lines++
		if err = d.Feed([]byte("211-more\r\n"), func(Reply) error { return nil }); err != nil {
			break
		}
	}
	protocolError(t, err)
	// The line that fails is the one that could not be the last of a reply
	// within the bound.
	if lines != DefaultMaxReplyLines {
		t.Errorf("failed at line %d, want %d", lines, DefaultMaxReplyLines)
	}
	if d.InReply() {
		t.Error("still in a reply after failing")
	}
}

// TestReaderBadLines checks each malformed first line gives a ProtocolError
// and leaves the Reader failed for good.
func TestReaderBadLines(t *testing.T) {
	for _, in := range []string{
		"hello world\r\n",  // non-numeric
		"20 ok\r\n",        // two digits
		"2\r\n",            // one digit
		"2x0 ok\r\n",       // letter inside
		"099 too low\r\n",  // outside 100–599
		"600 too high\r\n", // outside 100–599
		"000\r\n",
		"999 x\r\n",
		"200x ok\r\n", // code followed by other than space or dash
		"200\tok\r\n",
		"200_ok\r\n",
		"\r\n", // empty line
		"\n",
		" 200 ok\r\n", // leading space
		"\x00\x00\x00 x\r\n",
		"-200 x\r\n",
		"+20 x\r\n",
	} {
		var r Reader
		var traced []string
		r.Trace = func(l []byte) { traced = append(traced, string(l)) }
		got, err := feedAll(&r, in)
		if len(got) != 0 {
			t.Errorf("%v gave replies %v", in, got)
		}
		pe := protocolError(t, err)
		if line := strings.TrimRight(in, "\r\n"); pe.Line != line {
			t.Errorf("%q: ProtocolError.Line = %q, want %q", in, pe.Line, line)
		}
		if !errors.Is(r.Err(), ErrProtocol) {
			t.Errorf("%q: Err() = %v after failing", in, r.Err())
		}
		if len(traced) != 1 {
			t.Errorf("%q: Trace saw %q, want the offending line", in, traced)
		}
		// The stream cannot be resynchronised: a valid reply is refused too.
		if got, err := feedAll(&r, "200 ok\r\n"); err != r.Err() || len(got) != 0 {
			t.Errorf("%v: after failing, Feed gave %v, %v", in, got, err)
		}
	}
}

func TestReaderEmitError(t *testing.T) {
	var r Reader
	stop := errors.New("stop here")
	var got []Reply
	err := r.Feed([]byte("220 a\r\n331 b\r\n230 c\r\n"), func(rep Reply) error {
		got = append(got, rep)
		if rep.Code == 331 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("Feed returned %v, want the emit error", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d replies, want 2 (the rest of the input unread)", len(got))
	}
	// emit's error does not fail the Reader.
	if r.Err() != nil {
		t.Fatalf("Err() = %v", r.Err())
	}
	rest, err := feedAll(&r, "200 next\r\n")
	if err != nil || len(rest) != 1 || rest[0].Code != 200 {
		t.Fatalf("after an emit error: %v, %v", rest, err)
	}
}

func TestReaderTraceSeesEveryLine(t *testing.T) {
	var traced []string
	r := Reader{Trace: func(l []byte) { traced = append(traced, string(l)) }}
	in := "220-Welcome\r\n221 inner\r\n  indented\r\n\r\n220 ready\r\n331 pw\n"
	got, err := feedAll(&r, in[:5], in[5:17], in[17:])
	if err != nil || len(got) != 2 {
		t.Fatalf("%v, %v", got, err)
	}
	want := []string{"220-Welcome", "221 inner", "  indented", "", "220 ready", "331 pw"}
	if !reflect.DeepEqual(traced, want) {
		t.Fatalf("Trace saw %q\nwant %q", traced, want)
	}
}

func TestReaderDoesNotRetainInput(t *testing.T) {
	var r Reader
	buf := []byte("211-first\r\n inner")
	if err := r.Feed(buf, func(Reply) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	got, err := feedAll(&r, " line\r\n211 end\r\n")
	want := []Reply{{211, []string{"first", " inner line", "end"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

func TestReplyHelpers(t *testing.T) {
	r := Reply{Code: 150, Lines: []string{"a", "b"}}
	if r.Message() != "a\nb" || r.Last() != "b" || r.Class() != 1 || !r.Preliminary() || r.Positive() {
		t.Errorf("helpers of %v wrong", r)
	}
	if (Reply{Code: 331}).Last() != "" || !(Reply{Code: 331}).Positive() {
		t.Error("331 helpers wrong")
	}
	e := Reply{Code: 550, Lines: []string{"No such file"}}.Err(Cmd("RETR", "x"))
	var fe *Error
	if !errors.As(error(e), &fe) || fe.Code != 550 || fe.Verb != "RETR" || fe.Temporary() {
		t.Errorf("Err gave %#v", e)
	}
	if got := e.Error(); got != "ftp: RETR: 550 No such file" {
		t.Errorf("Error() = %v", got)
	}
	if !(&Error{Code: 421}).Temporary() {
		t.Error("421 not temporary")
	}
	if got := (&Error{Code: 421, Msg: "bye"}).Error(); got != "ftp: 421 bye" {
		t.Errorf("greeting error %v", got)
	}
}

func TestTypedErrors(t *testing.T) {
	cause := errors.New("connection reset")
	cases := []struct {
		err    error
		target error
	}{
		{&ProtocolError{Reason: "x"}, ErrProtocol},
		{&TimeoutError{Op: "greeting"}, ErrTimeout},
		{&ClosedError{During: "login"}, ErrClosed},
		{&ClosedError{During: "login", Err: cause}, ErrClosed},
		{&ArgumentError{Verb: "USER", Reason: "CR"}, ErrInvalidArgument},
		{&TransferError{Verb: "RETR", Want: -1}, ErrIncomplete},
		{fmt.Errorf("wrapped: %w", &TransferError{Verb: "RETR", Err: &Error{Code: 426}}), ErrIncomplete},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.target) {
			t.Errorf("errors.Is(%v, %v) = false", c.err, c.target)
		}
	}
	ce := &ClosedError{During: "login", Err: cause}
	if !errors.Is(ce, cause) {
		t.Error("ClosedError does not unwrap to its cause")
	}
	te := fmt.Errorf("x: %w", &TransferError{Verb: "RETR", Got: 5, Want: 10, Err: &Error{Code: 426, Msg: "aborted"}})
	var fe *Error
	if !errors.As(te, &fe) || fe.Code != 426 {
		t.Errorf("TransferError does not unwrap to its reply error: %v", te)
	}
	if !strings.Contains(te.Error(), "after 5 bytes of 10") {
		t.Errorf("TransferError text %q", te)
	}
	var to interface{ Timeout() bool }
	if !errors.As(error(&TimeoutError{Op: "x"}), &to) || !to.Timeout() {
		t.Error("TimeoutError lacks Timeout()")
	}
	if errors.Is(&ProtocolError{}, ErrTimeout) || errors.Is(&TransferError{}, ErrClosed) {
		t.Error("typed errors match the wrong sentinel")
	}
}
