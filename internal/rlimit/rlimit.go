// Package rlimit raises the process's open-file limit (RLIMIT_NOFILE) for runs
// that hold many sockets, and explains plainly when the hard limit is too low.
package rlimit

import (
	"fmt"
	"syscall"
)

// Margin is what Ensure adds to a caller's estimate for the descriptors every
// process holds anyway: standard streams, epoll instances, the engine's anchor
// socket pairs, listeners, files opened by the runtime.
const Margin = 64

// Limit reports the current soft and hard RLIMIT_NOFILE.
func Limit() (soft, hard uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("rlimit: getrlimit: %w", err)
	}
	return r.Cur, r.Max, nil
}

// Estimate is the number of descriptors a swarm needs: one per session held
// open (its control connection), one per data connection in flight, and Margin.
func Estimate(sessions, dataInFlight int) uint64 {
	return uint64(sessions) + uint64(dataInFlight) + Margin
}

// TooLowError says that the hard limit cannot cover what was asked for.
type TooLowError struct {
	Need uint64 // descriptors the run needs (Estimate)
	Soft uint64 // the soft limit in force
	Hard uint64 // the hard limit, which an unprivileged process cannot raise
}

// Error says what the run needs, both limits, and what to do about it.
func (e *TooLowError) Error() string {
	return fmt.Sprintf("open-file limit too low: this run needs about %d descriptors, "+
		"the hard limit (ulimit -Hn) is %d and the soft limit (ulimit -n) is %d; "+
		"lower the concurrency, or raise the hard limit "+
		"(as root: ulimit -Hn %d in the shell that starts the run, "+
		"LimitNOFILE= in a systemd unit, or a nofile line in /etc/security/limits.conf)",
		e.Need, e.Hard, e.Soft, e.Need)
}

// Ensure makes sure that at least need descriptors may be open. If the soft
// limit is lower it raises it to the hard limit (never above); if the hard
// limit itself is lower than need it returns a *TooLowError and changes
// nothing. It returns the soft limit now in force.
func Ensure(need uint64) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("rlimit: getrlimit: %w", err)
	}
	if need <= r.Cur {
		return r.Cur, nil
	}
	if need > r.Max {
		return r.Cur, &TooLowError{Need: need, Soft: r.Cur, Hard: r.Max}
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("rlimit: raising the soft open-file limit to %d: %w", r.Max, err)
	}
	return r.Cur, nil
}
