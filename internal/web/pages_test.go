package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/engine"
)

// groupOrder returns the overview's group headings in page order.
func groupOrder(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<h2 class="group"[^>]*><span class="status status-(\w+)">`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// pollURL returns the hx-get of the overview's partial in body, without
// its version, and the version.
func pollURL(t *testing.T, body string) (target, version string) {
	t.Helper()
	m := regexp.MustCompile(`<section id="overview-body" class="panel" hx-get="([^"]*)" hx-trigger="every 10s"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no overview-body polling every 10s in:\n%.400s", body)
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	version = q.Get("v")
	q.Del("v")
	u.RawQuery = q.Encode()
	return u.String(), version
}

func TestOverview(t *testing.T) {
	d := newDash(t, false)
	d.record("api-up", checks.Pass)
	d.record("orders-dup", checks.Pass)
	d.record("orders-dup", checks.Warn, "x")
	d.record("orders-dup", checks.Fail, "O-1", "O-2")
	vic := d.loggedIn("vic")

	tests := []struct {
		name, query string
		wantGroups  string
		wantPoll    string // the partial's hx-get, without its version
		want        []string
		notWant     []string
	}{
		{name: "all: passing checks counted, not listed", wantPoll: "/", wantGroups: "fail,pass,unknown",
			want: []string{`href="/checks/orders-dup"`, `href="/checks/never-ran"`, "2 violations", "orders-team",
				"last 3 runs: 1 fail, 1 warn, 1 pass", `<path class="run-fail" d="M12 0h5v16h-5z"/>`, "Failing (data broken)", "Not run yet", "incident #1",
				`Passing <span class="count">(1)</span>`, "1 passing check is not listed.", `<a href="/?show=passing" hx-get="/?show=passing"`},
			notWant: []string{`href="/checks/api-up"`, "Hide the passing checks", `name="show"`}},
		{name: "passing checks listed", query: "?show=passing", wantPoll: "/?show=passing", wantGroups: "fail,pass,unknown",
			want:    []string{`href="/checks/orders-dup"`, `href="/checks/api-up"`, `<a href="/" hx-get="/"`, "Hide the passing checks", `<input type="hidden" name="show" value="passing">`},
			notWant: []string{"not listed", "Clear filters"}},
		{name: "by owner", query: "?owner=web-team", wantPoll: "/?owner=web-team", wantGroups: "pass",
			want: []string{`href="/?owner=web-team&amp;show=passing"`, "Clear filters"}, notWant: []string{`href="/checks/orders-dup"`, `href="/checks/api-up"`}},
		{name: "by owner, passing listed", query: "?owner=web-team&show=passing", wantPoll: "/?owner=web-team&show=passing", wantGroups: "pass",
			want: []string{`href="/checks/api-up"`, `href="/?owner=web-team"`}, notWant: []string{`href="/checks/orders-dup"`}},
		{name: "by status pass lists them", query: "?status=pass", wantPoll: "/?status=pass", wantGroups: "pass",
			want: []string{`href="/checks/api-up"`}, notWant: []string{"Hide the passing checks", "not listed"}},
		{name: "by tag", query: "?tag=team:orders", wantPoll: "/?tag=team%3Aorders", wantGroups: "fail,unknown", want: []string{`href="/checks/never-ran"`}, notWant: []string{`href="/checks/api-up"`}},
		{name: "by status", query: "?status=fail", wantPoll: "/?status=fail", wantGroups: "fail", notWant: []string{`href="/checks/never-ran"`}},
		{name: "nothing matches", query: "?status=error", wantPoll: "/?status=error", wantGroups: "", want: []string{"No check matches these filters."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := vic.get("/" + tt.query)
			if r.StatusCode != 200 {
				t.Fatalf("GET / = %d", r.StatusCode)
			}
			if got := strings.Join(groupOrder(r.body), ","); got != tt.wantGroups {
				t.Errorf("groups = %q, want %q", got, tt.wantGroups)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.body, w) {
					t.Errorf("page shows %q", w)
				}
			}
			// The partial is the same body, and polls with the same filters.
			p := vic.get("/"+tt.query, "HX-Request", "true")
			if !strings.HasPrefix(strings.TrimSpace(p.body), `<section id="overview-body"`) {
				t.Errorf("partial:\n%.300s", p.body)
			}
			if got := strings.Join(groupOrder(p.body), ","); got != tt.wantGroups {
				t.Errorf("partial groups = %q, want %q", got, tt.wantGroups)
			}
			if poll, _ := pollURL(t, p.body); poll != tt.wantPoll {
				t.Errorf("partial polls %s, want %s", poll, tt.wantPoll)
			}
		})
	}
}

