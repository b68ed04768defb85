package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/statuspage"
)

// Secrets a check carries that the status page must never show: its
// owner, tags, runbook, violation keys and details, and error text (and
// the id of a check that has a public name).
const (
	secretOwner   = "owner-SECRET-1d2c"
	secretTag     = "team:tag-SECRET-9f4e"
	secretRunbook = "runbook-SECRET-77ab"
	secretKey     = "P-100/KEY-SECRET-3c5d"
	secretDetail  = "password=hunter2 DETAIL-SECRET-8e1f"
	secretError   = "dial tcp 10.1.2.3:5432: pq: password authentication failed for user ERROR-SECRET-2a9b"
	secretID      = "internal-billing-db-SECRET-6d0c"
)

var statusSecrets = []string{secretOwner, "tag-SECRET", secretRunbook, "KEY-SECRET", "DETAIL-SECRET", "hunter2", "ERROR-SECRET", "10.1.2.3", secretID}

// statusChecks: quote-api (public name "Quote API") and the secret check
// (public name "Billing") in group "Customer facing"; docs (no public
// name) in group "Documents".
func statusChecks() []config.Check {
	return []config.Check{
		{ID: "quote-api", Kind: "http", Owner: secretOwner, Tags: []string{secretTag}, Runbook: secretRunbook, FailAfter: 1, ResolveAfter: 1},
		{ID: secretID, Kind: "sql", Owner: secretOwner, Tags: []string{secretTag}, Runbook: secretRunbook, FailAfter: 1, ResolveAfter: 2},
		{ID: "docs", Kind: "sql", FailAfter: 1, ResolveAfter: 1},
	}
}

func statusConfig(cfg *config.Config, public bool) *config.Config {
	cfg.Checks = statusChecks()
	cfg.StatusPage = &config.StatusPage{
		Title: "Acme services", Public: public,
		Names: map[string]string{"quote-api": "Quote API", secretID: "Billing"},
		Groups: []config.StatusGroup{
			{Name: "Customer facing", Slug: "customer-facing", Checks: []string{"quote-api", secretID}},
			{Name: "Documents", Slug: "documents", Checks: []string{"docs"}},
		},
	}
	return cfg
}

// statusEngine records runs of the status checks through a real engine
// on the fixture's store and clock.
func statusEngine(f *fixture) func(id string, status checks.Status) {
	eng := engine.New(f.store, nil, engine.Options{Now: f.clock.Now})
	return func(id string, status checks.Status) {
		f.t.Helper()
		var c config.Check
		for _, ch := range statusChecks() {
			if ch.ID == id {
				c = ch
			}
		}
		r := checks.Result{Status: status, StartedAt: f.clock.Now()}
		if status != checks.Pass {
			r.Violations, r.Keys = 1, []string{secretKey}
			r.Sample = []checks.Violation{{Key: secretKey, Detail: secretDetail}}
		}
		if status == checks.Error {
			r.Error = secretError
		}
		info := engine.CheckInfo{ID: id, Kind: c.Kind, Owner: c.Owner, Runbook: c.Runbook, Tags: c.Tags, FailAfter: c.FailAfter, ResolveAfter: c.ResolveAfter}
		if _, err := eng.Record(context.Background(), info, r); err != nil {
			f.t.Fatalf("record %s: %v", id, err)
		}
	}
}

func ungzip(t *testing.T, b string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return string(out)
}

