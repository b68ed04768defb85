package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

// These tests run several replicas in one process, each with its own store
// handle (connection pool), scheduler and membership over one PostgreSQL
// schema, as `vigil serve` processes sharing a store do.

// runLog records which replicas ran each (job, tick).
type runLog struct {
	mu   sync.Mutex
	runs map[string]map[time.Time][]string // job -> tick -> replicas
	late time.Duration                     // the latest start after a tick was due
}

func newRunLog() *runLog { return &runLog{runs: map[string]map[time.Time][]string{}} }

func (l *runLog) add(job string, tick time.Time, replica string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.late = max(l.late, time.Since(tick))
	if l.runs[job] == nil {
		l.runs[job] = map[time.Time][]string{}
	}
	l.runs[job][tick] = append(l.runs[job][tick], replica)
}

// ticks returns job's ran ticks in order with the replicas that ran each.
func (l *runLog) ticks(job string) ([]time.Time, map[time.Time][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	runs := map[time.Time][]string{}
	for at, rs := range l.runs[job] {
		out = append(out, at)
		runs[at] = slices.Clone(rs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, runs
}

func (l *runLog) byReplica() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[string]int{}
	for _, ticks := range l.runs {
		for _, rs := range ticks {
			for _, r := range rs {
				n[r]++
			}
		}
	}
	return n
}

// replica is one member of a replica set.
type replica struct {
	id      string
	members *scheduler.Replicas
	sched   *scheduler.Scheduler
	stopHB  context.CancelFunc
	hbDone  chan struct{}
}

// startReplica starts replica id scheduling jobs (each "@every 1s" unless
// the map says otherwise) with run as their Run, on its own store handle.
func startReplica(t *testing.T, dsn, id string, ttl time.Duration, opts scheduler.Options, jobs []scheduler.Job) *replica {
	t.Helper()
	st, err := store.Open(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{id: id, members: scheduler.NewReplicas(st, id, ttl, nil), hbDone: make(chan struct{})}
	opts.Claims = r.members
	r.sched = scheduler.New(opts)
	for _, j := range jobs {
		if err := r.sched.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stopHB = cancel
	go func() { defer close(r.hbDone); r.members.Run(ctx, r.sched.Stats) }()
	r.sched.Start()
	t.Cleanup(func() {
		r.kill()
		st.Close()
	})
	return r
}

// kill stops the replica as kill -9 would, as far as the others can tell:
// no more heartbeats or claims, and no goodbye.
func (r *replica) kill() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = r.sched.Stop(ctx)
	r.stopHB()
	<-r.hbDone
}

// leave stops the replica as SIGTERM does: leave, then drain.
func (r *replica) leave() {
	r.members.Leave(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.sched.Stop(ctx)
	r.stopHB()
	<-r.hbDone
}

// recordingJobs returns n jobs every interval that log their runs under
// the replica's id.
func recordingJobs(n int, interval time.Duration, log *runLog, replica string) []scheduler.Job {
	var jobs []scheduler.Job
	for i := range n {
		id := fmt.Sprintf("check-%02d", i)
		jobs = append(jobs, scheduler.Job{ID: id, Schedule: "@every " + interval.String(), Timeout: 5 * time.Second,
			Run: func(ctx context.Context) {
				tick, _ := scheduler.TickOf(ctx)
				log.add(id, tick.Scheduled, replica)
			}})
	}
	return jobs
}

// gaps returns the ticks missing between consecutive ran ticks (which all
// fall interval apart).
func gaps(t *testing.T, job string, ticks []time.Time, interval time.Duration) []time.Time {
	t.Helper()
	var missing []time.Time
	for i := 1; i < len(ticks); i++ {
		if d := ticks[i].Sub(ticks[i-1]); d%interval != 0 {
			t.Errorf("%s: ticks %s and %s are not whole intervals apart", job, ticks[i-1], ticks[i])
		}
		for m := ticks[i-1].Add(interval); m.Before(ticks[i]); m = m.Add(interval) {
			missing = append(missing, m)
		}
	}
	return missing
}

// TestReplicasRunEachTickOnce holds three replicas to the rules of a shared
// work queue (issue 17): each (job, tick) runs exactly once while at least
// one replica is alive; every replica runs a share; a replica that dies
// without a word loses its jobs to the others within one TTL (its ticks
// are taken over after the claim grace even before that); one that leaves
// gracefully hands them over with no tick missed.
func TestReplicasRunEachTickOnce(t *testing.T) {
	t.Parallel()
	const (
		ttl      = 3 * time.Second
		interval = time.Second
		n        = 24
	)
	dsn := testdb.Postgres(t).AdminDSN
	log := newRunLog()
	var rs []*replica
	for i := range 3 {
		id := fmt.Sprintf("replica-%d", i)
		rs = append(rs, startReplica(t, dsn, id, ttl, scheduler.Options{}, recordingJobs(n, interval, log, id)))
	}
	time.Sleep(4 * interval)
	shares := log.byReplica()
	rs[0].kill()
	killed := time.Now()
	time.Sleep(ttl + 2*interval)
	// A replica leaving says goodbye first and then drains: ticks it claims
	// in between are its own to run. Once leave returns, it runs none.
	rs[1].leave()
	left := time.Now()
	time.Sleep(3 * interval)
	rs[2].leave()
	stopped := time.Now()

	for _, r := range rs {
		if shares[r.id] == 0 {
			t.Errorf("%s ran no tick while all three were alive (runs per replica: %v)", r.id, shares)
		}
	}
	var missing []string
	for i := range n {
		job := fmt.Sprintf("check-%02d", i)
		ticks, runs := log.ticks(job)
		if len(ticks) == 0 || ticks[len(ticks)-1].Before(stopped.Add(-2*interval)) {
			t.Errorf("%s: runs stop early (%d ticks ran)", job, len(ticks))
			continue
		}
		for _, at := range ticks {
			if len(runs[at]) != 1 {
				t.Errorf("%s tick %s ran %d times, on %v", job, at.Format(time.RFC3339Nano), len(runs[at]), runs[at])
			}
			if at.After(killed) && slices.Contains(runs[at], rs[0].id) {
				t.Errorf("%s tick %s ran on the killed replica", job, at)
			}
			if at.After(left) && slices.Contains(runs[at], rs[1].id) {
				t.Errorf("%s tick %s ran on the replica that left", job, at)
			}
		}
		for _, m := range gaps(t, job, ticks, interval) {
			// A tick the killed replica had claimed and not started is
			// lost with it; everything else runs.
			if m.Before(killed.Add(-interval)) || m.After(killed.Add(ttl)) {
				missing = append(missing, fmt.Sprintf("%s@%s", job, m.Format("15:04:05.000")))
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("ticks no replica ran (killed %s, left %s): %v", killed.Format("15:04:05.000"), left.Format("15:04:05.000"), missing)
	}
	t.Logf("runs per replica while all three ran: %v", shares)
}

// TestBusyReplicaHoldsNoClaim: a replica whose only run slot is taken
// claims none of the ticks it is preferred for (claims are taken only when
// a slot is free, issue 17), so the other replica takes every one of them
// over after the grace and no tick is missed.
func TestBusyReplicaHoldsNoClaim(t *testing.T) {
	t.Parallel()
	const (
		ttl      = 3 * time.Second
		interval = time.Second
	)
	dsn := testdb.Postgres(t).AdminDSN
	// Names such that the busy replica is the one preferred for check-00.
	busyID, otherID := "", ""
	for i := 0; busyID == ""; i++ {
		a, b := fmt.Sprintf("busy-%d", i), fmt.Sprintf("other-%d", i)
		if scheduler.Rendezvous(a, "check-00") > scheduler.Rendezvous(b, "check-00") {
			busyID, otherID = a, b
		}
	}
	log := newRunLog()
	blocking := make(chan struct{})
	blockerStarted := make(chan time.Time, 1)
	blocker := scheduler.Job{ID: "blocker", Schedule: "@every 1s", Timeout: time.Minute, Run: func(ctx context.Context) {
		blockerStarted <- time.Now()
		select {
		case <-blocking:
		case <-ctx.Done():
		}
	}}
	other := startReplica(t, dsn, otherID, ttl, scheduler.Options{}, recordingJobs(1, interval, log, otherID))
	busy := startReplica(t, dsn, busyID, ttl, scheduler.Options{MaxConcurrent: 1},
		append(recordingJobs(1, interval, log, busyID), blocker))
	var since time.Time
	select {
	case since = <-blockerStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocker never ran")
	}
	// Both replicas see each other within a heartbeat.
	waitFor(t, 5*time.Second, "both replicas live", func() bool { return len(busy.members.Live()) == 2 && len(other.members.Live()) == 2 })
	time.Sleep(5 * interval)
	close(blocking)
	until := time.Now()
	busy.leave()
	other.leave()

	ticks, runs := log.ticks("check-00")
	var during int
	for _, at := range ticks {
		if at.Before(since.Add(interval)) || at.After(until) {
			continue
		}
		during++
		if !slices.Equal(runs[at], []string{otherID}) {
			t.Errorf("tick %s ran on %v, want only the free replica", at.Format(time.RFC3339Nano), runs[at])
		}
	}
	if during < 3 {
		t.Errorf("only %d ticks ran while the preferred replica was busy", during)
	}
	for _, m := range gaps(t, "check-00", ticks, interval) {
		t.Errorf("tick %s ran nowhere", m.Format(time.RFC3339Nano))
	}
	// A claim held by the busy replica would run only when its slot
	// frees, long after the tick.
	if log.late > 2*interval {
		t.Errorf("a tick started %s after it was due", log.late)
	}
	if st := busy.sched.Stats(); st.Replica != busyID || st.Skipped == 0 {
		t.Errorf("busy replica stats: %+v, want its id and skipped ticks", st)
	}
	if st := other.sched.Stats(); st.TakenOver == 0 || st.RunsLastMinute == 0 {
		t.Errorf("free replica stats: %+v, want ticks taken over and runs in the last minute", st)
	}
}

// stallingClaimer holds each Claim until released, to stop the scheduler
// while a claim is in the store.
type stallingClaimer struct {
	*scheduler.Replicas
	claiming chan struct{}
	release  chan struct{}
}

func (c stallingClaimer) Claim(ctx context.Context, job string, scheduled time.Time) (bool, error) {
	c.claiming <- struct{}{}
	<-c.release
	return c.Replicas.Claim(ctx, job, scheduled)
}

// TestClaimedTickRunsThroughShutdown: a tick this replica claimed while
// shutdown began still runs (and shutdown waits for it), since no other
// replica will run a tick claimed here; dropping it would lose it.
func TestClaimedTickRunsThroughShutdown(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), "postgres", testdb.Postgres(t).AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := stallingClaimer{scheduler.NewReplicas(st, "only", 3*time.Second, nil), make(chan struct{}, 1), make(chan struct{})}
	log := newRunLog()
	s := scheduler.New(scheduler.Options{Claims: c})
	for _, j := range recordingJobs(1, time.Second, log, "only") {
		if err := s.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	s.Start()
	select {
	case <-c.claiming:
	case <-time.After(5 * time.Second):
		t.Fatal("no tick was claimed")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	waitFor(t, 5*time.Second, "shutdown to begin", func() bool { return !s.Stats().Scheduling })
	close(c.release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if ticks, _ := log.ticks("check-00"); len(ticks) != 1 {
		t.Errorf("the claimed tick ran %d times, want once", len(ticks))
	}
	if st := s.Stats(); st.Dropped != 0 {
		t.Errorf("dropped %d ticks, want none (the claimed one runs)", st.Dropped)
	}
}