// TestOverviewPoll: a poll that sends back the version it holds gets 204
// (htmx keeps the page) until what the body shows changes; the clock
// alone changes nothing (issue 14: "3m ago" made 5 of 6 polls look
// changed, so each swapped the page for nothing).
func TestOverviewPoll(t *testing.T) {
	d := newDash(t, false)
	d.record("orders-dup", checks.Fail, "O-1")
	vic := d.loggedIn("vic")
	hx := []string{"HX-Request", "true"}

	page := vic.get("/")
	target, v := pollURL(t, page.body)
	if v == "" {
		t.Fatalf("the poll URL %s carries no version", target)
	}
	if r := vic.get("/?v="+v, hx...); r.StatusCode != 204 || r.body != "" {
		t.Errorf("unchanged poll = %d %q, want 204 and no body", r.StatusCode, r.body)
	}
	if r := vic.get("/?v=" + v); r.StatusCode != 200 || !strings.HasPrefix(r.body, "<!doctype html>") {
		t.Errorf("a plain request with ?v= = %d, want the page", r.StatusCode)
	}
	if r := vic.get("/?show=passing&v="+v, hx...); r.StatusCode != 200 {
		t.Errorf("a poll of another view with this version = %d, want 200", r.StatusCode)
	}
	d.clock.Add(time.Hour + 17*time.Second)
	if r := vic.get("/?v="+v, hx...); r.StatusCode != 204 {
		t.Errorf("poll an hour later, nothing but the ages changed = %d, want 204", r.StatusCode)
	}

	tests := []struct {
		name   string
		change func()
	}{
		{name: "a new run", change: func() { d.record("api-up", checks.Pass) }},
		{name: "a passing check starts failing", change: func() { d.record("api-up", checks.Fail, "slow") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := pollURL(t, vic.get("/", hx...).body)
			tt.change()
			r := vic.get("/?v="+before, hx...)
			if r.StatusCode != 200 {
				t.Fatalf("poll after %s = %d, want 200", tt.name, r.StatusCode)
			}
			if _, after := pollURL(t, r.body); after == before {
				t.Errorf("the version did not change after %s", tt.name)
			}
		})
	}
}