// TestStatusPageShowsNoSecret: whatever a check's runs carry, the page,
// its JSON and its badges show only public names, states, uptimes and
// times (OWASP ASVS V8.3.4 / CWE-200: no sensitive data to a public
// audience).
func TestStatusPageShowsNoSecret(t *testing.T) {
	f := newFixture(t, statusConfig(authConfig(t, "https://status.example.com"), true), nil)
	record := statusEngine(f)
	for _, st := range []checks.Status{checks.Pass, checks.Fail, checks.Error} {
		for _, c := range statusChecks() {
			f.clock.Add(time.Minute)
			record(c.ID, st)
		}
	}
	anon := f.client()
	bodies := map[string]string{}
	for _, path := range []string{"/status", "/api/v1/status", "/status/badge/customer-facing.svg", "/status/badge/documents.svg"} {
		for _, enc := range []string{"", "gzip"} {
			r := anon.get(path, "Accept-Encoding", enc)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("GET %s (%q): %d\n%s", path, enc, r.StatusCode, r.body)
			}
			body := r.body
			if r.Header.Get("Content-Encoding") == "gzip" {
				body = ungzip(t, body)
			} else if enc == "gzip" {
				t.Errorf("GET %s: gzip accepted, not used", path)
			}
			bodies[path+" "+enc] = body
		}
	}
	for where, body := range bodies {
		for _, secret := range statusSecrets {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows %q", where, secret)
			}
		}
	}
	page := bodies["/status "]
	for _, want := range []string{"Acme services", "Quote API", "Billing", "docs", "Quote API is down", "Billing is down", "Some systems are down"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The page is public: it carries no CSRF token and no user.
	if strings.Contains(page, `name="_csrf"`) || strings.Contains(page, "Log out") {
		t.Errorf("the public page carries a form or a user")
	}
}

// TestStatusPageCaching: ETag and Cache-Control as RFC 9110 §8.8.3 and
// §13.1.2 and RFC 9111 §5.2.2.1 say: a weak validator, If-None-Match with
// it (alone, in a list, as W/ or *) gets 304 without a body; any other
// gets the page. Public pages may be stored by shared caches, private
// ones only by the browser.
func TestStatusPageCaching(t *testing.T) {
	for _, public := range []bool{true, false} {
		f := newFixture(t, statusConfig(&config.Config{}, public), nil)
		statusEngine(f)("docs", checks.Pass)
		c := f.client()
		for _, path := range []string{"/status", "/api/v1/status", "/status/badge/documents.svg"} {
			r := c.get(path)
			etag := r.Header.Get("ETag")
			want := "private, max-age=30"
			if public {
				want = "public, max-age=30"
			}
			if r.StatusCode != 200 || etag == "" || r.Header.Get("Cache-Control") != want || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("GET %s: %d, ETag %q, Cache-Control %q, Vary %q; want 200, an ETag, %q", path, r.StatusCode, etag, r.Header.Get("Cache-Control"), r.Header.Get("Vary"), want)
			}
			strong := strings.TrimPrefix(etag, "W/")
			for _, inm := range []string{etag, strong, `"other", ` + etag, "*"} {
				r := c.get(path, "If-None-Match", inm)
				if r.StatusCode != http.StatusNotModified || r.body != "" || r.Header.Get("ETag") != etag {
					t.Errorf("GET %s If-None-Match %s: %d with %d bytes, want 304 and no body", path, inm, r.StatusCode, len(r.body))
				}
			}
			if r := c.get(path, "If-None-Match", `"stale"`); r.StatusCode != 200 || r.body == "" {
				t.Errorf("GET %s with a stale ETag: %d", path, r.StatusCode)
			}
		}
		// Past its max age, a request starts a rebuild (and is served the
		// page there is); the new page, with the new run, has a new ETag.
		before := c.get("/api/v1/status").Header.Get("ETag")
		f.clock.Add(statuspage.MaxAge + time.Second)
		statusEngine(f)("docs", checks.Fail)
		for deadline := time.Now().Add(10 * time.Second); c.get("/api/v1/status").Header.Get("ETag") == before; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ETag %s unchanged 10s after the page changed", before)
			}
		}
		if r := c.get("/status/badge/documents.svg"); !strings.Contains(r.body, "Down") {
			t.Errorf("the badge after the rebuild reads %s, want Down", r.body)
		}
	}
}

