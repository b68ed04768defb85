package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vigilhq/vigil/internal/browsertest"
	"github.com/vigilhq/vigil/internal/testdb"
	"github.com/vigilhq/vigil/internal/web"
)

// updateScreenshotEnv, set to 1, makes TestDashboardInBrowser rewrite the
// README's screenshot; CI never sets it.
const updateScreenshotEnv = "VIGIL_UPDATE_SCREENSHOT"

// readmeScreenshot and readmePhoneScreenshot are the README's pictures of
// a failing check's page, on a desktop and on a phone.
const (
	readmeScreenshot      = "../../static/readme-overview.png"
	readmePhoneScreenshot = "../../static/readme-phone.png"
)

// premiumsRunbook is the runbook of the failing check in the browser test.
const premiumsRunbook = `---
title: Zero or negative premiums
checks: [negative-premiums]
---
## Meaning
Some in-force policies carry a written premium of zero or less. The rating
engine never produces one, so the row was written by hand or by an import.

## Impact
Billing skips these policies: no invoice goes out, and the monthly premium
report under-states written premium.

## Diagnosis
1. Open each failing row: the detail names the state and the premium in cents.
2. Look in the import log for the batch that last touched the policy.

## Mitigation
1. Put the affected policies on billing hold so that no zero invoice goes out.
2. Re-rate each policy from the policy admin screen, then press **Run now**.

## Escalation
Page the billing team's on-call if more than 20 policies fail, or if a policy
still fails after re-rating.
`

