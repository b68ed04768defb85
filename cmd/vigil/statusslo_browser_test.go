package main

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/browsertest"
	"github.com/vigilhq/vigil/internal/testdb"
)

// statusSecrets are what the checks of the browser test carry that no
// one outside on-call may see: a violation key and detail, an owner, tags,
// a query, a runbook, a datasource path and the id of a renamed check.
var statusBrowserSecrets = []string{
	"P-SECRET-4411", "hunter2-SECRET", "owner-SECRET-team", "tag-SECRET", "premium_cents", "runbook-SECRET", "policies.db", "billing-db-hidden-x9q",
}

// waitForSLORuns waits until GET /api/v1/slos counts n runs for the first
// SLO.
func waitForSLORuns(t *testing.T, base, token string, n int64) {
	t.Helper()
	var got struct {
		SLOs []struct{ Runs struct{ Total int64 } }
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		apiCall(t, http.MethodGet, base+"/api/v1/slos", token, "", http.StatusOK, &got)
		if len(got.SLOs) > 0 && got.SLOs[0].Runs.Total == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SLOs = %+v after 10s, want %d runs", got, n)
		}
	}
}

// notDuringTest is a cron schedule whose next tick is months away. A test
// that counts runs cannot use "@every 1h": vigil ticks an @every job at a
// phase of its interval hashed from the check id (see the scheduler), so
// the first tick can fall at any moment of the first hour, the test's
// seconds included.
func notDuringTest() string {
	t := time.Now().UTC().AddDate(0, 6, 0)
	return fmt.Sprintf("CRON_TZ=UTC %d %d %d %d *", t.Minute(), t.Hour(), t.Day(), int(t.Month()))
}

