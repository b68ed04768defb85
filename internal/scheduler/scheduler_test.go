package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scheduler"
)

// These tests run real timers with "@every 1s" schedules; each runs in
// parallel so the suite takes a few seconds.

// start returns a started scheduler that is stopped when the test ends.
func start(t *testing.T, opts scheduler.Options, jobs ...scheduler.Job) *scheduler.Scheduler {
	t.Helper()
	s := scheduler.New(opts)
	for _, j := range jobs {
		if err := s.Add(j); err != nil {
			t.Fatalf("add %s: %v", j.ID, err)
		}
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jobStats(t *testing.T, s *scheduler.Scheduler, id string) scheduler.JobStats {
	t.Helper()
	st, err := s.Job(id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// ticks records OnTick calls.
type ticks struct {
	mu  sync.Mutex
	all []scheduler.Tick
}

func (r *ticks) add(t scheduler.Tick) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, t)
}

func (r *ticks) of(job string, o scheduler.Outcome) []scheduler.Tick {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []scheduler.Tick
	for _, t := range r.all {
		if t.Job == job && t.Outcome == o {
			out = append(out, t)
		}
	}
	return out
}

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gauge tracks how many runs are in flight and the most seen at once.
type gauge struct {
	now, peak atomic.Int32
}

func (g *gauge) enter() {
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

func TestRunsEverySecond(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	rec, seen := &ticks{}, &ticks{}
	s := start(t, scheduler.Options{OnTick: rec.add}, scheduler.Job{
		ID: "every-second", Schedule: "@every 1s", Timeout: time.Second,
		Run: func(ctx context.Context) {
			if tk, ok := scheduler.TickOf(ctx); ok {
				seen.add(tk)
			}
			runs.Add(1)
		},
	})
	var lateRuns atomic.Int32
	addJob(t, s, "added-after-start", "@every 1s", func(context.Context) { lateRuns.Add(1) })
	waitFor(t, 3500*time.Millisecond, "two runs", func() bool { return runs.Load() >= 2 })
	waitFor(t, 1500*time.Millisecond, "a run of the job added after Start", func() bool { return lateRuns.Load() >= 1 })

	started := rec.of("every-second", scheduler.Started)
	if len(started) < 2 {
		t.Fatalf("OnTick saw %d started ticks, want at least 2", len(started))
	}
	if gap := started[1].Scheduled.Sub(started[0].Scheduled); gap != time.Second {
		t.Errorf("consecutive ticks due %s apart, want exactly 1s", gap)
	}
	for _, tk := range started {
		if tk.Lag() < 0 || tk.Manual {
			t.Errorf("tick %+v: want a scheduled run started at or after its due time", tk)
		}
	}
	if inRun := seen.of("every-second", scheduler.Started); len(inRun) < 2 || inRun[0] != started[0] {
		t.Errorf("TickOf in the runs = %+v, want the started ticks %+v", inRun, started)
	}
	st := s.Stats()
	if !st.Scheduling || st.Runs < 3 || st.Jobs != 2 || st.LastTick.IsZero() {
		t.Errorf("Stats = %+v, want scheduling, 2 jobs, at least 3 runs and a last tick", st)
	}

	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	after := runs.Load() + lateRuns.Load()
	time.Sleep(1200 * time.Millisecond)
	if got := runs.Load() + lateRuns.Load(); got != after {
		t.Errorf("%d runs after Stop, want none", got-after)
	}
	if s.Stats().Scheduling {
		t.Error("Stats.Scheduling after Stop, want false")
	}
}

func TestOverlappingTickSkipped(t *testing.T) {
	t.Parallel()
	var g gauge
	release := make(chan struct{})
	logs := &logBuffer{}
	s := start(t, scheduler.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}, scheduler.Job{
		ID: "slow", Schedule: "@every 1s", Timeout: time.Minute,
		Run: func(ctx context.Context) {
			g.enter()
			defer g.leave()
			select {
			case <-release:
			case <-ctx.Done():
			}
		},
	})
	waitFor(t, 4*time.Second, "two skipped ticks", func() bool { return jobStats(t, s, "slow").Skipped >= 2 })

	st := jobStats(t, s, "slow")
	if st.Runs != 1 || !st.Running {
		t.Errorf("job stats %+v, want exactly 1 run, still running", st)
	}
	if peak := g.peak.Load(); peak != 1 {
		t.Errorf("%d runs of one job at once, want 1", peak)
	}
	if got := s.Stats().Skipped; got < 2 {
		t.Errorf("Stats.Skipped = %d, want at least 2", got)
	}
	if log := logs.String(); !strings.Contains(log, "tick skipped") || !strings.Contains(log, "job=slow") {
		t.Errorf("log does not report the skipped tick:\n%s", log)
	}

	close(release)
	waitFor(t, 3*time.Second, "a second run after the slow one ended", func() bool { return jobStats(t, s, "slow").Runs >= 2 })
}

func TestTimeoutCancelsRun(t *testing.T) {
	t.Parallel()
	type outcome struct {
		err, cause error
		took       time.Duration
	}
	done := make(chan outcome, 1)
	s := scheduler.New(scheduler.Options{})
	if err := s.Add(scheduler.Job{
		ID: "hangs", Schedule: "@every 1h", Timeout: 150 * time.Millisecond,
		Run: func(ctx context.Context) {
			begin := time.Now()
			<-ctx.Done()
			done <- outcome{ctx.Err(), context.Cause(ctx), time.Since(begin)}
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RunNow("hangs"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if !errors.Is(got.err, context.DeadlineExceeded) || !errors.Is(got.cause, scheduler.ErrTimeout) {
			t.Errorf("ctx ended with %v (cause %v), want deadline exceeded caused by ErrTimeout", got.err, got.cause)
		}
		if got.took < 150*time.Millisecond {
			t.Errorf("ctx ended after %s, before the 150ms timeout", got.took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run's context never ended")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	var g gauge
	rec := &ticks{}
	s := scheduler.New(scheduler.Options{MaxConcurrent: 2, OnTick: rec.add})
	ids := []string{"a", "b", "c", "d", "e", "f"}
	var finished sync.WaitGroup
	for _, id := range ids {
		addJob(t, s, id, "@every 1h", func(context.Context) {
			defer finished.Done()
			g.enter()
			defer g.leave()
			time.Sleep(150 * time.Millisecond)
		})
	}
	finished.Add(len(ids))
	for _, id := range ids {
		if err := s.RunNow(id); err != nil {
			t.Fatalf("RunNow(%s): %v", id, err)
		}
	}
	if st := s.Stats(); st.Running+st.Waiting != len(ids) || st.Running > 2 {
		t.Errorf("right after RunNow: running %d, waiting %d; want %d in all, at most 2 running", st.Running, st.Waiting, len(ids))
	}
	finished.Wait()

	if peak := g.peak.Load(); peak != 2 {
		t.Errorf("at most %d runs at once, want exactly the bound 2", peak)
	}
	var late int
	for _, id := range ids {
		for _, tk := range rec.of(id, scheduler.Started) {
			if !tk.Manual {
				t.Errorf("tick %+v not marked manual", tk)
			}
			if tk.Lag() >= 100*time.Millisecond {
				late++
			}
		}
	}
	if late < 2 {
		t.Errorf("%d runs waited for a slot, want the ones beyond the bound to wait", late)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := s.Stats(); st.Runs != uint64(len(ids)) || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want %d runs and none dropped", st, len(ids))
	}
}

func TestTickWaitingForSlotCountsAsRunning(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var tickRuns atomic.Int32
	s := start(t, scheduler.Options{MaxConcurrent: 1},
		scheduler.Job{ID: "hog", Schedule: "@every 1h", Timeout: time.Minute, Run: func(ctx context.Context) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}},
		scheduler.Job{ID: "ticker", Schedule: "@every 1s", Timeout: time.Minute, Run: func(context.Context) { tickRuns.Add(1) }},
	)
	if err := s.RunNow("hog"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 4*time.Second, "a tick skipped behind the waiting one", func() bool { return jobStats(t, s, "ticker").Skipped >= 1 })
	st := jobStats(t, s, "ticker")
	if !st.Waiting || st.Running || st.Runs != 0 || tickRuns.Load() != 0 {
		t.Errorf("ticker %+v ran %d times, want one tick waiting and none run", st, tickRuns.Load())
	}
	if lag := s.Stats().Lag; lag < 500*time.Millisecond {
		t.Errorf("Stats.Lag = %s while a tick has waited over a second, want it to show", lag)
	}

	close(release)
	waitFor(t, 2*time.Second, "the waiting tick to run", func() bool { return tickRuns.Load() >= 1 })
}

func TestLeadershipLostWhileWaitingForSlot(t *testing.T) {
	t.Parallel()
	var leader atomic.Bool
	leader.Store(true)
	release := make(chan struct{})
	var tickRuns atomic.Int32
	s := start(t, scheduler.Options{MaxConcurrent: 1, Leader: scheduler.LeaderFunc(leader.Load)},
		scheduler.Job{ID: "hog", Schedule: "@every 1h", Timeout: time.Minute, Run: func(ctx context.Context) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}},
		scheduler.Job{ID: "ticker", Schedule: "@every 1s", Timeout: time.Minute, Run: func(context.Context) { tickRuns.Add(1) }},
	)
	if err := s.RunNow("hog"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a tick waiting for the slot", func() bool { return jobStats(t, s, "ticker").Waiting })
	leader.Store(false)
	close(release)
	waitFor(t, 2*time.Second, "the waiting tick to be given up", func() bool {
		st := jobStats(t, s, "ticker")
		return !st.Waiting && st.NotLeader >= 1
	})
	if n := tickRuns.Load(); n != 0 {
		t.Errorf("%d runs after leadership was lost, want none", n)
	}
}

func TestRunNow(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := scheduler.New(scheduler.Options{})
	var manual atomic.Int32
	addJob(t, s, "blocks", "@every 1h", func(ctx context.Context) {
		if tk, ok := scheduler.TickOf(ctx); ok && tk.Manual && tk.Job == "blocks" {
			manual.Add(1)
		}
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
	})

	tests := []struct {
		name string
		id   string
		want error
	}{
		{name: "starts an idle job", id: "blocks", want: nil},
		{name: "refuses a running job", id: "blocks", want: scheduler.ErrRunning},
		{name: "unknown job", id: "nope", want: scheduler.ErrUnknownJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.RunNow(tt.id); !errors.Is(err, tt.want) {
				t.Fatalf("RunNow(%q) = %v, want %v", tt.id, err, tt.want)
			}
		})
	}
	select { // RunNow returned above while the run is still blocked
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the run never started")
	}
	if st := jobStats(t, s, "blocks"); !st.Running || st.Runs != 1 {
		t.Errorf("job %+v, want running with 1 run", st)
	}
	close(release)
	waitFor(t, 2*time.Second, "the run to end", func() bool { return !jobStats(t, s, "blocks").Running })
	if err := s.RunNow("blocks"); err != nil {
		t.Errorf("RunNow after the run ended = %v, want nil", err)
	}
	<-entered
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.RunNow("blocks"); !errors.Is(err, scheduler.ErrStopped) {
		t.Errorf("RunNow after Stop = %v, want ErrStopped", err)
	}
	if n := manual.Load(); n != 2 {
		t.Errorf("%d runs saw a manual tick in their context, want 2", n)
	}
}

func TestStopWaitsForRuns(t *testing.T) {
	t.Parallel()
	var finished atomic.Bool
	var sawCancel atomic.Bool
	entered := make(chan struct{})
	s := scheduler.New(scheduler.Options{})
	addJob(t, s, "short", "@every 1h", func(ctx context.Context) {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		sawCancel.Store(ctx.Err() != nil)
		finished.Store(true)
	})
	s.Start()
	if err := s.RunNow("short"); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v, want nil", err)
	}
	if !finished.Load() || sawCancel.Load() {
		t.Errorf("Stop returned with run finished=%v, cancelled=%v; want finished and not cancelled", finished.Load(), sawCancel.Load())
	}
	if st := s.Stats(); st.Interrupted != 0 || st.Running != 0 {
		t.Errorf("Stats = %+v, want nothing interrupted or running", st)
	}
}

func TestStopCancelsRunsAfterDeadline(t *testing.T) {
	t.Parallel()
	var returned, queuedRan atomic.Bool
	causes := make(chan error, 1)
	entered := make(chan struct{})
	s := scheduler.New(scheduler.Options{MaxConcurrent: 1})
	addJob(t, s, "stuck", "@every 1h", func(ctx context.Context) {
		close(entered)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		time.Sleep(50 * time.Millisecond) // records "error: interrupted"
		returned.Store(true)
	})
	addJob(t, s, "queued", "@every 1h", func(context.Context) { queuedRan.Store(true) })
	s.Start()
	if err := s.RunNow("stuck"); err != nil {
		t.Fatal(err)
	}
	<-entered // holds the only slot
	if err := s.RunNow("queued"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if !returned.Load() {
		t.Error("Stop returned before the cancelled run did")
	}
	if cause := <-causes; !errors.Is(cause, scheduler.ErrInterrupted) {
		t.Errorf("run's context cause = %v, want ErrInterrupted", cause)
	}
	if queuedRan.Load() {
		t.Error("a tick waiting for a slot ran after Stop began")
	}
	if st := s.Stats(); st.Interrupted != 1 || st.Dropped != 1 || st.Running != 0 || st.Waiting != 0 {
		t.Errorf("Stats = %+v, want 1 interrupted, 1 dropped, none running or waiting", st)
	}
	if again := s.Stop(context.Background()); !errors.Is(again, context.DeadlineExceeded) {
		t.Errorf("second Stop = %v, want the first Stop's result", again)
	}
}

func TestNotLeaderRunsNothing(t *testing.T) {
	t.Parallel()
	var leader atomic.Bool
	var runs atomic.Int32
	s := start(t, scheduler.Options{Leader: scheduler.LeaderFunc(leader.Load)}, scheduler.Job{
		ID: "led", Schedule: "@every 1s", Timeout: time.Second,
		Run: func(context.Context) { runs.Add(1) },
	})
	waitFor(t, 3*time.Second, "a tick on the follower", func() bool { return jobStats(t, s, "led").NotLeader >= 1 })
	if n := runs.Load(); n != 0 {
		t.Fatalf("%d runs while not the leader, want none", n)
	}
	if st := s.Stats(); st.NotLeader < 1 || st.Runs != 0 {
		t.Errorf("Stats = %+v, want not-leader ticks and no runs", st)
	}

	leader.Store(true)
	waitFor(t, 3*time.Second, "a run once leader", func() bool { return runs.Load() >= 1 })
}

func TestPanickingRunDoesNotStopScheduler(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	var calls atomic.Int32
	s := scheduler.New(scheduler.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	addJob(t, s, "panics", "@every 1h", func(context.Context) {
		calls.Add(1)
		panic("boom")
	})
	for range 2 {
		waitFor(t, 2*time.Second, "the job to be idle", func() bool {
			st := jobStats(t, s, "panics")
			return !st.Running && !st.Waiting
		})
		if err := s.RunNow("panics"); err != nil {
			t.Fatalf("RunNow: %v", err)
		}
	}
	waitFor(t, 2*time.Second, "the second run", func() bool { return calls.Load() == 2 })
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if calls.Load() != 2 || !strings.Contains(logs.String(), "run panicked") {
		t.Errorf("%d calls, log:\n%s\nwant 2 calls and the panic logged", calls.Load(), logs.String())
	}
}