// TestDashboardInBrowser drives the dashboard of the real binary in headless
// chromium as on-call and support staff would: log in, find the failing
// check from the overview, read its failing rows and runbook, acknowledge
// the incident, silence the check and run it again once fixed (htmx updates
// the page in place); then do the same with JavaScript off, where every form
// answers 303 See Other; and as a viewer see the data but no action.
// Screenshots are kept as artifacts; VIGIL_UPDATE_SCREENSHOT=1 also rewrites
// the README's screenshot.
func TestDashboardInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	const (
		operatorPassword = "correct horse battery staple"
		viewerPassword   = "support staff only"
		seedToken        = "browser-test-seed-token-0123456789abcdef"
	)
	policies := testdb.SQLite(t)
	policies.Exec(t,
		"CREATE TABLE premiums (policy_id TEXT PRIMARY KEY, state TEXT, premium_cents INTEGER)",
		"INSERT INTO premiums VALUES ('P-10021', 'FL', -12000), ('P-10022', 'TX', 0), ('P-10023', 'CA', 84000), ('P-10024', 'NY', 91000)",
		"INSERT INTO premiums VALUES ('P-10025', 'GA', -4500), ('P-10026', 'FL', 0), ('P-10027', 'LA', -990), ('P-10028', 'TX', 56000)",
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
    - {name: alice, password_hash: "` + passwordHashFor(t, operatorPassword) + `", role: operator}
    - {name: sam, password_hash: "` + passwordHashFor(t, viewerPassword) + `", role: viewer}
  tokens:
    - {name: seed, token_sha256: ` + hex.EncodeToString(tokenSum[:]) + `, role: operator}
checks:
  - id: negative-premiums
    kind: sql
    datasource: policies
    query: SELECT policy_id AS key, state, premium_cents FROM premiums WHERE premium_cents <= 0 ORDER BY policy_id
    schedule: "@every 1h"
    runbook: negative-premiums
    owner: billing-team
    tags: [team:billing]
  - id: premium-outliers
    kind: sql
    datasource: policies
    query: SELECT policy_id AS key, premium_cents FROM premiums WHERE premium_cents > 10000000
    schedule: "@every 1h"
    owner: billing-team
    tags: [team:billing]
`,
		"runbooks/negative-premiums.md": premiumsRunbook,
	})
	_, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vigil serve logs:\n%s", logs)
		}
	})

	// Nothing runs on an @every 1h schedule during the test: run both
	// checks once through the API, as a Slack alert would find them.
	for _, id := range []string{"negative-premiums", "premium-outliers"} {
		apiCall(t, http.MethodPost, base+"/api/v1/checks/"+id+"/run", seedToken, "", http.StatusAccepted, nil)
	}
	waitForAPIStatus(t, base, seedToken, map[string]string{"negative-premiums": "fail", "premium-outliers": "pass"})

	const checkPath = "/checks/negative-premiums"
	t.Run("operator with JavaScript", func(t *testing.T) {
		p := browserTab{t: t, ctx: b.Tab(t), base: base}
		p.open("/")
		if loc := p.location(); loc != base+"/login" {
			t.Fatalf("an anonymous visit to / landed on %s, want the login page", loc)
		}
		p.logIn("alice", operatorPassword)
		if loc := p.location(); loc != base+"/" {
			t.Fatalf("after logging in the operator is on %s, want the overview", loc)
		}
		// The overview lists what is broken; passing checks are a count
		// with a link that lists them in place.
		rows := tabEval[[][]string](p, jsTableCells("#overview-body table.checks"))
		wantOverview := []struct {
			check string
			shows []string
		}{
			{"negative-premiums", []string{"fail", "5 violations", "billing-team", "sql"}},
			{"premium-outliers", []string{"pass", "billing-team", "sql"}},
		}
		if len(rows) != 1 || !strings.HasPrefix(rows[0][0], "negative-premiums") {
			t.Errorf("overview rows = %q, want only the failing check listed", rows)
		}
		if groups := tabEval[[]string](p, jsTexts("#overview-body h2.group")); len(groups) != 2 ||
			!strings.HasPrefix(groups[0], "fail") || !strings.HasPrefix(groups[1], "pass") || !strings.HasSuffix(groups[1], "(1)") {
			t.Errorf("overview groups = %q, want failing checks first, then the count of passing ones", groups)
		}
		b.Screenshot(t, p.ctx, "overview")
		tabEval[chromedp.Void](p, `window.vigilBrowserTest = "same page"`)
		if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(`#overview-body a[href="/?show=passing"]`), chromedp.NodeVisible)); err != nil {
			t.Fatal(err)
		}
		p.waitUntil(`!!document.querySelector('#overview-body a[href="/checks/premium-outliers"]')`, "the passing checks to be listed")
		if got := tabEval[string](p, `String(window.vigilBrowserTest)`); got != "same page" {
			t.Errorf("listing the passing checks reloaded the page instead of updating it in place")
		}
		if loc := p.location(); loc != base+"/?show=passing" {
			t.Errorf("after listing the passing checks the tab is on %s, want /?show=passing (so a reload keeps them)", loc)
		}
		rows = tabEval[[][]string](p, jsTableCells("#overview-body table.checks"))
		for _, want := range wantOverview {
			i := slices.IndexFunc(rows, func(r []string) bool { return len(r) > 0 && strings.HasPrefix(r[0], want.check) })
			if i < 0 {
				t.Errorf("the overview has no row for %s: %q", want.check, rows)
				continue
			}
			for _, w := range want.shows {
				if !strings.Contains(strings.Join(rows[i], " | "), w) {
					t.Errorf("overview row of %s = %q, want it to show %q", want.check, rows[i], w)
				}
			}
		}
		b.Screenshot(t, p.ctx, "overview-passing-listed")

		p.clickAndLoad(`#overview-body a[href="` + checkPath + `"]`)
		if loc := p.location(); loc != base+checkPath {
			t.Fatalf("clicking the failing check led to %s", loc)
		}
		if got := p.status(); got != "fail" {
			t.Errorf("check page status = %q, want fail", got)
		}
		wantRows := [][]string{
			{"P-10021", "state=FL, premium_cents=-12000"},
			{"P-10022", "state=TX, premium_cents=0"},
			{"P-10025", "state=GA, premium_cents=-4500"},
			{"P-10026", "state=FL, premium_cents=0"},
			{"P-10027", "state=LA, premium_cents=-990"},
		}
		if got := p.failingRows(); !rowsMatch(got, wantRows) {
			t.Errorf("failing rows = %q, want %q", got, wantRows)
		}
		if m := p.runbookSection("Mitigation"); !strings.Contains(m, "Put the affected policies on billing hold") ||
			!strings.Contains(m, "Re-rate each policy") {
			t.Errorf("the runbook's Mitigation section reads %q, want the runbook's steps", m)
		}
		b.Screenshot(t, p.ctx, "check-failing")

		p.typeInto("#ack-note", "Looking at the premiums import")
		p.clickAndLoad(`form[action$="/ack"] button[type=submit]`)
		if notice := p.text("#check-status .notice"); notice != "Incident acknowledged." {
			t.Errorf("notice after ack = %q", notice)
		}
		if inc := p.text("#incident"); !strings.Contains(inc, "acknowledged by alice") ||
			!strings.Contains(inc, "Looking at the premiums import") {
			t.Errorf("incident after ack reads %q, want who acked it and the note", inc)
		}

		if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.ID("silence-for"), "4h")); err != nil {
			t.Fatal(err)
		}
		p.typeInto("#silence-reason", "Import fix deploying")
		p.clickAndLoad(`form[action="/silences"] button[type=submit]`)
		if notice := p.text("#check-status .notice"); notice != "Silence set." {
			t.Errorf("notice after silencing = %q", notice)
		}
		if facts := p.text("#check-status .silence-line"); !strings.Contains(facts, "by alice: “Import fix deploying”") {
			t.Errorf("check status after silencing reads %q, want who silenced it and why", facts)
		}
		p.open(checkPath)
		// Issue 14: at 1400x1000 an operator sees the first failing row and
		// the runbook's Mitigation without scrolling (they were at y=1027
		// and y=1979).
		ys := tabEval[map[string]float64](p, `({row: document.querySelector("#check-rows tbody tr").getBoundingClientRect().top + window.scrollY,
			mitigation: document.getElementById("mitigation").getBoundingClientRect().top + window.scrollY,
			viewport: window.innerHeight})`)
		t.Logf("at %.0fpx high: first failing row at y=%.0f, Mitigation at y=%.0f", ys["viewport"], ys["row"], ys["mitigation"])
		if ys["viewport"] != browsertest.DesktopHeight || ys["row"]+40 > ys["viewport"] || ys["mitigation"]+30 > ys["viewport"] {
			t.Errorf("the first failing row (y=%.0f) and Mitigation (y=%.0f) must be within the first %dpx", ys["row"], ys["mitigation"], browsertest.DesktopHeight)
		}
		if os.Getenv(updateScreenshotEnv) == "1" {
			png := browsertest.ScreenshotDownTo(t, p.ctx, ".split") // status, incident, rows and runbook
			if err := os.WriteFile(readmeScreenshot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", readmeScreenshot)
			browsertest.SetViewport(t, p.ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
			png = browsertest.ScreenshotDownTo(t, p.ctx, "#check-rows table") // the phone's first screens: status, ack, rows
			if err := os.WriteFile(readmePhoneScreenshot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", readmePhoneScreenshot)
			browsertest.SetViewport(t, p.ctx, browsertest.DesktopWidth, browsertest.DesktopHeight)
		}

		// Fix the data, then Run now: htmx swaps the check's body in place
		// and polls until the run is recorded, without reloading the page.
		policies.Exec(t, "UPDATE premiums SET premium_cents = 15500 WHERE premium_cents <= 0")
		tabEval[chromedp.Void](p, `window.vigilBrowserTest = "same page"`)
		if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(`form[action$="/run"] button[type=submit]`), chromedp.NodeVisible)); err != nil {
			t.Fatal(err)
		}
		p.waitUntil(`document.querySelector("#check-status .status")?.textContent === "pass"`, "the status to turn pass")
		if got := tabEval[string](p, `String(window.vigilBrowserTest)`); got != "same page" {
			t.Errorf("after Run now window.vigilBrowserTest = %q: the page was reloaded instead of updated in place", got)
		}
		if loc := p.location(); loc != base+checkPath {
			t.Errorf("after Run now the tab is on %s, want it to stay on %s", loc, checkPath)
		}
		if rows := p.text("#check-rows"); !strings.Contains(rows, "No failing rows in the latest run.") ||
			!strings.Contains(rows, "fixed P-10021") || !strings.Contains(rows, "fixed P-10027") {
			t.Errorf("rows after the fix read %q, want no failing rows and the keys marked fixed", rows)
		}
		if n := tabEval[int](p, `document.querySelectorAll("#incident").length`); n != 0 {
			t.Errorf("the incident is still shown after a passing run")
		}
		b.Screenshot(t, p.ctx, "check-fixed-in-place")
	})

	t.Run("operator without JavaScript", func(t *testing.T) {
		policies.Exec(t, "UPDATE premiums SET premium_cents = -500 WHERE policy_id = 'P-10024'")
		p := browserTab{t: t, ctx: b.TabWithoutJS(t), base: base}
		// A deep link, as in a Slack alert: after logging in the user lands on it.
		p.open(checkPath)
		p.logIn("alice", operatorPassword)
		if loc := p.location(); loc != base+checkPath {
			t.Fatalf("after logging in from a deep link the operator is on %s, want %s", loc, checkPath)
		}

		r := p.submit(`form[action$="/run"] button[type=submit]`)
		checkSeeOther(t, r, base+checkPath+"/run", checkPath+"?notice=run-started")
		if notice := p.text("#check-status .notice"); !strings.HasPrefix(notice, "Run started") {
			t.Errorf("notice after Run now = %q", notice)
		}
		// Without JavaScript nothing polls: reload as a user would.
		for deadline := time.Now().Add(10 * time.Second); p.status() != "fail" || !tabEval[bool](p, `!!document.getElementById("incident")`); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the check page did not show the failing run and its incident within 10s")
			}
			p.open(checkPath)
		}
		if got, want := p.failingRows(), [][]string{{"P-10024", "state=NY, premium_cents=-500", "new"}}; !rowsMatch(got, want) {
			t.Errorf("failing rows = %q, want %q", got, want)
		}

		p.typeInto("#ack-note", "Re-rating P-10024")
		checkSeeOther(t, p.submit(`form[action$="/ack"] button[type=submit]`), "", checkPath+"?notice=acked")
		if inc := p.text("#incident"); !strings.Contains(inc, "acknowledged by alice") || !strings.Contains(inc, "Re-rating P-10024") {
			t.Errorf("incident after ack reads %q", inc)
		}

		// A day outlasts the 4h silence set above, so the page names this one.
		if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.ID("silence-for"), "24h")); err != nil {
			t.Fatal(err)
		}
		p.typeInto("#silence-reason", "Re-rating in progress")
		checkSeeOther(t, p.submit(`form[action="/silences"] button[type=submit]`), base+"/silences", checkPath+"?notice=silenced")
		if facts := p.text("#check-status .silence-line"); !strings.Contains(facts, "by alice: “Re-rating in progress”") {
			t.Errorf("check status after silencing reads %q", facts)
		}
		b.Screenshot(t, p.ctx, "check-without-js")

		// The overview's passing checks are a plain link away.
		p.open("/")
		if n := tabEval[int](p, `document.querySelectorAll('#overview-body a[href="/checks/premium-outliers"]').length`); n != 0 {
			t.Errorf("the overview lists the passing check before it is asked to")
		}
		p.clickAndLoad(`#overview-body a[href="/?show=passing"]`)
		if n := tabEval[int](p, `document.querySelectorAll('#overview-body a[href="/checks/premium-outliers"]').length`); n != 1 {
			t.Errorf("following the link to the passing checks did not list premium-outliers")
		}

		p.open("/silences")
		silences := tabEval[[][]string](p, jsTableCells("#silence-list"))
		reasons := []string{}
		for _, row := range silences {
			if len(row) < 6 || row[0] != "negative-premiums" || row[1] != "active" || !strings.HasPrefix(row[4], "alice,") {
				t.Errorf("silence row %q, want an active silence of negative-premiums set by alice", row)
				continue
			}
			reasons = append(reasons, row[5])
		}
		if want := []string{"Re-rating in progress", "Import fix deploying"}; !slices.Equal(reasons, want) {
			t.Errorf("silence reasons, newest first = %q, want %q", reasons, want)
		}
	})

	t.Run("viewer", func(t *testing.T) {
		p := browserTab{t: t, ctx: b.Tab(t), base: base}
		p.open(checkPath)
		p.logIn("sam", viewerPassword)
		if loc := p.location(); loc != base+checkPath {
			t.Fatalf("after logging in the viewer is on %s, want %s", loc, checkPath)
		}
		if rows := p.failingRows(); len(rows) != 1 || rows[0][0] != "P-10024" {
			t.Errorf("the viewer sees failing rows %q, want P-10024", rows)
		}
		if m := p.runbookSection("Mitigation"); !strings.Contains(m, "billing hold") {
			t.Errorf("the viewer sees Mitigation %q, want the runbook's", m)
		}
		for _, path := range []string{checkPath, "/", "/incidents", "/silences"} {
			p.open(path)
			// Filters are GET forms; anything else is an action.
			actions := tabEval[[]string](p, `[...document.querySelectorAll("main form[method=post], main button")]
				.filter(e => !e.closest("form[method=get]")).map(e => e.outerHTML.slice(0, 120))`)
			if len(actions) != 0 {
				t.Errorf("the viewer sees actions on %s: %q", path, actions)
			}
		}
		b.Screenshot(t, p.ctx, "viewer-silences")
	})
}

