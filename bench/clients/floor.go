// Package clients holds the blocking FTP clients the benchmark compares with
// asyncftp: the floor (net.Conn + bufio, barely parsing), jlaffaye/ftp, and
// asyncftp's own blocking client on package netdriver; with or without FTPS.
package clients

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncftp/asyncftp/internal/benchrun"
)

// ReadBuf is the read buffer of every blocking transfer: the size of gnet's
// read buffer, so that bigretr compares like with like.
const ReadBuf = 64 << 10

// floorConn is the least a blocking client can do: send prebuilt commands,
// read reply lines until one whose fourth byte is a space, look at the code.
type floorConn struct {
	c   net.Conn
	r   *bufio.Reader
	tls *tls.Config // FTPS: this session's config (data connections resume with it)
}

var errReply = errors.New("unexpected reply")

func floorDial(p benchrun.Params) (*floorConn, error) {
	c, err := net.DialTimeout("tcp", p.Addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	f := &floorConn{c: c, r: bufio.NewReader(c)}
	if p.TLS {
		f.tls = sessionTLS(p)
	}
	return f, nil
}

// sessionTLS is one session's TLS config, as package ftptls makes it for
// asyncftp: the server name set and a cache of its own, shared by the control
// connection and the session's data connections.
func sessionTLS(p benchrun.Params) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            p.RootCAs,
		ServerName:         benchrun.ServerName,
		ClientSessionCache: tls.NewLRUClientSessionCache(2),
	}
}

// suite records the first TLS version and cipher suite a blocking client saw.
var suite atomic.Value

func noteSuite(cs tls.ConnectionState) {
	if suite.Load() == nil {
		suite.Store(tls.VersionName(cs.Version) + " " + tls.CipherSuiteName(cs.CipherSuite) + ", key exchange " + cs.CurveID.String())
	}
}

// Suite returns what noteSuite recorded, or "".
func Suite() string {
	s, _ := suite.Load().(string)
	return s
}

// reply reads one reply and returns its last line; it checks the first digit.
func (f *floorConn) reply(first byte) ([]byte, error) {
	for {
		line, err := f.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if len(line) >= 4 && line[3] == ' ' && line[0] >= '1' && line[0] <= '5' {
			if line[0] != first {
				return nil, fmt.Errorf("%w: %q", errReply, bytes.TrimSpace(line))
			}
			return line, nil
		}
	}
}

func (f *floorConn) cmd(line []byte, first byte) ([]byte, error) {
	if _, err := f.c.Write(line); err != nil {
		return nil, err
	}
	return f.reply(first)
}

var (
	cmdPWD   = []byte("PWD\r\n")
	cmdTYPE  = []byte("TYPE I\r\n")
	cmdEPSV  = []byte("EPSV\r\n")
	cmdLIST  = []byte("LIST\r\n")
	cmdQUIT  = []byte("QUIT\r\n")
	cmdAUTH  = []byte("AUTH TLS\r\n")
	cmdPBSZ  = []byte("PBSZ 0\r\n")
	cmdPROT  = []byte("PROT P\r\n")
	discard0 = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}
)

func (f *floorConn) login(user, pass string) error {
	if _, err := f.reply('2'); err != nil {
		return err
	}
	if f.tls != nil {
		if _, err := f.cmd(cmdAUTH, '2'); err != nil {
			return err
		}
		tc := tls.Client(f.c, f.tls)
		if err := tc.Handshake(); err != nil {
			return err
		}
		noteSuite(tc.ConnectionState())
		f.c = tc
		f.r.Reset(tc)
	}
	if _, err := f.cmd([]byte("USER "+user+"\r\n"), '3'); err != nil {
		return err
	}
	if _, err := f.cmd([]byte("PASS "+pass+"\r\n"), '2'); err != nil {
		return err
	}
	if f.tls != nil {
		if _, err := f.cmd(cmdPBSZ, '2'); err != nil {
			return err
		}
		if _, err := f.cmd(cmdPROT, '2'); err != nil {
			return err
		}
	}
	return nil
}

