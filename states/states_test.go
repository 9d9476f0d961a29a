package states

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/looplab/fsm"
)

func allEvents() []string {
	var evs []string
	for _, e := range Table {
		if !slices.Contains(evs, e.Name) {
			evs = append(evs, e.Name)
		}
	}
	return evs
}

// TestCallbackKeysNameRealThings guards against typos: looplab/fsm ignores a
// callback whose key names no state or event.
func TestCallbackKeysNameRealThings(t *testing.T) {
	states, events := All(), allEvents()
	general := []string{"before_event", "leave_state", "enter_state", "after_event"}
	if len(Callbacks) == 0 {
		t.Fatal("no callbacks: the observer would never hear of a state change")
	}
	for key := range Callbacks {
		if slices.Contains(general, key) || slices.Contains(states, key) || slices.Contains(events, key) {
			continue
		}
		ok := false
		for prefix, names := range map[string][]string{
			"before_": events, "after_": events, "leave_": states, "enter_": states,
		} {
			if name, found := strings.CutPrefix(key, prefix); found && slices.Contains(names, name) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("callback key %q names no state or event: looplab/fsm would silently ignore it", key)
		}
	}
}

func TestTableShape(t *testing.T) {
	states := All()
	if len(states) != 13 || !slices.Contains(states, Closed) || !slices.Contains(states, Failed) {
		t.Fatalf("All() = %v", states)
	}
	seen := map[string]bool{}
	for _, e := range Table {
		for _, s := range append(slices.Clone(e.Src), e.Dst) {
			if !slices.Contains(states, s) {
				t.Errorf("event %q uses unknown state %q", e.Name, s)
			}
			seen[s] = true
		}
		for _, s := range e.Src {
			if Terminal(s) {
				t.Errorf("event %q leaves terminal state %q", e.Name, s)
			}
		}
	}
	for _, s := range states {
		if !seen[s] {
			t.Errorf("state %q appears in no event", s)
		}
		if Terminal(s) != (s == Closed || s == Failed) {
			t.Errorf("Terminal(%q) = %v", s, Terminal(s))
		}
	}
	// Every event constant is in the table.
	for _, e := range []string{Connected, Secure, SendUser, SendPass, SendAcct, LoggedIn, Send, Done,
		OpenData, Transfer, TransferDone, Quit, Close, Fail} {
		if !slices.Contains(allEvents(), e) {
			t.Errorf("event %q is not in the table", e)
		}
	}
}

// TestEveryLiveStateCanEnd walks the table: from every live state Closed and
// Failed are reachable, and Close and Fail lead there in one step.
func TestEveryLiveStateCanEnd(t *testing.T) {
	next := map[string][]string{}
	for _, e := range Table {
		for _, s := range e.Src {
			next[s] = append(next[s], e.Dst)
		}
	}
	reach := func(from string) map[string]bool {
		seen := map[string]bool{from: true}
		todo := []string{from}
		for len(todo) > 0 {
			s := todo[0]
			todo = todo[1:]
			for _, d := range next[s] {
				if !seen[d] {
					seen[d] = true
					todo = append(todo, d)
				}
			}
		}
		return seen
	}
	for _, s := range All() {
		if Terminal(s) {
			if len(next[s]) != 0 {
				t.Errorf("terminal state %q has moves to %v", s, next[s])
			}
			continue
		}
		r := reach(s)
		if !r[Closed] || !r[Failed] {
			t.Errorf("from %q: Closed reachable %v, Failed reachable %v", s, r[Closed], r[Failed])
		}
		for ev, want := range map[string]string{Close: Closed, Fail: Failed} {
			f := New()
			f.SetState(s)
			if err := f.Event(context.Background(), ev); err != nil || f.Current() != want {
				t.Errorf("%s from %q: %v, now %q", ev, s, err, f.Current())
			}
		}
	}
	// Connecting reaches every state.
	if r := reach(Connecting); len(r) != len(All()) {
		t.Errorf("from Connecting only %v are reachable", r)
	}
	for _, s := range []string{Closed, Failed} {
		f := New()
		f.SetState(s)
		if ts := f.AvailableTransitions(); len(ts) != 0 {
			t.Errorf("%q offers %v", s, ts)
		}
		for _, ev := range allEvents() {
			err := f.Event(context.Background(), ev)
			var inv fsm.InvalidEventError
			if !errors.As(err, &inv) || f.Current() != s {
				t.Errorf("%s from %q: %v, now %q", ev, s, err, f.Current())
			}
		}
	}
}