// TestStatusPageAndSLOsInBrowser serves the real binary with a public
// status page and an SLO, with auth on: an anonymous visitor reads the
// status page (with and without JavaScript) and its badge and JSON, none
// of which shows a secret; a viewer reads /slos. Both pages pass axe-core.
func TestStatusPageAndSLOsInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	const (
		viewerPassword = "support staff only"
		seedToken      = "browser-test-seed-token-0123456789abcdef"
	)
	policies := testdb.SQLite(t)
	policies.Exec(t,
		"CREATE TABLE premiums (policy_id TEXT PRIMARY KEY, note TEXT, premium_cents INTEGER)",
		"INSERT INTO premiums VALUES ('P-SECRET-4411', 'password=hunter2-SECRET', -100), ('P-2', 'ok', 5000)",
	)
	dir := t.TempDir()
	tokenSum := sha256.Sum256([]byte(seedToken))
	writeFiles(t, dir, map[string]string{
		"scriptlog.key": testScriptlogKey,
		"vigil.yaml": `
datasources:
  policies: {driver: sqlite, dsn: "` + policies.DSN + `"}
scriptlog: {key_file: scriptlog.key}
auth:
  users:
    - {name: sam, password_hash: "` + passwordHashFor(t, viewerPassword) + `", role: viewer}
  tokens:
    - {name: seed, token_sha256: ` + hex.EncodeToString(tokenSum[:]) + `, role: operator}
checks:
  - id: billing-db-hidden-x9q
    kind: sql
    datasource: policies
    query: SELECT policy_id AS key, note, premium_cents FROM premiums WHERE premium_cents <= 0
    schedule: "` + notDuringTest() + `"
    runbook: runbook-SECRET
    owner: owner-SECRET-team
    tags: [team:tag-SECRET]
  - id: quotes
    kind: sql
    datasource: policies
    query: SELECT policy_id AS key FROM premiums WHERE premium_cents > 1000000
    schedule: "` + notDuringTest() + `"
    tags: [team:tag-SECRET]
status_page:
  title: Acme Insurance status
  public: true
  names: {billing-db-hidden-x9q: Billing}
  groups:
    - {name: Billing & quotes, tags: [team:tag-SECRET]}
slos:
  - {name: billing, objective: 99.9, window: 30d, checks: [billing-db-hidden-x9q, quotes]}
`,
	})
	_, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vigil serve logs:\n%s", logs)
		}
	})
	for i := range 3 {
		for _, id := range []string{"billing-db-hidden-x9q", "quotes"} {
			apiCall(t, http.MethodPost, base+"/api/v1/checks/"+id+"/run", seedToken, "", http.StatusAccepted, nil)
		}
		waitForSLORuns(t, base, seedToken, int64(2*(i+1)))
	}
	waitForAPIStatus(t, base, seedToken, map[string]string{"billing-db-hidden-x9q": "fail", "quotes": "pass"})
	// The status page is built at most every 15 s: wait for a build that
	// has the runs.
	var status struct {
		State  string
		Groups []struct{ Uptime map[string]*float64 }
	}
	for deadline := time.Now().Add(30 * time.Second); status.State != "down" || status.Groups[0].Uptime["24h"] == nil; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the status page is %+v after 30s, want down with an uptime", status)
		}
		apiCall(t, http.MethodGet, base+"/api/v1/status", "", "", http.StatusOK, &status)
	}

	noSecret := func(t *testing.T, where, body string) {
		t.Helper()
		for _, s := range statusBrowserSecrets {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q", where, s)
			}
		}
	}
	t.Run("anonymous with JavaScript", func(t *testing.T) {
		p := browserTab{t: t, ctx: b.Tab(t), base: base}
		p.open("/status")
		if loc := p.location(); loc != base+"/status" {
			t.Fatalf("an anonymous visit to /status landed on %s, want the page itself (public: true)", loc)
		}
		if h := p.text("h1"); h != "Acme Insurance status" {
			t.Errorf("h1 = %q", h)
		}
		if got := p.text(".statuspage-headline"); got != "Down Some systems are down" {
			t.Errorf("headline = %q", got)
		}
		if got := p.text(".statuspage-incidents"); !strings.HasPrefix(got, "Down Billing is down since ") {
			t.Errorf("incidents = %q, want Billing is down", got)
		}
		rows := tabEval[[][]string](p, jsTableCells("table.statuspage-table"))
		want := [][]string{{"All of Billing & quotes", "Down"}, {"Billing", "Down", "0 %", "0 %", "0 %"}, {"quotes", "Operational", "100 %", "100 %", "100 %"}}
		if !rowsMatch(rows, want) {
			t.Errorf("rows = %q, want %q", rows, want)
		}
		if n := tabEval[int](p, `document.querySelectorAll('svg.statuspage-bar[role="img"][aria-label*="last 90 days"]').length`); n != 3 {
			t.Errorf("%d bars with an accessible name, want 3", n)
		}
		noSecret(t, "/status (DOM)", tabEval[string](p, `document.documentElement.outerHTML`))
		if v := browsertest.Axe(t, p.ctx); len(v) > 0 {
			t.Errorf("axe-core on /status: %+v", v)
		}
		b.Screenshot(t, p.ctx, "status-page")
	})
	t.Run("anonymous without JavaScript", func(t *testing.T) {
		p := browserTab{t: t, ctx: b.TabWithoutJS(t), base: base}
		p.open("/status")
		if got := p.text(".statuspage-incidents"); !strings.Contains(got, "Billing is down") {
			t.Errorf("without JavaScript the incidents read %q", got)
		}
		if n := tabEval[int](p, `document.querySelectorAll("table.statuspage-table tbody tr").length`); n != 3 {
			t.Errorf("without JavaScript %d rows, want 3", n)
		}
		b.Screenshot(t, p.ctx, "status-page-no-js")
	})
	t.Run("JSON and badge", func(t *testing.T) {
		for _, path := range []string{"/api/v1/status", "/status/badge/billing-quotes.svg", "/status"} {
			for _, enc := range []string{"identity", "gzip"} {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("Accept-Encoding", enc)
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				var r io.Reader = resp.Body
				if resp.Header.Get("Content-Encoding") == "gzip" {
					if r, err = gzip.NewReader(resp.Body); err != nil {
						t.Fatal(err)
					}
				}
				body, err := io.ReadAll(r)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
				}
				noSecret(t, fmt.Sprintf("%s (%s)", path, enc), string(body))
			}
		}
	})
	t.Run("viewer reads the SLOs", func(t *testing.T) {
		p := browserTab{t: t, ctx: b.Tab(t), base: base}
		p.open("/slos")
		p.logIn("sam", viewerPassword)
		if loc := p.location(); loc != base+"/slos" {
			t.Fatalf("after logging in the viewer is on %s, want /slos", loc)
		}
		// Six runs, three of them bad: 50 % good, against a 0.1 % budget.
		facts := tabEval[[]string](p, jsTexts("#slo-billing dl.facts dd"))
		if len(facts) < 2 || facts[0] != "50 % (3 good of 6 runs)" || !strings.HasPrefix(facts[1], "-49900 % (overspent), -21556.80 of 43.20 minutes") {
			t.Errorf("SLO facts = %q", facts)
		}
		if got := tabEval[string](p, `document.querySelector('#slo-billing figure svg[role="img"]').getAttribute("aria-label")`); !strings.HasPrefix(got, "Burn chart: error budget left over the last 30d") {
			t.Errorf("burn chart aria-label = %q", got)
		}
		if got := p.text("#slo-billing table.slo-burns"); !strings.Contains(got, "500×") {
			t.Errorf("burn rates = %q, want 500× (half the runs bad, 0.1 %% budget)", got)
		}
		if v := browsertest.Axe(t, p.ctx); len(v) > 0 {
			t.Errorf("axe-core on /slos: %+v", v)
		}
		b.Screenshot(t, p.ctx, "slos")
	})
}
