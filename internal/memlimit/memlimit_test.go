package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// currentLimit reads the runtime's soft memory limit without changing it
// (a negative input only reads, as runtime/debug documents).
func currentLimit() int64 { return debug.SetMemoryLimit(-1) }

// waitForLimit collects until the limit is no longer max, or fails.
func waitForLimit(t *testing.T) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer runs on its own goroutine
		if l := currentLimit(); l != math.MaxInt64 {
			return l
		}
	}
	t.Fatal("no memory limit was set after collections")
	return 0
}

func TestStartFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	stop := Start()
	defer stop()
	small := waitForLimit(t)
	if small < MinHeadroom {
		t.Errorf("limit %d with a small heap, want at least the headroom %d", small, MinHeadroom)
	}
	// Hold 200 MB of pointer-free data: the limit must follow it, at about
	// 1.25 times the live heap, not stay where it was.
	big := make([]byte, 200<<20)
	for i := range big {
		big[i] = byte(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	var l int64
	for l = currentLimit(); l < 240<<20 && time.Now().Before(deadline); l = currentLimit() {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if l < 250<<20 || l > 320<<20 {
		t.Errorf("limit %d MiB with 200 MiB live, want about 1.25 times the live heap", l>>20)
	}
	runtime.KeepAlive(big)
	stop()
	if l := currentLimit(); l != math.MaxInt64 {
		t.Errorf("after stop the limit is %d, want none", l)
	}
}

func TestStartLeavesAnOperatorsPacing(t *testing.T) {
	for _, env := range []string{"GOMEMLIMIT=1GiB", "GOGC=50"} {
		name, value, _ := strings.Cut(env, "=")
		t.Run(name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", "")
			t.Setenv("GOGC", "")
			t.Setenv(name, value)
			before := currentLimit()
			stop := Start()
			defer stop()
			runtime.GC()
			runtime.GC()
			time.Sleep(50 * time.Millisecond)
			if l := currentLimit(); l != before {
				t.Errorf("limit changed from %d to %d although %s is set", before, l, env)
			}
		})
	}
}
