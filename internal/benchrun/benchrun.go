// Package benchrun runs the benchmark scenarios (lifecycle, idle, bigretr) with
// the asyncftp engine and measures them: the code behind `asyncftp bench` and the
// asyncftp client of the three-client comparison in the nested bench module.
//
// A run measures the process it runs in: CPU from getrusage(RUSAGE_SELF), RSS
// from /proc/self/statm. Run each client in a process of its own, apart from
// the server, so that the figures are the client's alone.
package benchrun

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"github.com/asyncftp/asyncftp/ftptls"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asyncftp/asyncftp/session"
)

// Scenarios.
const (
	// Lifecycle: connect, log in, PWD, TYPE I, EPSV+LIST read whole, EPSV+RETR
	// of a 1 KiB file, QUIT; Sessions of them, Concurrency at a time.
	Lifecycle = "lifecycle"
	// Idle: log Sessions in and hold them all open; RSS per idle session.
	Idle = "idle"
	// BigRetr: one download of a large file to a discard sink; MB/s.
	BigRetr = "bigretr"
)

// Params describe one run.
type Params struct {
	Scenario    string
	Addr        string // the FTP server (host:port)
	RawAddr     string // bigretr with the plain client: a TCP sender of the same bytes
	Sessions    int
	Concurrency int // lifecycle: sessions at once (0: all)
	Loops       int // asyncftp: event loops (0: one per core)
	User        string
	Password    string
	SmallFile   string // lifecycle's RETR (default "1k.bin")
	SmallSize   int64  // its size, checked (default 1024)
	ListSize    int64  // the size of the LIST body, checked when > 0
	BigFile     string // bigretr's file (default "big.bin")
	BigSize     int64  // its size, checked when > 0
	Profile     string // write a CPU profile of the run here
	HeapProfile string // idle: write a heap profile while the sessions are held

	// TLS runs explicit FTPS (AUTH TLS, PBSZ 0, PROT P) and trusts RootCAs,
	// under the server name "127.0.0.1".
	TLS     bool
	RootCAs *x509.CertPool
	// Auth, when set, says how asyncftp authenticates the server instead of
	// RootCAs under ServerName (a server given by address: a CA file, pins,
	// or no verification at all).
	Auth *ftptls.Options
	// IdleSettle is how long idle waits, once every session is held, before it
	// reads RSS and goroutines: dialling and handshake goroutines that outlive
	// their work by a moment are then gone, and what is left is the idle state.
	IdleSettle time.Duration
}

// TLSTimeouts are the session timeouts of FTPS runs: when thousands of
// sessions log in at once their handshakes queue for the CPU (two cores
// shared with the server), and the AUTH TLS reply's 30-second default, which
// lasts until the handshake is done, would fail the last of them.
var TLSTimeouts = session.Timeouts{Greeting: 2 * time.Minute, Reply: 2 * time.Minute}

// ServerName is the name FTPS clients verify the bench server's certificate
// under (its IP address SAN).
const ServerName = "127.0.0.1"

// Defaults fills in the zero fields.
func (p *Params) Defaults() {
	if p.User == "" {
		p.User = "bench"
	}
	if p.Password == "" {
		p.Password = "bench"
	}
	if p.SmallFile == "" {
		p.SmallFile = "1k.bin"
	}
	if p.SmallSize == 0 {
		p.SmallSize = 1024
	}
	if p.BigFile == "" {
		p.BigFile = "big.bin"
	}
	if p.Sessions <= 0 {
		p.Sessions = 1
	}
}