func TestCheckPage(t *testing.T) {
	d := newDash(t, false)
	d.record("orders-dup", checks.Fail, "O-1", "O-2")
	d.record("orders-dup", checks.Fail, "O-2", "O-3")
	tests := []struct {
		name, user string
		operator   bool
	}{
		{name: "viewer", user: "vic"},
		{name: "operator", user: "oscar", operator: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := d.loggedIn(tt.user)
			r := c.get("/checks/orders-dup")
			if r.StatusCode != 200 {
				t.Fatalf("GET = %d\n%s", r.StatusCode, r.body)
			}
			for _, w := range []string{
				`<span class="status status-fail">fail</span>`, "data broken", "Incident #1", "not acknowledged",
				`<code><bdi>O-2</bdi></code></td><td data-label="Detail"><bdi>bad O-2</bdi></td><td data-label="Change"><span class="mark mark-still">still failing</span>`,
				`<code><bdi>O-3</bdi></code></td><td data-label="Detail"><bdi>bad O-3</bdi></td><td data-label="Change"><span class="mark mark-new">new</span>`,
				`<span class="mark mark-fixed">fixed</span> <code><bdi>O-1</bdi></code>`,
				"Runbook: <a href=\"/runbooks/orders-dup\">Duplicate orders</a>", `<h1 id="mitigation">Mitigation</h1>`, "Run the <strong>dedupe</strong> job.",
				`<a href="#mitigation">Mitigation</a>`, "#2", "#1", "<code>@every 1h</code>", "2 violations",
			} {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, bad := range []string{"<script>alert", "javascript:"} {
				if strings.Contains(r.body, bad) {
					t.Errorf("page contains %q from the runbook", bad)
				}
			}
			// Issue 14's wording: what broke is said once, not three times.
			if n := strings.Count(r.body, "data broken"); n != 1 {
				t.Errorf("the page says \"data broken\" %d times, want once", n)
			}
			for _, form := range []string{`action="/checks/orders-dup/run"`, `action="/checks/orders-dup/ack"`, `action="/silences"`} {
				if got := strings.Contains(r.body, form); got != tt.operator {
					t.Errorf("form %s shown = %v for %s", form, got, tt.user)
				}
			}
			// The poll gets the page's live fragments, swapped out of band,
			// and none of its forms: what is typed in them stays.
			p := c.get("/checks/orders-dup", "HX-Request", "true")
			if !strings.HasPrefix(strings.TrimSpace(p.body), `<div id="check-poll" hidden hx-get=`) || strings.Contains(p.body, "<form") ||
				strings.Count(p.body, `hx-swap-oob="true"`) != 7 {
				t.Errorf("partial:\n%.300s", p.body)
			}
		})
	}
	vic := d.loggedIn("vic")
	if r := vic.get("/checks/nope"); r.StatusCode != 404 {
		t.Errorf("unknown check = %d", r.StatusCode)
	}
	if r := vic.get("/checks/never-ran"); r.StatusCode != 200 || !strings.Contains(r.body, "The check has not run yet.") ||
		!strings.Contains(r.body, "This check has no runbook.") {
		t.Errorf("never-ran = %d", r.StatusCode)
	}
}

