package dashboards_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/dashboards"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/datadog"
	"github.com/vigilhq/vigil/internal/notify/datadog/datadogtest"
	"github.com/vigilhq/vigil/internal/scheduler"
)

// emitted maps each metric the Datadog sink sends (without namespace) to
// its tag keys and, per key, the values seen: what the sink really sends
// to a DogStatsD socket when driven through every path.
type emitted map[string]map[string]map[string]bool

func emit(t *testing.T, namespace string) emitted {
	t.Helper()
	l := datadogtest.Listen(t)
	s, err := datadog.New(datadog.Options{Addr: l.Addr(), Namespace: namespace, AggregationInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check := engine.CheckInfo{ID: "c1", Kind: "sql", Owner: "team-a", Tags: []string{"team:a"}}
	for _, st := range []checks.Status{checks.Pass, checks.Warn, checks.Fail, checks.Error} {
		if err := s.Observe(context.Background(), engine.Event{Check: check, Result: checks.Result{Status: st, Violations: 1, DurationMS: 3}}); err != nil {
			t.Fatal(err)
		}
	}
	s.SinkError("slack", nil)
	due := time.Now()
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due, Outcome: scheduler.Skipped})
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due.Add(time.Second), Outcome: scheduler.Started})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	out := emitted{}
	for _, line := range l.Take(50 * time.Millisecond) {
		name, rest, _ := strings.Cut(line, ":")
		name, ok := strings.CutPrefix(name, namespace+".")
		if !ok {
			t.Fatalf("line %q outside namespace %s", line, namespace)
		}
		if out[name] == nil {
			out[name] = map[string]map[string]bool{}
		}
		if _, tags, ok := strings.Cut(rest, "|#"); ok {
			for tag := range strings.SplitSeq(tags, ",") {
				k, v, _ := strings.Cut(tag, ":")
				if out[name][k] == nil {
					out[name][k] = map[string]bool{}
				}
				out[name][k][v] = true
			}
		}
	}
	if len(out) < 7 {
		t.Fatalf("the sink emitted only %v", out)
	}
	return out
}

// ref is one metric a query names, with the tag keys (and literal values)
// it filters or groups on.
type ref struct {
	metric string
	tags   map[string][]string // key -> literal values ("" for a group or template variable)
	query  string
}

var (
	metricRE = regexp.MustCompile(`\b[a-z0-9]+:([A-Za-z][\w.]*)\{([^}]*)\}(?:\s*by\s*\{([^}]*)\})?`)
	termRE   = regexp.MustCompile(`\s+(?:OR|AND)\s+|,`)
)

