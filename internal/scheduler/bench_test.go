package scheduler_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scheduler"
)

const benchJobs = 10000

func benchIDs() []string {
	ids := make([]string, benchJobs)
	for i := range ids {
		ids[i] = fmt.Sprintf("check-%05d", i)
	}
	return ids
}

// BenchmarkAdd measures adding 10,000 jobs: time and allocations per job, and
// the heap each job keeps.
func BenchmarkAdd(b *testing.B) {
	ids := benchIDs()
	b.ReportAllocs()
	var kept int64
	for b.Loop() {
		b.StopTimer()
		before := heapAfterGC()
		b.StartTimer()
		s := scheduler.New(scheduler.Options{})
		for _, id := range ids {
			addJob(b, s, id, "@every 5m", nil)
		}
		b.StopTimer()
		kept = heapAfterGC() - before
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchJobs), "ns/job")
	b.ReportMetric(float64(kept)/benchJobs, "heap-B/job")
}

// BenchmarkLoad runs 10,000 no-op jobs on a started scheduler and reports the
// process CPU (% of one core) over one-second windows, runs per second and
// the largest lateness of a run. Run with -benchtime=3x for three windows.
func BenchmarkLoad(b *testing.B) {
	for _, spec := range []string{
		"0 0 1 1 *",  // idle: nothing due
		"@every 5m",  // the default schedule: ~33 runs/s
		"@every 10s", // 1,000 runs/s
	} {
		b.Run(spec, func(b *testing.B) {
			var runs atomic.Int64
			var mu sync.Mutex
			var maxLag time.Duration
			s := scheduler.New(scheduler.Options{OnTick: func(t scheduler.Tick) {
				if t.Outcome != scheduler.Started {
					return
				}
				mu.Lock()
				maxLag = max(maxLag, t.Lag())
				mu.Unlock()
			}})
			before := heapAfterGC()
			for _, id := range benchIDs() {
				addJob(b, s, id, spec, func(context.Context) { runs.Add(1) })
			}
			heap := heapAfterGC() - before
			s.Start()
			defer func() { _ = s.Stop(context.Background()) }()
			time.Sleep(500 * time.Millisecond) // past start-up

			runs.Store(0)
			cpu0, wall0 := cpuTime(b), time.Now()
			b.ResetTimer()
			for range b.N {
				time.Sleep(time.Second)
			}
			b.StopTimer()
			cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%core")
			b.ReportMetric(float64(runs.Load())/wall.Seconds(), "runs/s")
			mu.Lock()
			b.ReportMetric(float64(maxLag.Microseconds())/1000, "max-lag-ms")
			mu.Unlock()
			b.ReportMetric(float64(heap)/benchJobs, "heap-B/job")
		})
	}
}

func heapAfterGC() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// cpuTime is the user and system CPU this process has used.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