// TestNewMatchesFresh checks the cheap clone against a machine built the
// ordinary way, on every (state, event) pair.
func TestNewMatchesFresh(t *testing.T) {
	for _, s := range All() {
		a, b := New(), Fresh()
		a.SetState(s)
		b.SetState(s)
		for _, ev := range append(allEvents(), "no_such_event") {
			if a.Can(ev) != b.Can(ev) {
				t.Errorf("state %q event %q: New().Can = %v, Fresh().Can = %v", s, ev, a.Can(ev), b.Can(ev))
			}
		}
		at, bt := a.AvailableTransitions(), b.AvailableTransitions()
		slices.Sort(at)
		slices.Sort(bt)
		if !slices.Equal(at, bt) {
			t.Errorf("state %q: transitions %v vs %v", s, at, bt)
		}
		for _, ev := range allEvents() {
			a, b := New(), Fresh()
			a.SetState(s)
			b.SetState(s)
			ea, eb := a.Event(context.Background(), ev), b.Event(context.Background(), ev)
			if (ea == nil) != (eb == nil) || a.Current() != b.Current() {
				t.Errorf("state %q event %q: New gives %v → %q, Fresh gives %v → %q", s, ev, ea, a.Current(), eb, b.Current())
			}
		}
	}
	if New().Current() != Connecting || Fresh().Current() != Connecting {
		t.Error("machines do not start in Connecting")
	}
}

// recorder is an Observer.
type recorder struct{ moves []string }

func (r *recorder) StateChanged(from, to, event string) {
	r.moves = append(r.moves, from+" -"+event+"-> "+to)
}

func TestClonesAreIndependent(t *testing.T) {
	a, b := New(), New()
	ra, rb := &recorder{}, &recorder{}
	ctx := context.Background()
	for _, ev := range []string{Connected, SendUser, SendPass, LoggedIn, Send} {
		if err := a.Event(ctx, ev, ra); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	if err := b.Event(ctx, Connected, rb); err != nil {
		t.Fatal(err)
	}
	if err := b.Event(ctx, Fail, rb); err != nil {
		t.Fatal(err)
	}
	if a.Current() != Command || b.Current() != Failed {
		t.Fatalf("a in %q, b in %q", a.Current(), b.Current())
	}
	if c := New(); c.Current() != Connecting {
		t.Fatalf("a new clone starts in %q", c.Current())
	}
	want := []string{"connecting -connected-> greeting", "greeting -send_user-> user_sent",
		"user_sent -send_pass-> pass_sent", "pass_sent -logged_in-> ready", "ready -send-> command"}
	if !slices.Equal(ra.moves, want) {
		t.Errorf("observer of a saw %q", ra.moves)
	}
	if !slices.Equal(rb.moves, []string{"connecting -connected-> greeting", "greeting -fail-> failed"}) {
		t.Errorf("observer of b saw %q", rb.moves)
	}
	// An illegal move is refused and changes nothing.
	err := a.Event(ctx, LoggedIn, ra)
	var inv fsm.InvalidEventError
	if !errors.As(err, &inv) || a.Current() != Command {
		t.Errorf("LoggedIn from Command: %v, now %q", err, a.Current())
	}
}

// TestClonesInParallel moves many clones at once; run with -race.
func TestClonesInParallel(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				f := New()
				evs := []string{Connected, SendUser, LoggedIn, OpenData, Transfer, TransferDone, Quit, Close}
				if i%2 == 0 {
					evs = []string{Connected, Fail}
				}
				for _, ev := range evs {
					if err := f.Event(context.Background(), ev, &recorder{}); err != nil {
						t.Errorf("%s: %v", ev, err)
						return
					}
				}
				if !Terminal(f.Current()) {
					t.Errorf("ended in %q", f.Current())
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDiagram(t *testing.T) {
	d, err := Diagram()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d, "stateDiagram") {
		t.Errorf("not a Mermaid state diagram:\n%s", d)
	}
	for _, e := range Table {
		for _, s := range e.Src {
			if !strings.Contains(d, s+" --> "+e.Dst+": "+e.Name) {
				t.Errorf("diagram lacks %s --> %s: %s", s, e.Dst, e.Name)
			}
		}
	}
}

// BenchmarkNew compares the clone with a machine built by fsm.NewFSM.
func BenchmarkNew(b *testing.B) {
	b.Run("New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = New()
		}
	})
	b.Run("Fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Fresh()
		}
	})
}
