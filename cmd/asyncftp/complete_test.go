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

// TestCompletionInTmux runs scripts/complete-tmux.sh: an interactive bash in a
// real terminal (tmux) that sourced 'asyncftp completion bash' must list,
// complete and then download remote paths of 'asyncftp serve' as Tab is
// pressed, and stay silent when the server is gone. The script installs tmux
// and bash-completion when they are missing; if that is impossible the test
// fails, unless ASYNCFTP_NO_TMUX=1 says to do without.
func TestCompletionInTmux(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "complete-tmux.sh"))
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
			t.Skipf("tmux or bash-completion is not available and ASYNCFTP_NO_TMUX=1: the shell completion check did NOT run\n%s", out)
		}
		t.Fatalf("tmux or bash-completion is not available and could not be installed, so completion cannot be checked in bash; "+
			"install them, or set ASYNCFTP_NO_TMUX=1 to do without this check\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "complete-tmux: PASS") {
		t.Fatalf("complete-tmux.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