// TestStatusPageAccess: public pages need no login even with auth on;
// private ones need any role; without status_page there is none.
func TestStatusPageAccess(t *testing.T) {
	paths := []string{"/status", "/api/v1/status", "/status/badge/documents.svg"}
	t.Run("public", func(t *testing.T) {
		f := newFixture(t, statusConfig(authConfig(t, "http://127.0.0.1:8080"), true), nil)
		for _, p := range paths {
			if r := f.client().get(p); r.StatusCode != 200 {
				t.Errorf("anonymous GET %s: %d, want 200", p, r.StatusCode)
			}
		}
		if r := f.client().get("/status/badge/nope.svg"); r.StatusCode != 404 {
			t.Errorf("unknown badge: %d, want 404", r.StatusCode)
		}
		if r := f.client().get("/api/v1/slos"); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET /api/v1/slos: %d, want 401 (SLOs are not public)", r.StatusCode)
		}
	})
	t.Run("private", func(t *testing.T) {
		f := newFixture(t, statusConfig(authConfig(t, "http://127.0.0.1:8080"), false), nil)
		for _, p := range paths {
			r := f.client().get(p)
			if r.StatusCode == 200 {
				t.Errorf("anonymous GET %s: 200, want a login", p)
			}
			if r := f.loggedIn("vic").get(p); r.StatusCode != 200 {
				t.Errorf("viewer GET %s: %d, want 200", p, r.StatusCode)
			}
		}
	})
	t.Run("not configured", func(t *testing.T) {
		f := newFixture(t, &config.Config{}, nil)
		for _, p := range paths {
			if r := f.client().get(p); r.StatusCode != 404 {
				t.Errorf("GET %s without status_page: %d, want 404", p, r.StatusCode)
			}
		}
	})
}

// TestStatusBadge: the badge is an SVG image (role="img" with a title, as
// WAI-ARIA's img role and SVG accessibility want: an accessible name)
// that parses as XML and names the group and its state.
func TestStatusBadge(t *testing.T) {
	f := newFixture(t, statusConfig(&config.Config{}, true), nil)
	statusEngine(f)("docs", checks.Warn)
	r := f.client().get("/status/badge/documents.svg")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/svg+xml") {
		t.Errorf("Content-Type %q", ct)
	}
	var svg struct {
		XMLName xml.Name `xml:"svg"`
		Role    string   `xml:"role,attr"`
		Label   string   `xml:"aria-label,attr"`
		Title   string   `xml:"title"`
		Text    []string `xml:"g>text"`
	}
	if err := xml.NewDecoder(bytes.NewReader([]byte(r.body))).Decode(&svg); err != nil {
		t.Fatalf("badge is not XML: %v\n%s", err, r.body)
	}
	if svg.Role != "img" || svg.Title != "Documents: Degraded" || svg.Label != svg.Title || len(svg.Text) != 2 {
		t.Errorf("badge = %+v", svg)
	}
}