// passwordHashFor returns an auth.users password_hash for password.
func passwordHashFor(t *testing.T, password string) string {
	t.Helper()
	h, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waitForAPIStatus waits until GET /api/v1/checks shows each check with
// the wanted status, and an open incident for each failing one.
func waitForAPIStatus(t *testing.T, base, token string, want map[string]string) {
	t.Helper()
	var got []struct {
		ID, Status string
		Incident   *struct{ ID int64 }
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		apiCall(t, http.MethodGet, base+"/api/v1/checks", token, "", http.StatusOK, &got)
		n := 0
		for _, c := range got {
			if want[c.ID] == c.Status && (c.Status != "fail" || c.Incident != nil) {
				n++
			}
		}
		if n == len(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("checks = %+v after 10s, want statuses %v", got, want)
		}
	}
}

// browserTab is one user's tab on the dashboard at base. Its methods fail
// t when the browser cannot do what they ask.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// open goes to path and waits for the page to load.
func (p browserTab) open(path string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(p.base+path)); err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
}

// location is the URL the tab shows.
func (p browserTab) location() string {
	p.t.Helper()
	return browsertest.Location(p.t, p.ctx)
}

// logIn fills in the login form the tab shows and submits it; the server
// must answer 303.
func (p browserTab) logIn(name, password string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.WaitVisible(chromedp.ID("login-name"))); err != nil {
		p.t.Fatalf("no login form on %s: %v", p.location(), err)
	}
	p.typeInto("#login-name", name)
	p.typeInto("#login-password", password)
	if r := p.submit(`form[action="/login"] button[type=submit]`); r.Status != http.StatusSeeOther {
		p.t.Fatalf("login answered %d, want 303", r.Status)
	}
}

