// Package scheduler runs jobs on robfig/cron schedules: each run gets its
// job's timeout, a job never overlaps itself, a global bound caps concurrent
// runs, first runs are spread over the schedule's interval, and an optional
// leader hook lets only one replica run each tick.
//
// Timing. Schedules are parsed with cron.ParseStandard, but ticks are planned
// here rather than by cron.Cron (which sorts every entry on each wake-up and
// rounds "@every" ticks onto whole seconds, so a thousand checks would fire
// together). An "@every d" job ticks at phase + k·d since the Unix epoch,
// where phase in [0, d) is a hash of the job id: the first run comes within
// one interval of start-up, later ticks stay spread, and every replica and
// restart agrees on the tick times. A cron expression ("*/5 * * * *",
// "@hourly") ticks at its own times plus a per-job delay within
// Options.CronJitter (default 30s), never past the following tick. "@every"
// keeps robfig's rounding: whole seconds, at least 1s.
//
// Overlap. A job is busy from the moment a tick is accepted (possibly waiting
// for one of the Options.MaxConcurrent slots) until its Run returns. A
// scheduled tick that finds its job busy is skipped, counted and logged; so is
// one that arrives while a late tick is still waiting for a slot. Ticks are
// never queued behind a busy job. Ticks missed altogether (the process was
// suspended) are not caught up: the job runs once and resumes its plan.
//
// Run now. RunNow starts a run at once (or as soon as a slot is free) and
// returns without waiting for it; when the job is busy it returns ErrRunning
// rather than queueing. RunNow does not consult the leader hook: it runs on
// the replica that was asked.
//
// Leader. The hook is asked when a tick is due and again when a tick that
// waited for a slot is about to start, so a replica that lost its lease
// meanwhile does not run it.
//
// Replicas. With Options.Claims every replica schedules every job and each
// tick runs on the replica that claims it in the store. The replica the
// Claimer prefers for a job claims its tick once a run slot is free (so a
// replica with every slot busy holds no claim it cannot start); the others
// keep the tick aside and, Options.ClaimGrace after it was due, claim it
// in one batch with their other such ticks if no replica has (the
// preferred one died or is overloaded), as many as they have free slots
// for. A tick nobody claimed by the job's next tick is missed (counted). A
// tick that finds its job still running here is claimed and skipped, so
// no other replica runs it meanwhile; one that finds its last tick still
// waiting for a slot here is left to the others. RunNow claims nothing.
//
// Shutdown. Stop drops ticks still waiting for a slot (but runs a tick this
// replica has already claimed: no other replica would), waits for runs until
// its context ends, then cancels them (context.Cause is ErrInterrupted) and
// waits for them to return: a Run must return soon after its ctx is done.
package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// Errors returned by the scheduler; match them with errors.Is.
var (
	ErrInvalidJob   = errors.New("invalid job")
	ErrDuplicateJob = errors.New("duplicate job id")
	ErrUnknownJob   = errors.New("unknown job")
	ErrRunning      = errors.New("job is already running")
	ErrStopped      = errors.New("scheduler stopped")
	// ErrTimeout is the cause (context.Cause) of a run's context that reached
	// its job's timeout; ctx.Err() is then context.DeadlineExceeded.
	ErrTimeout = errors.New("run timed out")
	// ErrInterrupted is the cause (context.Cause) of a run's context that Stop
	// cancelled at shutdown; ctx.Err() is then context.Canceled.
	ErrInterrupted = errors.New("interrupted")
)

// Defaults for Options fields left at zero.
const (
	DefaultMaxConcurrent = 16
	DefaultCronJitter    = 30 * time.Second
	DefaultClaimGrace    = time.Second
)

// Replica mode timings: how often ticks kept aside are offered for claims,
// and how old a tick may be when it is claimed (the store keeps claims
// longer than that; see store.PruneTickClaims).
const (
	sweepEvery   = 250 * time.Millisecond
	ClaimHorizon = 5 * time.Minute
)

// Job is one scheduled unit of work (a check).
type Job struct {
	ID string
	// Schedule is any cron.ParseStandard spec: "*/5 * * * *", "@hourly",
	// "@every 5m", with an optional "CRON_TZ=Area/City " prefix.
	Schedule string
	// Timeout bounds each run: Run's context ends after it (cause ErrTimeout).
	Timeout time.Duration
	// Run does the work and records its own result. It must return soon after
	// ctx is done.
	Run func(ctx context.Context)
}

