package config

import (
	"time"
)

// Scheduler lease bounds. With several `vigil serve` replicas on one
// PostgreSQL store, the lease holder does the singleton duties; when it
// dies, another replica takes over within one lease_ttl.
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
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// MaxConcurrent bounds the runs one replica executes at once (default
	// DefaultMaxConcurrent, at least 1); ticks beyond it wait for a slot.
	MaxConcurrent int `yaml:"max_concurrent"`
}

func (l *loader) scheduler(top *decoded) {
	if ttl := l.cfg.Scheduler.LeaseTTL; ttl < MinLeaseTTL {
		top.problem("scheduler.lease_ttl", "lease_ttl: must be at least %s, got %s", MinLeaseTTL, ttl)
	}
	if n := l.cfg.Scheduler.MaxConcurrent; n < 1 {
		top.problem("scheduler.max_concurrent", "max_concurrent: must be at least 1, got %d", n)
	}
}
