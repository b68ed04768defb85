package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LeaseStore keeps a named lease shared by replicas (internal/store does,
// over PostgreSQL or SQLite). LeaseHolder returns who holds the lease and
// until when (an error, such as not found, when nobody does).
type LeaseStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, err error)
}

// LeaseName is the lease whose holder does the singleton duties of `vigil
// serve` (Slack delivery, reminders, silence expiry, retention).
const LeaseName = "scheduler"

// Lease makes one replica the leader. It implements Leader. Run renews the
// lease every TTL/3; the holder calls itself leader only until two thirds of
// the TTL after its last successful renewal, so when it stops renewing (it
// died, or lost the database) it steps down before the lease expires and
// another replica can take over: two replicas are never leader at once. A
// replica that is not the leader tries again every TTL/3, and also right
// when the current holder's lease runs out, so a takeover happens within
// one TTL of the holder's last renewal (so within one TTL of its death).
type Lease struct {
	store  LeaseStore
	name   string
	holder string
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu    sync.Mutex
	until time.Time // leader until then (zero: not leader)
	// failingSince is when the current run of failed renewals began (zero
	// after a renewal that reached the store); failedAsLeader says whether
	// this replica was the leader then.
	failingSince   time.Time
	failedAsLeader bool
}

// LeaseState is what a replica knows of its lease, for readiness.
type LeaseState struct {
	Leader bool // this replica holds the lease now
	// FailingSince is when renewals began to fail (the store did not
	// answer); zero while they reach the store, leader or not. WasLeader
	// says whether the replica held the lease when they began to fail.
	FailingSince time.Time
	WasLeader    bool
}

// State reports whether this replica leads and since when its renewals
// fail, if they do.
func (l *Lease) State() LeaseState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LeaseState{Leader: l.now().Before(l.until), FailingSince: l.failingSince, WasLeader: l.failedAsLeader}
}

// NewLease returns a lease named name for holder (unique per replica).
func NewLease(store LeaseStore, name, holder string, ttl time.Duration, logger *slog.Logger) *Lease {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{store: store, name: name, holder: holder, ttl: ttl, now: time.Now, log: logger}
}

// IsLeader reports whether this replica holds the lease now.
func (l *Lease) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now().Before(l.until)
}

// TryLead reports whether this replica leads, taking the lease first
// when no other replica holds it. At shutdown, a replica whose leader
// stopped first takes it for a last singleton duty; Run, still
// running, renews it meanwhile and releases it when it returns.
func (l *Lease) TryLead(ctx context.Context) bool {
	if l.IsLeader() {
		return true
	}
	start := l.now()
	ok, err := l.store.AcquireLease(ctx, l.name, l.holder, l.ttl)
	if err != nil || !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.took(start, l.now().Before(l.until))
	return true
}

// took records that the store granted the lease to an acquisition that
// started at start (was: this replica led already). l.mu is held.
func (l *Lease) took(start time.Time, was bool) {
	l.until = start.Add(l.ttl * 2 / 3)
	if !was {
		l.log.Info("lease: became leader", "lease", l.name, "holder", l.holder)
	}
}

// Holder is this replica's name.
func (l *Lease) Holder() string { return l.holder }

// Run acquires and renews the lease until ctx ends, then releases it so a
// peer can take over at once. It returns when ctx is done.
func (l *Lease) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.mu.Lock()
			wasLeader := l.now().Before(l.until)
			l.until = time.Time{}
			l.mu.Unlock()
			if wasLeader {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				if err := l.store.ReleaseLease(rctx, l.name, l.holder); err != nil {
					l.log.Warn("lease: release failed", "lease", l.name, "err", err)
				}
				cancel()
			}
			return
		case <-t.C:
		}
		t.Reset(l.renew(ctx))
	}
}

// expiryMargin is how long after the holder's expiry a waiting replica
// tries to take the lease over.
const expiryMargin = 10 * time.Millisecond

// renew takes or renews the lease and returns when to try next: TTL/3,
// or sooner when another replica's lease runs out before that.
func (l *Lease) renew(ctx context.Context) time.Duration {
	next := l.ttl / 3
	start := l.now()
	rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	ok, err := l.store.AcquireLease(rctx, l.name, l.holder, l.ttl)
	cancel()
	l.mu.Lock()
	was := l.now().Before(l.until)
	switch {
	case err != nil:
		l.log.Warn("lease: renew failed", "lease", l.name, "holder", l.holder, "err", err)
		if l.failingSince.IsZero() {
			l.failingSince, l.failedAsLeader = start, was
		}
	case ok:
		l.took(start, was)
	default:
		l.until = time.Time{}
		if was {
			l.log.Warn("lease: lost leadership", "lease", l.name, "holder", l.holder)
		}
	}
	if err == nil {
		l.failingSince = time.Time{}
	}
	l.mu.Unlock()
	if err != nil || ok {
		return next
	}
	// Another replica holds it: come back when its lease runs out.
	rctx, cancel = context.WithTimeout(ctx, l.ttl/3)
	_, until, err := l.store.LeaseHolder(rctx, l.name)
	cancel()
	if err != nil {
		return next // released meanwhile, or the store is down: retry soon
	}
	return min(next, max(until.Sub(l.now())+expiryMargin, expiryMargin))
}