// Leader reports whether this replica should run scheduled ticks. It is
// consulted once per tick on the scheduler's timing goroutine, so it must
// return quickly (read a cached lease state; don't query a database).
type Leader interface {
	IsLeader() bool
}

// LeaderFunc adapts a function to Leader.
type LeaderFunc func() bool

// IsLeader calls f.
func (f LeaderFunc) IsLeader() bool { return f() }

// Options configures a Scheduler. The zero value is usable.
type Options struct {
	// MaxConcurrent bounds how many runs execute at once, over all jobs
	// (default DefaultMaxConcurrent). Ticks beyond it wait for a slot, in order.
	MaxConcurrent int
	// CronJitter is the widest delay added to a cron-expression tick to spread
	// jobs sharing a schedule (default DefaultCronJitter; negative: none).
	// "@every" schedules are spread over their own interval instead.
	CronJitter time.Duration
	// Leader, when set, is asked at each scheduled tick; a tick on a replica
	// that is not the leader is not run (counted as NotLeader).
	Leader Leader
	// Claims, when set, shares the ticks between replicas (see the package
	// comment): each tick runs on the replica that claims it.
	Claims Claimer
	// ClaimGrace is how long after a tick was due a replica that is not the
	// preferred one claims it, if no replica has (default
	// DefaultClaimGrace, at most half an "@every" job's interval).
	ClaimGrace time.Duration
	// OnTick, when set, is called for every tick outcome (started, skipped,
	// not leader, dropped), outside the scheduler's lock and on no particular
	// goroutine; it must be safe for concurrent use and return quickly. It is
	// the hook for a scheduler.lag metric.
	OnTick func(Tick)
	// Logger receives skips, drops, panics and missed ticks (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now). Timers are real; an injected clock
	// only moves the planned tick times and the measured lateness.
	Now func() time.Time
}

// Scheduler runs jobs on their schedules. Its methods are safe for concurrent
// use. Create it with New.
type Scheduler struct {
	slots      chan struct{}
	tasks      chan func() // runs handed to idle workers (unbuffered)
	leader     Leader
	claims     Claimer // nil: one replica runs every tick (its leader's)
	claimGrace time.Duration
	onTick     func(Tick)
	log        *slog.Logger
	now        func() time.Time
	cronJitter time.Duration

	base   context.Context // parent of every run's context
	cancel context.CancelCauseFunc
	runs   sync.WaitGroup // one per accepted tick, until it finishes or is dropped

	wake      chan struct{} // nudges the timing loop after Add
	stopCh    chan struct{} // closed when Stop begins
	loopDone  chan struct{} // closed when the timing loop has returned
	sweepDone chan struct{} // closed when the claims sweep has returned (or never started)
	stopDone  chan struct{} // closed when Stop has finished
	stopErr   error         // written before stopDone is closed

	mu    sync.Mutex
	jobs  map[string]*entry
	queue queue // jobs by next tick
	// firing is the earliest scheduled time of the ticks the timing loop has
	// taken off the queue but not yet handed to fire (zero when none), so
	// Stats still counts their lateness in between.
	firing   time.Time
	started  bool
	stopping bool
	totals   Stats // counters and latest values; Jobs/Running/Waiting/Lag are derived
	// aside are the ticks of jobs another replica is preferred for, kept
	// until they are claimed (replica mode only), in due order.
	aside []asideTick
	// perSecond counts the runs started in each of the last 60 seconds.
	perSecond [60]secondCount
}

// asideTick is a tick another replica is preferred for: this one claims
// it from due until expires if nobody has.
type asideTick struct {
	e                       *entry
	scheduled, due, expires time.Time
}

type secondCount struct {
	sec int64
	n   int
}

// entry is a job and its state; all fields but job and plan are guarded by
// Scheduler.mu.
type entry struct {
	job     Job
	plan    plan
	grace   time.Duration // the claim grace of its ticks (replica mode)
	timeout error         // cause of a run's context at its timeout
	next    time.Time     // next tick; zero when the schedule never fires again
	index   int           // position in the queue, -1 when not queued

	busy    bool      // a run is waiting for a slot or executing
	waiting bool      // the run is waiting for a slot
	pending time.Time // scheduled time of the busy run
	stats   JobStats
}

