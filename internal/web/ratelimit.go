package web

import (
	"sync"
	"time"
)

// Login limits, after the OWASP Authentication Cheat Sheet: an account is
// locked after accountMaxFailures failed logins within loginWindow (account
// lockout), and a client address after addrMaxFailures failures over any
// accounts (throttling by address). The two are counted apart: locking an
// account does not lock the others, and one address cannot try many
// accounts. A lock lasts loginWindow, then twice as long after each further
// lockout, up to loginMaxLock; it is forgotten after loginMaxLock without
// failures.
//
// An attempt reserves its slot before its password is checked, so attempts
// running at once count as failures until they end: no burst gets more
// checks past the limit than the limit itself.
const (
	accountMaxFailures = 5
	addrMaxFailures    = 20
	loginWindow        = time.Minute
	loginMaxLock       = 15 * time.Minute
	// limiterMaxKeys bounds each limiter's memory; idle keys are swept first.
	limiterMaxKeys = 10_000
	// busyRetry is the Retry-After of an attempt refused because others for
	// the same key are still being checked.
	busyRetry = time.Second
)

// limiter counts failed logins per key (an account, or a client address).
// It lives in the process: each replica counts on its own.
type limiter struct {
	now func() time.Time
	max int // failures (finished or in flight) within loginWindow before a lock
	mu  sync.Mutex
	ks  map[string]*strikes
}

type strikes struct {
	failures    []time.Time // within loginWindow
	inFlight    int         // reserved attempts not yet ended
	lockouts    int
	lockedUntil time.Time
	last        time.Time // last failure
}

func newLimiter(max int, now func() time.Time) *limiter {
	return &limiter{now: now, max: max, ks: map[string]*strikes{}}
}

// reserve takes an attempt slot for key. It returns 0 when the attempt may
// go on (it must then call end), else how long key should wait: the rest of
// its lock, or busyRetry while the attempts in flight fill its slots.
func (l *limiter) reserve(key string) time.Duration {
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
	if d := st.lockedUntil.Sub(now); d > 0 {
		return d
	}
	st.failures = recent(st.failures, now)
	if len(st.failures)+st.inFlight >= l.max {
		return busyRetry
	}
	st.inFlight++
	return 0
}

// end ends an attempt reserve let through; failed records a failure. It
// reports the lock the failure started (0 for none).
func (l *limiter) end(key string, failed bool) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.ks[key]
	if !ok {
		return 0 // swept meanwhile
	}
	st.inFlight = max(st.inFlight-1, 0)
	if !failed {
		return 0
	}
	now := l.now()
	if now.Sub(st.last) >= loginMaxLock {
		st.lockouts = 0
	}
	st.last = now
	st.failures = append(recent(st.failures, now), now)
	if len(st.failures) < l.max {
		return 0
	}
	lock := loginWindow << st.lockouts
	if lock > loginMaxLock || lock <= 0 {
		lock = loginMaxLock
	}
	st.lockouts++
	st.lockedUntil = now.Add(lock)
	st.failures = st.failures[:0]
	return lock
}

// reset forgets key's failures (after a successful login); attempts still
// in flight keep their slots.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.ks[key]; ok {
		*st = strikes{inFlight: st.inFlight}
	}
}

// recent keeps the failures within loginWindow of now.
func recent(failures []time.Time, now time.Time) []time.Time {
	kept := failures[:0]
	for _, t := range failures {
		if now.Sub(t) < loginWindow {
			kept = append(kept, t)
		}
	}
	return kept
}

// sweep drops keys that are neither locked, recently failing nor in
// flight; when all are, it drops every key (bounded memory beats a perfect
// count).
func (l *limiter) sweep(now time.Time) {
	for k, st := range l.ks {
		if st.inFlight == 0 && now.After(st.lockedUntil) && now.Sub(st.last) >= loginMaxLock {
			delete(l.ks, k)
		}
	}
	if len(l.ks) >= limiterMaxKeys {
		clear(l.ks)
	}
}
