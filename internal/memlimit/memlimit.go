// Package memlimit keeps the Go runtime's soft memory limit a little above
// what the process really holds. With the runtime's default pacing (GOGC
// 100) the heap may grow to twice what the last collection kept before the
// next one: a check that holds 55 MB of tables while it streams millions of
// rows (an endorsements run over a million policies) would let the
// driver's garbage take another 55 MB. After every collection, Start sets
// the limit to the live heap plus a headroom (a quarter of the live heap,
// at least MinHeadroom) plus the runtime's own memory, so collections come sooner
// only when the live heap is large. A collection over pointer-free tables
// is cheap, so this costs little CPU.
package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// MinHeadroom is the least the heap may grow past the live heap before a
// collection: small heaps keep the runtime's own pacing.
const MinHeadroom = 16 << 20

// metric names read after each collection.
var names = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// Start follows the live heap after every garbage collection, as the
// package comment says, until stop is called; stop restores no limit. It
// does nothing (and stop does nothing) when the GOMEMLIMIT or GOGC
// environment variable is set: an operator's own pacing wins. Call it once,
// from main.
func Start() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	var stopped atomic.Bool
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	var onGC func(*sentinel)
	onGC = func(s *sentinel) {
		if stopped.Load() {
			return
		}
		debug.SetMemoryLimit(limit(samples))
		runtime.SetFinalizer(s, onGC) // again after the next collection
	}
	runtime.SetFinalizer(&sentinel{}, onGC)
	return func() {
		stopped.Store(true)
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// sentinel is an object nothing refers to: its finalizer runs after each
// collection that finds it unreachable, which is every one. It holds a
// pointer so that it is never packed with other objects (whose finalizers
// may not run).
type sentinel struct{ _ *int }

// limit reads the runtime's metrics into samples (named as names) and
// returns the limit for them: live heap + max(live/4, MinHeadroom) + the
// memory the runtime holds beyond the heap.
func limit(samples []metrics.Sample) int64 {
	metrics.Read(samples)
	v := func(i int) int64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(samples[i].Value.Uint64())
	}
	live, total, released, objects, unused, free := v(0), v(1), v(2), v(3), v(4), v(5)
	other := max(0, total-released-objects-unused-free)
	return live + max(live/4, MinHeadroom) + other
}