// New returns a stopped scheduler with no jobs. Add jobs, then Start it.
func New(opts Options) *Scheduler {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.CronJitter == 0 {
		opts.CronJitter = DefaultCronJitter
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClaimGrace <= 0 {
		opts.ClaimGrace = DefaultClaimGrace
	}
	base, cancel := context.WithCancelCause(context.Background())
	return &Scheduler{
		slots:      make(chan struct{}, opts.MaxConcurrent),
		tasks:      make(chan func()),
		leader:     opts.Leader,
		claims:     opts.Claims,
		claimGrace: opts.ClaimGrace,
		onTick:     opts.OnTick,
		log:        opts.Logger,
		now:        opts.Now,
		cronJitter: max(opts.CronJitter, 0),
		base:       base,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		stopCh:     make(chan struct{}),
		loopDone:   make(chan struct{}),
		sweepDone:  make(chan struct{}),
		stopDone:   make(chan struct{}),
		jobs:       make(map[string]*entry),
	}
}

// Add registers a job, before or after Start. It returns an error wrapping
// ErrInvalidJob (empty id, nil Run, timeout not positive, a schedule that does
// not parse or never fires), ErrDuplicateJob, or ErrStopped after Stop.
func (s *Scheduler) Add(job Job) error {
	invalid := func(why string, args ...any) error {
		return fmt.Errorf("scheduler: add job %q: %w: %s", job.ID, ErrInvalidJob, fmt.Sprintf(why, args...))
	}
	switch {
	case job.ID == "":
		return invalid("empty id")
	case job.Run == nil:
		return invalid("nil Run")
	case job.Timeout <= 0:
		return invalid("timeout %s is not positive", job.Timeout)
	}
	p, err := newPlan(job.ID, job.Schedule, s.cronJitter)
	if err != nil {
		return invalid("%v", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return fmt.Errorf("scheduler: add job %q: %w", job.ID, ErrStopped)
	}
	if _, ok := s.jobs[job.ID]; ok {
		return fmt.Errorf("scheduler: add job %q: %w", job.ID, ErrDuplicateJob)
	}
	e := &entry{job: job, plan: p, index: -1, timeout: &timeoutError{job.Timeout}, grace: s.claimGrace}
	if p.every > 0 {
		e.grace = min(e.grace, p.every/2)
	}
	e.stats.ID, e.stats.Schedule, e.stats.Timeout = job.ID, job.Schedule, job.Timeout
	if e.next = p.after(s.now()); e.next.IsZero() {
		return invalid("schedule %q never fires", job.Schedule)
	}
	s.jobs[job.ID] = e
	heap.Push(&s.queue, e)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Start begins running ticks; first ticks are planned from now, so jobs added
// long before Start don't all fire at once. Calling Start again, or after
// Stop, does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopping {
		return
	}
	s.started = true
	now := s.now()
	planned := s.queue[:0]
	for _, e := range s.queue {
		if e.next = e.plan.after(now); e.next.IsZero() {
			e.index = -1 // the schedule has no tick left
			continue
		}
		planned = append(planned, e)
	}
	clear(s.queue[len(planned):])
	s.queue = planned
	for i, e := range s.queue {
		e.index = i
	}
	heap.Init(&s.queue)
	go s.loop()
	if s.claims != nil {
		go s.sweep()
	} else {
		close(s.sweepDone)
	}
}

// RunNow starts a run of job id without waiting for it (the run may still
// wait for a free slot). It never overlaps the job's own runs: when the job
// is busy it returns an error wrapping ErrRunning and does not queue the
// request. Other errors wrap ErrUnknownJob or ErrStopped. It works before
// Start and ignores the leader hook.
func (s *Scheduler) RunNow(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return fmt.Errorf("scheduler: run %q now: %w", id, ErrStopped)
	}
	e, ok := s.jobs[id]
	if !ok {
		return fmt.Errorf("scheduler: run %q now: %w", id, ErrUnknownJob)
	}
	if e.busy {
		return fmt.Errorf("scheduler: run %q now: %w", id, ErrRunning)
	}
	s.acceptLocked(e, s.now(), true, false)
	return nil
}

