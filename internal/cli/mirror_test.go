package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/asyncftp/asyncftp/ftp"
)

func TestMirrorCheckLocal(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "target")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "real", "deep"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"inside":      "real",                     // relative, stays in
		"inside-abs":  filepath.Join(dir, "real"), // absolute, stays in
		"out":         outside,                    // leads out
		"out-rel":     "../outside",               // leads out, relatively
		"dangling":    "missing",                  // goes nowhere
		"real/up":     "../../outside",            // out from a subfolder
		"real/upsafe": "../real/deep",             // up and back in
		"loop":        "loop",                     // a link to itself
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	real, _ := filepath.EvalSymlinks(dir)
	m := &mirror{root: root, dir: dir, realDir: real}

	for _, ok := range []string{"new.txt", "real/x", "real/deep/x", "inside/x", "real/upsafe/x", "new/dir/x"} {
		if err := m.checkLocal(ok); err != nil {
			t.Errorf("checkLocal(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"out", "out/x", "out-rel/x", "dangling", "real/up/x", "loop/x", "inside-abs/x"} {
		if err := m.checkLocal(bad); !errors.Is(err, ftp.ErrUnsafePath) {
			t.Errorf("checkLocal(%q) = %v, want ErrUnsafePath", bad, err)
		}
	}
}
