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
)

// Scheduler is the optional `scheduler` section:
//
//	scheduler: {lease_ttl: 15s}
type Scheduler struct {
	// LeaseTTL is how long the replicas' scheduler lease lasts without a
	// renewal (renewed every third of it). A shorter lease means a faster
	// takeover after a replica dies, and more store writes. Default
	// DefaultLeaseTTL, at least MinLeaseTTL.
	LeaseTTL time.Duration
}

func (l *loader) scheduler(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "scheduler", "in scheduler", "scheduler: ")
	s := Scheduler{LeaseTTL: DefaultLeaseTTL}
	f.duration("lease_ttl", &s.LeaseTTL)
	f.done()
	if s.LeaseTTL < MinLeaseTTL {
		f.problem("lease_ttl", "lease_ttl: must be at least %s, got %s", MinLeaseTTL, s.LeaseTTL)
	}
	l.cfg.Scheduler = s
}
