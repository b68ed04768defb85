package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/sqstest"
	"github.com/vigilhq/vigil/internal/store"
)

// sqsRedriver is a Redriver over a real SQS server (cmd/vigil's own also
// records each redrive in the script log; that is tested there). It keeps
// the requests it was given.
type sqsRedriver struct {
	client *sqs.Client
	mu     sync.Mutex
	reqs   []RedriveRequest
}

func (r *sqsRedriver) Preview(ctx context.Context, datasource, queue string) (sqsdlq.RedriveResult, error) {
	return sqsdlq.Redrive(ctx, r.client, sqsdlq.RedriveOptions{Queue: queue, DryRun: true}, nil)
}

func (r *sqsRedriver) Redrive(ctx context.Context, req RedriveRequest, progress func(sqsdlq.Progress)) (sqsdlq.RedriveResult, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return sqsdlq.Redrive(ctx, r.client, sqsdlq.RedriveOptions{Queue: req.Queue, Rate: req.Rate, DryRun: req.DryRun, PollInterval: 50 * time.Millisecond}, progress)
}

func (r *sqsRedriver) requests() []RedriveRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RedriveRequest(nil), r.reqs...)
}

// dlqDash is a dashboard with one sqs_dlq check, "queues-dlq", watching
// orders-dlq (three dead messages from orders) and lonely-dlq (fed by no
// queue), both failing in its latest run.
type dlqDash struct {
	*fixture
	sqs      *sqstest.Server
	pair     sqstest.Pair
	redriver *sqsRedriver
}

