package prometheus_test

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/prometheus"
	"github.com/vigilhq/vigil/internal/scheduler"
)

// scrape GETs the handler and parses the body with the Prometheus
// project's own text-format parser (expfmt), which enforces the text
// exposition format: metric and label names, TYPE lines, histogram
// _bucket/_sum/_count series, counter values
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
func scrape(t *testing.T, s *prometheus.Sink) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape is not valid text exposition format: %v\n%s", err, body)
	}
	return fams, body
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the series of family name whose labels are want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	if f.GetType() != typ {
		t.Fatalf("%s is a %s, want %s", name, f.GetType(), typ)
	}
	for _, m := range f.GetMetric() {
		got := labels(m)
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("%s has no series %v: %v", name, want, f.GetMetric())
	return nil
}

func TestMetricNamesTypesAndLabels(t *testing.T) {
	depth := 3
	s := prometheus.New(prometheus.Options{OutboxDepth: func(context.Context) (int, error) { return depth, nil }})
	info := engine.CheckInfo{ID: "missing-endorsements", Kind: "endorsements", Owner: "policy-team", Tags: []string{"team:policy"}}
	sample := []checks.Violation{{Key: "P-100/EN-FLOOD-01", Detail: "new policy: needs EN-FLOOD-01, has none"}}
	for _, r := range []checks.Result{
		{Kind: "endorsements", Status: checks.Fail, Violations: 3, Sample: sample, Duration: 1500 * time.Millisecond},
		{Kind: "endorsements", Status: checks.Fail, Violations: 2, Sample: sample, Duration: 20 * time.Millisecond},
		{Kind: "endorsements", Status: checks.Pass, Violations: 0, Duration: 10 * time.Millisecond},
	} {
		if err := s.Observe(context.Background(), engine.Event{Check: info, Result: r}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	s.SchedulerTick(scheduler.Tick{Job: "missing-endorsements", Scheduled: now.Add(-250 * time.Millisecond), At: now, Outcome: scheduler.Started})
	s.SchedulerTick(scheduler.Tick{Job: "missing-endorsements", Scheduled: now, At: now, Outcome: scheduler.Skipped})
	s.SinkError("slack", errors.New("503"))

	fams, body := scrape(t, s)
	check := map[string]string{"check": "missing-endorsements"}
	if v := find(t, fams, prometheus.MetricRuns, dto.MetricType_COUNTER, map[string]string{"check": "missing-endorsements", "kind": "endorsements", "status": "fail"}).GetCounter().GetValue(); v != 2 {
		t.Errorf("fail runs = %v, want 2", v)
	}
	if v := find(t, fams, prometheus.MetricRuns, dto.MetricType_COUNTER, map[string]string{"check": "missing-endorsements", "kind": "endorsements", "status": "pass"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("pass runs = %v, want 1", v)
	}
	if v := find(t, fams, prometheus.MetricUp, dto.MetricType_GAUGE, check).GetGauge().GetValue(); v != 1 {
		t.Errorf("up = %v after a pass, want 1", v)
	}
	if v := find(t, fams, prometheus.MetricViolations, dto.MetricType_GAUGE, check).GetGauge().GetValue(); v != 0 {
		t.Errorf("violations = %v after a pass, want 0", v)
	}
	h := find(t, fams, prometheus.MetricDuration, dto.MetricType_HISTOGRAM, check).GetHistogram()
	if h.GetSampleCount() != 3 || math.Abs(h.GetSampleSum()-1.53) > 1e-9 {
		t.Errorf("duration histogram count %d sum %v, want 3 and 1.53s", h.GetSampleCount(), h.GetSampleSum())
	}
	if lag := find(t, fams, prometheus.MetricSchedulerLag, dto.MetricType_HISTOGRAM, map[string]string{}).GetHistogram(); lag.GetSampleCount() != 1 || math.Abs(lag.GetSampleSum()-0.25) > 1e-9 {
		t.Errorf("lag count %d sum %v, want 1 and 0.25s", lag.GetSampleCount(), lag.GetSampleSum())
	}
	if v := find(t, fams, prometheus.MetricSchedulerSkipped, dto.MetricType_COUNTER, check).GetCounter().GetValue(); v != 1 {
		t.Errorf("skipped = %v", v)
	}
	if v := find(t, fams, prometheus.MetricOutboxDepth, dto.MetricType_GAUGE, map[string]string{}).GetGauge().GetValue(); v != 3 {
		t.Errorf("outbox depth = %v, want 3", v)
	}
	if v := find(t, fams, prometheus.MetricSinkErrors, dto.MetricType_COUNTER, map[string]string{"sink": "slack"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("sink errors = %v", v)
	}

	// Bounded labels: a violation key, an owner or a tag never shows up.
	for _, leak := range []string{"P-100", "EN-FLOOD-01", "policy-team", "team:policy"} {
		if strings.Contains(body, leak) {
			t.Errorf("the scrape contains %q:\n%s", leak, body)
		}
	}
	allowed := map[string]bool{"check": true, "kind": true, "status": true, "sink": true, "le": true}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for k := range labels(m) {
				if !allowed[k] {
					t.Errorf("%s has label %q", name, k)
				}
			}
		}
	}
}

// TestOutboxDepthUnknown: a store that cannot be read gives NaN, not 0
// (which would claim the outbox is empty).
func TestOutboxDepthUnknown(t *testing.T) {
	s := prometheus.New(prometheus.Options{OutboxDepth: func(context.Context) (int, error) { return 0, errors.New("store down") }})
	fams, _ := scrape(t, s)
	if v := find(t, fams, prometheus.MetricOutboxDepth, dto.MetricType_GAUGE, map[string]string{}).GetGauge().GetValue(); !math.IsNaN(v) {
		t.Errorf("depth = %v with the store down, want NaN", v)
	}
}
