package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/asyncftp/asyncftp/session"
)

// Target is a parsed ftp:// or ftps:// URL.
type Target struct {
	Scheme  string // "ftp" or "ftps"
	Host    string // host name or address, without brackets
	Port    int
	User    string // "" when the URL names none
	Pass    session.Secret
	HasPass bool   // the URL carried a password (possibly empty)
	Path    string // as the server should see it: "" is the login folder
	TLS     session.TLSMode
}

// Addr returns host:port for dialling.
func (t *Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String returns the URL with the password masked, safe to print.
func (t *Target) String() string {
	u := url.URL{Scheme: t.Scheme, Host: t.Addr()}
	if t.User != "" {
		u.User = url.User(t.User)
	}
	s := u.String()
	if t.HasPass {
		// url.UserPassword would escape the asterisks.
		s = strings.Replace(s, "@", ":****@", 1)
	}
	p := t.Path
	if strings.HasPrefix(p, "/") {
		p = "/%2F" + escapePath(p[1:])
	} else {
		p = "/" + escapePath(p)
	}
	return s + p
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// ParseURL parses ftp://[user[:pass]@]host[:port]/path and ftps://...
// Percent-escapes are decoded in the user, password and path. The path is
// relative to the login folder, as RFC 1738 has it, unless it starts with
// %2F, which makes it absolute: ftp://h/pub/x is "pub/x", ftp://h/%2Fpub/x is
// "/pub/x". ftps:// means implicit FTPS on port 990 by default.
func ParseURL(raw string) (*Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included: say less.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("malformed URL: %v", ue.Err)
		}
		return nil, fmt.Errorf("malformed URL")
	}
	t := &Target{Scheme: strings.ToLower(u.Scheme)}
	switch t.Scheme {
	case "ftp":
		t.Port = 21
	case "ftps":
		t.Port = 990
		t.TLS = session.TLSImplicit
	case "":
		return nil, fmt.Errorf("%q is not a URL: write ftp://HOST/PATH", redactArg(raw))
	default:
		return nil, fmt.Errorf("unsupported scheme %q: use ftp:// or ftps://", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("malformed URL: write %s://HOST/PATH", t.Scheme)
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return nil, fmt.Errorf("URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad port %q", p)
		}
		t.Port = n
	}
	if u.User != nil {
		t.User = u.User.Username()
		pw, ok := u.User.Password()
		t.Pass, t.HasPass = session.Secret(pw), ok
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("URL has a query or fragment; percent-encode '?' as %%3F and '#' as %%23")
	}
	// u.Path is decoded; a leading %2F shows up as a second slash.
	t.Path = strings.TrimPrefix(u.Path, "/")
	for _, r := range t.Path {
		if r == 0 || r == '\r' || r == '\n' {
			return nil, fmt.Errorf("URL path holds a NUL, CR or LF")
		}
	}
	return t, nil
}

// redactArg hides anything that looks like a password in a command-line
// argument before it is echoed in an error message.
func redactArg(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "…" + s[i:]
	}
	return s
}

// remoteJoin joins a remote directory and a name. dir "" is the login folder.
func remoteJoin(dir, name string) string {
	switch {
	case dir == "":
		return name
	case strings.HasSuffix(dir, "/"):
		return dir + name
	}
	return dir + "/" + name
}

// remoteBase returns the last element of a remote path ("" for none).
func remoteBase(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// remoteDir returns the remote path without its last element.
func remoteDir(p string) string {
	p = strings.TrimRight(p, "/")
	i := strings.LastIndex(p, "/")
	switch {
	case i < 0:
		return ""
	case i == 0:
		return "/"
	}
	return p[:i]
}
