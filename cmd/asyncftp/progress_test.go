package main_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressBarInTmux runs scripts/progress-tmux.sh: 'asyncftp get' in a real
// terminal (tmux) must draw a progress bar, from 0% to 100%, and none when its
// stdout is redirected. The script installs tmux when it is missing; if that is
// impossible the test fails, unless ASYNCFTP_NO_TMUX=1 says to do without.
func TestProgressBarInTmux(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "progress-tmux.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "ASYNCFTP_BIN="+bin, "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 {
		if os.Getenv("ASYNCFTP_NO_TMUX") == "1" {
			t.Skipf("tmux is not available and ASYNCFTP_NO_TMUX=1: the terminal progress-bar check did NOT run\n%s", out)
		}
		t.Fatalf("tmux is not available and could not be installed, so the progress bar cannot be checked in a terminal; "+
			"install tmux, or set ASYNCFTP_NO_TMUX=1 to do without this check\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "progress-tmux: PASS") {
		t.Fatalf("progress-tmux.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