func (p browserTab) typeInto(sel, text string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible)); err != nil {
		p.t.Fatalf("type into %s: %v", sel, err)
	}
}

// submit clicks the submit button sel and follows the redirect the form
// is answered with.
func (p browserTab) submit(sel string) browsertest.Redirect {
	p.t.Helper()
	return browsertest.SubmitRedirected(p.t, p.ctx, sel)
}

// clickAndLoad clicks sel and waits for the page it leads to to load.
func (p browserTab) clickAndLoad(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		p.t.Fatalf("click %s and wait for the next page: %v", sel, err)
	}
}

// text is the text content of sel (as written, before CSS changes its
// case) with runs of white space made one space.
func (p browserTab) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// status is the status badge of the check page the tab shows.
func (p browserTab) status() string {
	p.t.Helper()
	return p.text("#check-status .status")
}

// failingRows are the cells (key, detail, change) of the check page's
// failing rows, the change left out when empty.
func (p browserTab) failingRows() [][]string {
	p.t.Helper()
	rows := tabEval[[][]string](p, jsTableCells("#check-rows"))
	for i, r := range rows {
		rows[i] = slices.DeleteFunc(r, func(c string) bool { return c == "" })
	}
	return rows
}

// runbookSection is the text of the check page's runbook section headed
// title.
func (p browserTab) runbookSection(title string) string {
	p.t.Helper()
	return tabEval[string](p, jsRunbookSection(title))
}