// Report is one client's result for one run: one JSON line.
type Report struct {
	Client      string         `json:"client"`
	Scenario    string         `json:"scenario"`
	Sessions    int            `json:"sessions"`
	Concurrency int            `json:"concurrency"`
	Loops       int            `json:"loops,omitempty"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	Errors      map[string]int `json:"errors,omitempty"`
	FirstError  string         `json:"first_error,omitempty"`

	WallS float64 `json:"wall_s"`
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
	CPUS  float64 `json:"cpu_s"` // user + sys of the whole process
	// RunCPUS is the CPU spent between the start and the end of the measured
	// part (process start-up and exit excluded).
	RunCPUS          float64 `json:"run_cpu_s"`
	CPUPer1000       float64 `json:"cpu_per_1000"`       // RunCPUS per 1,000 sessions
	SessionsPerCPUS  float64 `json:"sessions_per_cpu_s"` // sessions / RunCPUS
	SessionsPerWallS float64 `json:"sessions_per_s"`
	MaxRSSKiB        int64   `json:"max_rss_kib"`
	// EndRSSKiB is the RSS once every session has ended, the swarm's
	// statistics still held, after a GC (asyncftp only).
	EndRSSKiB       int64   `json:"end_rss_kib,omitempty"`
	IdleRSSBefore   int64   `json:"idle_rss_before,omitempty"` // bytes, 0 sessions
	IdleRSSHeld     int64   `json:"idle_rss_held,omitempty"`   // bytes, all held
	IdleRSSPerSessB float64 `json:"idle_rss_per_session_b,omitempty"`
	// Goroutines of the whole process with no session and with all held.
	IdleGoroutinesBefore int     `json:"idle_goroutines_before,omitempty"`
	IdleGoroutinesHeld   int     `json:"idle_goroutines_held,omitempty"`
	IdleGoroutinesPerSes float64 `json:"idle_goroutines_per_session,omitempty"`
	P50Ms                float64 `json:"p50_ms"`
	P99Ms                float64 `json:"p99_ms"`
	Bytes                int64   `json:"bytes"`
	MBps                 float64 `json:"mb_s,omitempty"` // bigretr: 10^6 bytes per second of transfer
	ServerCPUS           float64 `json:"server_cpu_s,omitempty"`
	TimeWaitBefore       int     `json:"time_wait_before,omitempty"`
	Round                int     `json:"round,omitempty"`

	// FTPS runs: Resumption is "on" or "off" (the server's session tickets);
	// TLSSuite is the version and cipher suite a client saw negotiated; the
	// server's counts of handshakes and resumed ones come from the driver.
	TLS               bool   `json:"tls,omitempty"`
	Resumption        string `json:"resumption,omitempty"`
	TLSSuite          string `json:"tls_suite,omitempty"`
	ServerCtrlTLS     int64  `json:"server_ctrl_tls,omitempty"`
	ServerDataTLS     int64  `json:"server_data_tls,omitempty"`
	ServerDataResumed int64  `json:"server_data_resumed,omitempty"`
}

// IdleSnapshot reads the settled RSS and the goroutine count.
func IdleSnapshot() (rss int64, goroutines int) {
	rss = SettledRSS()
	return rss, runtime.NumGoroutine()
}

// FillIdle records the held state against the one before; held sessions.
func (r *Report) FillIdle(rssBefore int64, gBefore int, rssHeld int64, gHeld int, held int) {
	r.IdleRSSBefore, r.IdleGoroutinesBefore = rssBefore, gBefore
	if held <= 0 {
		return
	}
	r.IdleRSSHeld, r.IdleGoroutinesHeld = rssHeld, gHeld
	r.IdleRSSPerSessB = float64(rssHeld-rssBefore) / float64(held)
	r.IdleGoroutinesPerSes = float64(gHeld-gBefore) / float64(held)
}

// WriteHeapProfile writes the live heap to path after a GC (for idle).
func WriteHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CPU returns the process's user and system CPU time so far.
func CPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// MaxRSSKiB returns the process's peak RSS.
func MaxRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

// SettledRSS collects garbage, returns freed memory to the OS and reads the
// resident set size in bytes.
func SettledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// Meter measures the CPU and wall time of the measured part of a run.
type Meter struct {
	start     time.Time
	user, sys time.Duration
	Wall      time.Duration
	RunCPU    time.Duration
	stopped   bool
}

// StartMeter starts measuring.
func StartMeter() *Meter {
	m := &Meter{start: time.Now()}
	m.user, m.sys = CPU()
	return m
}

// Stop ends the measured part.
func (m *Meter) Stop() {
	if m.stopped {
		return
	}
	m.stopped = true
	m.Wall = time.Since(m.start)
	u, s := CPU()
	m.RunCPU = (u - m.user) + (s - m.sys)
}

// Fill completes r with the meter's figures, the process's CPU and peak RSS,
// and the latency percentiles of lat (sorted here).
func (m *Meter) Fill(r *Report, lat []time.Duration) {
	m.Stop()
	r.WallS = m.Wall.Seconds()
	r.RunCPUS = m.RunCPU.Seconds()
	u, s := CPU()
	r.UserS, r.SysS = u.Seconds(), s.Seconds()
	r.CPUS = r.UserS + r.SysS
	r.MaxRSSKiB = MaxRSSKiB()
	if r.Sessions > 0 && r.RunCPUS > 0 {
		r.CPUPer1000 = r.RunCPUS * 1000 / float64(r.Sessions)
		r.SessionsPerCPUS = float64(r.Sessions) / r.RunCPUS
	}
	if r.WallS > 0 {
		r.SessionsPerWallS = float64(r.Sessions) / r.WallS
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		r.P50Ms = ms(percentile(lat, 50))
		r.P99Ms = ms(percentile(lat, 99))
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// Errors counts errors by a short class name and keeps the first message.
type Errors struct {
	Count map[string]int
	First string
}

// Add counts err under kind.
func (e *Errors) Add(kind string, err error) {
	if e.Count == nil {
		e.Count = map[string]int{}
	}
	e.Count[kind]++
	if e.First == "" {
		e.First = err.Error()
	}
}

// CopyDiscard reads r to its end through a buffer of size n and returns the
// count: the receiving half of a plain sender/receiver pair.
func CopyDiscard(r io.Reader, n int) (int64, error) {
	buf := make([]byte, n)
	var total int64
	for {
		k, err := r.Read(buf)
		total += int64(k)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// WaitForServer reads the server's address line ("ADDR host:port") from the
// start of r.
func WaitForServer(r io.Reader) (map[string]string, error) {
	sc := bufio.NewScanner(r)
	out := map[string]string{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "READY" {
			return out, nil
		}
		if len(f) == 2 {
			out[f[0]] = f[1]
		}
	}
	return nil, fmt.Errorf("benchrun: server exited before it was ready: %v", sc.Err())
}
