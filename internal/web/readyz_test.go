package web

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
)

// TestReadyzLeaseLost: a replica whose lease renewals fail is not ready
// (Kubernetes' readiness semantics: take it out of rotation) and says since
// when, while the store itself still answers; before, /readyz said
// "scheduler: running" whatever became of the lease.
func TestReadyzLeaseLost(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lease := scheduler.NewLease(st, "scheduler", "replica-1", time.Second, nil)
	sched := scheduler.New(scheduler.Options{Leader: lease})
	if err := sched.Add(scheduler.Job{ID: "idle", Schedule: "@every 1h", Timeout: time.Second, Run: func(context.Context) {}}); err != nil {
		t.Fatal(err)
	}
	sched.Start()
	defer sched.Stop(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { lease.Run(ctx) })
	defer wg.Wait()
	defer cancel()
	s, err := New(Options{Store: st, Scheduler: sched, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, store: st, clock: newClock()}
	type ready struct {
		Store     string `json:"store"`
		Scheduler string `json:"scheduler"`
		Leader    bool   `json:"leader"`
	}
	poll := func(what string, ok func(code int, r ready) bool) ready {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp := f.client().get("/readyz")
			var r ready
			if err := json.Unmarshal([]byte(resp.body), &r); err != nil {
				t.Fatalf("/readyz = %d %s: %v", resp.StatusCode, resp.body, err)
			}
			if ok(resp.StatusCode, r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz = %d %s after 10s; want %s", resp.StatusCode, resp.body, what)
			}
		}
	}
	poll("200, running, leader", func(code int, r ready) bool {
		return code == 200 && r.Store == "ok" && r.Scheduler == "running" && r.Leader
	})
	lost := time.Now()
	if _, err := st.DB().Exec("DROP TABLE leases"); err != nil { // renewals now fail; the store answers
		t.Fatal(err)
	}
	// Within two thirds of the TTL the replica steps down (Lease).
	r := poll(`503 with "lease lost since ...", no longer leader`, func(code int, r ready) bool {
		return code == 503 && strings.HasPrefix(r.Scheduler, "lease lost since ") && !r.Leader
	})
	since, err := time.Parse(time.RFC3339, strings.TrimPrefix(r.Scheduler, "lease lost since "))
	if err != nil || since.Before(lost.Add(-time.Second)) || since.After(time.Now()) {
		t.Errorf("scheduler = %q (%v); want the time renewals began to fail, after %s", r.Scheduler, err, lost.Format(time.RFC3339))
	}
	if r.Store != "ok" {
		t.Errorf("/readyz = %+v; want the store ok", r)
	}
}
