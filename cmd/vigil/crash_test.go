package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

// slackPost is one request the fake Slack answered.
type slackPost struct {
	arrived, answered time.Time
	status            int
	body              []byte
}

// flakySlack is an incoming webhook that fails in phases: 500s, then 429
// with Retry-After, then a 429 now and then, then never. When armed, it kills
// the vigil process right after it has sent a 200 (before vigil can
// record the delivery): the documented duplicate window.
type flakySlack struct {
	start     time.Time
	outage    time.Duration // 500 until start+outage
	limited   time.Duration // then 429 (Retry-After: 1) until start+limited
	recovered atomic.Bool   // no more failures
	armed     atomic.Bool   // kill the process after the next 200
	killed    atomic.Int32  // processes killed after a 200
	process   atomic.Pointer[os.Process]
	onKill    func(time.Time)

	mu    sync.Mutex
	n     int
	posts []slackPost
}

func (s *flakySlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	status := http.StatusOK
	since := arrived.Sub(s.start)
	switch {
	case s.recovered.Load():
	case since < s.outage:
		status = http.StatusInternalServerError
	case since < s.limited:
		status = http.StatusTooManyRequests
	case n%5 == 0:
		// Now and then rate limited. (No 5xx here: every 429 counts as an
		// attempt, and a 5xx after many of them backs off for minutes.)
		status = http.StatusTooManyRequests
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write([]byte("ok"))
	w.(http.Flusher).Flush()
	answered := time.Now()
	s.mu.Lock()
	s.posts = append(s.posts, slackPost{arrived: arrived, answered: answered, status: status, body: body})
	s.mu.Unlock()
	if status == http.StatusOK && s.armed.CompareAndSwap(true, false) {
		if p := s.process.Load(); p != nil && p.Kill() == nil {
			s.onKill(time.Now())
			s.killed.Add(1)
		}
	}
}

func (s *flakySlack) all() []slackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackPost(nil), s.posts...)
}

// transition names one alert: a check's incident (by when it started
// failing, as the message shows it) opened or resolved.
type transition struct {
	check string
	kind  store.OutboxKind
	since int64 // Unix seconds
}

func (tr transition) String() string {
	return fmt.Sprintf("%s %s (since %s)", tr.check, tr.kind, time.Unix(tr.since, 0).UTC().Format(time.TimeOnly))
}

var sinceField = regexp.MustCompile(`^\*Since\*\n<!date\^(\d+)\^`)

// groupLine is one opening of a grouped message ("🔴 7 checks started
// failing"): "• *<url|check>* fail, 1 violation · incident #12".
var groupLine = regexp.MustCompile(`(?m)^• .* · incident #(\d+)`)

