package rlimit

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestEnsureRaisesSoftToHard(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig)
	if orig.Max < 2*Margin {
		t.Fatalf("hard limit %d is too small for this test", orig.Max)
	}
	lowered := syscall.Rlimit{Cur: Margin, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	got, err := Ensure(Margin + 1)
	if err != nil {
		t.Fatal(err)
	}
	soft, hard, err := Limit()
	if err != nil {
		t.Fatal(err)
	}
	if got != orig.Max || soft != orig.Max || hard != orig.Max {
		t.Fatalf("Ensure = %d, soft %d hard %d; want all %d", got, soft, hard, orig.Max)
	}
}

func TestEnsureRefusesAboveHard(t *testing.T) {
	soft, hard, err := Limit()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Ensure(hard + 1)
	var tl *TooLowError
	if !errors.As(err, &tl) {
		t.Fatalf("Ensure(hard+1) = %v, want *TooLowError", err)
	}
	if tl.Need != hard+1 || tl.Hard != hard || tl.Soft != soft {
		t.Fatalf("error fields %+v", tl)
	}
	for _, want := range []string{"ulimit -Hn", "lower the concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if s2, _, _ := Limit(); s2 != soft {
		t.Fatalf("soft limit changed from %d to %d on failure", soft, s2)
	}
}

func TestEstimate(t *testing.T) {
	if got := Estimate(10000, 100); got != 10000+100+Margin {
		t.Fatalf("Estimate = %d", got)
	}
}
