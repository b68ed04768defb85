package scheduler_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
)

// TestLeaseTakeoverAtExpiry: two replicas share a store; the leader dies
// without releasing (its store is gone); the other becomes leader right
// after the dead leader's lease expires, not up to TTL/3 later.
func TestLeaseTakeoverAtExpiry(t *testing.T) {
	const ttl = 3 * time.Second
	dsn := filepath.Join(t.TempDir(), "vigil.db")
	open := func() *store.Store {
		t.Helper()
		s, err := store.Open(context.Background(), "sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storeA, storeB := open(), open()
	a := scheduler.NewLease(storeA, "scheduler", "a", ttl, nil)
	b := scheduler.NewLease(storeB, "scheduler", "b", ttl, nil)

	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { a.Run(ctxA); close(doneA) }()
	waitUntil(t, "a to lead", ttl, a.IsLeader)
	// Start b out of step with a's renewals, so that b's regular retries
	// (every TTL/3) would miss a's expiry by about TTL/6.
	time.Sleep(ttl / 6)
	ctxB, stopB := context.WithCancel(context.Background())
	doneB := make(chan struct{})
	go func() { b.Run(ctxB); close(doneB) }()
	defer func() { stopB(); <-doneB }()
	time.Sleep(ttl / 2)
	if b.IsLeader() {
		t.Fatal("b leads while a holds the lease")
	}

	storeA.Close() // a can neither renew nor release: it died
	stopA()
	<-doneA
	if a.IsLeader() {
		t.Error("a still calls itself leader after Run returned")
	}
	_, until, err := storeB.LeaseHolder(context.Background(), "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b to take over", 2*ttl, b.IsLeader)
	// Regular retries would be about TTL/6 late; half of that leaves room
	// for a loaded machine's scheduling.
	if late := time.Since(until); late > ttl/12 {
		t.Errorf("b took over %s after a's lease expired, want promptly (TTL/3 is %s)", late, ttl/3)
	}
	if holder, _, err := storeB.LeaseHolder(context.Background(), "scheduler"); err != nil || holder != "b" {
		t.Errorf("LeaseHolder = %q (%v), want b", holder, err)
	}
}

func waitUntil(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
	}
}

// TestTryLeadTakesOnlyAFreeLease: at shutdown a replica takes the lease
// for its last delivery only when nobody holds it, so two replicas never
// deliver at once; once taken, Run (still running) keeps it and releases
// it when it returns.
func TestTryLeadTakesOnlyAFreeLease(t *testing.T) {
	const ttl = 3 * time.Second
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	a := scheduler.NewLease(st, "scheduler", "a", ttl, nil)
	b := scheduler.NewLease(st, "scheduler", "b", ttl, nil)
	if !a.TryLead(ctx) || !a.IsLeader() {
		t.Fatal("a did not take the free lease")
	}
	if b.TryLead(ctx) || b.IsLeader() {
		t.Fatal("b took the lease a holds")
	}
	if holder, _, err := st.LeaseHolder(ctx, "scheduler"); err != nil || holder != "a" {
		t.Fatalf("LeaseHolder = %q (%v), want a", holder, err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.Run(runCtx); close(done) }()
	stop()
	<-done
	if a.IsLeader() {
		t.Error("a still leads after Run returned")
	}
	if !b.TryLead(ctx) {
		t.Error("b could not take the lease a released")
	}
}
