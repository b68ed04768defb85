package scheduler

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
)

// plan says when a job's ticks fall. It is a pure function of the job id, the
// schedule and the jitter window, so every replica (and every restart) computes
// the same tick times for a job.
type plan struct {
	sched cron.Schedule
	// every > 0 for "@every d": ticks fall at phase + k·d after the Unix epoch,
	// with phase in [0, d) derived from the job id. The first run comes within
	// one interval of start-up and later ticks keep the same spread.
	every time.Duration
	phase time.Duration
	// For cron expressions each tick is delayed by frac (in [0, 1), derived from
	// the job id) of the jitter window: min(jitter, gap to the following tick).
	frac   float64
	jitter time.Duration
}

// maxCatchUp bounds the search for the next tick of a cron expression.
const maxCatchUp = 10000

// newPlan parses spec with cron.ParseStandard. jitter is the widest delay
// added to a cron-expression tick (0 for none); it does not apply to @every.
func newPlan(id, spec string, jitter time.Duration) (plan, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return plan{}, fmt.Errorf("schedule %q: %w", spec, err)
	}
	h := idHash(id)
	p := plan{sched: sched, jitter: max(jitter, 0)}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		p.every = every.Delay
		p.phase = time.Duration(h % uint64(every.Delay))
	} else {
		p.frac = float64(h>>11) / (1 << 53)
	}
	return p, nil
}

// after returns the first tick strictly after t, or the zero time when the
// schedule never fires again.
func (p plan) after(t time.Time) time.Time {
	if p.every > 0 {
		n := t.UnixNano() - int64(p.phase)
		k := n / int64(p.every)
		if n < 0 && n%int64(p.every) != 0 {
			k-- // floor division
		}
		return time.Unix(0, (k+1)*int64(p.every)+int64(p.phase))
	}
	// A tick based at or before t-jitter fires at or before t, so the search
	// starts there.
	base := p.sched.Next(t.Add(-p.jitter))
	for i := 0; i < maxCatchUp && !base.IsZero(); i++ {
		if at := base.Add(p.delay(base)); at.After(t) {
			return at
		}
		base = p.sched.Next(base)
	}
	return time.Time{}
}

// delay is how long after its schedule time a cron-expression tick fires.
// It is shorter than the gap to the following tick, so ticks keep their order.
func (p plan) delay(base time.Time) time.Duration {
	window := p.jitter
	if next := p.sched.Next(base); !next.IsZero() && next.Sub(base) < window {
		window = next.Sub(base)
	}
	return time.Duration(p.frac * float64(window))
}

// idHash spreads job ids uniformly over 64 bits, including ids that differ in
// one character only (check-0001, check-0002, ...).
func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := h.Sum64()
	// splitmix64 finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
