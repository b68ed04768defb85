package scheduler

import (
	"context"
	"time"
)

// Outcome is what became of a tick.
type Outcome string

const (
	Started   Outcome = "started"    // the run began
	Skipped   Outcome = "skipped"    // the job's previous run was still going (or waiting for a slot)
	NotLeader Outcome = "not_leader" // this replica was not the leader
	Dropped   Outcome = "dropped"    // Stop began while the tick waited for a slot
	// Elsewhere: another replica claimed the tick first (replica mode).
	Elsewhere Outcome = "elsewhere"
	// Missed: no replica claimed the tick before the job's next one, or
	// this replica could not claim it (too old, or the store failed).
	Missed Outcome = "missed"
)

// Tick reports one tick's outcome to Options.OnTick.
type Tick struct {
	Job       string
	Scheduled time.Time // when the tick was due (the request time for RunNow)
	At        time.Time // when the run started, or when the tick was skipped or dropped
	Outcome   Outcome
	Manual    bool   // from RunNow
	Replica   string // the replica that handled it (replica mode; "" otherwise)
}

// Lag is how late the tick was handled: At minus Scheduled.
func (t Tick) Lag() time.Duration { return t.At.Sub(t.Scheduled) }

type tickKey struct{}

// TickOf returns the tick that started the run whose context is ctx (false
// outside a run). Every replica and restart plans the same Scheduled time for
// a job's tick, so it can key a claim that each tick runs once.
func TickOf(ctx context.Context) (Tick, bool) {
	t, ok := ctx.Value(tickKey{}).(Tick)
	return t, ok
}

// Stats are the scheduler's counters since New, for /readyz and metrics.
type Stats struct {
	Scheduling  bool // Start was called and Stop was not
	Jobs        int
	Running     int    // runs executing now
	Waiting     int    // accepted ticks waiting for a run slot
	Runs        uint64 // runs started, scheduled and manual
	Skipped     uint64 // ticks skipped because the job was busy
	NotLeader   uint64 // ticks not run because this replica was not the leader
	Dropped     uint64 // ticks dropped by Stop while waiting for a slot
	Interrupted uint64 // runs whose context Stop cancelled
	// Replica mode (Options.Claims): this replica's name, ticks it kept
	// aside for the replica preferred for their job, ticks it took over
	// from there (no replica had claimed them after the grace), ticks
	// another replica claimed first, and ticks missed (see Missed).
	Replica   string
	Deferred  uint64
	TakenOver uint64
	Elsewhere uint64
	Missed    uint64
	// RunsLastMinute is how many runs started in the last 60 seconds.
	RunsLastMinute int
	// LastTick is when the latest scheduled tick was handled (zero before any).
	LastTick time.Time
	// LastLag is how late the latest run started after its tick was due.
	LastLag time.Duration
	// Lag is how late ticks are now: the largest of LastLag, the wait of the
	// oldest tick still waiting for a slot, and how far the timing loop is
	// behind its next due tick. It grows while the scheduler is stuck.
	Lag time.Duration
}

// JobStats is one job's state and counters.
type JobStats struct {
	ID       string
	Schedule string
	Timeout  time.Duration
	Running  bool      // a run is executing
	Waiting  bool      // a run is waiting for a slot
	Next     time.Time // next planned tick; zero when none is left
	Runs     uint64    // runs started, scheduled and manual
	Skipped  uint64    // ticks skipped because the job was busy
	// NotLeader counts ticks not run because this replica was not the leader.
	NotLeader     uint64
	LastScheduled time.Time     // when the latest run was due
	LastStarted   time.Time     // when the latest run started
	LastLag       time.Duration // LastStarted minus LastScheduled
}
