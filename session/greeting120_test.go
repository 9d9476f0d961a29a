package session

import (
	"testing"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/states"
)

// A server that answers 120 "ready in a while" over and over cannot hold the
// session in Greeting past the greeting timeout: 120s do not extend it.
func TestRepeated120IsBoundedByTheGreetingTimeout(t *testing.T) {
	r := newRig(t, &Config{Timeouts: Timeouts{Greeting: time.Second}})
	for i := 0; i < 9; i++ {
		r.advance(100 * time.Millisecond)
		r.recv("120 ready in a few minutes")
		r.state(states.Greeting)
	}
	r.advance(200 * time.Millisecond) // 1.1 s after connecting
	r.failed(ftp.ErrTimeout)
	r.sent()
}