// parseAlerts reads which transitions a Slack message announces: one, or
// each opening of a grouped message (known by its incident's id).
func parseAlerts(t *testing.T, body []byte, byID map[int64]store.Incident) []transition {
	t.Helper()
	var p slack.Payload
	if err := json.Unmarshal(body, &p); err != nil || len(p.Blocks) < 2 || p.Blocks[0].Text == nil {
		t.Fatalf("Slack got an unreadable message (%v): %s", err, body)
	}
	head := p.Blocks[0].Text.Text
	if strings.HasPrefix(head, "🔴 ") && strings.HasSuffix(head, " checks started failing") {
		var out []transition
		for _, b := range p.Blocks[1:] {
			if b.Text == nil {
				continue
			}
			for _, m := range groupLine.FindAllStringSubmatch(b.Text.Text, -1) {
				id, _ := strconv.ParseInt(m[1], 10, 64)
				inc, ok := byID[id]
				if !ok {
					t.Fatalf("grouped message names incident #%d, which the store does not have: %s", id, body)
				}
				out = append(out, transition{inc.CheckID, store.OutboxOpened, inc.Since.Unix()})
			}
		}
		if len(out) == 0 {
			t.Fatalf("grouped message without an opening: %s", body)
		}
		return out
	}
	var tr transition
	switch {
	case strings.HasPrefix(head, "✅ Resolved: "):
		tr.kind = store.OutboxResolved
	case strings.HasPrefix(head, "🔴 "):
		tr.kind = store.OutboxOpened
	default:
		t.Fatalf("Slack got a message that is neither opened nor resolved: %s", body)
	}
	tr.check = head[strings.LastIndex(head, ": ")+2:]
	for _, f := range p.Blocks[1].Fields {
		if m := sinceField.FindStringSubmatch(f.Text); m != nil {
			tr.since, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	if tr.since == 0 {
		t.Fatalf("Slack message without a since time: %s", body)
	}
	return []transition{tr}
}

// TestServeSlackOutboxSurvivesKill9 runs the real binary with checks that
// flip between fail and pass, a Slack webhook that fails (500s, then 429
// with Retry-After, then a 429 now and then) and recovers, and kills vigil with
// SIGKILL ten times at random moments — three of them right after Slack's
// 200, before vigil can record the delivery. After a last start with Slack
// healthy, every transition in the store reached Slack; a transition
// reached Slack twice only when vigil was killed between Slack's answer
// and the outbox commit.
func TestServeSlackOutboxSurvivesKill9(t *testing.T) {
	const (
		kills       = 10
		checksCount = 4
		// windowSlack is how long after Slack's 200 a kill still counts as
		// inside the documented window (MarkDeliveredAll is one small commit).
		windowSlack = 250 * time.Millisecond
	)
	db := testdb.SQLite(t)
	db.Exec(t, "CREATE TABLE bad (check_id TEXT)")

	var killMu sync.Mutex
	var killedAt []time.Time
	noteKill := func(at time.Time) {
		killMu.Lock()
		killedAt = append(killedAt, at)
		killMu.Unlock()
	}
	hook := &flakySlack{start: time.Now(), outage: 5 * time.Second, limited: 8 * time.Second, onKill: noteKill}
	slackHTTP := httptest.NewServer(hook)
	defer slackHTTP.Close()

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "scheduler: {lease_ttl: 1s}\nsinks:\n  slack: {webhook_url: %q}\ndatasources:\n  db: {driver: sqlite, dsn: %q}\nchecks:\n", slackHTTP.URL+"/hook", db.DSN)
	for i := range checksCount {
		fmt.Fprintf(&cfg, "  - {id: flip-%d, kind: sql, datasource: db, schedule: \"@every 1s\", query: \"SELECT check_id FROM bad WHERE check_id = 'flip-%d'\"}\n", i, i)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": cfg.String()})
	cfgPath := filepath.Join(dir, "vigil.yaml")

	// Flip each check between fail and pass on its own beat.
	stopFlipping := make(chan struct{})
	flipped := make(chan error, 1)
	go func() {
		failing := make([]bool, checksCount)
		next := make([]time.Time, checksCount)
		for {
			select {
			case <-stopFlipping:
				_, err := db.Admin.Exec("DELETE FROM bad")
				flipped <- err
				return
			case <-time.After(100 * time.Millisecond):
			}
			for i := range checksCount {
				if time.Now().Before(next[i]) {
					continue
				}
				q := "INSERT INTO bad VALUES (?)"
				if failing[i] {
					q = "DELETE FROM bad WHERE check_id = ?"
				}
				if _, err := db.Admin.Exec(q, fmt.Sprintf("flip-%d", i)); err != nil {
					flipped <- err
					return
				}
				failing[i] = !failing[i]
				next[i] = time.Now().Add(1500*time.Millisecond + time.Duration(i)*400*time.Millisecond + rand.N(500*time.Millisecond))
			}
		}
	}()

	var allLogs strings.Builder
	for i := range kills {
		cmd, _, logs := startServe(t, cfgPath)
		hook.process.Store(cmd.Process)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		life := 1500*time.Millisecond + rand.N(2*time.Second)
		if i%3 == 2 { // kill right after one of Slack's 200s
			select {
			case <-exited:
			case <-time.After(life):
			}
			hook.armed.Store(true)
			select {
			case <-exited:
			case <-time.After(4 * time.Second):
				hook.armed.Store(false)
			}
		} else {
			select {
			case <-exited:
			case <-time.After(life):
			}
		}
		select {
		case <-exited:
		default:
			if cmd.Process.Kill() == nil {
				noteKill(time.Now())
			}
			<-exited
		}
		hook.process.Store(nil)
		fmt.Fprintf(&allLogs, "--- run %d\n%s", i+1, logs)
	}

	// Last start: Slack is healthy and every check passes again.
	hook.recovered.Store(true)
	close(stopFlipping)
	if err := <-flipped; err != nil {
		t.Fatalf("flip the checks: %v", err)
	}
	cmd, _, logs := startServe(t, cfgPath)
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for deadline := time.Now().Add(25 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		open, err := st.Incidents(t.Context(), store.IncidentQuery{OpenOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		backlog, err := st.OutboxBacklog(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(open) == 0 && backlog == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after recovery: %d incidents still open, %d alerts undelivered\n%s--- last run\n%s", len(open), backlog, &allLogs, logs)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vigil exited with %v after SIGTERM\n%s", err, logs)
	}

	// Every transition the store recorded, and its outbox message.
	incidents, err := st.Incidents(t.Context(), store.IncidentQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	want := map[transition]bool{}
	byID := map[int64]store.Incident{}
	for _, inc := range incidents {
		byID[inc.ID] = inc
		want[transition{inc.CheckID, store.OutboxOpened, inc.Since.Unix()}] = true
		want[transition{inc.CheckID, store.OutboxResolved, inc.Since.Unix()}] = true
	}
	if len(incidents) < 2*checksCount {
		t.Errorf("only %d incidents over the test; want the checks to flip more", len(incidents))
	}
	var outboxRows, undelivered int
	rows, err := st.ReadDB().QueryContext(t.Context(), "SELECT kind, delivered_at IS NULL FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var kind string
		var pending bool
		if err := rows.Scan(&kind, &pending); err != nil {
			t.Fatal(err)
		}
		outboxRows++
		if pending {
			undelivered++
		}
	}
	rows.Close()
	if outboxRows != len(want) || undelivered != 0 {
		t.Errorf("outbox holds %d messages (%d undelivered) for %d transitions; want one delivered message each", outboxRows, undelivered, len(want))
	}

	// What Slack accepted, per transition; a copy after the first is inside
	// the documented window when vigil was killed while Slack answered it.
	killMu.Lock()
	kills9 := append([]time.Time(nil), killedAt...)
	killMu.Unlock()
	inWindow := func(p slackPost) bool {
		for _, k := range kills9 {
			if !k.Before(p.arrived) && !k.After(p.answered.Add(windowSlack)) {
				return true
			}
		}
		return false
	}
	posts := hook.all()
	first := map[transition]slackPost{}
	var accepted, failed, dupInWindow, dupOutside int
	for _, p := range posts {
		if p.status != http.StatusOK {
			failed++
			continue
		}
		accepted++
		again := false // this post repeats a message killed inside the window
		for _, tr := range parseAlerts(t, p.body, byID) {
			if !want[tr] {
				t.Errorf("Slack got an alert for no recorded transition: %s", tr)
				continue
			}
			prev, seen := first[tr]
			switch {
			case !seen:
				first[tr] = p
			case inWindow(prev):
				again = true
			default:
				dupOutside++
				t.Errorf("%s reached Slack again at %s; its first copy was answered at %s with no kill in between",
					tr, p.arrived.Format(time.TimeOnly+".000"), prev.answered.Format(time.TimeOnly+".000"))
			}
		}
		if again {
			dupInWindow++
		}
	}
	for tr := range want {
		if _, ok := first[tr]; !ok {
			t.Errorf("%s never reached Slack", tr)
		}
	}
	if dupInWindow > len(kills9) {
		t.Errorf("%d duplicates inside the window, more than the %d kills", dupInWindow, len(kills9))
	}
	t.Logf("%d kill -9s (%d right after Slack's 200); %d incidents, %d transitions; Slack answered %d posts with an error and accepted %d: %d duplicates inside the documented window, %d outside",
		len(kills9), hook.killed.Load(), len(incidents), len(want), failed, accepted, dupInWindow, dupOutside)
	if t.Failed() {
		t.Logf("logs:\n%s--- last run\n%s", &allLogs, logs)
	}
}
