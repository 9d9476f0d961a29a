package engine

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// dialers runs the engine's blocking dials on goroutines that live on between
// dials. A fresh goroutine per dial starts on a small stack that net.Dial and
// Client.EnrollContext outgrow, and copying it showed as 6% of a lifecycle
// run's CPU; a goroutine that has dialled once keeps its grown stack. Idle
// ones are let go after about idleTicks engine ticks without a dial, so a
// swarm of idle sessions does not keep them.
type dialers struct {
	jobs  chan func() // an idle dialer takes a job from here; nil ends it
	idle  atomic.Int32
	used  atomic.Bool // a job ran since the last tick
	quiet int         // ticks without a job (ticker goroutine only)
	wg    sync.WaitGroup
	stop  chan struct{}
}

// idleTicks is how many ticks a dialer may sit idle (20 × 50 ms by default).
const idleTicks = 20

func newDialers() *dialers {
	return &dialers{jobs: make(chan func()), stop: make(chan struct{})}
}

// run hands f to an idle dialer, or starts one.
func (p *dialers) run(f func()) {
	p.used.Store(true)
	select {
	case p.jobs <- f:
	default:
		p.wg.Add(1)
		go p.loop(f)
	}
}

func (p *dialers) loop(f func()) {
	defer p.wg.Done()
	for f != nil {
		f()
		p.idle.Add(1)
		select {
		case f = <-p.jobs:
		case <-p.stop:
			f = nil
		}
		p.idle.Add(-1)
	}
}

// tick runs on gnet's ticker goroutine: after idleTicks quiet ticks, idle
// dialers are told to end.
func (p *dialers) tick() {
	if p.used.Swap(false) {
		p.quiet = 0
		return
	}
	if p.quiet++; p.quiet < idleTicks {
		return
	}
	for n := p.idle.Load(); n > 0; n-- {
		select {
		case p.jobs <- nil:
		default:
			return
		}
	}
}

// close ends every dialer once no job can come any more, and waits for them.
func (p *dialers) close() {
	close(p.stop)
	p.wg.Wait()
}

// dialTCP connects to addr, from d.LocalAddr if set. A literal IP:port (every
// data address, and most control addresses in a swarm) skips the resolver:
// Dialer.DialTCP with a parsed address does less work per connection than
// DialContext.
func dialTCP(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	if network == "tcp" {
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			var from netip.AddrPort
			if la, ok := d.LocalAddr.(*net.TCPAddr); ok {
				from = la.AddrPort()
			}
			c, err := d.DialTCP(ctx, network, from, ap)
			if err != nil {
				return nil, err // a nil *TCPConn must not become a non-nil net.Conn
			}
			return c, nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// localAddr returns the source address of the next session (Options.LocalAddrs
// in turn), or nil. A nil *net.TCPAddr must not become a non-nil net.Addr.
func (e *Engine) localAddr() net.Addr {
	n := uint64(len(e.opts.LocalAddrs))
	if n == 0 {
		return nil
	}
	a := e.opts.LocalAddrs[(e.src.Add(1)-1)%n]
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))
}
