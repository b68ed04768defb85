package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Scheduler lease bounds. With several `vigil serve` replicas on one
// PostgreSQL store, the lease holder runs the scheduled ticks; when it dies,
// another replica takes over within one lease_ttl.
const (
	DefaultLeaseTTL = 15 * time.Second
	MinLeaseTTL     = time.Second
	// DefaultMaxConcurrent runs at once: a run mostly waits (for the
	// endpoint, the datasource, the store's commit), and 10,000 checks
	// every 10s start a thousand runs a second.
	DefaultMaxConcurrent = 64
)

// Scheduler is the optional `scheduler` section:
//
//	scheduler: {lease_ttl: 15s, max_concurrent: 64}
type Scheduler struct {
	// LeaseTTL is how long the replicas' scheduler lease lasts without a
	// renewal (renewed every third of it). A shorter lease means a faster
	// takeover after a replica dies, and more store writes. Default
	// DefaultLeaseTTL, at least MinLeaseTTL.
	LeaseTTL time.Duration
	// MaxConcurrent bounds the runs one replica executes at once (default
	// DefaultMaxConcurrent, at least 1); ticks beyond it wait for a slot.
	MaxConcurrent int
}

func (l *loader) scheduler(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "scheduler", "in scheduler", "scheduler: ")
	s := Scheduler{LeaseTTL: DefaultLeaseTTL, MaxConcurrent: DefaultMaxConcurrent}
	f.duration("lease_ttl", &s.LeaseTTL)
	f.int("max_concurrent", &s.MaxConcurrent)
	f.done()
	if s.LeaseTTL < MinLeaseTTL {
		f.problem("lease_ttl", "lease_ttl: must be at least %s, got %s", MinLeaseTTL, s.LeaseTTL)
	}
	if s.MaxConcurrent < 1 {
		f.problem("max_concurrent", "max_concurrent: must be at least 1, got %d", s.MaxConcurrent)
	}
	l.cfg.Scheduler = s
}