// Stop stops planning ticks and refuses RunNow and Add. Ticks still waiting
// for a slot are dropped (counted and logged). Runs in progress are awaited
// until ctx is done; then their contexts are cancelled with cause
// ErrInterrupted and Stop waits for them to return. It returns nil when every
// run finished on its own, or an error wrapping ctx.Err() that says how many
// runs were interrupted. Later calls wait for the first to finish and return
// its result.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		select {
		case <-s.stopDone:
			return s.stopErr
		case <-ctx.Done():
			return fmt.Errorf("scheduler: stop: %w", ctx.Err())
		}
	}
	s.stopping = true
	started := s.started
	close(s.stopCh)
	s.mu.Unlock()

	if started {
		<-s.loopDone
		<-s.sweepDone
	}
	drained := make(chan struct{})
	go func() {
		s.runs.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		s.cancel(ErrInterrupted)
		<-drained
		s.mu.Lock()
		n := s.totals.Interrupted
		s.mu.Unlock()
		err = fmt.Errorf("scheduler: stop: interrupted %d runs: %w", n, ctx.Err())
	}
	s.cancel(ErrStopped) // releases the base context; no run is left to see it
	s.stopErr = err
	close(s.stopDone)
	return err
}

// loop fires due ticks until Stop.
func (s *Scheduler) loop() {
	defer close(s.loopDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []due
	for {
		batch = batch[:0]
		s.mu.Lock()
		now := s.now()
		for len(s.queue) > 0 && !s.queue[0].next.After(now) {
			e := s.queue[0]
			d := due{e: e, scheduled: e.next}
			e.next = e.plan.after(e.next)
			if !e.next.IsZero() && !e.next.After(now) {
				d.missedFrom = e.next
				e.next = e.plan.after(now)
			}
			if e.next.IsZero() {
				heap.Pop(&s.queue)
			} else {
				heap.Fix(&s.queue, 0)
			}
			batch = append(batch, d)
			if s.firing.IsZero() || d.scheduled.Before(s.firing) {
				s.firing = d.scheduled
			}
		}
		wait := time.Duration(-1)
		if len(s.queue) > 0 {
			wait = s.queue[0].next.Sub(now)
		}
		s.mu.Unlock()

		for _, d := range batch {
			s.fire(d, now)
		}
		if len(batch) > 0 {
			s.mu.Lock()
			s.firing = time.Time{}
			s.mu.Unlock()
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-s.stopCh:
			timer.Stop()
			return
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// due is a tick taken off the queue.
type due struct {
	e          *entry
	scheduled  time.Time
	missedFrom time.Time // first of the ticks that were missed after it, if any
}

// fire handles one scheduled tick: not leader, skipped, or accepted.
func (s *Scheduler) fire(d due, now time.Time) {
	if !d.missedFrom.IsZero() {
		s.log.Warn("scheduler: ticks missed, scheduler was late", "job", d.e.job.ID,
			"scheduled", d.scheduled, "missed_from", d.missedFrom, "now", now)
	}
	leader := s.leader == nil || s.leader.IsLeader()
	prefer := s.claims == nil || s.claims.Prefers(d.e.job.ID)
	tick := Tick{Job: d.e.job.ID, Scheduled: d.scheduled, At: now, Replica: s.replica()}

	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	s.totals.LastTick = now
	e := d.e
	switch {
	case !leader:
		tick.Outcome = NotLeader
		e.stats.NotLeader++
		s.totals.NotLeader++
	case !prefer:
		// Another replica claims it unless it cannot: keep it aside.
		expires := d.scheduled.Add(ClaimHorizon)
		if !e.next.IsZero() && e.next.Before(expires) {
			expires = e.next
		}
		s.aside = append(s.aside, asideTick{e: e, scheduled: d.scheduled, due: d.scheduled.Add(e.grace), expires: expires})
		s.totals.Deferred++
		s.mu.Unlock()
		return
	case e.busy:
		tick.Outcome = Skipped
		e.stats.Skipped++
		s.totals.Skipped++
	default:
		s.acceptLocked(e, d.scheduled, false, false)
	}
	skipped, busySince, running := e.stats.Skipped, e.pending, e.busy && !e.waiting
	s.mu.Unlock()
	if tick.Outcome == Skipped && s.claims != nil && running {
		// Claimed, so no other replica runs it while this run goes on. A
		// tick skipped while the last one waits for a slot is left to the
		// other replicas.
		s.claimSkipped(tick)
	}

	switch tick.Outcome {
	case NotLeader:
		s.log.Debug("scheduler: tick not run, not the leader", "job", tick.Job, "scheduled", tick.Scheduled)
	case Skipped:
		s.log.Warn("scheduler: tick skipped, previous run still going", "job", tick.Job,
			"scheduled", tick.Scheduled, "running_since", busySince, "skipped", skipped)
	default:
		return // the run reports its own tick when it starts
	}
	s.emit(tick)
}

// acceptLocked marks e busy and starts the goroutine that waits for a slot
// and runs it; claimed says the tick is already this replica's. s.mu must
// be held.
func (s *Scheduler) acceptLocked(e *entry, scheduled time.Time, manual, claimed bool) {
	e.busy, e.waiting, e.pending = true, true, scheduled
	s.totals.Waiting++
	s.runs.Add(1)
	go s.run(e, scheduled, manual, claimed)
}

// run waits for a slot, then (in replica mode) claims the tick, then runs
// e's job with its timeout.
//
// A tick this replica has claimed runs even when Stop begins meanwhile (Stop
// waits for it like any run): no other replica will run it.
func (s *Scheduler) run(e *entry, scheduled time.Time, manual, claimed bool) {
	defer s.runs.Done()
	if claimed {
		s.slots <- struct{}{}
	} else {
		select {
		case s.slots <- struct{}{}:
		case <-s.stopCh:
			s.drop(e, scheduled, manual)
			return
		}
	}
	defer func() { <-s.slots }()

	// Leadership may have moved while the tick waited for a slot.
	notRun := Outcome("")
	if !manual && s.leader != nil && !s.leader.IsLeader() {
		notRun = NotLeader
	}
	if !manual && !claimed && s.claims != nil && notRun == "" {
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			s.drop(e, scheduled, manual)
			return
		}
		if notRun = s.claim(e.job.ID, scheduled); notRun == "" {
			claimed = true
		}
	}

	s.mu.Lock()
	if s.stopping && !claimed {
		s.mu.Unlock()
		s.drop(e, scheduled, manual)
		return
	}
	started := s.now()
	if notRun != "" {
		e.busy, e.waiting = false, false
		s.totals.Waiting--
		switch notRun {
		case NotLeader:
			e.stats.NotLeader++
			s.totals.NotLeader++
		case Elsewhere:
			s.totals.Elsewhere++
		default:
			s.totals.Missed++
		}
		s.mu.Unlock()
		s.log.Debug("scheduler: waiting tick not run", "job", e.job.ID, "scheduled", scheduled, "outcome", notRun)
		s.emit(Tick{Job: e.job.ID, Scheduled: scheduled, At: started, Outcome: notRun, Replica: s.replica()})
		return
	}
	e.waiting = false
	e.stats.Runs++
	e.stats.LastScheduled, e.stats.LastStarted, e.stats.LastLag = scheduled, started, started.Sub(scheduled)
	s.totals.Waiting--
	s.totals.Running++
	s.totals.Runs++
	s.totals.LastLag = started.Sub(scheduled)
	s.countRunLocked(started)
	s.mu.Unlock()
	tick := Tick{Job: e.job.ID, Scheduled: scheduled, At: started, Outcome: Started, Manual: manual, Replica: s.replica()}
	s.emit(tick)

	ctx, cancel := context.WithTimeoutCause(context.WithValue(s.base, tickKey{}, tick), e.job.Timeout, e.timeout)
	s.work(func() { s.call(ctx, e.job) })
	interrupted := errors.Is(context.Cause(ctx), ErrInterrupted)
	cancel()

	s.mu.Lock()
	e.busy = false
	s.totals.Running--
	if interrupted {
		s.totals.Interrupted++
	}
	s.mu.Unlock()
}

// workerIdle is how long a worker goroutine waits for another run before
// it exits.
const workerIdle = time.Minute

// work runs fn on a worker goroutine and waits for it. Workers outlive
// runs (until idle for workerIdle), so the stack a run grew (a store
// write goes deep) serves the next runs: a fresh goroutine per run spent
// a seventh of serve's CPU growing and copying stacks. At most one worker
// per run slot is busy, so there are at most MaxConcurrent of them.
func (s *Scheduler) work(fn func()) {
	done := make(chan struct{})
	task := func() { defer close(done); fn() }
	select {
	case s.tasks <- task:
	default:
		go s.worker(task)
	}
	<-done
}

func (s *Scheduler) worker(task func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		task()
		t.Reset(workerIdle)
		select {
		case task = <-s.tasks:
		case <-t.C:
			return
		case <-s.stopCh: // runs still draining get workers of their own
			return
		}
	}
}

// call runs job, turning a panic into a log line so one broken job cannot
// stop the others.
func (s *Scheduler) call(ctx context.Context, job Job) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("scheduler: run panicked", "job", job.ID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	job.Run(ctx)
}

// drop abandons a tick that was waiting for a slot when Stop began.
func (s *Scheduler) drop(e *entry, scheduled time.Time, manual bool) {
	s.mu.Lock()
	e.busy, e.waiting = false, false
	s.totals.Waiting--
	s.totals.Dropped++
	s.mu.Unlock()
	s.log.Warn("scheduler: tick dropped at shutdown, it was waiting for a run slot",
		"job", e.job.ID, "scheduled", scheduled, "manual", manual)
	s.emit(Tick{Job: e.job.ID, Scheduled: scheduled, At: s.now(), Outcome: Dropped, Manual: manual, Replica: s.replica()})
}

// claimTimeout bounds one claim in the store.
const claimTimeout = 10 * time.Second

// replica is this replica's name ("" without Claims).
func (s *Scheduler) replica() string {
	if s.claims == nil {
		return ""
	}
	return s.claims.Replica()
}

// claim claims a tick for this replica: "" when it did, Elsewhere when
// another replica holds it, Missed when it is too old to claim or the
// store failed (then the other replicas may still take it).
func (s *Scheduler) claim(job string, scheduled time.Time) Outcome {
	if age := s.now().Sub(scheduled); age > ClaimHorizon {
		s.log.Warn("scheduler: tick too old to claim", "job", job, "scheduled", scheduled, "age", age)
		return Missed
	}
	ctx, cancel := context.WithTimeout(s.base, claimTimeout)
	ok, err := s.claims.Claim(ctx, job, scheduled)
	cancel()
	switch {
	case err != nil:
		s.log.Warn("scheduler: claim tick", "job", job, "scheduled", scheduled, "err", err)
		return Missed
	case !ok:
		return Elsewhere
	}
	return ""
}

// claimSkipped claims a tick skipped because its job is still running
// here, so no other replica runs it meanwhile.
func (s *Scheduler) claimSkipped(t Tick) {
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		ctx, cancel := context.WithTimeout(s.base, claimTimeout)
		defer cancel()
		if _, err := s.claims.Claim(ctx, t.Job, t.Scheduled); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler: claim skipped tick", "job", t.Job, "scheduled", t.Scheduled, "err", err)
		}
	}()
}

