package config

import (
	"time"
)

// Scheduler lease bounds. With several `vigil serve` replicas on one
// PostgreSQL store, the lease holder runs the scheduled ticks; when it dies,
// another replica takes over within one lease_ttl.
const (
	DefaultLeaseTTL = 15 * time.Second
	MinLeaseTTL     = time.Second
)

// Scheduler is the optional `scheduler` section:
//
//	scheduler: {lease_ttl: 15s}
type Scheduler struct {
	// LeaseTTL is how long the replicas' scheduler lease lasts without a
	// renewal (renewed every third of it). A shorter lease means a faster
	// takeover after a replica dies, and more store writes. Default
	// DefaultLeaseTTL, at least MinLeaseTTL.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

func (l *loader) scheduler(top *decoded) {
	if ttl := l.cfg.Scheduler.LeaseTTL; ttl < MinLeaseTTL {
		top.problem("scheduler.lease_ttl", "lease_ttl: must be at least %s, got %s", MinLeaseTTL, ttl)
	}
}
