package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scheduler"
)

func noop(context.Context) {}

// addJob adds a job with a one-minute timeout and a no-op Run unless run is given.
func addJob(t testing.TB, s *scheduler.Scheduler, id, spec string, run func(context.Context)) {
	t.Helper()
	if run == nil {
		run = noop
	}
	if err := s.Add(scheduler.Job{ID: id, Schedule: spec, Timeout: time.Minute, Run: run}); err != nil {
		t.Fatalf("add %s: %v", id, err)
	}
}

func TestFirstRunsSpreadWithinOneInterval(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 0, 0, 123456789, time.UTC)
	clock := func() time.Time { return now }
	s := scheduler.New(scheduler.Options{Now: clock})
	const n, interval = 1000, 10 * time.Second
	for i := range n {
		addJob(t, s, fmt.Sprintf("check-%04d", i), "@every 10s", nil)
	}

	first := make(map[string]time.Time, n)
	var perSecond [10]int
	for _, j := range s.Jobs() {
		d := j.Next.Sub(now)
		if d <= 0 || d > interval {
			t.Errorf("%s first runs %s after start, want within (0, %s]", j.ID, d, interval)
			continue
		}
		perSecond[min(int(d/time.Second), 9)]++
		first[j.ID] = j.Next
	}
	// 100 a second on average; a cluster or an empty second means a bad spread.
	for sec, c := range perSecond {
		if c < 50 || c > 150 {
			t.Errorf("second %d after start holds %d first runs, want 50..150 (all: %v)", sec, c, perSecond)
		}
	}

	// A restart an odd time later plans each job on the same phase: every
	// replica and restart agrees on tick times, and the spread is kept.
	now = now.Add(time.Hour + 3700*time.Millisecond)
	s.Start()
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	for _, j := range s.Jobs() {
		d := j.Next.Sub(now)
		if d <= 0 || d > interval {
			t.Errorf("after restart %s runs %s after start, want within (0, %s]", j.ID, d, interval)
		}
		if shift := j.Next.Sub(first[j.ID]) % interval; shift != 0 {
			t.Errorf("after restart %s moved by %s off its phase", j.ID, shift)
		}
	}
}

func TestCronExpressionJitter(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 1, 0, 0, time.UTC)
	tests := []struct {
		name        string
		spec        string
		jitter      time.Duration
		from, until time.Time // every first run in [from, until)
		minDistinct int       // distinct first-run seconds over 200 jobs
	}{
		{
			name: "every five minutes, default 30s jitter", spec: "*/5 * * * *",
			from: now.Add(4 * time.Minute), until: now.Add(4*time.Minute + 30*time.Second), minDistinct: 25,
		},
		{
			name: "jitter disabled", spec: "*/5 * * * *", jitter: -1,
			from: now.Add(4 * time.Minute), until: now.Add(4*time.Minute + 1), minDistinct: 1,
		},
		{
			name: "jitter never reaches the following tick", spec: "* * * * *", jitter: 5 * time.Minute,
			from: now, until: now.Add(time.Minute), minDistinct: 50,
		},
		{
			name: "descriptor", spec: "@hourly", jitter: 10 * time.Second,
			from: now.Add(59 * time.Minute), until: now.Add(59*time.Minute + 10*time.Second), minDistinct: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scheduler.New(scheduler.Options{CronJitter: tt.jitter, Now: func() time.Time { return now }})
			for i := range 200 {
				addJob(t, s, fmt.Sprintf("check-%03d", i), tt.spec, nil)
			}
			seconds := map[int64]bool{}
			for _, j := range s.Jobs() {
				if j.Next.Before(tt.from) || !j.Next.Before(tt.until) || !j.Next.After(now) {
					t.Errorf("%s first runs at %s, want in [%s, %s) and after now", j.ID, j.Next, tt.from, tt.until)
				}
				seconds[j.Next.Unix()] = true
			}
			if len(seconds) < tt.minDistinct {
				t.Errorf("first runs fall on %d distinct seconds, want at least %d", len(seconds), tt.minDistinct)
			}
		})
	}
}

func TestAddRejects(t *testing.T) {
	valid := scheduler.Job{ID: "b", Schedule: "@every 5m", Timeout: time.Minute, Run: noop}
	with := func(edit func(*scheduler.Job)) scheduler.Job {
		j := valid
		edit(&j)
		return j
	}
	tests := []struct {
		name string
		job  scheduler.Job
		want error
	}{
		{name: "empty id", job: with(func(j *scheduler.Job) { j.ID = "" }), want: scheduler.ErrInvalidJob},
		{name: "nil run", job: with(func(j *scheduler.Job) { j.Run = nil }), want: scheduler.ErrInvalidJob},
		{name: "zero timeout", job: with(func(j *scheduler.Job) { j.Timeout = 0 }), want: scheduler.ErrInvalidJob},
		{name: "empty schedule", job: with(func(j *scheduler.Job) { j.Schedule = "" }), want: scheduler.ErrInvalidJob},
		{name: "not a spec", job: with(func(j *scheduler.Job) { j.Schedule = "every 5m" }), want: scheduler.ErrInvalidJob},
		{name: "seconds field", job: with(func(j *scheduler.Job) { j.Schedule = "0 */5 * * * *" }), want: scheduler.ErrInvalidJob},
		{name: "never fires", job: with(func(j *scheduler.Job) { j.Schedule = "0 0 30 2 *" }), want: scheduler.ErrInvalidJob},
		{name: "duplicate id", job: with(func(j *scheduler.Job) { j.ID = "a" }), want: scheduler.ErrDuplicateJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scheduler.New(scheduler.Options{})
			addJob(t, s, "a", "@every 1m", nil)
			err := s.Add(tt.job)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Add = %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		s := scheduler.New(scheduler.Options{})
		if err := s.Add(valid); err != nil {
			t.Fatalf("Add = %v, want nil", err)
		}
	})
	t.Run("after stop", func(t *testing.T) {
		s := scheduler.New(scheduler.Options{})
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Add(valid); !errors.Is(err, scheduler.ErrStopped) {
			t.Fatalf("Add after Stop = %v, want ErrStopped", err)
		}
	})
}
