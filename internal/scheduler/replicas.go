package scheduler

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// Claimer shares ticks between replicas: a tick runs on the replica that
// claims it, so it runs once however many replicas schedule it. Replicas
// implements it over a PostgreSQL store.
type Claimer interface {
	// Replica names this replica.
	Replica() string
	// Prefers reports whether this replica should claim job's ticks as soon
	// as they are due. The others claim a tick only when nobody has
	// Options.ClaimGrace after it was due.
	Prefers(job string) bool
	// Claim claims one tick for this replica: false when another replica
	// holds it.
	Claim(ctx context.Context, job string, scheduled time.Time) (bool, error)
	// ClaimOpen claims at most limit of ticks that no replica has claimed,
	// oldest first, and returns those it claimed and those still
	// unclaimed (every other tick is some replica's).
	ClaimOpen(ctx context.Context, ticks []store.TickRef, limit int) (won, open []store.TickRef, err error)
}

// Replicas is this process's membership among the replicas sharing a
// PostgreSQL store, and its Claimer. Run heartbeats every TTL/3 with the
// scheduler's figures and reads which replicas are alive (seen within one
// TTL). Each job is preferred by one live replica, chosen by rendezvous
// hashing of the job id with the replica ids: each replica prefers about
// 1/N of the jobs, the same replica keeps running a job (warm connections)
// while the replicas stay the same, and a replica that joins or leaves
// moves only its own share. A replica that stops gracefully leaves at
// once (Leave); one that dies is dropped one TTL after its last heartbeat,
// and until then the others take its ticks over after the claim grace.
type Replicas struct {
	store   *store.Store
	id      string
	ttl     time.Duration
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	live atomic.Pointer[[]string] // ids of the live replicas, this one included

	mu   sync.Mutex
	left bool

	claims claimQueue
}

// NewReplicas returns the membership of replica id (unique per process)
// in the store's replicas; ttl is how long a replica counts as alive after
// its last heartbeat (scheduler.lease_ttl).
func NewReplicas(st *store.Store, id string, ttl time.Duration, logger *slog.Logger) *Replicas {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Replicas{store: st, id: id, ttl: ttl, log: logger, now: time.Now}
	r.started = r.now()
	r.live.Store(&[]string{id})
	return r
}

// Replica is this replica's id.
func (r *Replicas) Replica() string { return r.id }

// Live returns the ids of the replicas alive at the latest heartbeat
// (this one included), sorted.
func (r *Replicas) Live() []string { return slices.Clone(*r.live.Load()) }

// Prefers reports whether this replica is the live replica with the
// highest rendezvous score for job.
func (r *Replicas) Prefers(job string) bool {
	live := *r.live.Load()
	if len(live) == 1 {
		return true
	}
	mine := rendezvous(r.id, job)
	for _, id := range live {
		if id != r.id && rendezvous(id, job) > mine {
			return false
		}
	}
	return true
}

// rendezvous is replica's score for job.
func rendezvous(replica, job string) uint64 { return idHash(replica + "\x00" + job) }

// maxClaims bounds the ticks one claim statement takes.
const maxClaims = 500

// claimLinger is how long the claim that finds no statement running waits
// for others to join it before it sends one. Ticks of many checks come
// spread out (a thousand checks every 10s: one every 10ms), and a
// statement takes about a millisecond, so without the wait nearly every
// statement (and its commit) held one tick. It delays a run's start by at
// most this much.
const claimLinger = 20 * time.Millisecond

// Claim claims a tick in the store's tick claims. Claims made while
// another is in the store, or within claimLinger of the first, queue up
// and go in one statement together (one commit, so one WAL flush on
// PostgreSQL, for many ticks): the first caller to find none running
// claims the queue after claimLinger, and when it is done hands the next
// batch to the oldest waiter.
func (r *Replicas) Claim(ctx context.Context, job string, scheduled time.Time) (bool, error) {
	me := &claimReq{tick: store.TickRef{CheckID: job, Scheduled: scheduled}, done: make(chan claimResult, 1)}
	c := &r.claims
	c.mu.Lock()
	c.queue = append(c.queue, me)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		time.Sleep(claimLinger)
	} else {
		res := <-me.done
		if !res.lead {
			return res.won, res.err
		}
		// Handed the lead: the claims that came while the last statement
		// ran are queued already.
	}
	c.mu.Lock()
	n := min(len(c.queue), maxClaims)
	batch := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	c.mu.Unlock()
	ticks := make([]store.TickRef, len(batch))
	for i, q := range batch {
		ticks[i] = q.tick
	}
	won, err := r.store.ClaimTicks(ctx, r.id, ticks)
	for i, q := range batch {
		res := claimResult{err: err}
		if err == nil {
			res.won = won[i]
		}
		q.done <- res // room: q was sent nothing else, or took its lead signal
	}
	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- claimResult{lead: true}
	} else {
		c.running = false
	}
	c.mu.Unlock()
	res := <-me.done
	return res.won, res.err
}

// claimQueue holds the claims waiting for a statement.
type claimQueue struct {
	mu      sync.Mutex
	queue   []*claimReq
	running bool
}

type claimReq struct {
	tick store.TickRef
	done chan claimResult // buffered
}

type claimResult struct {
	won  bool
	err  error
	lead bool // claim the next batch (the result comes after)
}

// ClaimOpen claims unclaimed ticks in one statement.
func (r *Replicas) ClaimOpen(ctx context.Context, ticks []store.TickRef, limit int) (won, open []store.TickRef, err error) {
	return r.store.ClaimOpenTicks(ctx, r.id, ticks, limit)
}

// Run heartbeats every TTL/3 until ctx ends or Leave is called; stats are
// the scheduler's figures to publish (Scheduler.Stats).
func (r *Replicas) Run(ctx context.Context, stats func() Stats) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.heartbeat(ctx, stats())
		t.Reset(r.ttl / 3)
	}
}

func (r *Replicas) heartbeat(ctx context.Context, st Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, r.ttl/3)
	defer cancel()
	seen, err := r.store.Heartbeat(hctx, store.Replica{ID: r.id, StartedAt: r.started, RunsLastMinute: int64(st.RunsLastMinute), Lag: st.Lag},
		r.now().Add(-r.ttl))
	if err != nil {
		// Keep the last view: claims keep ticks from running twice
		// whatever each replica believes.
		r.log.Warn("replicas: heartbeat failed", "replica", r.id, "err", err)
		return
	}
	live := []string{r.id}
	for _, s := range seen {
		if s.ID != r.id {
			live = append(live, s.ID)
		}
	}
	slices.Sort(live)
	if old := *r.live.Load(); !slices.Equal(old, live) {
		r.log.Info("replicas: live replicas changed", "replica", r.id, "live", len(live), "was", len(old))
	}
	r.live.Store(&live)
}

// Leave removes this replica's heartbeat, so the others take its jobs over
// from their next ticks, and stops the heartbeats. Call it when shutting
// down, before draining.
func (r *Replicas) Leave(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left {
		return
	}
	r.left = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.RemoveReplica(ctx, r.id); err != nil {
		r.log.Warn("replicas: leave", "replica", r.id, "err", err)
	}
}
