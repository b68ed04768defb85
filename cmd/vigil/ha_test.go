package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

// arrivals is an httptest handler that answers 200 and keeps the arrival
// time of every request, by path.
type arrivals struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.at[r.URL.Path] = append(a.at[r.URL.Path], time.Now())
	a.mu.Unlock()
	w.Write([]byte("ok"))
}

func (a *arrivals) of(path string) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at[path]...)
}

// claim is one row of tick_claims: a replica took a check's tick.
type claim struct {
	scheduled time.Time
	holder    string
}

// tickClaims returns every check's claims in scheduled order.
func tickClaims(t *testing.T, st *store.Store) map[string][]claim {
	t.Helper()
	rows, err := st.ReadDB().QueryContext(t.Context(), "SELECT check_id, scheduled_at, holder FROM tick_claims ORDER BY check_id, scheduled_at")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]claim{}
	for rows.Next() {
		var id, holder string
		var ns int64
		if err := rows.Scan(&id, &ns, &holder); err != nil {
			t.Fatal(err)
		}
		out[id] = append(out[id], claim{scheduled: time.Unix(0, ns), holder: holder})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// perTick attributes each event (a run's start, a request's arrival) to its
// check's latest claimed tick at or before it, and returns how many events
// each tick got and how many events came before any claimed tick.
func perTick(claims []claim, events []time.Time) (counts map[time.Time]int, unclaimed int) {
	counts = map[time.Time]int{}
	for _, e := range events {
		i := sort.Search(len(claims), func(i int) bool { return claims[i].scheduled.After(e) })
		if i == 0 {
			unclaimed++
			continue
		}
		counts[claims[i-1].scheduled]++
	}
	return counts, unclaimed
}

// holderPID is the process id in a lease holder name (host/pid/nanos).
func holderPID(holder string) int {
	parts := strings.Split(holder, "/")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

// TestServeHATakeover runs two `vigil serve` replicas of one config on a
// PostgreSQL store, with checks every second against a local endpoint.
// Only the lease holder runs ticks; after kill -9 of the holder the other
// replica takes the lease within one lease TTL and carries on; and no
// (check, tick) ran twice, counted in the store's runs and at the endpoint.
func TestServeHATakeover(t *testing.T) {
	const ttl = 4 * time.Second
	pg := testdb.Postgres(t)
	api := &arrivals{at: map[string][]time.Time{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ids := []string{"api-a", "api-b", "api-c"}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "store: {driver: postgres, dsn: %q}\nscheduler: {lease_ttl: %s}\ndatasources: {}\nchecks:\n", pg.AdminDSN, ttl)
	for _, id := range ids {
		fmt.Fprintf(&cfg, "  - {id: %s, kind: http, url: %q, schedule: \"@every 1s\", timeout: 5s}\n", id, srv.URL+"/"+id)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": cfg.String()})
	cfgPath := filepath.Join(dir, "vigil.yaml")

	a, _, logsA := startServe(t, cfgPath)
	b, _, logsB := startServe(t, cfgPath)
	replicas := map[int]*exec.Cmd{a.Process.Pid: a, b.Process.Pid: b}
	logs := func() string { return "replica A:\n" + logsA.String() + "\nreplica B:\n" + logsB.String() }

	st, err := store.Open(t.Context(), "postgres", pg.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s\n%s", within, what, logs())
			}
		}
	}
	runsOf := func(id string) []time.Time {
		t.Helper()
		runs, err := st.Results(ctx, id, 0, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]time.Time, len(runs))
		for i, r := range runs {
			out[i] = r.StartedAt
		}
		return out
	}
	holder := func() (string, time.Time) {
		t.Helper()
		h, until, err := st.LeaseHolder(ctx, "scheduler")
		if errors.Is(err, store.ErrNotFound) {
			return "", time.Time{}
		}
		if err != nil {
			t.Fatal(err)
		}
		return h, until
	}

	waitFor("three runs of every check", 15*time.Second, func() bool {
		for _, id := range ids {
			if len(runsOf(id)) < 3 {
				return false
			}
		}
		return true
	})
	first, _ := holder()
	victim := replicas[holderPID(first)]
	if victim == nil {
		t.Fatalf("the lease holder %q is neither replica (pids %d, %d)", first, a.Process.Pid, b.Process.Pid)
	}
	survivor := a
	if victim == a {
		survivor = b
	}
	for id, cs := range tickClaims(t, st) {
		for _, c := range cs {
			if c.holder != first {
				t.Errorf("%s tick %s claimed by %q while %q held the lease: two replicas scheduled", id, c.scheduled, c.holder, first)
			}
		}
	}

	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	victim.Wait()
	_, victimUntil := holder() // the dead holder's last renewal plus the TTL

	var next string
	var nextUntil time.Time
	waitFor("the surviving replica to take the lease", 2*ttl, func() bool {
		next, nextUntil = holder()
		return next != "" && next != first
	})
	takeover := time.Since(killed)
	if holderPID(next) != survivor.Process.Pid {
		t.Fatalf("lease taken by %q, want the surviving replica (pid %d)", next, survivor.Process.Pid)
	}
	// The survivor acquired at nextUntil-ttl: promptly after the dead
	// holder's lease ran out, so within one TTL of its death.
	acquired := nextUntil.Add(-ttl)
	if late := acquired.Sub(victimUntil); late < 0 || late > 300*time.Millisecond {
		t.Errorf("the survivor took the lease %s after the dead holder's expired, want within 300ms", late)
	}
	if takeover > ttl+500*time.Millisecond {
		t.Errorf("takeover took %s after kill -9, want within the lease TTL %s", takeover, ttl)
	}

	// The survivor runs every check again.
	var firstRun time.Duration
	waitFor("the survivor to run every check three times", 10*time.Second, func() bool {
		claims := tickClaims(t, st)
		for _, id := range ids {
			n := 0
			for _, c := range claims[id] {
				if c.holder == next {
					n++
				}
			}
			if n < 3 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		for _, r := range runsOf(id) {
			if r.After(killed) && (firstRun == 0 || r.Sub(killed) < firstRun) {
				firstRun = r.Sub(killed)
			}
		}
	}
	if err := survivor.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := survivor.Wait(); err != nil {
		t.Fatalf("survivor exited with %v after SIGTERM\n%s", err, logs())
	}
	t.Logf("lease TTL %s: lease taken over %s after kill -9 (%s after the dead holder's lease expired); first run on the survivor %s after the kill",
		ttl, takeover.Round(time.Millisecond), acquired.Sub(victimUntil).Round(time.Millisecond), firstRun.Round(time.Millisecond))

	// Count runs per (check, tick): in the store, and at the endpoint.
	claims := tickClaims(t, st)
	for _, id := range ids {
		cs := claims[id]
		var lastVictim, firstSurvivor time.Time
		for _, c := range cs {
			switch c.holder {
			case first:
				lastVictim = c.scheduled
			case next:
				if firstSurvivor.IsZero() {
					firstSurvivor = c.scheduled
				}
			default:
				t.Errorf("%s tick %s claimed by an unknown holder %q", id, c.scheduled, c.holder)
			}
		}
		if !lastVictim.Before(firstSurvivor) {
			t.Errorf("%s: the dead holder's ticks (last %s) and the survivor's (first %s) overlap", id, lastVictim, firstSurvivor)
		}
		if lastVictim.After(killed) {
			t.Errorf("%s: tick %s claimed by the holder after it was killed at %s", id, lastVictim, killed)
		}
		for what, events := range map[string][]time.Time{"runs recorded": runsOf(id), "requests received": api.of("/" + id)} {
			counts, unclaimed := perTick(cs, events)
			if unclaimed > 0 {
				t.Errorf("%s: %d %s before any claimed tick", id, unclaimed, what)
			}
			for tick, n := range counts {
				if n > 1 {
					t.Errorf("%s tick %s: %d %s, want at most 1", id, tick.Format(time.RFC3339Nano), n, what)
				}
			}
			if len(events) < 6 {
				t.Errorf("%s: only %d %s over the test", id, len(events), what)
			}
		}
	}
	if t.Failed() {
		t.Log(logs())
	}
}
