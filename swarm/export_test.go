package swarm

import (
	"fmt"
	"time"

	"github.com/asyncftp/asyncftp/session"
)

// DebugLive describes the sessions still open, as seen from their loops: a
// hung test logs it to say where each session stands.
func DebugLive(s *Swarm) []string {
	s.mu.Lock()
	var live []*run
	for _, r := range s.live {
		if r != nil {
			live = append(live, r)
		}
	}
	s.mu.Unlock()
	var out []string
	for _, r := range live {
		if r.conn == nil {
			out = append(out, fmt.Sprintf("job %d: no conn yet (connecting=%v)", r.idx, r.connecting))
			continue
		}
		ch := make(chan string, 1)
		r.conn.Run(func(ss *session.Session) {
			ch <- fmt.Sprintf("job %d: step %d ended=%v holding=%v err=%v; session state %s busy=%v deadline=%v cmd=%q serr=%v",
				r.idx, r.step, r.ended, r.holding, r.err, ss.State(), ss.Busy(), ss.Deadline(), ss.Command().Verb, ss.Err())
		})
		select {
		case d := <-ch:
			out = append(out, d)
		case <-time.After(2 * time.Second):
			out = append(out, fmt.Sprintf("job %d: its loop did not answer", r.idx))
		}
	}
	return out
}
