package swarm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strings"

	"github.com/asyncftp/asyncftp/ftp"
)

// Errors of Merge, each also ftp.ErrInvalidArgument; a *MergeError says which
// part and which segments.
var (
	// ErrOtherRun: the parts come from runs with different parameters or
	// different Options.RunID.
	ErrOtherRun = fmt.Errorf("%w: results of different runs", ftp.ErrInvalidArgument)
	// ErrOtherSplit: the parts split the run a different number of ways.
	ErrOtherSplit = fmt.Errorf("%w: results of different splits of the run", ftp.ErrInvalidArgument)
	// ErrOverlap: a segment is given twice.
	ErrOverlap = fmt.Errorf("%w: overlapping segments", ftp.ErrInvalidArgument)
	// ErrMissing: a segment is missing, or a part does not hold what its
	// segment should (its sessions do not add up).
	ErrMissing = fmt.Errorf("%w: missing segments", ftp.ErrInvalidArgument)
)

// MergeError is why Merge refused its parts.
type MergeError struct {
	Err    error // ErrOtherRun, ErrOtherSplit, ErrOverlap or ErrMissing
	Part   int   // index of the offending part in Merge's arguments (-1: none in particular)
	Detail string
}

func (e *MergeError) Error() string {
	s := "swarm: merge: " + e.Err.Error()
	if e.Part >= 0 {
		s += fmt.Sprintf(" (part %d)", e.Part)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns Err.
func (e *MergeError) Unwrap() error { return e.Err }

// Merge adds up the statistics of the segments of one run into the whole run's:
// counts and bytes summed, histograms merged (so the merged percentiles are
// those of every session's timing together, within the histograms' precision),
// the exact maxima and the wall time the largest of the parts'. It refuses, with
// a *MergeError, parts of different runs (Run differs), of different splits
// (Segment.N differs), a segment given twice, a missing segment, and a part
// whose session count is not its segment's share of the run's jobs.
func Merge(parts ...Stats) (Stats, error) {
	if len(parts) == 0 {
		return Stats{}, &MergeError{Err: ErrMissing, Part: -1, Detail: "nothing to merge"}
	}
	first := parts[0]
	n := first.Segment.norm().N
	seen := make(map[int]int, len(parts))
	out := Stats{Run: first.Run, Segment: Whole, Jobs: first.Jobs, Errors: map[string]int{}}
	for i, p := range parts {
		seg := p.Segment.norm()
		switch {
		case p.Run != first.Run || p.Jobs != first.Jobs:
			return Stats{}, &MergeError{Err: ErrOtherRun, Part: i,
				Detail: fmt.Sprintf("run %s of %d jobs, but part 0 is run %s of %d jobs", p.Run, p.Jobs, first.Run, first.Jobs)}
		case seg.Validate() != nil:
			return Stats{}, &MergeError{Err: ErrOtherSplit, Part: i, Detail: fmt.Sprintf("segment %d/%d names no slice", seg.I, seg.N)}
		case seg.N != n:
			return Stats{}, &MergeError{Err: ErrOtherSplit, Part: i,
				Detail: fmt.Sprintf("segment %s, but part 0 is one of %d", seg, n)}
		}
		if j, dup := seen[seg.I]; dup {
			return Stats{}, &MergeError{Err: ErrOverlap, Part: i, Detail: fmt.Sprintf("segment %s is also part %d", seg, j)}
		}
		seen[seg.I] = i
		if want := seg.Share(p.Jobs); p.Sessions != want || p.OK+p.Failed != p.Sessions {
			return Stats{}, &MergeError{Err: ErrMissing, Part: i,
				Detail: fmt.Sprintf("segment %s of %d jobs should hold %d sessions, holds %d (%d ok, %d failed)", seg, p.Jobs, want, p.Sessions, p.OK, p.Failed)}
		}
		out.Sessions += p.Sessions
		out.OK += p.OK
		out.Failed += p.Failed
		out.Bytes += p.Bytes
		for k, v := range p.Errors {
			out.Errors[k] += v
		}
		out.Wall = max(out.Wall, p.Wall)
		out.Connect.merge(&p.Connect)
		out.Login.merge(&p.Login)
		out.Total.merge(&p.Total)
	}
	if len(seen) != n {
		var missing []string
		for i := 0; i < n; i++ {
			if _, ok := seen[i]; !ok {
				missing = append(missing, Segment{I: i, N: n}.String())
			}
		}
		return Stats{}, &MergeError{Err: ErrMissing, Part: -1, Detail: "no results for " + strings.Join(missing, ", ")}
	}
	out.Connect.summarise()
	out.Login.summarise()
	out.Total.summarise()
	return out, nil
}

func (l *Latency) merge(o *Latency) {
	l.Hist.Merge(&o.Hist)
	l.Max = max(l.Max, o.Max)
}

// Fingerprint identifies a run: a hash of id (Options.RunID: a name for this
// particular run, such as a Kubernetes Job's uid or a timestamp), the number
// of jobs, each job's address, user and script, and the caps (Concurrency,
// Rate, Hold). Every segment of one run computes the same fingerprint; results
// of runs that differ in any of these do not merge. Passwords are not hashed.
func Fingerprint(id string, jobs []Job, opts Options) string {
	return fingerprint(id, len(jobs), func(i int) Job { return jobs[i] }, opts)
}

func fingerprint(id string, total int, job func(int) Job, opts Options) string {
	h := sha256.New()
	str := func(s string) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	num := func(v uint64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	str("asyncftp swarm run v1")
	str(id)
	num(uint64(total))
	num(uint64(opts.Concurrency))
	num(math.Float64bits(opts.Rate))
	if opts.Hold {
		num(1)
	} else {
		num(0)
	}
	// Jobs usually share a handful of scripts: hash each distinct one once.
	scripts := map[scriptKey]uint64{}
	for i := 0; i < total; i++ {
		j := job(i)
		str(j.Addr)
		if j.Config != nil {
			str(j.Config.User)
		}
		num(scriptID(h, scripts, j.Script))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// scriptID hashes a script's commands into h the first time it is seen and
// returns a number for it.
type scriptKey struct {
	first *Step
	n     int
}

func scriptID(h hash.Hash, seen map[scriptKey]uint64, s []Step) uint64 {
	if len(s) == 0 {
		return 0
	}
	key := scriptKey{&s[0], len(s)}
	if id, ok := seen[key]; ok {
		return id
	}
	id := uint64(len(seen) + 1)
	seen[key] = id
	for _, st := range s {
		data := "-"
		if st.Data != nil {
			data = "data"
		}
		fmt.Fprintf(h, "%d:%s|%d:%s|%s;", len(st.Cmd.Verb), st.Cmd.Verb, len(st.Cmd.Arg), st.Cmd.Arg, data)
	}
	fmt.Fprintf(h, "end%d;", len(s))
	return id
}