// transfer runs EPSV, dials the data port, sends cmd, reads it all with buf.
func (f *floorConn) transfer(cmd []byte, buf []byte) (int64, error) {
	line, err := f.cmd(cmdEPSV, '2')
	if err != nil {
		return 0, err
	}
	i := bytes.Index(line, []byte("(|||"))
	if i < 0 {
		return 0, fmt.Errorf("%w: %q", errReply, line)
	}
	rest := line[i+4:]
	j := bytes.IndexByte(rest, '|')
	if j < 0 {
		return 0, fmt.Errorf("%w: %q", errReply, line)
	}
	host, _, _ := net.SplitHostPort(f.c.RemoteAddr().String())
	d, err := net.DialTimeout("tcp", net.JoinHostPort(host, string(rest[:j])), 10*time.Second)
	if err != nil {
		return 0, err
	}
	if f.tls != nil {
		// The handshake runs on the first Read, after the 150.
		d = tls.Client(d, f.tls)
	}
	defer d.Close()
	if _, err := f.cmd(cmd, '1'); err != nil {
		return 0, err
	}
	var n int64
	for {
		k, err := d.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	_, err = f.reply('2')
	return n, err
}

func (f *floorConn) quit() error {
	_, err := f.cmd(cmdQUIT, '2')
	f.c.Close()
	return err
}

// RunFloor runs p's scenario with the floor client.
func RunFloor(ctx context.Context, p benchrun.Params) (benchrun.Report, error) {
	return runBlocking(ctx, p, "floor", floorImpl{})
}

type floorImpl struct{}

func (floorImpl) lifecycle(p benchrun.Params) (int64, error) {
	f, err := floorDial(p)
	if err != nil {
		return 0, err
	}
	defer f.c.Close()
	if err := f.login(p.User, p.Password); err != nil {
		return 0, err
	}
	if _, err := f.cmd(cmdPWD, '2'); err != nil {
		return 0, err
	}
	if _, err := f.cmd(cmdTYPE, '2'); err != nil {
		return 0, err
	}
	bp := discard0.Get().(*[]byte)
	defer discard0.Put(bp)
	n1, err := f.transfer(cmdLIST, *bp)
	if err != nil {
		return n1, err
	}
	if p.ListSize > 0 && n1 != p.ListSize {
		return n1, fmt.Errorf("LIST moved %d bytes, want %d", n1, p.ListSize)
	}
	n2, err := f.transfer([]byte("RETR "+p.SmallFile+"\r\n"), *bp)
	if err != nil {
		return n1 + n2, err
	}
	if n2 != p.SmallSize {
		return n1 + n2, fmt.Errorf("RETR moved %d bytes, want %d", n2, p.SmallSize)
	}
	return n1 + n2, f.quit()
}

func (floorImpl) hold(p benchrun.Params, logged func(error), release <-chan struct{}) error {
	f, err := floorDial(p)
	if err != nil {
		logged(err)
		return err
	}
	defer f.c.Close()
	if err := f.login(p.User, p.Password); err != nil {
		logged(err)
		return err
	}
	logged(nil)
	<-release
	return f.quit()
}

func (floorImpl) big(p benchrun.Params) (int64, error) {
	f, err := floorDial(p)
	if err != nil {
		return 0, err
	}
	defer f.c.Close()
	if err := f.login(p.User, p.Password); err != nil {
		return 0, err
	}
	if _, err := f.cmd(cmdTYPE, '2'); err != nil {
		return 0, err
	}
	n, err := f.transfer([]byte("RETR "+p.BigFile+"\r\n"), make([]byte, ReadBuf))
	if err != nil {
		return n, err
	}
	return n, f.quit()
}

// impl is one blocking client: a session per call, on the caller's goroutine.
type impl interface {
	lifecycle(p benchrun.Params) (int64, error)
	// hold logs in, calls logged, waits for release, quits.
	hold(p benchrun.Params, logged func(error), release <-chan struct{}) error
	big(p benchrun.Params) (int64, error)
}

// runBlocking drives a blocking client: Concurrency goroutines, each running
// one session at a time (a goroutine per session in flight).
func runBlocking(ctx context.Context, p benchrun.Params, name string, c impl) (benchrun.Report, error) {
	p.Defaults()
	r := benchrun.Report{Client: name, Scenario: p.Scenario, Sessions: p.Sessions, Concurrency: p.Concurrency}
	var (
		errs  benchrun.Errors
		emu   sync.Mutex
		lat   = make([]time.Duration, 0, p.Sessions)
		ok    atomic.Int64
		bytes atomic.Int64
	)
	fail := func(err error) {
		emu.Lock()
		errs.Add(kind(err), err)
		emu.Unlock()
	}
	switch p.Scenario {
	case benchrun.Lifecycle:
		conc := p.Concurrency
		if conc <= 0 || conc > p.Sessions {
			conc = p.Sessions
		}
		m := benchrun.StartMeter()
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for int(next.Add(1)) <= p.Sessions && ctx.Err() == nil {
					t0 := time.Now()
					n, err := c.lifecycle(p)
					d := time.Since(t0)
					bytes.Add(n)
					if err != nil {
						fail(err)
						continue
					}
					ok.Add(1)
					emu.Lock()
					lat = append(lat, d)
					emu.Unlock()
				}
			}()
		}
		wg.Wait()
		m.Fill(&r, lat)
	case benchrun.Idle:
		r.Concurrency = p.Sessions
		release := make(chan struct{})
		var logged sync.WaitGroup
		logged.Add(p.Sessions)
		var wg sync.WaitGroup
		rss0, g0 := benchrun.IdleSnapshot()
		m := benchrun.StartMeter()
		var held atomic.Int64
		for i := 0; i < p.Sessions; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				err := c.hold(p, func(err error) {
					if err == nil {
						held.Add(1)
					}
					logged.Done()
				}, release)
				if err != nil {
					fail(err)
					return
				}
				ok.Add(1)
				emu.Lock()
				lat = append(lat, time.Since(t0))
				emu.Unlock()
			}()
		}
		logged.Wait()
		if p.IdleSettle > 0 {
			time.Sleep(p.IdleSettle)
		}
		rss1, g1 := benchrun.IdleSnapshot()
		r.FillIdle(rss0, g0, rss1, g1, int(held.Load()))
		if err := benchrun.WriteHeapProfile(p.HeapProfile); err != nil {
			fail(err)
		}
		close(release)
		wg.Wait()
		m.Fill(&r, lat)
	case benchrun.BigRetr:
		r.Sessions, r.Concurrency = 1, 1
		m := benchrun.StartMeter()
		t0 := time.Now()
		n, err := c.big(p)
		d := time.Since(t0)
		bytes.Add(n)
		if err == nil && p.BigSize > 0 && n != p.BigSize {
			err = fmt.Errorf("RETR moved %d bytes, want %d", n, p.BigSize)
		}
		if err != nil {
			fail(err)
		} else {
			ok.Add(1)
			r.MBps = float64(n) / d.Seconds() / 1e6
		}
		m.Fill(&r, []time.Duration{d})
	default:
		return r, fmt.Errorf("unknown scenario %q", p.Scenario)
	}
	r.OK = int(ok.Load())
	r.Failed = r.Sessions - r.OK
	r.Bytes = bytes.Load()
	r.Errors, r.FirstError = errs.Count, errs.First
	r.TLS, r.TLSSuite = p.TLS, Suite()
	return r, nil
}

