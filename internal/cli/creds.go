package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	netrc "github.com/git-lfs/go-netrc/netrc"

	"github.com/asyncftp/asyncftp/session"
)

// PasswordEnv names the environment variable that supplies a password.
const PasswordEnv = "ASYNCFTP_PASSWORD"

// Creds are the login credentials for one URL, and where they came from.
type Creds struct {
	User     string
	Password session.Secret
	Account  string
	Source   string // "url", "env", "netrc", "anonymous": for messages, never the secret
}

// anonymous reports whether user logs in anonymously.
func anonymous(user string) bool { return user == "" || user == "anonymous" || user == "ftp" }

// netrcPath returns $NETRC, or ~/.netrc, or "" when there is no home.
func netrcPath(getenv func(string) string) string {
	if p := getenv("NETRC"); p != "" {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		home = h
	}
	return filepath.Join(home, ".netrc")
}

// ResolveCreds picks the credentials for t: the URL's user and password, then
// the password in ASYNCFTP_PASSWORD, then the netrc file, then anonymous. The
// warnings are for the user's eyes (a netrc that cannot be read, one that
// others may read); they never hold a password.
func ResolveCreds(t *Target, getenv func(string) string) (c Creds, warnings []string) {
	c.User = t.User
	c.Source = "anonymous"
	if t.HasPass {
		c.Password, c.Source = t.Pass, "url"
	}
	envPass, envSet := getenv(PasswordEnv), getenv(PasswordEnv) != ""

	// netrc: only consulted when something is still missing.
	var m *netrc.Machine
	if !t.HasPass {
		path := netrcPath(getenv)
		if path != "" {
			n, err := netrc.ParseFile(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				// The library's errors name a line, never a value.
				warnings = append(warnings, fmt.Sprintf("ignoring %s: %v", path, err))
			default:
				m = n.FindMachine(t.Host, t.User)
				if m != nil && m.Password != "" {
					if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
						warnings = append(warnings, fmt.Sprintf("%s holds passwords and can be read by others: chmod 600 %s", path, path))
					}
				}
			}
		}
	}
	if c.User == "" && m != nil && m.Login != "" {
		c.User = m.Login
	}
	if !t.HasPass {
		switch {
		case envSet && !anonymous(c.User):
			c.Password, c.Source = session.Secret(envPass), "env"
		case m != nil && (m.Login == "" || m.Login == c.User) && m.Password != "":
			c.Password, c.Source = session.Secret(m.Password), "netrc"
		}
	}
	if m != nil && (m.Login == "" || m.Login == c.User) {
		c.Account = m.Account
	}
	if c.Source == "anonymous" && !anonymous(c.User) && c.Password == "" {
		c.Source = "none"
	}
	return c, warnings
}