// waitUntil waits up to 10s for the JavaScript condition cond to hold.
func (p browserTab) waitUntil(cond, what string) {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !tabEval[bool](p, cond); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 10s for %s", what)
		}
	}
}

// tabEval evaluates expr in the tab's page (DevTools may, even where the
// page's own scripts are disabled) and returns its value.
func tabEval[T any](p browserTab, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// checkSeeOther fails t unless r is a 303 from the form's action from (any
// when empty) to a URL whose path and query are to.
func checkSeeOther(t *testing.T, r browsertest.Redirect, from, to string) {
	t.Helper()
	u, err := url.Parse(r.To)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusSeeOther || (from != "" && r.From != from) || u.RequestURI() != to {
		t.Errorf("form answered %+v, want 303 See Other from %q to %s", r, from, to)
	}
}

// rowsMatch compares table rows cell by cell; a row of want may leave out
// trailing cells.
func rowsMatch(got, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) < len(want[i]) || !slices.Equal(got[i][:len(want[i])], want[i]) {
			return false
		}
	}
	return true
}

// jsTableCells is JavaScript for the trimmed text of each cell of each
// body row of the tables under sel.
func jsTableCells(sel string) string {
	return `[...document.querySelectorAll(` + jsQuote(sel+" tbody tr") + `)].map(r => [...r.cells].map(c => c.textContent.replace(/\s+/g, " ").trim()))`
}

// jsTexts is JavaScript for the trimmed text of each element matching sel.
func jsTexts(sel string) string {
	return `[...document.querySelectorAll(` + jsQuote(sel) + `)].map(e => e.textContent.replace(/\s+/g, " ").trim())`
}

// jsRunbookSection is JavaScript for the text of the check page's runbook
// section headed title: every element after the heading up to the next
// heading.
func jsRunbookSection(title string) string {
	return `(() => {
  const h = [...document.querySelectorAll("section.runbook :is(h1,h2,h3,h4,h5,h6)")]
    .find(e => e.textContent.trim() === ` + jsQuote(title) + `);
  const out = [];
  for (let n = h && h.nextElementSibling; n && !/^H[1-6]$/.test(n.tagName); n = n.nextElementSibling) out.push(n.textContent.trim());
  return out.join("\n");
})()`
}

// jsQuote quotes s as a JavaScript string literal.
func jsQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