// sweep offers the ticks kept aside for claims every sweepEvery until
// Stop.
func (s *Scheduler) sweep() {
	defer close(s.sweepDone)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-t.C:
		}
		s.takeOver()
	}
}

// takeOver claims, in one batch, the ticks kept aside that are past their
// grace and that no replica has claimed, as many as there are free slots,
// and runs them. Ticks still unclaimed stay aside until they expire
// (missed); the others were claimed by other replicas.
func (s *Scheduler) takeOver() {
	type key struct {
		job string
		at  int64
	}
	s.mu.Lock()
	now := s.now()
	free := cap(s.slots) - s.totals.Running - s.totals.Waiting
	var ask []store.TickRef
	asked := map[key]asideTick{}
	var missed []asideTick
	keep := s.aside[:0]
	for _, a := range s.aside {
		switch {
		case !now.Before(a.expires):
			missed = append(missed, a)
		case now.Before(a.due):
			keep = append(keep, a)
		default:
			ask = append(ask, store.TickRef{CheckID: a.e.job.ID, Scheduled: a.scheduled})
			asked[key{a.e.job.ID, a.scheduled.UnixNano()}] = a
		}
	}
	clear(s.aside[len(keep):])
	s.aside = keep
	s.totals.Missed += uint64(len(missed))
	s.mu.Unlock()
	for _, a := range missed {
		s.log.Warn("scheduler: tick missed, no replica claimed it", "job", a.e.job.ID, "scheduled", a.scheduled)
		s.emit(Tick{Job: a.e.job.ID, Scheduled: a.scheduled, At: now, Outcome: Missed, Replica: s.replica()})
	}
	if len(ask) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.base, claimTimeout)
	won, open, err := s.claims.ClaimOpen(ctx, ask, max(free, 0))
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Ticks won are run even when Stop has begun: Stop waits for the runs
	// only once this sweep has returned.
	if err != nil {
		s.log.Warn("scheduler: claim ticks kept aside", "ticks", len(ask), "err", err)
		for _, a := range asked {
			s.aside = append(s.aside, a) // try again at the next sweep
		}
		return
	}
	for _, t := range open {
		if a, ok := asked[key{t.CheckID, t.Scheduled.UnixNano()}]; ok {
			s.aside = append(s.aside, a)
		}
	}
	for _, t := range won {
		a, ok := asked[key{t.CheckID, t.Scheduled.UnixNano()}]
		if !ok {
			continue
		}
		s.totals.TakenOver++
		if a.e.busy { // claimed, so no replica runs it while this one's run goes on
			a.e.stats.Skipped++
			s.totals.Skipped++
			continue
		}
		s.acceptLocked(a.e, a.scheduled, false, true)
	}
}

