package swarm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/asyncftp/asyncftp/ftp"
)

// Segment is the I-th of N disjoint slices of a run (0 ≤ I < N), so that N
// processes, each given the whole job list and the whole run's caps and one
// Segment, together do exactly the work of one swarm. The zero value is the
// whole run.
//
// The rule, the same for every quantity:
//
//   - Jobs are dealt round-robin: job i belongs to segment i mod N. Segment I
//     runs jobs I, I+N, I+2N, …: ⌈(n−I)/N⌉ of the n jobs, and every job is in
//     exactly one segment. Dealing (rather than cutting the list into N
//     blocks) keeps every segment busy from the start and spreads any pattern
//     in the list, such as a faulty job every tenth, evenly.
//   - Concurrency C is dealt the same way: segment I gets ⌈(C−I)/N⌉ slots, so
//     the shares add up to C, and a segment never gets fewer slots than jobs
//     when C is at least the number of jobs (which Hold needs). A split that
//     would leave a segment with jobs but no slot (C < N) is refused.
//   - The rate is split by keeping the whole run's timetable: job i may not
//     start before i/Rate seconds after the run began, whichever segment runs
//     it. Segment I thus opens its jobs at Rate × (its jobs / n) per second,
//     and the segments' rates add up to Rate, without a gap or an overlap
//     between them. The run begins at Options.StartAt if set (give every
//     segment the same), else when each process calls Start: then the
//     timetables line up as well as the processes' start times do.
//
// MaxConnecting is a limit of one process (its dials in flight), not of the
// run: every segment keeps the whole value.
type Segment struct {
	I int // which slice, from 0
	N int // how many slices in all (0 or 1: the whole run)
}

// Whole is the segment that is the whole run.
var Whole = Segment{I: 0, N: 1}

func (s Segment) norm() Segment {
	if s.N == 0 && s.I == 0 {
		return Whole
	}
	return s
}

// Validate reports a segment that names no slice: N < 1, or I outside [0, N).
func (s Segment) Validate() error {
	s = s.norm()
	if s.N < 1 || s.I < 0 || s.I >= s.N {
		return fmt.Errorf("%w: swarm: segment %d/%d: want 0 ≤ I < N", ftp.ErrInvalidArgument, s.I, s.N)
	}
	return nil
}

// String returns "I/N".
func (s Segment) String() string {
	s = s.norm()
	return strconv.Itoa(s.I) + "/" + strconv.Itoa(s.N)
}

// ParseSegment reads "I/N", as String writes it.
func ParseSegment(v string) (Segment, error) {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 {
		return Segment{}, fmt.Errorf("%w: swarm: segment %q: want I/N, such as 0/4", ftp.ErrInvalidArgument, v)
	}
	s := Segment{I: i, N: n}
	if err := s.Validate(); err != nil {
		return Segment{}, err
	}
	return s, nil
}

// Share returns this segment's part of a total dealt round-robin: how many of
// 0…total−1 are I modulo N. Shares of the N segments add up to total.
func (s Segment) Share(total int) int {
	s = s.norm()
	if total <= s.I {
		return 0
	}
	return (total - s.I + s.N - 1) / s.N
}

// Contains reports whether job i belongs to the segment.
func (s Segment) Contains(i int) bool {
	s = s.norm()
	return i >= 0 && i%s.N == s.I
}

// Jobs returns the indices of the jobs, out of n, that the segment runs, in
// the order it starts them.
func (s Segment) Jobs(n int) []int {
	s = s.norm()
	out := make([]int, 0, s.Share(n))
	for i := s.I; i < n; i += s.N {
		out = append(out, i)
	}
	return out
}
