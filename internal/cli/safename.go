package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/asyncftp/asyncftp/ftp"
)

// SafeName checks a name that a server supplied (a listing entry) before it
// becomes a local file name. It refuses, with an error that wraps
// ftp.ErrUnsafePath: the empty name, "." and "..", names holding a path
// separator ('/' or '\', which covers absolute paths and "../x"), names
// holding NUL, and anything else filepath.IsLocal rejects on this system
// (such as reserved device names on Windows). A name that merely contains two
// dots, like "v1..2.txt", is an ordinary name and is allowed: without
// separators it cannot climb out of its folder.
func SafeName(name string) error {
	reason := ""
	switch {
	case name == "":
		reason = "empty name"
	case name == "." || name == "..":
		reason = "names a folder itself"
	case strings.ContainsRune(name, 0):
		reason = "contains NUL"
	case strings.ContainsAny(name, `/\`):
		reason = "contains a path separator"
	case !filepath.IsLocal(name):
		reason = "not a plain local name"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ftp.ErrUnsafePath, safeText(name), reason)
}
