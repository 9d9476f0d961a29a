package netdriver

import (
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// The executor runs each submitter's functions in order, never two at once,
// lets a running function submit more, and after stop still runs what comes,
// on the submitter, one at a time.
func TestExecutorSerialisesInOrder(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := newExecutor()
	const producers, each = 8, 500
	var (
		running int // touched only by submitted functions: the race detector checks the claim
		maxRun  int
		seen    [producers][]int
	)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e.submit(func() {
					running++
					maxRun = max(maxRun, running)
					seen[p] = append(seen[p], i)
					running--
				})
			}
		}()
	}
	wg.Wait()
	var order []string
	e.call(func() {
		order = append(order, "outer")
		e.submit(func() { order = append(order, "nested") }) // runs after outer returns
		order = append(order, "outer end")
	})
	e.call(func() {})
	if want := []string{"outer", "outer end", "nested"}; !slices.Equal(order, want) {
		t.Errorf("re-entrant submit ran as %v, want %v", order, want)
	}
	for p := range producers {
		if len(seen[p]) != each {
			t.Fatalf("producer %d: %d functions ran, want %d", p, len(seen[p]), each)
		}
		for i, v := range seen[p] {
			if v != i {
				t.Fatalf("producer %d: function %d ran in place %d", p, v, i)
			}
		}
	}
	if maxRun != 1 {
		t.Errorf("%d functions ran at once", maxRun)
	}

	e.submit(e.stop)
	<-e.done
	// After exit: functions run on the submitter, nested ones after the outer.
	order = nil
	e.call(func() {
		order = append(order, "late")
		e.submit(func() { order = append(order, "late nested") })
	})
	if want := []string{"late", "late nested"}; !slices.Equal(order, want) {
		t.Errorf("after exit ran %v, want %v", order, want)
	}
}