func TestCheckPageActions(t *testing.T) {
	d := newDash(t, false)
	in := d.record("orders-dup", checks.Fail, "O-1").Transition.Incident
	oscar := d.loggedIn("oscar")
	tok := oscar.csrf("/checks/orders-dup")

	// Ack with a note from the check page's form, which acks whatever
	// incident is open when it is sent; back to the check page.
	r := oscar.post("/checks/orders-dup/ack", url.Values{"_csrf": {tok}, "note": {"looking"}, "back": {"/checks/orders-dup"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/checks/orders-dup?notice=acked" {
		t.Fatalf("ack = %d %q %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if e := d.lastAudit("ack"); e.Actor != "oscar" || e.Target != "incident "+itoa(in.ID)+" (orders-dup)" {
		t.Errorf("ack audit = %+v", e)
	}
	if r := oscar.post("/checks/api-up/ack", url.Values{"_csrf": {tok}, "note": {"x"}}); r.Header.Get("Location") != "/checks/api-up?notice=no-incident" {
		t.Errorf("ack of a check without an open incident = %d %q, want back with a notice", r.StatusCode, r.Header.Get("Location"))
	}
	// back must stay on this site.
	r = oscar.post("/incidents/"+itoa(in.ID)+"/ack", url.Values{"_csrf": {tok}, "note": {"looking"}, "back": {"//evil.example/x"}})
	if r.Header.Get("Location") != "/incidents?notice=acked" {
		t.Errorf("ack with a foreign back = %q", r.Header.Get("Location"))
	}

	// Silence from the check page.
	r = oscar.post("/silences", url.Values{"_csrf": {tok}, "matcher": {"orders-dup"}, "for": {"4h"}, "reason": {"fix deploying"}, "back": {"/checks/orders-dup"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/checks/orders-dup?notice=silenced" {
		t.Fatalf("silence = %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	page := oscar.get("/checks/orders-dup")
	for _, w := range []string{"acknowledged</strong> by <bdi>oscar</bdi>", "“<bdi>looking</bdi>”", "Silenced", "by <bdi>oscar</bdi>: “<bdi>fix deploying</bdi>”", "Silence set."} {
		if w == "Silence set." {
			page = oscar.get("/checks/orders-dup?notice=silenced")
		}
		if !strings.Contains(page.body, w) {
			t.Errorf("check page lacks %q", w)
		}
	}
	sl, err := d.store.Silences(t.Context(), 0, 10)
	if err != nil || len(sl) != 1 || !sl[0].Until.Equal(d.clock.Now().Add(4*time.Hour)) || sl[0].Author != "oscar" {
		t.Errorf("silences = %+v %v", sl, err)
	}

	// Run now, as a plain form and from htmx.
	r = oscar.post("/checks/orders-dup/run", url.Values{"_csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/checks/orders-dup?notice=run-started" {
		t.Fatalf("run now = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	d.waitRun("orders-dup")
	if page := oscar.get("/checks/orders-dup?notice=run-started"); !strings.Contains(page.body, "Run started") {
		t.Error("no notice after run now")
	}
	r = oscar.post("/checks/orders-dup/run", url.Values{}, "X-CSRF-Token", tok, "HX-Request", "true")
	if r.StatusCode != 200 || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="check-poll"`) || !strings.Contains(r.body, `hx-trigger="every 2s"`) ||
		!strings.Contains(r.body, "Run started") {
		t.Errorf("htmx run now = %d\n%.400s", r.StatusCode, r.body)
	}
	d.waitRun("orders-dup")
}

func TestSilencesPage(t *testing.T) {
	d := newDash(t, false)
	oscar := d.loggedIn("oscar")
	tok := oscar.csrf("/silences")

	tests := []struct {
		name    string
		form    url.Values
		wantErr string
		field   string // the form field marked invalid
	}{
		{name: "no reason", form: url.Values{"matcher": {"api-up"}, "for": {"1h"}}, wantErr: "reason is required", field: "reason"},
		{name: "past end", form: url.Values{"matcher": {"api-up"}, "end": {"2020-01-01T00:00"}, "reason": {"kept text"}}, wantErr: "until 2020-01-01T00:00:00Z is in the past", field: "end"},
		{name: "no duration", form: url.Values{"matcher": {"api-up"}, "reason": {"kept text"}}, wantErr: "choose how long the silence lasts", field: "end"},
		{name: "unknown matcher", form: url.Values{"matcher": {"nope"}, "for": {"1h"}, "reason": {"kept text"}}, wantErr: `matcher &#34;nope&#34; names no configured check or tag`, field: "matcher"},
		{name: "start not a time", form: url.Values{"matcher": {"api-up"}, "start": {"tomorrow"}, "for": {"1h"}, "reason": {"kept text"}}, wantErr: "start is not a date and time", field: "start"},
		{name: "end before start", form: url.Values{"matcher": {"api-up"}, "start": {"2025-03-10T12:00"}, "end": {"2025-03-10T11:00"}, "reason": {"kept text"}}, wantErr: "is not after the start", field: "end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("_csrf", tok)
			r := oscar.post("/silences", tt.form)
			if r.StatusCode != 400 || !strings.Contains(r.body, tt.wantErr) || !strings.Contains(r.body, `<form id="silence-form" method="post" action="/silences"`) {
				t.Errorf("POST = %d, want 400 with %q on the page\n%.600s", r.StatusCode, tt.wantErr, r.body)
			}
			// WAI-ARIA: the field at fault is aria-invalid and described by
			// its message, which is next to it.
			if tt.field != "" && !regexp.MustCompile(`id="silence-`+tt.field+`"[^>]*aria-invalid="true"`).MatchString(r.body) ||
				!regexp.MustCompile(`aria-describedby="[^"]*silence-`+tt.field+`-error"`).MatchString(r.body) ||
				!strings.Contains(r.body, `<p class="field-error" id="silence-`+tt.field+`-error">`) {
				t.Errorf("field %s is not marked invalid and described by its error", tt.field)
			}
			if tt.form.Get("reason") != "" && !strings.Contains(r.body, `value="kept text"`) {
				t.Error("the reason typed was lost")
			}
		})
	}
	r := oscar.post("/silences", url.Values{"_csrf": {tok}, "matcher": {"team:web"}, "for": {"2h"}, "reason": {"deploy"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/silences?notice=silenced" {
		t.Fatalf("create = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	vic := d.loggedIn("vic")
	list := vic.get("/silences")
	for _, w := range []string{"<code><bdi>team:web</bdi></code>", "<strong>active</strong>", "oscar", "deploy"} {
		if !strings.Contains(list.body, w) {
			t.Errorf("list lacks %q", w)
		}
	}
	if strings.Contains(list.body, `action="/silences/1/expire"`) || strings.Contains(list.body, "New silence") {
		t.Error("a viewer sees operator forms")
	}
	r = oscar.post("/silences/1/expire", url.Values{"_csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/silences?notice=expired" {
		t.Fatalf("expire = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if list := oscar.get("/silences"); !strings.Contains(list.body, "ended early by <bdi>oscar</bdi>") {
		t.Errorf("expired silence not shown as ended:\n%s", list.body)
	}
}

func TestIncidentsPage(t *testing.T) {
	d := newDash(t, false)
	d.record("orders-dup", checks.Fail, "O-1")
	d.record("api-up", checks.Error)
	d.record("api-up", checks.Pass)
	tests := []struct {
		name, user, query string
		want, notWant     []string
	}{
		{name: "viewer, all", user: "vic", want: []string{`href="/checks/orders-dup"`, `href="/checks/api-up"`, "resolved", "check broken", "not acknowledged"},
			notWant: []string{`action="/incidents/bulk"`, `name="incident"`}},
		{name: "operator, open", user: "oscar", query: "?open=true", want: []string{`action="/incidents/bulk"`, `name="incident" value="1"`}, notWant: []string{`href="/checks/api-up"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.loggedIn(tt.user).get("/incidents" + tt.query)
			if r.StatusCode != 200 {
				t.Fatalf("GET = %d", r.StatusCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.body, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
}

func TestRunbookPages(t *testing.T) {
	d := newDash(t, false)
	vic := d.loggedIn("vic")
	idx := vic.get("/runbooks")
	if idx.StatusCode != 200 || !strings.Contains(idx.body, `<a href="/runbooks/orders-dup">Duplicate orders</a>`) || !strings.Contains(idx.body, `<a href="/checks/orders-dup">orders-dup</a>`) {
		t.Errorf("index = %d\n%s", idx.StatusCode, idx.body)
	}
	rb := vic.get("/runbooks/orders-dup")
	if rb.StatusCode != 200 || !strings.Contains(rb.body, `<h1 id="escalation">Escalation</h1>`) || strings.Contains(rb.body, "<script>alert") ||
		!strings.Contains(rb.body, `<a href="#mitigation">Mitigation</a>`) {
		t.Errorf("runbook = %d\n%s", rb.StatusCode, rb.body)
	}
	if r := vic.get("/runbooks/nope"); r.StatusCode != 404 {
		t.Errorf("unknown runbook = %d", r.StatusCode)
	}
	if r := d.client().get("/runbooks"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("anonymous = %d, want a redirect to log in", r.StatusCode)
	}
}

func TestLocalModeDashboard(t *testing.T) {
	d := newDash(t, true)
	d.record("orders-dup", checks.Fail, "O-1")
	c := d.client()
	tok := c.csrf("/checks/orders-dup")
	r := c.post("/checks/orders-dup/run", url.Values{"_csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("run now in local mode = %d %s", r.StatusCode, r.body)
	}
	d.waitRun("orders-dup")
	if e := d.lastAudit("run"); e.Actor != "tester" {
		t.Errorf("audit = %+v", e)
	}
}

func TestRunErrorsAreRedacted(t *testing.T) {
	d := newDash(t, false)
	r := checks.Result{Status: checks.Error, Error: "dial postgres://vigil:hunter2@db.internal:5432/policies: connection refused"}
	if _, err := d.eng.Record(t.Context(), engine.CheckInfo{ID: "api-up", Kind: "http"}, r); err != nil {
		t.Fatal(err)
	}
	page := d.loggedIn("vic").get("/checks/api-up")
	results := d.api(http.MethodGet, "/api/v1/checks/api-up/results", dashViewerToken, nil)
	detail := d.api(http.MethodGet, "/api/v1/checks/api-up", dashViewerToken, nil)
	for name, body := range map[string]string{"page": page.body, "results": results.body, "check": detail.body} {
		if strings.Contains(body, "hunter2") {
			t.Errorf("%s shows the password", name)
		}
		if !strings.Contains(body, "connection refused") {
			t.Errorf("%s lacks the error", name)
		}
	}
}

// TestOverviewAttention: within a group, what needs a human comes first
// (an incident nobody acknowledged, then an acknowledged one, then a
// silenced check), each marked in words; the tab title counts the checks
// failing or erroring; ?q= finds checks by a part of their id and ?sort=
// orders them.
func TestOverviewAttention(t *testing.T) {
	d := newDash(t, false)
	d.record("api-up", checks.Fail, "slow")
	in := d.record("orders-dup", checks.Fail, "O-1").Transition.Incident
	d.record("never-ran", checks.Fail, "N-1")
	if _, err := d.eng.Ack(t.Context(), in.ID, "oscar", "on it"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.eng.Silence(t.Context(), "never-ran", d.clock.Now().Add(time.Hour), "oscar", "known"); err != nil {
		t.Fatal(err)
	}
	vic := d.loggedIn("vic")
	order := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<tr(?: class="(\w+)")?><th scope="row"><a href="/checks/([\w-]+)">`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[2]+":"+m[1])
		}
		return out
	}
	r := vic.get("/")
	if got, want := order(r.body), []string{"api-up:unacked", "orders-dup:handled", "never-ran:handled"}; !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	for _, w := range []string{"<title>(3) Overview · vigil</title>", `<span class="mark mark-unacked">not acknowledged</span>`,
		`<span class="mark mark-handled">acked by <bdi>oscar</bdi></span>`, `<span class="mark mark-handled">silenced</span>`,
		`<a href="/runbooks/orders-dup#mitigation">runbook<span class="sr-only"> of orders-dup</span></a>`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("overview lacks %q", w)
		}
	}
	if p := vic.get("/", "HX-Request", "true"); !strings.Contains(p.body, "<title>(3) Overview · vigil</title>") {
		t.Errorf("the poll does not carry the tab title")
	}
	if got, want := order(vic.get("/?sort=name").body), []string{"api-up:unacked", "never-ran:handled", "orders-dup:handled"}; !slices.Equal(got, want) {
		t.Errorf("sorted by name: %q, want %q", got, want)
	}
	if got := order(vic.get("/?q=ORDERS").body); !slices.Equal(got, []string{"orders-dup:handled"}) {
		t.Errorf("?q=ORDERS finds %q, want orders-dup (case-insensitive)", got)
	}
	if r := vic.get("/?sort=evil"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("?sort=evil = %d, want 400", r.StatusCode)
	}
}

// TestIncidentPageAndBulk: /incidents/{id} shows the incident and its
// timeline; the incidents list acknowledges or silences several
// incidents with one note, each audited as one action.
func TestIncidentPageAndBulk(t *testing.T) {
	d := newDash(t, false)
	a := d.record("orders-dup", checks.Fail, "O-1").Transition.Incident
	b := d.record("api-up", checks.Fail, "slow").Transition.Incident
	oscar := d.loggedIn("oscar")
	page := oscar.get("/incidents/" + itoa(a.ID))
	for _, w := range []string{"Incident #1", "(data broken)", "<strong><bdi>Opened</bdi></strong>", "Not acknowledged", `action="/incidents/1/ack"`, `<a href="/runbooks/orders-dup#mitigation">`} {
		if !strings.Contains(page.body, w) {
			t.Errorf("incident page lacks %q", w)
		}
	}
	if r := oscar.get("/incidents/999"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown incident = %d", r.StatusCode)
	}
	tok := oscar.csrf("/incidents")

	if r := oscar.post("/incidents/bulk", url.Values{"_csrf": {tok}, "action": {"ack"}, "note": {"one deploy"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "Select at least one incident.") {
		t.Errorf("bulk with nothing selected = %d", r.StatusCode)
	}
	if r := oscar.post("/incidents/bulk", url.Values{"_csrf": {tok}, "action": {"silence"}, "incident": {"1"}, "for": {"1h"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "A silence needs a reason") {
		t.Errorf("bulk silence without a note = %d", r.StatusCode)
	}
	r := oscar.post("/incidents/bulk", url.Values{"_csrf": {tok}, "action": {"ack"}, "note": {"one deploy"}, "incident": {itoa(a.ID), itoa(b.ID)}, "back": {"/incidents?open=true"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/incidents?notice=bulk-acked&open=true" {
		t.Fatalf("bulk ack = %d %q\n%.300s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	for _, id := range []int64{a.ID, b.ID} {
		if in, err := d.store.Incident(t.Context(), id); err != nil || in.AckedBy != "oscar" || in.AckNote != "one deploy" {
			t.Errorf("incident %d = %+v, %v", id, in, err)
		}
	}
	acks := 0
	for _, e := range d.audit() {
		if e.Action == "ack" {
			acks++
		}
	}
	if acks != 2 {
		t.Errorf("%d acks audited, want one per incident", acks)
	}
	r = oscar.post("/incidents/bulk", url.Values{"_csrf": {tok}, "action": {"silence"}, "note": {"maintenance"}, "for": {"2h"}, "incident": {itoa(a.ID), itoa(b.ID)}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/incidents?notice=bulk-silenced" {
		t.Fatalf("bulk silence = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	sl, err := d.store.ActiveSilences(t.Context(), d.clock.Now())
	if err != nil || len(sl) != 2 || sl[0].Matcher != "orders-dup" || sl[1].Matcher != "api-up" || sl[0].Reason != "maintenance" || !sl[0].Until.Equal(d.clock.Now().Add(2*time.Hour)) {
		t.Errorf("silences = %+v, %v; want each incident's check silenced for 2h", sl, err)
	}
	if page := oscar.get("/incidents/" + itoa(a.ID)); !strings.Contains(page.body, "Acknowledged by oscar") || !strings.Contains(page.body, "Silenced by oscar") {
		t.Errorf("the timeline lacks the bulk ack and silence")
	}
}

// TestSilencePreview: before a silence is saved, the page lists the checks
// its matcher covers (Alertmanager's "affected alerts"); htmx gets the
// preview alone, and a plain request the page with it.
func TestSilencePreview(t *testing.T) {
	d := newDash(t, false)
	vic := d.loggedIn("vic")
	for _, tt := range []struct{ matcher, want string }{
		{"team:orders", "silences 2 checks:"},
		{"api-up", "silences 1 check:"},
		{"team:nobody", "it would silence nothing"},
	} {
		r := vic.get("/silences/preview?matcher="+url.QueryEscape(tt.matcher), "HX-Request", "true")
		if !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="silence-preview"`) || !strings.Contains(r.body, tt.want) {
			t.Errorf("preview of %s = %q, want %q", tt.matcher, r.body, tt.want)
		}
	}
	oscar := d.loggedIn("oscar") // the form, and its preview, are an operator's
	r := oscar.get("/silences/preview?matcher=team:orders")
	if !strings.Contains(r.body, "<h1>Silences</h1>") || !strings.Contains(r.body, `<a href="/checks/orders-dup">orders-dup</a>, <a href="/checks/never-ran">never-ran</a>`) {
		t.Errorf("plain preview = %d\n%.500s", r.StatusCode, r.body)
	}
	// Without JavaScript the form's Preview button posts the form, which
	// saves nothing and keeps what was typed.
	tok := oscar.csrf("/silences")
	r = oscar.post("/silences", url.Values{"_csrf": {tok}, "matcher": {"team:orders"}, "for": {"4h"}, "reason": {"kept"}, "preview": {"1"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "silences 2 checks:") || !strings.Contains(r.body, `value="kept"`) ||
		!strings.Contains(r.body, `<option value="4h" selected>`) {
		t.Errorf("preview button = %d, want the page with the preview and the form as typed", r.StatusCode)
	}
	if sl, err := d.store.Silences(t.Context(), 0, 10); err != nil || len(sl) != 0 {
		t.Errorf("a preview saved silences %+v (%v)", sl, err)
	}
}

// TestPollsIgnoreTheClock: the check page, the incidents list and an
// incident's page answer a poll whose version still holds with 204 later
// on (their "3m ago" labels have moved, nothing else), and with the new
// content once a run changed something (issue 14). The check page's chart
// moves by one bar per bar's length (5 minutes on its 24-hour range), so
// its poll is tried within one.
func TestPollsIgnoreTheClock(t *testing.T) {
	d := newDash(t, false)
	d.record("orders-dup", checks.Fail, "O-1")
	vic := d.loggedIn("vic")
	hx := []string{"HX-Request", "true"}
	version := regexp.MustCompile(`hx-get="[^"]*[?&](?:amp;)?v=(\w+)"`)
	for i, path := range []string{"/checks/orders-dup", "/incidents", "/incidents/1"} {
		t.Run(path, func(t *testing.T) {
			m := version.FindStringSubmatch(vic.get(path).body)
			if m == nil {
				t.Fatalf("%s polls without a version", path)
			}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			later := time.Hour + 7*time.Second
			if strings.HasPrefix(path, "/checks/") {
				later = 2*time.Minute + 7*time.Second // 12:01 to 12:03, within the bar of 12:00
			}
			d.clock.Add(later)
			if r := vic.get(path+sep+"v="+m[1], hx...); r.StatusCode != http.StatusNoContent {
				t.Errorf("%s later, nothing else changed: %d, want 204", later, r.StatusCode)
			}
			keys := []string{"O-1", "O-2", "O-3", "O-4", "O-5"}[:i+2] // a new worst count each time
			d.record("orders-dup", checks.Fail, keys...)
			r := vic.get(path+sep+"v="+m[1], hx...)
			if r.StatusCode != http.StatusOK || !strings.Contains(r.body, strconv.Itoa(len(keys))) {
				t.Errorf("after a run with new violations: %d, want 200 and the new content", r.StatusCode)
			}
			if n := version.FindStringSubmatch(r.body); n == nil || n[1] == m[1] {
				t.Errorf("the new content carries version %v, want a new one (was %s)", n, m[1])
			}
		})
	}
}

// TestChartShowsTheKindsMeasure: a dead-letter queue that grew from 328 to
// 3,828 messages reads so on the check page, in the queue-depth strip's
// label (its picture is a line rising across the chart), beside the
// violations, which stay at one queue over its threshold.
func TestChartShowsTheKindsMeasure(t *testing.T) {
	d := newDash(t, false, func(o *Options) {
		o.Config.Checks = append(o.Config.Checks, config.Check{ID: "events-dlq", Kind: "sqs_dlq", Schedule: "@every 1h", Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1})
	})
	for _, depth := range []float64{328, 1200, 2950, 3828} {
		d.clock.Add(10 * time.Minute)
		r := checks.Result{Status: checks.Fail, Violations: 1, Keys: []string{"events-dlq"}, Duration: 40 * time.Millisecond,
			Sample: []checks.Violation{{Key: "events-dlq", Detail: "depth"}}, Metrics: map[string]float64{checks.MetricMeasure: depth}}
		if _, err := d.eng.Record(t.Context(), engine.CheckInfo{ID: "events-dlq", Kind: "sqs_dlq", FailAfter: 1, ResolveAfter: 1}, r); err != nil {
			t.Fatal(err)
		}
	}
	page := d.loggedIn("vic").get("/checks/events-dlq")
	for _, w := range []string{
		`aria-label="Queue depth over the last 24 hours, in messages: from 328 to 3,828, max 3,828"`,
		`aria-label="Violations over the last 24 hours: min 1, max 1, latest 1; 4 runs, 1 incident, 0 silences"`,
		`<figcaption>Queue depth <span class="count">(0 to 3,828 messages)</span></figcaption>`,
		`<strong>0 %</strong> of 4 runs passed or warned`,
	} {
		if !strings.Contains(page.body, w) {
			t.Errorf("the check page lacks %s", w)
		}
	}
}
