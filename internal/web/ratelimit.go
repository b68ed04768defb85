package web

import (
	"sync"
	"time"
)

// Login rate limits: after loginMaxFailures failed logins within
// loginWindow, a key (a remote address, or a user name) is locked for
// loginWindow, then twice as long after each further lockout, up to
// loginMaxLock. A lockout is forgotten after loginMaxLock without failures.
const (
	loginMaxFailures = 5
	loginWindow      = time.Minute
	loginMaxLock     = 15 * time.Minute
	// limiterMaxKeys bounds the limiter's memory; idle keys are swept first.
	limiterMaxKeys = 10_000
)

// limiter counts failed logins per key. It lives in the process: each
// replica counts on its own.
type limiter struct {
	now func() time.Time
	mu  sync.Mutex
	ks  map[string]*strikes
}

type strikes struct {
	failures    []time.Time // within loginWindow
	lockouts    int
	lockedUntil time.Time
	last        time.Time // last failure
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, ks: map[string]*strikes{}}
}

// wait returns how long key must wait before its next attempt; 0 when it
// may try now.
func (l *limiter) wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.ks[key]
	if !ok {
		return 0
	}
	if d := st.lockedUntil.Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

// fail records a failed attempt by key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st, ok := l.ks[key]
	if !ok {
		if len(l.ks) >= limiterMaxKeys {
			l.sweep(now)
		}
		st = &strikes{}
		l.ks[key] = st
	}
	if now.Sub(st.last) >= loginMaxLock {
		st.lockouts = 0
	}
	st.last = now
	kept := st.failures[:0]
	for _, t := range st.failures {
		if now.Sub(t) < loginWindow {
			kept = append(kept, t)
		}
	}
	st.failures = append(kept, now)
	if len(st.failures) >= loginMaxFailures {
		lock := loginWindow << st.lockouts
		if lock > loginMaxLock || lock <= 0 {
			lock = loginMaxLock
		}
		st.lockouts++
		st.lockedUntil = now.Add(lock)
		st.failures = st.failures[:0]
	}
}

// reset forgets key's failures (after a successful login).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ks, key)
}

// sweep drops keys that are neither locked nor recently failing; when all
// are, it drops every key (bounded memory beats a perfect count).
func (l *limiter) sweep(now time.Time) {
	for k, st := range l.ks {
		if now.After(st.lockedUntil) && now.Sub(st.last) >= loginMaxLock {
			delete(l.ks, k)
		}
	}
	if len(l.ks) >= limiterMaxKeys {
		clear(l.ks)
	}
}
