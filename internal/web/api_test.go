package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
)

func TestAPIChecks(t *testing.T) {
	d := newDash(t, false)
	ev := d.record("orders-dup", checks.Fail, "O-2", "O-1")
	d.record("api-up", checks.Pass)
	failedAt := d.clock.Now().Add(-time.Minute)

	if r := d.api(http.MethodGet, "/api/v1/checks", "", nil); r.StatusCode != 401 || r.body != `{"error":"login required"}` {
		t.Errorf("anonymous GET = %d %s, want 401 with a JSON error", r.StatusCode, r.body)
	}
	got := dashJSON[[]apiCheck](t, d.api(http.MethodGet, "/api/v1/checks", dashViewerToken, nil), 200)
	ids := []string{}
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if want := []string{"orders-dup", "api-up", "never-ran"}; !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v (config order)", ids, want)
	}
	dup, up, never := got[0], got[1], got[2]
	if dup.Status != "fail" || dup.Violations != 2 || dup.Kind != "duplicates" || dup.Owner != "orders-team" ||
		dup.Runbook != "orders-dup" || !slices.Equal(dup.Tags, []string{"team:orders"}) || dup.Schedule != "@every 1h" {
		t.Errorf("orders-dup = %+v", dup)
	}
	if dup.LastRunAt == nil || !dup.LastRunAt.Equal(failedAt) || dup.Since == nil || !dup.Since.Equal(failedAt) {
		t.Errorf("orders-dup last run %v since %v, want %v", dup.LastRunAt, dup.Since, failedAt)
	}
	if dup.Incident == nil || dup.Incident.ID != ev.Transition.Incident.ID || !dup.Incident.Since.Equal(failedAt) || dup.Incident.AckedBy != "" {
		t.Errorf("orders-dup incident = %+v, want #%d since %v, not acked", dup.Incident, ev.Transition.Incident.ID, failedAt)
	}
	if up.Status != "pass" || up.Incident != nil || up.Runbook != "" {
		t.Errorf("api-up = %+v", up)
	}
	if never.Status != "unknown" || never.LastRunAt != nil || never.Since != nil || never.Incident != nil {
		t.Errorf("never-ran = %+v", never)
	}
	// Nulls are written, not left out: clients read one shape.
	var raw []map[string]any
	if err := json.Unmarshal([]byte(d.api(http.MethodGet, "/api/v1/checks", dashViewerToken, nil).body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"last_run_at", "since", "incident", "silenced_until"} {
		if v, ok := raw[2][k]; !ok || v != nil {
			t.Errorf("never-ran %s = %v (present %v), want null", k, v, ok)
		}
	}
}

