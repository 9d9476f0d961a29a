package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/asyncftp/asyncftp/engine"
	"github.com/asyncftp/asyncftp/internal/benchrun"
	"github.com/asyncftp/asyncftp/session"
	"github.com/asyncftp/asyncftp/swarm"
)

func main() {
	addr := flag.String("addr", "", "")
	n := flag.Int("n", 1000, "")
	mc := flag.Int("mc", 256, "")
	heap := flag.String("heap", "", "")
	flag.Parse()
	runtime.MemProfileRate = 1
	e, _ := engine.New(engine.Options{Loops: 1})
	cfg := &session.Config{User: "u", Password: "p"}
	jobs := make([]swarm.Job, *n)
	for i := range jobs {
		jobs[i] = swarm.Job{Addr: *addr, Config: cfg}
	}
	before := benchrun.SettledRSS()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	sw, err := swarm.Start(context.Background(), e, jobs, swarm.Options{Hold: true, MaxConnecting: *mc})
	if err != nil {
		panic(err)
	}
	<-sw.Held()
	held := benchrun.SettledRSS()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	fmt.Printf("n=%d held=%d rss/sess=%.0f heapinuse/sess=%.0f stackinuse/sess=%.0f sys/sess=%.0f goroutines=%d\n", *n, sw.HeldCount(),
		float64(held-before)/float64(*n), float64(ms1.HeapInuse-ms0.HeapInuse)/float64(*n),
		float64(ms1.StackInuse-ms0.StackInuse)/float64(*n), float64(ms1.Sys-ms0.Sys)/float64(*n), runtime.NumGoroutine())
	fmt.Printf("heapinuse %d->%d stack %d->%d objects %d->%d\n", ms0.HeapInuse, ms1.HeapInuse, ms0.StackInuse, ms1.StackInuse, ms0.HeapObjects, ms1.HeapObjects)
	if *heap != "" {
		f, _ := os.Create(*heap)
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	sw.Release()
	sw.Wait()
	e.Close()
}