// countRunLocked counts a run started at t in the last minute's runs.
func (s *Scheduler) countRunLocked(t time.Time) {
	sec := t.Unix()
	c := &s.perSecond[sec%60]
	if c.sec != sec {
		c.sec, c.n = sec, 0
	}
	c.n++
}

// runsLastMinuteLocked counts the runs started in the 60 seconds up to now.
func (s *Scheduler) runsLastMinuteLocked(now time.Time) int {
	n := 0
	for _, c := range s.perSecond {
		if age := now.Unix() - c.sec; age >= 0 && age < 60 {
			n += c.n
		}
	}
	return n
}

func (s *Scheduler) emit(t Tick) {
	if s.onTick != nil {
		s.onTick(t)
	}
}

// Stats returns the scheduler's counters and current lateness.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st := s.totals
	st.Scheduling = s.started && !s.stopping
	st.Jobs = len(s.jobs)
	st.Replica = s.replica()
	st.RunsLastMinute = s.runsLastMinuteLocked(now)
	st.Lag = st.LastLag
	if s.started && !s.stopping && len(s.queue) > 0 {
		st.Lag = max(st.Lag, now.Sub(s.queue[0].next)) // the timing loop is behind
	}
	if !s.firing.IsZero() {
		st.Lag = max(st.Lag, now.Sub(s.firing)) // taken off the queue, not yet accepted
	}
	if st.Waiting > 0 {
		for _, e := range s.jobs {
			if e.waiting {
				st.Lag = max(st.Lag, now.Sub(e.pending))
			}
		}
	}
	return st
}

// Job returns the state of job id, or an error wrapping ErrUnknownJob.
func (s *Scheduler) Job(id string) (JobStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[id]
	if !ok {
		return JobStats{}, fmt.Errorf("scheduler: job %q: %w", id, ErrUnknownJob)
	}
	return e.snapshot(), nil
}

// Jobs returns the state of every job, ordered by id.
func (s *Scheduler) Jobs() []JobStats {
	s.mu.Lock()
	out := make([]JobStats, 0, len(s.jobs))
	for _, e := range s.jobs {
		out = append(out, e.snapshot())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// snapshot copies e's state; s.mu must be held.
func (e *entry) snapshot() JobStats {
	st := e.stats
	st.Running = e.busy && !e.waiting
	st.Waiting = e.waiting
	st.Next = e.next
	return st
}

// timeoutError is the cause of a run's context at its timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("%v after %s", ErrTimeout, e.after) }
func (e *timeoutError) Unwrap() error { return ErrTimeout }

// queue is a min-heap of entries by next tick.
type queue []*entry

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

func (q *queue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}

func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*q = old[:len(old)-1]
	return e
}