func kind(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "refused"
	case errors.Is(err, errReply):
		return "reply"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	if s := err.Error(); len(s) >= 3 {
		if _, e := strconv.Atoi(s[:3]); e == nil {
			return "reply-" + s[:3]
		}
	}
	return "other"
}

// RunPlain is the plain Go sender/receiver pair of bigretr: it dials the
// server's raw sender and reads everything with the same buffer size. With
// p.TLS the pair is crypto/tls on both ends (the server's TLS sender at
// p.RawAddr, the same certificate and defaults as its FTPS).
func RunPlain(ctx context.Context, p benchrun.Params) (benchrun.Report, error) {
	r := benchrun.Report{Client: "plain-tcp", Scenario: benchrun.BigRetr, Sessions: 1, Concurrency: 1}
	if p.TLS {
		r.Client, r.TLS = "crypto/tls pair", true
	}
	m := benchrun.StartMeter()
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", p.RawAddr, 10*time.Second)
	if err != nil {
		return r, err
	}
	if p.TLS {
		tc := tls.Client(c, sessionTLS(p))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return r, err
		}
		noteSuite(tc.ConnectionState())
		r.TLSSuite = Suite()
		c = tc
	}
	n, err := benchrun.CopyDiscard(c, ReadBuf)
	c.Close()
	d := time.Since(t0)
	r.Bytes = n
	if err == nil && p.BigSize > 0 && n != p.BigSize {
		err = fmt.Errorf("read %d bytes, want %d", n, p.BigSize)
	}
	if err != nil {
		r.Failed = 1
		r.Errors = map[string]int{kind(err): 1}
		r.FirstError = err.Error()
	} else {
		r.OK = 1
		r.MBps = float64(n) / d.Seconds() / 1e6
	}
	m.Fill(&r, []time.Duration{d})
	return r, nil
}
