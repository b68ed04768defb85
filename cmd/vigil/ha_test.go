package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// TestServeReplicasShareTicks runs three `vigil serve` replicas of one
// config on a PostgreSQL store, with 30 checks every second against a local
// endpoint, and holds them to the rules of replicas sharing a work queue
// (issue 17): each (check, tick) runs at most once, counted in the store's
// tick claims, its runs and the requests the endpoint receives; every
// replica runs some of the checks; after kill -9 of the lease holder the
// others take its checks over, so a tick is missing only within one lease
// TTL of the kill and none afterwards, and the lease moves within one TTL;
// after SIGTERM of a second replica the last one runs every check with no
// tick missing (the leaving replica hands its checks over at once).
func TestServeReplicasShareTicks(t *testing.T) {
	const (
		ttl      = 3 * time.Second
		interval = time.Second
		nChecks  = 30
	)
	pg := testdb.Postgres(t)
	api := &arrivals{at: map[string][]time.Time{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var ids []string
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "store: {driver: postgres, dsn: %q}\nscheduler: {lease_ttl: %s}\ndatasources: {}\nchecks:\n", pg.AdminDSN, ttl)
	for i := range nChecks {
		id := fmt.Sprintf("api-%02d", i)
		ids = append(ids, id)
		fmt.Fprintf(&cfg, "  - {id: %s, kind: http, url: %q, schedule: \"@every %s\", timeout: 5s}\n", id, srv.URL+"/"+id, interval)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": cfg.String()})
	cfgPath := filepath.Join(dir, "vigil.yaml")

	var procs []*exec.Cmd
	var logBufs []*syncBuffer
	for range 3 {
		p, _, l := startServe(t, cfgPath)
		procs, logBufs = append(procs, p), append(logBufs, l)
	}
	byPID := map[int]*exec.Cmd{}
	for _, p := range procs {
		byPID[p.Process.Pid] = p
	}
	logs := func() string {
		var b strings.Builder
		for i, l := range logBufs {
			fmt.Fprintf(&b, "replica %d (pid %d):\n%s\n", i, procs[i].Process.Pid, l.String())
		}
		return b.String()
	}

	st, err := store.Open(t.Context(), "postgres", pg.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s\n%s", within, what, logs())
			}
		}
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
	claimsBy := func() map[int]int {
		n := map[int]int{}
		for _, cs := range tickClaims(t, st) {
			for _, c := range cs {
				n[holderPID(c.holder)]++
			}
		}
		return n
	}

	// Every replica runs its share.
	waitFor("every replica to run checks and every check to run 3 times", 30*time.Second, func() bool {
		claims := tickClaims(t, st)
		for _, id := range ids {
			if len(claims[id]) < 3 {
				return false
			}
		}
		return len(claimsBy()) == 3
	})
	time.Sleep(2 * interval)
	shares := claimsBy()
	t.Logf("ticks claimed per replica before the kill: %v", shares)

	first, _ := holder()
	victim := byPID[holderPID(first)]
	if victim == nil {
		t.Fatalf("the lease holder %q is no replica", first)
	}
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	victim.Wait()
	var next string
	waitFor("another replica to take the lease", 2*ttl, func() bool {
		next, _ = holder()
		return next != "" && next != first
	})
	if took := time.Since(killed); took > ttl+time.Second {
		t.Errorf("the lease moved %s after kill -9, want within the TTL %s", took, ttl)
	}

	// Let the survivors run on, then stop one of them gracefully.
	time.Sleep(2 * ttl)
	var leaving, last *exec.Cmd
	for _, p := range procs {
		switch {
		case p == victim:
		case leaving == nil:
			leaving = p
		default:
			last = p
		}
	}
	if err := leaving.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed := time.Now()
	if err := leaving.Wait(); err != nil {
		t.Fatalf("replica exited with %v after SIGTERM\n%s", err, logs())
	}
	time.Sleep(4 * interval)
	if err := last.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := last.Wait(); err != nil {
		t.Fatalf("last replica exited with %v after SIGTERM\n%s", err, logs())
	}
	stopped := time.Now()

	// Count per (check, tick).
	claims := tickClaims(t, st)
	inKill := func(at time.Time) bool { return !at.Before(killed.Add(-interval)) && !at.After(killed.Add(ttl)) }
	var missingInKill, missingAfterTerm int
	for _, id := range ids {
		cs := claims[id]
		for i, c := range cs {
			if holderPID(c.holder) == victim.Process.Pid && c.scheduled.After(killed) {
				t.Errorf("%s tick %s claimed by the killed replica after its death", id, c.scheduled)
			}
			if i == 0 {
				continue
			}
			gap := c.scheduled.Sub(cs[i-1].scheduled)
			if gap%interval != 0 {
				t.Errorf("%s: ticks %s and %s are not whole intervals apart", id, cs[i-1].scheduled, c.scheduled)
			}
			for m := cs[i-1].scheduled.Add(interval); m.Before(c.scheduled); m = m.Add(interval) {
				switch {
				case inKill(m):
					missingInKill++
				default:
					t.Errorf("%s tick %s: claimed by no replica (killed at %s, SIGTERM at %s)", id, m.Format(time.RFC3339Nano), killed, termed)
				}
				if m.After(termed) {
					missingAfterTerm++
				}
			}
		}
		if len(cs) == 0 || cs[len(cs)-1].scheduled.Before(stopped.Add(-2*interval)) {
			t.Errorf("%s: ticks stop before the last replica stopped (claims %d)", id, len(cs))
		}
		runs, err := st.Results(ctx, id, 0, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		started := make([]time.Time, len(runs))
		for i, r := range runs {
			started[i] = r.StartedAt
		}
		for what, events := range map[string][]time.Time{"runs recorded": started, "requests received": api.of("/" + id)} {
			counts, unclaimed := perTick(cs, events)
			if unclaimed > 0 {
				t.Errorf("%s: %d %s before any claimed tick", id, unclaimed, what)
			}
			for tick, n := range counts {
				if n > 1 {
					t.Errorf("%s tick %s: %d %s, want at most 1", id, tick.Format(time.RFC3339Nano), n, what)
				}
			}
			for _, c := range cs {
				if counts[c.scheduled] == 0 && !inKill(c.scheduled) && c.scheduled.Before(stopped.Add(-interval)) {
					t.Errorf("%s tick %s claimed by %s but no %s", id, c.scheduled.Format(time.RFC3339Nano), c.holder, what)
				}
			}
		}
	}
	t.Logf("lease TTL %s: %d ticks missing within the TTL after kill -9, %d after SIGTERM of a second replica", ttl, missingInKill, missingAfterTerm)
	if t.Failed() {
		t.Log(logs())
	}
}

// slackLog is an incoming-webhook stand-in that keeps, per check, the
// alerts it received in arrival order as "opened" or "resolved #12" (a
// grouped message lists the checks whose incidents opened, without their
// numbers).
type slackLog struct {
	mu  sync.Mutex
	got map[string][]string
}

var (
	alertText   = regexp.MustCompile(`^\[vigil\] (opened|resolved): (\S+) .*\(incident #(\d+)\)$`)
	groupedText = regexp.MustCompile(`^\[vigil\] \d+ checks started failing$`)
	groupedLine = regexp.MustCompile(`(?m)^• \*(?:<[^|>]*\|)?([a-z0-9-]+)>?\*`)
)

func (s *slackLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := alertText.FindStringSubmatch(p.Text); m != nil {
		alert := m[1]
		if alert == "resolved" {
			alert += " #" + m[3]
		}
		s.got[m[2]] = append(s.got[m[2]], alert)
	} else if groupedText.MatchString(p.Text) && len(p.Blocks) > 1 {
		for _, m := range groupedLine.FindAllStringSubmatch(p.Blocks[1].Text.Text, -1) {
			s.got[m[1]] = append(s.got[m[1]], "opened")
		}
	} else {
		s.got["?"] = append(s.got["?"], p.Text)
	}
	w.Write([]byte("ok"))
}

// TestReplicasKeepOutboxOrderPerCheck runs three replicas on a PostgreSQL
// store with checks that fail and pass in turn, so every run opens or
// resolves an incident, and stops the lease holder (which delivers the
// Slack outbox) half-way. Slack must receive each check's alerts once and
// in the order its transitions happened, as the store's outbox rows list
// them (DESIGN: a persistent outbox; a restart loses no alert and sends
// none twice), however the runs were spread over the replicas.
func TestReplicasKeepOutboxOrderPerCheck(t *testing.T) {
	const (
		ttl     = 3 * time.Second
		nChecks = 6
	)
	pg := testdb.Postgres(t)
	var mu sync.Mutex
	calls := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		if n%2 == 1 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer api.Close()
	slack := &slackLog{got: map[string][]string{}}
	hook := httptest.NewServer(slack)
	defer hook.Close()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "store: {driver: postgres, dsn: %q}\nscheduler: {lease_ttl: %s}\nsinks: {slack: {webhook_url: %q}}\ndatasources: {}\nchecks:\n",
		pg.AdminDSN, ttl, hook.URL+"/hook")
	var ids []string
	for i := range nChecks {
		id := fmt.Sprintf("flip-%d", i)
		ids = append(ids, id)
		fmt.Fprintf(&cfg, "  - {id: %s, kind: http, url: %q, schedule: \"@every 1s\", timeout: 5s}\n", id, api.URL+"/"+id)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": cfg.String()})
	var procs []*exec.Cmd
	var logBufs []*syncBuffer
	for range 3 {
		p, _, l := startServe(t, filepath.Join(dir, "vigil.yaml"))
		procs, logBufs = append(procs, p), append(logBufs, l)
	}
	logs := func() string {
		var b strings.Builder
		for i, l := range logBufs {
			fmt.Fprintf(&b, "replica %d:\n%s\n", i, l.String())
		}
		return b.String()
	}
	st, err := store.Open(t.Context(), "postgres", pg.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	time.Sleep(5 * time.Second)
	holder, _, err := st.LeaseHolder(t.Context(), "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	stopOrder := slices.Clone(procs)
	slices.SortFunc(stopOrder, func(a, b *exec.Cmd) int { // the lease holder first
		return btoi(holderPID(holder) != a.Process.Pid) - btoi(holderPID(holder) != b.Process.Pid)
	})
	for i, p := range stopOrder {
		if err := p.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(); err != nil {
			t.Fatalf("replica exited with %v after SIGTERM\n%s", err, logs())
		}
		if i == 0 {
			time.Sleep(4 * time.Second) // the others run on and take the lease
		}
	}

	rows, err := st.ReadDB().QueryContext(t.Context(), "SELECT check_id, kind, incident_id, delivered_at IS NOT NULL FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	undelivered := 0
	for rows.Next() {
		var id, kind string
		var inc int64
		var delivered bool
		if err := rows.Scan(&id, &kind, &inc, &delivered); err != nil {
			t.Fatal(err)
		}
		alert := kind
		if kind == "resolved" {
			alert = fmt.Sprintf("%s #%d", kind, inc)
		}
		want[id] = append(want[id], alert)
		if !delivered {
			undelivered++
		}
	}
	rows.Close()
	if undelivered > 0 {
		t.Errorf("%d outbox rows undelivered after every replica stopped", undelivered)
	}
	slack.mu.Lock()
	defer slack.mu.Unlock()
	if other := slack.got["?"]; len(other) > 0 {
		t.Errorf("Slack got messages that are no opened/resolved alert: %q", other)
	}
	for _, id := range ids {
		if len(want[id]) < 6 {
			t.Errorf("%s: only %d alerts enqueued: %v", id, len(want[id]), want[id])
		}
		if !slices.Equal(slack.got[id], want[id]) {
			t.Errorf("%s: Slack received %v, the outbox holds %v", id, slack.got[id], want[id])
		}
		for i, a := range want[id] {
			if kind := []string{"opened", "resolved"}[i%2]; !strings.HasPrefix(a, kind) {
				t.Errorf("%s alert %d is %q, want %s (runs alternate fail and pass)", id, i, a, kind)
			}
		}
	}
	if t.Failed() {
		t.Log(logs())
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
