// Package states is the single, visible table of legal moves of an FTP session:
// its states, its events, and the looplab/fsm machine built from them.
//
// Handlers decide which event to fire; the machine refuses any move the table does
// not list. The table is built once and shared by every session, so a session's
// machine costs little more than its current state (see [New]).
package states

import (
	"context"
	"reflect"

	"github.com/looplab/fsm"
)

// States of a session. Closed and Failed are terminal.
const (
	Connecting   = "connecting"   // dialling the control connection
	Greeting     = "greeting"     // connected, waiting for the 220 greeting
	Securing     = "securing"     // AUTH TLS sent, TLS handshake under way
	UserSent     = "user_sent"    // USER sent
	PassSent     = "pass_sent"    // PASS sent
	AcctSent     = "acct_sent"    // ACCT sent
	Ready        = "ready"        // logged in, nothing in flight
	Command      = "command"      // one command in flight
	DataOpening  = "data_opening" // EPSV/PASV/EPRT/PORT and the data connection under way
	Transferring = "transferring" // data command accepted, bytes moving
	Quitting     = "quitting"     // QUIT sent
	Closed       = "closed"       // ended cleanly
	Failed       = "failed"       // ended with an error
)

// Events that move a session.
const (
	Connected    = "connected"     // control connection is up
	Secure       = "secure"        // AUTH TLS sent
	SendUser     = "send_user"     // USER sent
	SendPass     = "send_pass"     // server wants a password
	SendAcct     = "send_acct"     // server wants an account
	LoggedIn     = "logged_in"     // 230/202
	Send         = "send"          // a plain command goes out
	Done         = "done"          // its final reply arrived
	OpenData     = "open_data"     // a transfer begins with its data-channel setup
	Transfer     = "transfer"      // the data command was accepted (1xx) or data flows
	TransferDone = "transfer_done" // the transfer ended, well or not; control is usable
	Quit         = "quit"          // QUIT sent
	Close        = "close"         // ended on purpose
	Fail         = "fail"          // ended by an error
)

// live lists every non-terminal state: Close and Fail are legal from each of them,
// so no error path can leave a session stranded.
var live = []string{Connecting, Greeting, Securing, UserSent, PassSent, AcctSent,
	Ready, Command, DataOpening, Transferring, Quitting}

// Table is the transition table every session shares. Read it as documentation:
// it is the whole protocol flow.
var Table = fsm.Events{
	{Name: Connected, Src: []string{Connecting}, Dst: Greeting},
	{Name: Secure, Src: []string{Greeting}, Dst: Securing},
	{Name: SendUser, Src: []string{Greeting, Securing}, Dst: UserSent},
	{Name: SendPass, Src: []string{UserSent}, Dst: PassSent},
	{Name: SendAcct, Src: []string{UserSent, PassSent}, Dst: AcctSent},
	{Name: LoggedIn, Src: []string{UserSent, PassSent, AcctSent}, Dst: Ready},
	{Name: Send, Src: []string{Ready}, Dst: Command},
	{Name: Done, Src: []string{Command}, Dst: Ready},
	{Name: OpenData, Src: []string{Ready}, Dst: DataOpening},
	{Name: Transfer, Src: []string{DataOpening}, Dst: Transferring},
	{Name: TransferDone, Src: []string{DataOpening, Transferring}, Dst: Ready},
	{Name: Quit, Src: []string{Ready}, Dst: Quitting},
	{Name: Close, Src: live, Dst: Closed},
	{Name: Fail, Src: live, Dst: Failed},
}

// Observer is told about every state change. A session passes itself as the
// first argument of every event so the shared callbacks can reach it.
type Observer interface {
	// StateChanged reports that event moved the machine from one state to another.
	StateChanged(from, to, event string)
}

// Callbacks are shared by every session. They only report; they never fire
// events (looplab/fsm deadlocks when a callback does).
var Callbacks = fsm.Callbacks{
	"enter_state": func(_ context.Context, e *fsm.Event) {
		if len(e.Args) > 0 {
			if o, ok := e.Args[0].(Observer); ok {
				o.StateChanged(e.Src, e.Dst, e.Event)
			}
		}
	},
}

// Terminal reports whether no event can leave state s.
func Terminal(s string) bool { return s == Closed || s == Failed }

// All returns every state, in the order of the flow.
func All() []string { return append(append([]string(nil), live...), Closed, Failed) }

// prototype holds the transition and callback maps that every session shares.
var prototype = fsm.NewFSM(Connecting, Table, Callbacks)

// New returns a machine in state Connecting.
//
// fsm.NewFSM builds its maps per instance from the table: 7.7 KiB in 19
// allocations for this table (BenchmarkNew, Go 1.26), which would be most of an
// idle session's memory. New copies a prototype machine instead (128 B, one
// allocation): the copy shares the maps and owns its current state and locks.
// The transition and callback maps are never written after construction; the
// metadata map is shared too, so a machine from New must not use SetMetadata.
func New() *fsm.FSM {
	f := new(fsm.FSM)
	reflect.ValueOf(f).Elem().Set(reflect.ValueOf(prototype).Elem())
	return f
}

// Fresh builds a machine the ordinary way, with maps of its own. The state
// diagram is drawn from one, and tests compare it with [New].
func Fresh() *fsm.FSM { return fsm.NewFSM(Connecting, Table, Callbacks) }

// Diagram renders the table as a Mermaid state diagram.
func Diagram() (string, error) {
	return fsm.VisualizeWithType(Fresh(), fsm.MermaidStateDiagram)
}