// refs finds every metric query in a JSON document (the values of "q",
// "query", "numerator" and "denominator") and resolves template variables
// ($team) to their tag prefixes.
func refs(t *testing.T, doc any, namespace string, vars map[string]string) []ref {
	t.Helper()
	var out []ref
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok && slices.Contains([]string{"q", "query", "numerator", "denominator"}, k) {
					ms := metricRE.FindAllStringSubmatch(s, -1)
					if len(ms) == 0 {
						t.Errorf("query names no metric: %q", s)
					}
					for _, m := range ms {
						name, ok := strings.CutPrefix(m[1], namespace+".")
						if !ok {
							t.Errorf("metric %s outside namespace %s in %q", m[1], namespace, s)
							continue
						}
						r := ref{metric: name, tags: map[string][]string{}, query: s}
						for _, term := range termRE.Split(m[2], -1) {
							term = strings.TrimPrefix(strings.Trim(strings.TrimSpace(term), "()"), "!")
							switch {
							case term == "*" || term == "":
							case strings.HasPrefix(term, "$"):
								key, ok := vars[term[1:]]
								if !ok {
									t.Errorf("unknown template variable %s in %q", term, s)
								}
								r.tags[key] = append(r.tags[key], "")
							default:
								k, v, _ := strings.Cut(term, ":")
								r.tags[k] = append(r.tags[k], v)
							}
						}
						if m[3] != "" {
							for g := range strings.SplitSeq(m[3], ",") {
								r.tags[strings.TrimSpace(g)] = append(r.tags[strings.TrimSpace(g)], "")
							}
						}
						out = append(out, r)
					}
				} else {
					walk(val)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}

func TestEveryNamedMetricAndTagIsEmitted(t *testing.T) {
	for _, ns := range []string{"vigil", "acme.checks"} {
		em := emit(t, ns)
		onDashboard := map[string]bool{}
		for _, name := range dashboards.Names {
			t.Run(ns+"/"+name, func(t *testing.T) {
				raw, err := dashboards.File(name, ns)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(raw), "${") {
					t.Errorf("placeholder left in %s", name)
				}
				var doc any
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				vars := map[string]string{}
				if m, ok := doc.(map[string]any); ok {
					tv, _ := m["template_variables"].([]any)
					for _, v := range tv {
						v := v.(map[string]any)
						vars[v["name"].(string)] = v["prefix"].(string)
					}
				}
				rs := refs(t, doc, ns, vars)
				if len(rs) == 0 {
					t.Fatalf("%s names no metric", name)
				}
				for _, r := range rs {
					tags, ok := em[r.metric]
					if !ok {
						t.Errorf("%s names %s, which the sink never emits (%q)", name, r.metric, r.query)
						continue
					}
					if name == "dashboard.json" {
						onDashboard[r.metric] = true
					}
					for key, values := range r.tags {
						seen, ok := tags[key]
						if !ok {
							t.Errorf("%s uses tag %s on %s, which the sink never sets (%q)", name, key, r.metric, r.query)
							continue
						}
						for _, v := range values {
							if v != "" && v != "*" && key == "status" && !seen[v] {
								t.Errorf("%s filters %s on %s:%s, a value the sink never sends", name, r.metric, key, v)
							}
						}
					}
				}
			})
		}
		for metric := range em {
			if !onDashboard[metric] {
				t.Errorf("the sink emits %s, but dashboard.json never shows it", metric)
			}
		}
	}
}

func TestExport(t *testing.T) {
	tests := []struct {
		name, namespace, prefix string
	}{
		{name: "default", namespace: "", prefix: "vigil.check.run"},
		{name: "custom", namespace: "acme.vigil", prefix: "acme.vigil.check.run"},
		{name: "trailing dot", namespace: "acme.", prefix: "acme.check.run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := dashboards.Export(tt.namespace)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Dashboard map[string]any   `json:"dashboard"`
				SLOs      []map[string]any `json:"slos"`
				Monitors  []map[string]any `json:"monitors"`
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("export is not JSON: %v", err)
			}
			if doc.Dashboard["title"] == nil || len(doc.SLOs) == 0 || len(doc.Monitors) == 0 {
				t.Errorf("export lacks a part: %s", out)
			}
			if !strings.Contains(string(out), tt.prefix+"{") || strings.Contains(string(out), dashboards.Placeholder) {
				t.Errorf("namespace not applied: want %s", tt.prefix)
			}
		})
	}
	for _, bad := range []string{"1abc", "a b", "a..b", "a-b"} {
		if _, err := dashboards.Export(bad); err == nil {
			t.Errorf("namespace %q accepted", bad)
		}
	}
}

func TestSLOsCountGoodRunsAsPassOrWarn(t *testing.T) {
	raw, err := dashboards.File("slos.json", "vigil")
	if err != nil {
		t.Fatal(err)
	}
	var slos []struct {
		Type  string `json:"type"`
		Query struct {
			Numerator, Denominator string
		} `json:"query"`
		Thresholds []struct {
			Timeframe string  `json:"timeframe"`
			Target    float64 `json:"target"`
		} `json:"thresholds"`
	}
	if err := json.Unmarshal(raw, &slos); err != nil {
		t.Fatal(err)
	}
	for _, s := range slos {
		if s.Type != "metric" || !strings.Contains(s.Query.Numerator, "vigil.check.run{status:pass OR status:warn}") ||
			!strings.Contains(s.Query.Denominator, "vigil.check.run{*}") {
			t.Errorf("SLO %+v: want good = check.run pass or warn over all runs", s)
		}
		if len(s.Thresholds) != 1 || s.Thresholds[0].Timeframe != "30d" || s.Thresholds[0].Target != 99.9 {
			t.Errorf("SLO thresholds %+v, want 99.9 over 30d", s.Thresholds)
		}
	}
}