func TestAPICheckAndResults(t *testing.T) {
	d := newDash(t, false)
	d.record("orders-dup", checks.Fail, "b", "a")
	d.record("orders-dup", checks.Fail, "c", "b")
	last := d.record("orders-dup", checks.Warn, "b")

	one := dashJSON[apiCheck](t, d.api(http.MethodGet, "/api/v1/checks/orders-dup", dashViewerToken, nil), 200)
	if one.Status != "warn" || one.Latest == nil || one.Latest.ID != last.RunID || one.Latest.Status != checks.Warn {
		t.Fatalf("check = %+v latest %+v", one, one.Latest)
	}
	if one.Changes == nil || !slices.Equal(one.Changes.Still, []string{"b"}) || !slices.Equal(one.Changes.Fixed, []string{"c"}) || len(one.Changes.New) != 0 {
		t.Errorf("changes = %+v, want b still failing, c fixed", one.Changes)
	}

	r := d.api(http.MethodGet, "/api/v1/checks/orders-dup/results?limit=2", dashViewerToken, nil)
	var page []map[string]any
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || r.StatusCode != 200 {
		t.Fatalf("results = %d %s (%v)", r.StatusCode, r.body, err)
	}
	if len(page) != 2 || page[0]["id"] != float64(last.RunID) || page[1]["id"] != float64(last.RunID-1) {
		t.Fatalf("page one = %v, want runs %d and %d", page, last.RunID, last.RunID-1)
	}
	keys := make([]string, 0, len(page[0]))
	for k := range page[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"check", "duration_ms", "error", "id", "kind", "sample", "started_at", "status", "violations"}; !slices.Equal(keys, want) {
		t.Errorf("result fields = %v, want %v", keys, want)
	}
	if page[0]["check"] != "orders-dup" || page[0]["kind"] != "duplicates" || page[0]["duration_ms"] != float64(12) ||
		page[0]["started_at"] != d.clock.Now().UTC().Format(time.RFC3339) {
		t.Errorf("result = %v", page[0])
	}
	wantLink := `</api/v1/checks/orders-dup/results?before=` + itoa(last.RunID-1) + `&limit=2>; rel="next"`
	if got := r.Header.Get("Link"); got != wantLink {
		t.Fatalf("Link = %q, want %q", got, wantLink)
	}
	rest := dashJSON[[]apiResult](t, d.api(http.MethodGet, "/api/v1/checks/orders-dup/results?before="+itoa(last.RunID-1)+"&limit=2", dashViewerToken, nil), 200)
	if len(rest) != 1 || rest[0].ID != last.RunID-2 || len(rest[0].Sample) != 2 || rest[0].Sample[0].Key != "a" {
		t.Errorf("page two = %+v", rest)
	}

	tests := []struct {
		name, path string
		want       int
		wantBody   string
	}{
		{name: "unknown check", path: "/api/v1/checks/nope", want: 404, wantBody: `{"error":"not found"}`},
		{name: "results of unknown check", path: "/api/v1/checks/nope/results", want: 404, wantBody: `{"error":"not found"}`},
		{name: "limit too big", path: "/api/v1/checks/orders-dup/results?limit=5000", want: 400, wantBody: `{"error":"limit must be between 1 and 1000"}`},
		{name: "bad before", path: "/api/v1/checks/orders-dup/results?before=x", want: 400, wantBody: `{"error":"before must be a positive id"}`},
		{name: "never ran", path: "/api/v1/checks/never-ran/results", want: 200, wantBody: `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.api(http.MethodGet, tt.path, dashViewerToken, nil)
			if r.StatusCode != tt.want || r.body != tt.wantBody {
				t.Errorf("GET %s = %d %s, want %d %s", tt.path, r.StatusCode, r.body, tt.want, tt.wantBody)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAPIRunNow(t *testing.T) {
	tests := []struct {
		name, token, path string
		want              int
		wantBody          string
	}{
		{name: "viewer", token: dashViewerToken, path: "/api/v1/checks/orders-dup/run", want: 403, wantBody: `{"error":"forbidden: this needs the operator role"}`},
		{name: "anonymous", path: "/api/v1/checks/orders-dup/run", want: 403, wantBody: `{"error":"missing CSRF cookie: reload the page and try again"}`},
		{name: "unknown check", token: dashOperatorToken, path: "/api/v1/checks/nope/run", want: 404, wantBody: `{"error":"not found"}`},
		{name: "operator", token: dashOperatorToken, path: "/api/v1/checks/orders-dup/run", want: 202, wantBody: `{"check":"orders-dup","status":"started"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDash(t, false)
			r := d.api(http.MethodPost, tt.path, tt.token, nil)
			if r.StatusCode != tt.want || r.body != tt.wantBody {
				t.Fatalf("POST %s = %d %s, want %d %s", tt.path, r.StatusCode, r.body, tt.want, tt.wantBody)
			}
			if tt.want != 202 {
				for _, e := range d.audit() {
					if e.Action == "run" {
						t.Errorf("a refused run was audited: %+v", e)
					}
				}
				return
			}
			d.waitRun("orders-dup")
			if e := d.lastAudit("run"); e.Actor != "token:operator-bot" || e.Target != "orders-dup" {
				t.Errorf("audit = %+v", e)
			}
			if runs, err := d.store.Results(t.Context(), "orders-dup", 0, 10); err != nil || len(runs) != 1 {
				t.Errorf("runs = %v %v, want the one run-now recorded", runs, err)
			}
		})
	}
}

