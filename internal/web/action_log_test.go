package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// TestRunNowIsRecordedInTheScriptLog: run-now from the page and from the
// API each leave a script run by the user, finished with the outcome; a
// refused run (already running) is recorded as failed.
func TestRunNowIsRecordedInTheScriptLog(t *testing.T) {
	d := newDash(t, false)
	gate := make(chan struct{})
	d.mu.Lock()
	d.gate = gate
	d.mu.Unlock()

	oscar := d.loggedIn("oscar")
	tok := oscar.csrf("/checks/api-up")
	if r := oscar.post("/checks/api-up/run", url.Values{"_csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("run now: %d %s", r.StatusCode, r.body)
	}
	if r := d.api(http.MethodPost, "/api/v1/checks/api-up/run", dashOperatorToken, nil); r.StatusCode != http.StatusConflict {
		t.Fatalf("second run now: %d %s", r.StatusCode, r.body)
	}
	close(gate)
	d.waitRun("api-up")

	log, err := scriptlog.NewSQL(d.store.DB(), d.store.Driver(), scriptlog.Key{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := log.Search(context.Background(), scriptlog.Query{Target: "api-up"})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		actor, purpose, script string
		status                 scriptlog.Status
		exit                   int
	}
	var got []rec
	for _, r := range runs {
		got = append(got, rec{r.Actor, r.Purpose, r.Script, r.Status, r.ExitCode})
	}
	want := []rec{ // newest first
		{"token:operator-bot", "run now: api-up", "run-now api-up", scriptlog.Failed, 1},
		{"oscar", "run now: api-up", "run-now api-up", scriptlog.Success, 0},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("script runs = %+v\nwant %+v", got, want)
	}
	first, err := log.Get(context.Background(), runs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first.Output), "run of api-up started") || first.StartedAt.IsZero() || first.EndedAt.IsZero() {
		t.Errorf("recorded run = %+v, output %q", first, first.Output)
	}
	second, err := log.Get(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(second.Output), "already running") {
		t.Errorf("refused run's output = %q", second.Output)
	}
	// The audit log still has the run (only the one that started).
	if e := d.lastAudit("run"); e.Actor != "oscar" || e.Target != "api-up" {
		t.Errorf("audit = %+v", e)
	}
}
