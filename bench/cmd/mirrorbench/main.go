// Command mirrorbench mirrors a remote tree with asyncftp's session pool and
// with lftp's `mirror --parallel=N`, and prints wall time and client CPU.
//
// Usage (a server in its own process on loopback, e.g. vsftpd from
// fsm_test/servers):
//
//	go run ./cmd/mirrorbench -addr 127.0.0.1:2121 -user U -pass P \
//	    -remote /bench-mirror-1000 -jobs 1,4,16 -runs 3
//
// Each round runs every client and -j once, in alternating order, into a
// fresh local folder; the table gives the median of the rounds. CPU is the
// client process's user+system time: getrusage for asyncftp (in this process,
// measured around the mirror only), wait4's rusage for lftp.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asyncftp/asyncftp/client"
	"github.com/asyncftp/asyncftp/listing"
	"github.com/asyncftp/asyncftp/pool"
	"github.com/asyncftp/asyncftp/session"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2121", "server host:port")
	user := flag.String("user", "anonymous", "user")
	pass := flag.String("pass", "", "password")
	remote := flag.String("remote", "/bench-mirror-1000", "remote folder to mirror")
	jobs := flag.String("jobs", "1,4,16", "parallel sessions, comma-separated")
	runs := flag.Int("runs", 3, "rounds (the median is shown)")
	out := flag.String("out", "", "local scratch folder (default: a temp folder)")
	onLoop := flag.Bool("onloop", false, "asyncftp: move bytes on the event loop")
	noLftp := flag.Bool("nolftp", false, "skip lftp")
	prof := flag.String("cpuprofile", "", "write asyncftp's CPU profile to this file")
	settle := flag.Int("settle", 0, "before each run, wait (up to 70s) until fewer TCP sockets than this are in TIME-WAIT (0: do not wait)")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	var js []int
	for _, f := range strings.Split(*jobs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("bad -jobs %q", *jobs)
		}
		js = append(js, n)
	}
	dir := *out
	if dir == "" {
		d, err := os.MkdirTemp("", "mirrorbench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	type key struct {
		client string
		j      int
	}
	results := map[key][]measure{}
	for r := 0; r < *runs; r++ {
		for i, j := range js {
			order := []string{"asyncftp", "lftp"}
			if (r+i)%2 == 1 {
				order = []string{"lftp", "asyncftp"}
			}
			for _, c := range order {
				if c == "lftp" && *noLftp {
					continue
				}
				if *settle > 0 {
					waitTimeWait(*settle)
				}
				local := filepath.Join(dir, fmt.Sprintf("%s-j%d", c, j))
				os.RemoveAll(local)
				var m measure
				var err error
				if c == "asyncftp" {
					m, err = runPool(*addr, *user, *pass, *remote, local, j, *onLoop)
				} else {
					m, err = runLftp(*addr, *user, *pass, *remote, local, j)
				}
				if err != nil {
					log.Fatalf("%s -j %d: %v", c, j, err)
				}
				files, bytes := count(local)
				m.files, m.bytes = files, bytes
				os.RemoveAll(local)
				log.Printf("round %d %-8s -j %-2d wall %6.3fs cpu %6.3fs files %d bytes %d", r+1, c, j, m.wall.Seconds(), m.cpu.Seconds(), files, bytes)
				results[key{c, j}] = append(results[key{c, j}], m)
			}
		}
	}
	fmt.Printf("| client | -j | wall (s) | client CPU (s) | files | bytes |\n|---|---:|---:|---:|---:|---:|\n")
	for _, j := range js {
		for _, c := range []string{"asyncftp", "lftp"} {
			ms := results[key{c, j}]
			if len(ms) == 0 {
				continue
			}
			m := median(ms)
			fmt.Printf("| %s | %d | %.3f | %.3f | %d | %d |\n", c, j, m.wall.Seconds(), m.cpu.Seconds(), m.files, m.bytes)
		}
	}
}

type measure struct {
	wall, cpu    time.Duration
	files, bytes int64
}

func median(ms []measure) measure {
	w := append([]measure(nil), ms...)
	sort.Slice(w, func(a, b int) bool { return w[a].wall < w[b].wall })
	m := w[len(w)/2]
	c := append([]measure(nil), ms...)
	sort.Slice(c, func(a, b int) bool { return c[a].cpu < c[b].cpu })
	m.cpu = c[len(c)/2].cpu
	return m
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runPool mirrors remote into local with a pool of j sessions: list folders
// (breadth first, through the pool), then fetch every file with j workers.
func runPool(addr, user, pass, remote, local string, j int, onLoop bool) (measure, error) {
	ctx := context.Background()
	start, cpu0 := time.Now(), cpuNow()
	p, err := pool.New(nil, addr, session.Config{User: user, Password: session.Secret(pass)},
		pool.Options{Size: j, Client: client.Options{OnLoop: onLoop}})
	if err != nil {
		return measure{}, err
	}
	type file struct {
		remote, local string
		size          int64
	}
	var files []file
	dirs := []string{remote}
	for len(dirs) > 0 {
		d := dirs[0]
		dirs = dirs[1:]
		res, err := p.List(ctx, d)
		if err != nil {
			return measure{}, err
		}
		ld := filepath.Join(local, filepath.FromSlash(strings.TrimPrefix(d, remote)))
		if err := os.MkdirAll(ld, 0o755); err != nil {
			return measure{}, err
		}
		for _, e := range res.Entries {
			rp := path.Join(d, e.Name)
			switch e.Type {
			case listing.Dir:
				dirs = append(dirs, rp)
			case listing.File:
				files = append(files, file{rp, filepath.Join(ld, e.Name), e.Size})
			}
		}
	}
	work := make(chan file)
	errs := make(chan error, j)
	var wg sync.WaitGroup
	for w := 0; w < j; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				out, err := os.Create(f.local)
				if err == nil {
					_, err = p.RetrFromSize(ctx, f.remote, out, 0, f.size)
					if cerr := out.Close(); err == nil {
						err = cerr
					}
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("%s: %w", f.remote, err):
					default:
					}
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	if err := p.Close(ctx); err != nil {
		return measure{}, err
	}
	m := measure{wall: time.Since(start), cpu: cpuNow() - cpu0}
	select {
	case err := <-errs:
		return m, err
	default:
	}
	return m, nil
}

func runLftp(addr, user, pass, remote, local string, j int) (measure, error) {
	host, port, _ := strings.Cut(addr, ":")
	script := fmt.Sprintf("set cmd:fail-exit yes; set net:max-retries 1; open -u %s,%s -p %s %s; mirror --parallel=%d %s %s",
		user, pass, port, host, j, remote, local)
	cmd := exec.Command("lftp", "-c", script)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measure{}, err
	}
	wall := time.Since(start)
	ps := cmd.ProcessState
	return measure{wall: wall, cpu: ps.UserTime() + ps.SystemTime()}, nil
}

func count(dir string) (files, bytes int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return
}

// waitTimeWait waits, at most 70 s, until fewer than limit TCP sockets of the
// machine are in TIME-WAIT (counted from /proc/net/tcp and tcp6, state 06):
// a connect searches harder for a free port while many are.
func waitTimeWait(limit int) {
	for i := 0; i < 140; i++ {
		n := 0
		for _, t := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) > 3 && f[3] == "06" {
					n++
				}
			}
		}
		if n < limit {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