func TestAPIRunNowWhileRunningIsConflict(t *testing.T) {
	d := newDash(t, false)
	gate := make(chan struct{})
	d.mu.Lock()
	d.gate = gate
	d.mu.Unlock()
	if r := d.api(http.MethodPost, "/api/v1/checks/api-up/run", dashOperatorToken, nil); r.StatusCode != 202 {
		t.Fatalf("first run = %d %s", r.StatusCode, r.body)
	}
	r := d.api(http.MethodPost, "/api/v1/checks/api-up/run", dashOperatorToken, nil)
	if r.StatusCode != 409 || r.body != `{"error":"check api-up is already running"}` {
		t.Errorf("second run = %d %s, want 409", r.StatusCode, r.body)
	}
	close(gate)
	d.waitRun("api-up")
}

func TestAPIIncidentsAndAck(t *testing.T) {
	d := newDash(t, false)
	opened := d.record("orders-dup", checks.Fail, "O-1").Transition.Incident
	d.record("api-up", checks.Error)
	d.record("api-up", checks.Pass) // resolves api-up's incident
	d.record("api-up", checks.Pass)

	all := dashJSON[[]apiIncident](t, d.api(http.MethodGet, "/api/v1/incidents", dashViewerToken, nil), 200)
	if len(all) != 2 || all[0].Check != "api-up" || all[0].Open || !all[0].CheckBroken || all[1].ID != opened.ID || !all[1].Open {
		t.Fatalf("incidents = %+v", all)
	}
	open := dashJSON[[]apiIncident](t, d.api(http.MethodGet, "/api/v1/incidents?open=true", dashViewerToken, nil), 200)
	if len(open) != 1 || open[0].ID != opened.ID || open[0].Check != "orders-dup" || open[0].LastViolations != 1 {
		t.Fatalf("open incidents = %+v", open)
	}
	// open=false is the complement of open=true (issue 15: it used to list
	// every incident, open ones included).
	for _, q := range []string{"false", "0"} {
		resolved := dashJSON[[]apiIncident](t, d.api(http.MethodGet, "/api/v1/incidents?open="+q, dashViewerToken, nil), 200)
		if len(resolved) != 1 || resolved[0].Check != "api-up" || resolved[0].Open || resolved[0].ResolvedAt == nil {
			t.Errorf("open=%s: incidents = %+v, want only the resolved one", q, resolved)
		}
	}
	if r := d.api(http.MethodGet, "/api/v1/incidents?open=maybe", dashViewerToken, nil); r.StatusCode != 400 {
		t.Errorf("open=maybe = %d", r.StatusCode)
	}

	ackPath := "/api/v1/incidents/" + itoa(opened.ID) + "/ack"
	tests := []struct {
		name, token, path string
		body              any
		want              int
		wantErr           string
	}{
		{name: "viewer", token: dashViewerToken, path: ackPath, body: map[string]string{"note": "x"}, want: 403, wantErr: "forbidden: this needs the operator role"},
		{name: "unknown incident", token: dashOperatorToken, path: "/api/v1/incidents/999/ack", want: 404, wantErr: "not found"},
		{name: "not an id", token: dashOperatorToken, path: "/api/v1/incidents/abc/ack", want: 404, wantErr: "not found"},
		{name: "resolved incident", token: dashOperatorToken, path: "/api/v1/incidents/" + itoa(all[0].ID) + "/ack", want: 409, wantErr: "incident " + itoa(all[0].ID) + " has resolved"},
		{name: "operator", token: dashOperatorToken, path: ackPath, body: map[string]string{"note": "on it"}, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.api(http.MethodPost, tt.path, tt.token, tt.body)
			if tt.wantErr != "" {
				got := dashJSON[map[string]string](t, r, tt.want)
				if got["error"] != tt.wantErr {
					t.Errorf("error = %q, want %q", got["error"], tt.wantErr)
				}
				return
			}
			in := dashJSON[apiIncident](t, r, tt.want)
			if in.AckedBy != "token:operator-bot" || in.AckNote != "on it" || in.AckedAt == nil || !in.AckedAt.Equal(d.clock.Now()) {
				t.Errorf("acked incident = %+v", in)
			}
			if e := d.lastAudit("ack"); e.Actor != "token:operator-bot" || !strings.Contains(e.Target, "orders-dup") || !strings.Contains(e.Detail, "on it") {
				t.Errorf("audit = %+v", e)
			}
			list := dashJSON[[]apiCheck](t, d.api(http.MethodGet, "/api/v1/checks", dashViewerToken, nil), 200)
			if list[0].Incident == nil || list[0].Incident.AckedBy != "token:operator-bot" {
				t.Errorf("check list incident = %+v", list[0].Incident)
			}
		})
	}
}

