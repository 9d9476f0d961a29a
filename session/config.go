package session

import (
	"fmt"
	"io"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/transcript"
)

// Secret is a string that never prints: fmt verbs, %#v, JSON and text marshalling
// all show "****". Passwords are held as Secrets so that printing a Config, an
// error or a log record cannot leak them.
type Secret string

// String masks the secret.
func (Secret) String() string { return "****" }

// GoString masks the secret for %#v.
func (Secret) GoString() string { return `"****"` }

// Format masks the secret for every fmt verb.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, "****") }

// MarshalText masks the secret for encoding/json and friends.
func (Secret) MarshalText() ([]byte, error) { return []byte("****"), nil }

// Reveal returns the secret itself. Only the PASS handler needs it.
func (s Secret) Reveal() string { return string(s) }

// TLSMode says whether and how the control connection is protected.
type TLSMode uint8

// TLS modes.
const (
	TLSNone     TLSMode = iota // plain FTP
	TLSExplicit                // AUTH TLS after the greeting (RFC 4217)
	TLSImplicit                // TLS from the first byte (the driver does it)
)

// Timeouts bound every wait. Zero fields take the defaults shown.
type Timeouts struct {
	Greeting    time.Duration // connect to 220: 15s
	Reply       time.Duration // command to reply: 30s
	DataConnect time.Duration // data connection setup: 15s
	DataIdle    time.Duration // no data bytes for this long: 60s
	Idle        time.Duration // logged in with nothing to do: 0 = forever
}

// Limits bound what a hostile server can make the session hold.
type Limits struct {
	MaxLineLength int   // one reply line: ftp.DefaultMaxLineLength (8 KiB)
	MaxReplyLines int   // one reply: ftp.DefaultMaxReplyLines (1024)
	MaxListing    int64 // one LIST/NLST/MLSD body, when the caller sets no bound: 64 MiB
}

// Config describes one session. A Config may be shared by many sessions (a swarm);
// sessions only read it.
type Config struct {
	User     string // "" means "anonymous"
	Password Secret // "" with anonymous means "anonymous@"
	Account  Secret // for servers that answer 332; never printed either

	TLS         TLSMode // TLSExplicit makes the session send AUTH TLS, then PBSZ 0 and PROT
	ClearData   bool    // with TLS: PROT C instead of PROT P (data in clear)
	DisableEPSV bool    // go straight to PASV
	// TrustPASVHost makes the session connect to the host a 227 reply names. By
	// default it connects to the control connection's host and notes the
	// difference, so a server cannot point the client at a third party.
	TrustPASVHost bool

	// DataMode chooses passive (the default), active (EPRT/PORT: the client
	// listens, the server connects) or auto (passive until the server refuses
	// both EPSV and PASV, then active). See active.go.
	DataMode DataMode
	// Active tunes active mode: the port range to listen on and the address
	// to advertise for a client behind NAT.
	Active ActiveOptions
	// Keepalive, if positive, sends NOOP on the control connection at this
	// interval while a transfer runs longer than it, so that a server or a
	// router does not drop the quiet control connection. Replies are matched
	// whether the server answers at once or after the transfer.
	Keepalive time.Duration
	// IdleKeepalive, if positive, sends NOOP when the session has been idle
	// in Ready this long (pooled sessions waiting for work).
	IdleKeepalive time.Duration

	Timeouts Timeouts // bounds on every wait (zero fields: the defaults)
	Limits   Limits   // bounds on what a server can make the session hold

	// Handlers overrides or extends the built-in handlers (nil: built-in).
	Handlers *handlers.Registry
	// Transcript receives every control line both ways (nil: none). PASS and ACCT
	// arguments are masked before they reach it. Record runs on the session's
	// loop: a sink that may block (a slow pipe) belongs behind transcript.Async.
	Transcript transcript.Sink
	// Now is the clock (nil: time.Now). Tests set it to drive timeouts.
	Now func() time.Time

	// OnState, if set, sees every state change (on the driver's goroutine).
	OnState func(id uint64, from, to, event string)
}

func (c *Config) user() string {
	if c.User == "" {
		return "anonymous"
	}
	return c.User
}

func (c *Config) password() string {
	if c.Password == "" && (c.User == "" || c.User == "anonymous" || c.User == "ftp") {
		return "anonymous@"
	}
	return c.Password.Reveal()
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) registry() *handlers.Registry {
	if c.Handlers != nil {
		return c.Handlers
	}
	return handlers.Builtin()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (c *Config) greetingTimeout() time.Duration {
	return orDefault(c.Timeouts.Greeting, 15*time.Second)
}
func (c *Config) replyTimeout() time.Duration { return orDefault(c.Timeouts.Reply, 30*time.Second) }
func (c *Config) dataConnectTimeout() time.Duration {
	return orDefault(c.Timeouts.DataConnect, 15*time.Second)
}
func (c *Config) dataIdleTimeout() time.Duration {
	return orDefault(c.Timeouts.DataIdle, 60*time.Second)
}

func (c *Config) maxListing() int64 {
	if c.Limits.MaxListing > 0 {
		return c.Limits.MaxListing
	}
	return 64 << 20
}

// Validate refuses credentials that could inject commands.
func (c *Config) Validate() error {
	for _, cmd := range []ftp.Command{{Verb: "USER", Arg: c.User}, {Verb: "PASS", Arg: string(c.Password)}, {Verb: "ACCT", Arg: string(c.Account)}} {
		if err := cmd.Validate(); err != nil {
			return err
		}
	}
	return c.validateActive()
}