func newDLQDash(t *testing.T) *dlqDash {
	t.Helper()
	srv := sqstest.Start(t)
	pair := srv.CreatePair(t, "orders", "orders-dlq", 1, nil, nil)
	srv.FailMessages(t, pair, 3)
	srv.CreateQueue(t, "lonely-dlq", nil)

	cfg := authConfig(t, "http://127.0.0.1:8080")
	cfg.Checks = []config.Check{{ID: "queues-dlq", Kind: "sqs_dlq", Datasource: "queues", Owner: "orders-team", Schedule: "@every 5m", Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1}}
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	_, err = st.RecordResult(context.Background(), checks.Result{
		Check: "queues-dlq", Kind: "sqs_dlq", Status: checks.Fail, Violations: 2, StartedAt: time.Date(2025, 3, 9, 11, 59, 0, 0, time.UTC),
		Sample: []checks.Violation{{Key: "lonely-dlq", Detail: "depth 1"}, {Key: "orders-dlq", Detail: "depth 3 (visible 3), sources: orders"}},
		Keys:   []string{"lonely-dlq", "orders-dlq"}, Metrics: map[string]float64{"depth:orders-dlq": 3, "depth:lonely-dlq": 1, "depth:quiet-dlq": 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	rd := &sqsRedriver{client: srv.Client}
	s, err := New(Options{Store: st, Config: cfg, Now: clk.Now, Redriver: rd})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return &dlqDash{fixture: &fixture{t: t, s: s, store: st, clock: clk}, sqs: srv, pair: pair, redriver: rd}
}

var redriveLink = regexp.MustCompile(`<a href="/redrives/(\d+)">Redrive #`)

// waitRedrive polls the redrive's progress partial, as htmx does, until it
// stops polling, and returns the last partial.
func waitRedrive(t *testing.T, c *client, id string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := c.get("/redrives/"+id, "HX-Request", "true")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET /redrives/%s = %d: %s", id, r.StatusCode, r.body)
		}
		if !strings.Contains(r.body, `hx-trigger="every 1s"`) {
			return r.body
		}
		if time.Now().After(deadline) {
			t.Fatalf("redrive %s still running:\n%s", id, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedriveFromTheCheckPage(t *testing.T) {
	d := newDLQDash(t)
	oscar, vic := d.loggedIn("oscar"), d.loggedIn("vic")

	// A viewer sees the queues, not the form.
	page := vic.get("/checks/queues-dlq")
	if !strings.Contains(page.body, "<code><bdi>orders-dlq</bdi></code>") || strings.Contains(page.body, `action="/checks/queues-dlq/redrive"`) {
		t.Fatalf("viewer's check page: want the queues without a redrive form:\n%s", page.body)
	}
	page = oscar.get("/checks/queues-dlq")
	for _, want := range []string{`action="/checks/queues-dlq/redrive"`, `name="queue" value="orders-dlq"`, `name="queue" value="lonely-dlq"`, `name="rate" type="number" min="1" max="500" value="10"`, `name="dry_run"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("operator's check page lacks %s", want)
		}
	}
	tok := csrfInput.FindStringSubmatch(page.body)[1]

	// A dry run moves nothing.
	r := oscar.post("/checks/queues-dlq/redrive", url.Values{"_csrf": {tok}, "queue": {"orders-dlq"}, "rate": {"5"}, "dry_run": {"1"}}, "HX-Request", "true")
	m := redriveLink.FindStringSubmatch(r.body)
	if r.StatusCode != http.StatusOK || m == nil || !strings.Contains(r.body, "Redrive started") {
		t.Fatalf("dry run: %d\n%s", r.StatusCode, r.body)
	}
	// Issue 14: the page says what happened in words, never AWS's DRY_RUN.
	if got := waitRedrive(t, oscar, m[1]); !strings.Contains(got, "dry run: nothing was moved") || strings.Contains(got, "DRY_RUN") ||
		!strings.Contains(got, "would move 3") || !strings.Contains(got, "back to orders") {
		t.Errorf("dry run ended as:\n%s", got)
	}
	if got := d.sqs.Depth(t, d.pair.DLQURL); got != 3 {
		t.Fatalf("dry run moved messages: DLQ depth %d", got)
	}

	// A plain form redrives and lands on the redrive's page, which shows
	// the progress until everything is back in orders.
	r = oscar.post("/checks/queues-dlq/redrive", url.Values{"_csrf": {tok}, "queue": {"orders-dlq"}, "rate": {"2"}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/redrives/") {
		t.Fatalf("redrive: %d, Location %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	id := strings.TrimPrefix(r.Header.Get("Location"), "/redrives/")
	if page := vic.get("/redrives/" + id); page.StatusCode != 200 || !strings.Contains(page.body, "Redrive of orders-dlq") || strings.Contains(page.body, "Cancel redrive") {
		t.Errorf("viewer's redrive page: %d\n%s", page.StatusCode, page.body)
	}
	done := waitRedrive(t, oscar, id)
	if !strings.Contains(done, "completed") || !strings.Contains(done, "moved 3 of 3") || !strings.Contains(done, `value="100"`) {
		t.Errorf("redrive ended as:\n%s", done)
	}
	if dlq, src := d.sqs.Depth(t, d.pair.DLQURL), d.sqs.Depth(t, d.pair.SourceURL); dlq != 0 || src != 3 {
		t.Errorf("after the redrive: DLQ %d, source %d; want 0 and 3", dlq, src)
	}
	reqs := d.redriver.requests()
	if len(reqs) != 2 || reqs[1] != (RedriveRequest{Datasource: "queues", Queue: "orders-dlq", Rate: 2, Actor: "oscar"}) || !reqs[0].DryRun {
		t.Errorf("redriver requests = %+v", reqs)
	}
	audit := d.audit()
	var redrives []string
	for _, e := range audit {
		if e.Action == "redrive" {
			redrives = append(redrives, e.Actor+" "+e.Target+" "+e.Detail)
		}
	}
	if want := []string{"oscar orders-dlq dry run, rate 5/s, check queues-dlq, redrive #1", "oscar orders-dlq rate 2/s, check queues-dlq, redrive #2"}; fmt.Sprint(redrives) != fmt.Sprint(want) {
		t.Errorf("audited redrives = %q, want %q", redrives, want)
	}
	// The check page lists both redrives.
	if page := oscar.get("/checks/queues-dlq"); strings.Count(page.body, `class="redrive"`) != 2 {
		t.Errorf("check page shows %d redrives, want 2", strings.Count(page.body, `class="redrive"`))
	}
}

func TestRedriveRefusals(t *testing.T) {
	d := newDLQDash(t)
	oscar, vic := d.loggedIn("oscar"), d.loggedIn("vic")
	tok := oscar.csrf("/checks/queues-dlq")
	tests := []struct {
		name       string
		c          *client
		form       url.Values
		wantStatus int
		wantBody   string
	}{
		{name: "not a DLQ of any source", c: oscar, form: url.Values{"queue": {"lonely-dlq"}}, wantStatus: 422,
			wantBody: "queue lonely-dlq: refused: this queue is not the dead-letter queue of any source queue"},
		{name: "not watched by the check", c: oscar, form: url.Values{"queue": {"orders"}}, wantStatus: 422,
			wantBody: "queue orders is not a dead-letter queue watched by check queues-dlq"},
		{name: "rate too high", c: oscar, form: url.Values{"queue": {"orders-dlq"}, "rate": {"501"}}, wantStatus: 400, wantBody: "rate must be between 1 and 500"},
		{name: "rate not a number", c: oscar, form: url.Values{"queue": {"orders-dlq"}, "rate": {"fast"}}, wantStatus: 400, wantBody: "rate must be a whole number"},
		{name: "viewer", c: vic, form: url.Values{"queue": {"orders-dlq"}}, wantStatus: 403, wantBody: "operator role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("_csrf", tok)
			if tt.c == vic {
				tt.form.Set("_csrf", vic.csrf("/checks/queues-dlq"))
			}
			r := tt.c.post("/checks/queues-dlq/redrive", tt.form, "HX-Request", "true")
			if r.StatusCode != tt.wantStatus || !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("status %d, body %s; want %d with %q", r.StatusCode, r.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if reqs := d.redriver.requests(); len(reqs) != 0 {
		t.Errorf("refused redrives reached the redriver: %+v", reqs)
	}
	if got := d.sqs.Depth(t, d.pair.DLQURL); got != 3 {
		t.Errorf("DLQ depth %d after refusals, want 3", got)
	}
}

func TestRedriveAPI(t *testing.T) {
	d := newDLQDash(t)
	api := func(method, target, token string, body any) response {
		t.Helper()
		return (&dash{fixture: d.fixture}).api(method, target, token, body)
	}
	if r := api(http.MethodPost, "/api/v1/queues/orders-dlq/redrive", dashViewerToken, nil); r.StatusCode != 403 {
		t.Errorf("viewer: %d %s", r.StatusCode, r.body)
	}
	if r := api(http.MethodPost, "/api/v1/queues/nowhere-dlq/redrive", dashOperatorToken, nil); r.StatusCode != 422 ||
		!strings.Contains(r.body, "queue nowhere-dlq is not a dead-letter queue watched by any sqs_dlq check") {
		t.Errorf("unknown queue: %d %s", r.StatusCode, r.body)
	}
	if r := api(http.MethodPost, "/api/v1/queues/orders-dlq/redrive", dashOperatorToken, map[string]any{"rate": 50, "speed": 1}); r.StatusCode != 400 {
		t.Errorf("unknown field: %d %s", r.StatusCode, r.body)
	}

	r := api(http.MethodPost, "/api/v1/queues/orders-dlq/redrive", dashOperatorToken, map[string]any{"rate": 50})
	started := dashJSON[apiRedrive](t, r, http.StatusAccepted)
	if started.Queue != "orders-dlq" || started.Check != "queues-dlq" || started.Actor != "token:operator-bot" || started.Rate != 50 || started.DryRun ||
		r.Header.Get("Location") != fmt.Sprintf("/api/v1/redrives/%d", started.ID) {
		t.Fatalf("started = %+v, Location %q", started, r.Header.Get("Location"))
	}
	deadline := time.Now().Add(15 * time.Second)
	var got apiRedrive
	for {
		got = dashJSON[apiRedrive](t, api(http.MethodGet, r.Header.Get("Location"), dashViewerToken, nil), http.StatusOK)
		if got.Done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !got.Done || got.Status != sqsdlq.StatusCompleted || got.Moved != 3 || got.ToMove != 3 || fmt.Sprint(got.Sources) != "[orders]" || got.Error != "" || got.Ended == nil {
		t.Errorf("redrive ended as %+v", got)
	}
	if depth := d.sqs.Depth(t, d.pair.DLQURL); depth != 0 {
		t.Errorf("DLQ depth %d after the API redrive", depth)
	}
	if r := api(http.MethodGet, "/api/v1/redrives/999", dashViewerToken, nil); r.StatusCode != 404 {
		t.Errorf("unknown redrive: %d", r.StatusCode)
	}
}

func TestRedriveCancel(t *testing.T) {
	d := newDLQDash(t)
	d.sqs.FailMessages(t, d.pair, 5) // eight in all, at one a second
	oscar := d.loggedIn("oscar")
	tok := oscar.csrf("/checks/queues-dlq")
	r := oscar.post("/checks/queues-dlq/redrive", url.Values{"_csrf": {tok}, "queue": {"orders-dlq"}, "rate": {"1"}})
	id := strings.TrimPrefix(r.Header.Get("Location"), "/redrives/")
	if r.StatusCode != http.StatusSeeOther || id == "" {
		t.Fatalf("redrive: %d %s", r.StatusCode, r.body)
	}
	if page := oscar.get("/redrives/" + id); !strings.Contains(page.body, "Cancel redrive") {
		t.Fatalf("running redrive's page has no cancel button:\n%s", page.body)
	}
	moving := regexp.MustCompile(`moved [1-7] of 8`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if p := oscar.get("/redrives/"+id, "HX-Request", "true"); moving.MatchString(p.body) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the redrive did not start moving:\n%s", p.body)
		}
	}
	r = oscar.post("/redrives/"+id+"/cancel", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	if r.StatusCode != 200 || !strings.Contains(r.body, "cancelled") || strings.Contains(r.body, "every 1s") {
		t.Fatalf("cancel: %d\n%s", r.StatusCode, r.body)
	}
	if depth := d.sqs.Depth(t, d.pair.DLQURL); depth == 0 {
		t.Errorf("a cancelled redrive at 1/s moved all eight messages")
	}
	if e := (&dash{fixture: d.fixture}).lastAudit("redrive_cancel"); e.Actor != "oscar" || e.Target != "orders-dlq" {
		t.Errorf("cancel audit = %+v", e)
	}
}

func TestRedriveWithoutRedriver(t *testing.T) {
	d := newDash(t, false)
	oscar := d.loggedIn("oscar")
	tok := oscar.csrf("/checks/orders-dup")
	r := oscar.post("/checks/orders-dup/redrive", url.Values{"_csrf": {tok}, "queue": {"x"}}, "HX-Request", "true")
	if r.StatusCode != 503 || !strings.Contains(r.body, "no redriver") {
		t.Errorf("redrive without a redriver: %d %s", r.StatusCode, r.body)
	}
	if page := oscar.get("/checks/orders-dup"); strings.Contains(page.body, "Dead-letter queues") {
		t.Errorf("a duplicates check's page offers redrives")
	}
}