func TestAPIAckWithSessionNeedsCSRF(t *testing.T) {
	d := newDash(t, false)
	in := d.record("orders-dup", checks.Fail, "O-1").Transition.Incident
	oscar := d.loggedIn("oscar")
	path := "/api/v1/incidents/" + itoa(in.ID) + "/ack"
	if r := oscar.post(path, url.Values{"note": {"x"}}); r.StatusCode != 403 || !strings.Contains(r.body, "CSRF") {
		t.Errorf("cookie POST without CSRF = %d %s, want 403", r.StatusCode, r.body)
	}
	tok := oscar.csrf("/")
	r := oscar.post(path, url.Values{"note": {"from the browser"}}, "X-CSRF-Token", tok)
	got := dashJSON[apiIncident](t, r, 200)
	if got.AckedBy != "oscar" || got.AckNote != "from the browser" {
		t.Errorf("ack = %+v", got)
	}
}

func TestAPISilences(t *testing.T) {
	d := newDash(t, false)
	future := d.clock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name, token string
		body        map[string]string
		want        int
		wantErr     string
	}{
		{name: "viewer", token: dashViewerToken, body: map[string]string{"matcher": "api-up", "until": future, "reason": "r"}, want: 403, wantErr: "forbidden: this needs the operator role"},
		{name: "no reason", token: dashOperatorToken, body: map[string]string{"matcher": "api-up", "until": future}, want: 400, wantErr: "reason is required: say why alerts should stop"},
		{name: "blank reason", token: dashOperatorToken, body: map[string]string{"matcher": "api-up", "until": future, "reason": "  "}, want: 400, wantErr: "reason is required: say why alerts should stop"},
		{name: "until in the past", token: dashOperatorToken, body: map[string]string{"matcher": "api-up", "until": "2025-03-09T11:00:00Z", "reason": "r"}, want: 400, wantErr: "until 2025-03-09T11:00:00Z is in the past"},
		{name: "until unreadable", token: dashOperatorToken, body: map[string]string{"matcher": "api-up", "until": "tomorrow", "reason": "r"}, want: 400, wantErr: `until "tomorrow" is not an RFC 3339 time such as 2025-03-09T18:00:00Z`},
		{name: "no until", token: dashOperatorToken, body: map[string]string{"matcher": "api-up", "reason": "r"}, want: 400, wantErr: "until is required: when the silence ends (RFC 3339)"},
		{name: "no matcher", token: dashOperatorToken, body: map[string]string{"until": future, "reason": "r"}, want: 400, wantErr: "matcher is required: a check id or a tag"},
		{name: "unknown matcher", token: dashOperatorToken, body: map[string]string{"matcher": "api-upp", "until": future, "reason": "r"}, want: 400, wantErr: `matcher "api-upp" names no configured check or tag`},
		{name: "tag", token: dashOperatorToken, body: map[string]string{"matcher": "team:orders", "until": future, "reason": "maintenance window"}, want: 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.api(http.MethodPost, "/api/v1/silences", tt.token, tt.body)
			if tt.wantErr != "" {
				if got := dashJSON[map[string]string](t, r, tt.want); got["error"] != tt.wantErr {
					t.Errorf("error = %q, want %q", got["error"], tt.wantErr)
				}
				return
			}
			sl := dashJSON[apiSilence](t, r, tt.want)
			if sl.Matcher != "team:orders" || sl.Author != "token:operator-bot" || sl.Reason != "maintenance window" || !sl.Active ||
				sl.Until.Format(time.RFC3339) != future || sl.ExpiredAt != nil {
				t.Errorf("silence = %+v", sl)
			}
			if e := d.lastAudit("silence"); e.Actor != "token:operator-bot" || e.Target != "team:orders" || !strings.Contains(e.Detail, "maintenance window") {
				t.Errorf("audit = %+v", e)
			}
		})
	}
	if n := len(d.audit()); n != 1 {
		t.Errorf("%d audit entries, want only the silence that was set", n)
	}

	list := dashJSON[[]apiSilence](t, d.api(http.MethodGet, "/api/v1/silences", dashViewerToken, nil), 200)
	if len(list) != 1 {
		t.Fatalf("silences = %+v", list)
	}
	checksNow := dashJSON[[]apiCheck](t, d.api(http.MethodGet, "/api/v1/checks", dashViewerToken, nil), 200)
	if checksNow[0].SilencedUntil == nil || checksNow[1].SilencedUntil != nil || checksNow[2].SilencedUntil == nil {
		t.Errorf("silenced_until of orders-dup, api-up, never-ran = %v %v %v; want the team:orders checks silenced",
			checksNow[0].SilencedUntil, checksNow[1].SilencedUntil, checksNow[2].SilencedUntil)
	}

	expire := "/api/v1/silences/" + itoa(list[0].ID) + "/expire"
	if r := d.api(http.MethodPost, expire, dashViewerToken, nil); r.StatusCode != 403 {
		t.Errorf("viewer expire = %d", r.StatusCode)
	}
	d.clock.Add(time.Minute)
	ended := dashJSON[apiSilence](t, d.api(http.MethodPost, expire, dashOperatorToken, nil), 200)
	if ended.Active || ended.ExpiredBy != "token:operator-bot" || ended.ExpiredAt == nil || !ended.ExpiredAt.Equal(d.clock.Now()) {
		t.Errorf("expired silence = %+v", ended)
	}
	if e := d.lastAudit("expire-silence"); e.Target != "team:orders" {
		t.Errorf("audit = %+v", e)
	}
	if got := dashJSON[map[string]string](t, d.api(http.MethodPost, expire, dashOperatorToken, nil), 409); got["error"] != "silence "+itoa(list[0].ID)+" has already ended" {
		t.Errorf("expire again: %v", got)
	}
	if got := dashJSON[map[string]string](t, d.api(http.MethodPost, "/api/v1/silences/77/expire", dashOperatorToken, nil), 404); got["error"] != "not found" {
		t.Errorf("expire unknown: %v", got)
	}
}

func TestReadyz(t *testing.T) {
	d := newDash(t, false)
	type ready struct {
		Store     string  `json:"store"`
		Scheduler string  `json:"scheduler"`
		Lag       float64 `json:"lag_seconds"`
	}
	anon := d.client()
	if got := dashJSON[ready](t, anon.get("/readyz"), 503); got.Store != "ok" || got.Scheduler != "stopped" {
		t.Errorf("before Start: %+v", got)
	}
	d.sched.Start()
	if got := dashJSON[ready](t, anon.get("/readyz"), 200); got.Store != "ok" || got.Scheduler != "running" || got.Lag >= 60 {
		t.Errorf("running: %+v", got)
	}
	d.clock.Add(2 * time.Hour) // every job's @every 1h tick is now an hour overdue
	if got := dashJSON[ready](t, anon.get("/readyz"), 503); got.Scheduler != "lagging" || got.Lag < 3600 {
		t.Errorf("stuck: %+v", got)
	}
	if err := d.sched.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	d.store.Close()
	if got := dashJSON[ready](t, anon.get("/readyz"), 503); got.Store != "unreachable" || got.Scheduler != "stopped" {
		t.Errorf("store closed: %+v", got)
	}
}
