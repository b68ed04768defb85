//go:build vigilprofile

package main

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles, in a binary built with -tags vigilprofile (the serve
// benchmark builds one), writes a CPU profile to $VIGIL_CPUPROFILE from now
// until the returned stop is called, and a heap profile to
// $VIGIL_MEMPROFILE when it is, and logs the Go memory statistics then.
// Release builds have no such hook.
func startProfiles(logger *slog.Logger) (stop func()) {
	var cpu *os.File
	if path := os.Getenv("VIGIL_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			logger.Warn("cpu profile", "err", err)
		} else {
			cpu = f
		}
	}
	return func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		logger.Info("memory at exit", "heap_alloc", ms.HeapAlloc, "heap_inuse", ms.HeapInuse, "heap_idle", ms.HeapIdle,
			"heap_released", ms.HeapReleased, "stack_inuse", ms.StackInuse, "go_sys", ms.Sys, "next_gc", ms.NextGC,
			"num_gc", ms.NumGC, "goroutines", runtime.NumGoroutine())
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if path := os.Getenv("VIGIL_MEMPROFILE"); path != "" {
			f, err := os.Create(path)
			if err == nil {
				runtime.GC()
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				logger.Warn("heap profile", "err", err)
			}
		}
	}
}
