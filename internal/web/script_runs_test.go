package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runRows returns the run ids of a results table, in order.
func runRows(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<a href="/script-runs/(\d+)">#`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestScriptRunsPage(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	runs := seedSearch(f)
	vic := f.loggedIn("vic") // a viewer
	id := func(i int) string { return fmt.Sprint(runs[i-1].ID) }

	tests := []struct {
		name      string
		target    string
		hx        bool
		wantCode  int
		wantRows  []int    // 1-based positions in runs
		want      []string // in the body
		wantNot   []string
		wholePage bool
	}{
		{name: "all", target: "/script-runs", wantCode: 200, wantRows: []int{5, 4, 3, 2, 1}, wholePage: true,
			want: []string{`<form method="get" action="/script-runs"`, "Backfill endorsements", "OPS-2", "orders-dlq", "token:operator-bot",
				`<span class="status status-fail">failed</span>`, `<span class="status status-warn">interrupted</span>`}},
		{name: "search fills the form", target: "/script-runs?purpose=backfill&status=success", wantCode: 200, wantRows: []int{1}, wholePage: true,
			want: []string{`name="purpose" value="backfill"`, `<option value="success" selected>`}},
		{name: "htmx search gets the results", target: "/script-runs?ticket=OPS-1", hx: true, wantCode: 200, wantRows: []int{3, 1},
			want: []string{`id="script-runs-results"`}, wantNot: []string{"<html", `<form method="get"`}},
		{name: "dates", target: "/script-runs?from=2025-03-09&to=2025-03-09", wantCode: 200, wantRows: []int{5, 4, 3, 2, 1}, wholePage: true},
		{name: "nothing matches", target: "/script-runs?actor=nobody", wantCode: 200, wholePage: true, want: []string{"No script runs match."}},
		{name: "older runs link", target: "/script-runs?limit=2&target=policies", wantCode: 200, wantRows: []int{5, 3}, wholePage: true,
			want: []string{`href="/script-runs?before=` + id(3) + `&amp;limit=2&amp;target=policies"`}},
		{name: "bad filter", target: "/script-runs?status=bogus", wantCode: 400, wholePage: true,
			want: []string{"status must be running, success, failed or interrupted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.hx {
				headers = []string{"HX-Request", "true"}
			}
			r := vic.get(tt.target, headers...)
			if r.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tt.wantCode, r.body)
			}
			var want []string
			for _, i := range tt.wantRows {
				want = append(want, id(i))
			}
			if got := runRows(r.body); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("rows %v, want %v", got, want)
			}
			if got := strings.Contains(r.body, "<html"); got != tt.wholePage {
				t.Errorf("whole page = %v, want %v", got, tt.wholePage)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("body lacks %q\n%s", w, r.body)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(r.body, w) {
					t.Errorf("body has %q", w)
				}
			}
		})
	}

	t.Run("anonymous goes to the login page", func(t *testing.T) {
		r := f.client().get("/script-runs?ticket=OPS-1")
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
			t.Errorf("status %d, Location %q; want 303 to the login page", r.StatusCode, r.Header.Get("Location"))
		}
	})
}

func TestScriptRunShowPage(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	done := startRun(f, map[string]any{"purpose": "fix <b>bold</b>", "ticket": "OPS-9", "target": "warehouse", "script": "psql",
		"args": []string{"--password=hunter22x", "-c", "select 1"}, "env": map[string]string{"PGPASSWORD": "pgsecret99", "REGION": "eu"}})
	f.clock.Add(2500 * time.Millisecond)
	finishRun(f, done.ID, map[string]any{"exit_code": 1, "output": "ERROR <script>alert(1)</script>\nconnecting with " + warehousePassword + "\n"})
	running := startRun(f, map[string]any{"purpose": "long", "script": "sleep", "args": []string{"600"}})
	stored := finishHash(f, done.ID)
	vic := f.loggedIn("vic")

	t.Run("finished run", func(t *testing.T) {
		r := vic.get(fmt.Sprintf("/script-runs/%d", done.ID))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("status %d\n%s", r.StatusCode, r.body)
		}
		for _, w := range []string{
			"<html", fmt.Sprintf("Script run #%d", done.ID), "fix &lt;b&gt;bold&lt;/b&gt;", "OPS-9", "warehouse", "token:operator-bot",
			"psql --password=[REDACTED] -c &#39;select 1&#39;", "PGPASSWORD=[REDACTED]", "REGION=eu",
			`<span class="status status-fail">failed</span>`, "2.5s",
			done.Hash, done.PrevHash, stored,
			fmt.Sprintf(`hx-get="/script-runs/%d/output" hx-trigger="load"`, done.ID),
			fmt.Sprintf(`href="/script-runs/%d/output"`, done.ID),
		} {
			if !strings.Contains(r.body, w) {
				t.Errorf("page lacks %q", w)
			}
		}
		for _, secret := range []string{"hunter22x", "pgsecret99", warehousePassword, "ERROR"} {
			if strings.Contains(r.body, secret) {
				t.Errorf("page shows %q (secrets never; the output only through htmx)", secret)
			}
		}
	})
	t.Run("output with htmx", func(t *testing.T) {
		r := vic.get(fmt.Sprintf("/script-runs/%d/output", done.ID), "HX-Request", "true")
		if r.StatusCode != http.StatusOK || strings.Contains(r.body, "<html") {
			t.Fatalf("status %d, want 200 and a fragment\n%s", r.StatusCode, r.body)
		}
		want := `<pre id="script-run-output"`
		if !strings.Contains(r.body, want) || !strings.Contains(r.body, "ERROR &lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("want the escaped output in %s, got\n%s", want, r.body)
		}
		if strings.Contains(r.body, warehousePassword) {
			t.Errorf("output shows the warehouse password")
		}
	})
	t.Run("output without JavaScript", func(t *testing.T) {
		r := vic.get(fmt.Sprintf("/script-runs/%d/output", done.ID))
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") ||
			!strings.HasPrefix(r.body, "ERROR <script>") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("status %d, type %q, body %q: want the output as plain text", r.StatusCode, r.Header.Get("Content-Type"), r.body)
		}
	})
	t.Run("running run refreshes", func(t *testing.T) {
		r := vic.get(fmt.Sprintf("/script-runs/%d", running.ID))
		for _, w := range []string{fmt.Sprintf(`hx-get="/script-runs/%d" hx-trigger="every 5s"`, running.ID), "has not finished"} {
			if !strings.Contains(r.body, w) {
				t.Errorf("page lacks %q", w)
			}
		}
		hx := vic.get(fmt.Sprintf("/script-runs/%d", running.ID), "HX-Request", "true")
		if strings.Contains(hx.body, "<html") || !strings.Contains(hx.body, `id="script-run-record"`) {
			t.Errorf("htmx refresh: want the record fragment, got\n%s", hx.body)
		}
	})
	t.Run("unknown run", func(t *testing.T) {
		for _, target := range []string{"/script-runs/999", "/script-runs/abc", "/script-runs/999/output"} {
			if r := vic.get(target); r.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", target, r.StatusCode)
			}
		}
	})
}