// TestStatusPageNumbers checks the page against the definitions in
// internal/statuspage, computed by hand for a seeded history.
func TestStatusPageNumbers(t *testing.T) {
	f := newFixture(t, statusConfig(&config.Config{}, true), nil)
	now := f.clock.Now() // 2025-03-09 12:00 UTC
	seed := func(id string, at time.Time, st checks.Status) {
		if _, err := f.store.RecordResult(context.Background(), checks.Result{Check: id, Kind: "sql", Status: st, StartedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	today := now.Truncate(day)
	// docs: 4 runs a day for 100 days, the last at 06:00 today: all pass,
	// but 40 days ago one fails, 3 days ago one warns, and today at 06:00
	// it fails.
	for d := 99; d >= 0; d-- {
		for h := range 4 {
			at := today.Add(-time.Duration(d)*day + time.Duration(h)*6*time.Hour)
			if !at.Before(now) {
				continue
			}
			st := checks.Pass
			switch {
			case d == 40 && h == 1, d == 0 && h == 1:
				st = checks.Fail
			case d == 3 && h == 2:
				st = checks.Warn
			}
			seed("docs", at, st)
		}
	}
	// Retention rolled up everything older than 14 days.
	if _, err := f.store.Prune(context.Background(), now, 14*day); err != nil {
		t.Fatal(err)
	}
	var p statuspage.Page
	if err := json.Unmarshal([]byte(f.client().get("/api/v1/status").body), &p); err != nil {
		t.Fatal(err)
	}
	docs := p.Groups[1].Checks[0]
	if docs.Name != "docs" || docs.State != statuspage.Down {
		t.Errorf("docs = %s %s, want docs down (its latest run failed)", docs.Name, docs.State)
	}
	// 24 h: [13:00 yesterday, now): runs at 18:00 yesterday, 00:00 and
	// 06:00 today: 2 good of 3.
	// 7 d: today and the 6 days before: 6 × 4 + 2 (today 00:00, 06:00) =
	// 26 runs, 1 bad (today).
	// 90 d: 89 × 4 + 2 = 358 runs, 2 bad (40 days ago, today).
	want := [3]float64{100 * 2.0 / 3, 100 * 25.0 / 26, 100 * 356.0 / 358}
	got := [3]*float64{docs.Uptime.Day, docs.Uptime.Week, docs.Uptime.Quarter}
	for i := range want {
		if got[i] == nil || *got[i] < want[i]-1e-9 || *got[i] > want[i]+1e-9 {
			t.Errorf("uptime %d = %v, want %v", i, got[i], want[i])
		}
	}
	if len(docs.Days) != statuspage.Days || docs.Days[89].Date != "2025-03-09" || docs.Days[0].Date != "2024-12-10" {
		t.Fatalf("days %d, from %s to %s", len(docs.Days), docs.Days[0].Date, docs.Days[len(docs.Days)-1].Date)
	}
	for i, d := range docs.Days {
		want := statuspage.Operational
		switch 89 - i {
		case 40, 0:
			want = statuspage.Down
		case 3:
			want = statuspage.Degraded
		}
		if d.State != want {
			t.Errorf("%s = %s, want %s", d.Date, d.State, want)
		}
	}
	if u := docs.Days[89-40].Uptime; u == nil || *u != 75 {
		t.Errorf("the day 40 days ago (rolled up) has uptime %v, want 75", u)
	}
	// The group "Customer facing" has no runs at all.
	if g := p.Groups[0]; g.State != statuspage.NoData || g.Uptime.Day != nil || g.Days[0].State != statuspage.NoData {
		t.Errorf("group without runs = %+v", g)
	}
	if p.State != statuspage.Down || len(p.Incidents) != 0 {
		t.Errorf("page state %s, incidents %v; want down and none (docs was not recorded through the engine)", p.State, p.Incidents)
	}
}

// TestStatusIncidentTitles: an open incident is titled by the check's
// public name and its state now, and starts when the check stopped
// passing; a resolved one is gone.
func TestStatusIncidentTitles(t *testing.T) {
	f := newFixture(t, statusConfig(&config.Config{}, true), nil)
	record := statusEngine(f)
	start := f.clock.Now()
	record(secretID, checks.Fail) // opens (fail_after 1)
	f.clock.Add(time.Minute)
	record(secretID, checks.Pass) // resolve_after 2: still open
	f.clock.Add(time.Minute)
	record("quote-api", checks.Error)
	f.clock.Add(time.Minute)
	record("quote-api", checks.Pass) // resolves
	var p statuspage.Page
	if err := json.Unmarshal([]byte(f.client().get("/api/v1/status").body), &p); err != nil {
		t.Fatal(err)
	}
	want := []statuspage.Incident{{Title: "Billing is recovering", State: statuspage.Operational, StartedAt: start}}
	if len(p.Incidents) != 1 || p.Incidents[0] != want[0] {
		t.Errorf("incidents = %+v, want %+v", p.Incidents, want)
	}
}
