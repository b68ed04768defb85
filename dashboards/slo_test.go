package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/dashboards"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/datadog"
	"github.com/vigilhq/vigil/internal/notify/datadog/datadogtest"
	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

var configSLOs = []dashboards.SLO{
	{Name: "document-generation", Objective: 99.99, Window: "30d", Checks: []string{"docs-render", "docs-deliver"}},
	{Name: "quotes", Objective: 99.5, Window: "7d", Checks: []string{"quote-api"}},
}

func exportedSLOs(t *testing.T, ns string) []json.RawMessage {
	t.Helper()
	out, err := dashboards.Export(ns, configSLOs...)
	if err != nil {
		t.Fatal(err)
	}
	var doc exported
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	base := export(t, ns).SLOs
	if len(doc.SLOs) != len(base)+len(configSLOs) {
		t.Fatalf("export has %d SLOs, want the %d of slos.json and %d configured", len(doc.SLOs), len(base), len(configSLOs))
	}
	return doc.SLOs[len(base):]
}

// TestConfiguredSLOsDecodeIntoDatadogModels: each configured SLO is a
// metric SLO request Datadog's API client reads with nothing left over,
// with the configured objective as target over the configured timeframe,
// and filters in the functional boolean syntax only
// (https://docs.datadoghq.com/metrics/advanced-filtering/#boolean-filtered-queries).
func TestConfiguredSLOsDecodeIntoDatadogModels(t *testing.T) {
	for i, raw := range exportedSLOs(t, "acme") {
		var s datadogV1.ServiceLevelObjectiveRequest
		strict(t, configSLOs[i].Name, raw, &s)
		want := configSLOs[i]
		if s.Type != datadogV1.SLOTYPE_METRIC || s.Name != "vigil: "+want.Name || len(s.Thresholds) != 1 ||
			string(s.Thresholds[0].Timeframe) != want.Window || s.Thresholds[0].Target != want.Objective {
			t.Errorf("SLO %s = %+v", want.Name, s)
		}
		for _, q := range []string{s.Query.Numerator, s.Query.Denominator} {
			for _, m := range filterRE.FindAllStringSubmatch(q, -1) {
				if functionalRE.MatchString(m[1]) && strings.ContainsAny(m[1], ",!") {
					t.Errorf("filter {%s} mixes ',' or '!' with AND/OR", m[1])
				}
			}
			if !strings.HasPrefix(q, "sum:acme.check.run{") || !strings.HasSuffix(q, "}.as_count()") {
				t.Errorf("query %q: want sum:acme.check.run{...}.as_count()", q)
			}
		}
	}
}

// matches evaluates a Datadog boolean tag filter (tag, AND, OR,
// parentheses; AND binds tighter than OR) against a metric's tags.
func matches(t *testing.T, filter string, tags map[string]bool) bool {
	t.Helper()
	toks := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(filter))
	pos := 0
	var or func() bool
	unary := func() bool {
		tok := toks[pos]
		pos++
		if tok == "(" {
			v := or()
			if toks[pos] != ")" {
				t.Fatalf("filter %q: want ) at %d", filter, pos)
			}
			pos++
			return v
		}
		return tags[tok]
	}
	and := func() bool {
		v := unary()
		for pos < len(toks) && toks[pos] == "AND" {
			pos++
			v = unary() && v
		}
		return v
	}
	or = func() bool {
		v := and()
		for pos < len(toks) && toks[pos] == "OR" {
			pos++
			v = and() || v
		}
		return v
	}
	v := or()
	if pos != len(toks) {
		t.Fatalf("filter %q: trailing %v", filter, toks[pos:])
	}
	return v
}

var queryRE = regexp.MustCompile(`^sum:([\w.]+)\{(.*)\}\.as_count\(\)$`)

// TestExportedSLOAgreesWithVigil sends runs through the real Datadog sink
// to a DogStatsD socket, sums the check.run counts the exported SLO's
// numerator and denominator select (as Datadog would: a count metric's
// points whose tags match the filter), and compares good/total with what
// vigil measures for the same runs.
func TestExportedSLOAgreesWithVigil(t *testing.T) {
	l := datadogtest.Listen(t)
	sink, err := datadog.New(datadog.Options{Addr: l.Addr(), Namespace: "acme", AggregationInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	statuses := []checks.Status{checks.Pass, checks.Warn, checks.Fail, checks.Error, checks.Pass, checks.Pass}
	want := map[string]store.Counts{} // per SLO, by vigil's definitions
	for i := range 240 {
		for _, id := range []string{"docs-render", "docs-deliver", "quote-api", "other"} {
			st := statuses[(i*7+len(id))%len(statuses)]
			ev := engine.Event{Check: engine.CheckInfo{ID: id, Kind: "sql", Owner: "team-x", Tags: []string{"team:docs"}}, Result: checks.Result{Status: st, DurationMS: 1}}
			if err := sink.Observe(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			for _, s := range configSLOs {
				for _, c := range s.Checks {
					if c == id {
						got := want[s.Name]
						got.Add(countOf(st))
						want[s.Name] = got
					}
				}
			}
		}
	}
	if err := sink.Flush(); err != nil {
		t.Fatal(err)
	}
	type point struct {
		value float64
		tags  map[string]bool
	}
	var points []point
	for _, line := range l.Take(100 * time.Millisecond) {
		name, rest, _ := strings.Cut(line, ":")
		if name != "acme.check.run" {
			continue
		}
		value, tags, _ := strings.Cut(rest, "|#")
		v, err := strconv.ParseFloat(strings.TrimSuffix(value, "|c"), 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		p := point{value: v, tags: map[string]bool{}}
		for tag := range strings.SplitSeq(tags, ",") {
			p.tags[tag] = true
		}
		points = append(points, p)
	}
	if len(points) == 0 {
		t.Fatal("no check.run points")
	}
	for i, raw := range exportedSLOs(t, "acme") {
		def := configSLOs[i]
		var s struct {
			Query struct{ Numerator, Denominator string }
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		sum := func(q string) float64 {
			m := queryRE.FindStringSubmatch(q)
			if m == nil || m[1] != "acme.check.run" {
				t.Fatalf("query %q", q)
			}
			total := 0.0
			for _, p := range points {
				if matches(t, m[2], p.tags) {
					total += p.value
				}
			}
			return total
		}
		good, all := sum(s.Query.Numerator), sum(s.Query.Denominator)
		w := want[def.Name]
		if good != float64(w.Good()) || all != float64(w.Total()) {
			t.Errorf("%s: Datadog counts %v good of %v, vigil %d of %d", def.Name, good, all, w.Good(), w.Total())
		}
		// vigil's attainment for the same runs.
		r := slo.Compute(slo.SLO{Name: def.Name, Objective: def.Objective, Window: 7 * 24 * time.Hour}, time.Now(), []store.BucketCounts{{Counts: w}}, nil)
		if math.Abs(100*good/all-r.Attainment) > 1e-9 {
			t.Errorf("%s: Datadog's SLI %v %%, vigil's attainment %v %%", def.Name, 100*good/all, r.Attainment)
		}
	}
}

func countOf(s checks.Status) store.Counts {
	switch s {
	case checks.Pass:
		return store.Counts{Pass: 1}
	case checks.Warn:
		return store.Counts{Warn: 1}
	case checks.Fail:
		return store.Counts{Fail: 1}
	}
	return store.Counts{Error: 1}
}

func TestSLOQueries(t *testing.T) {
	good, all := dashboards.SLOQueries("vigil", []string{"a", "b"})
	if good != "sum:vigil.check.run{(check:a OR check:b) AND (status:pass OR status:warn)}.as_count()" || all != "sum:vigil.check.run{check:a OR check:b}.as_count()" {
		t.Errorf("queries %q / %q", good, all)
	}
	good, _ = dashboards.SLOQueries("vigil", []string{"a"})
	if want := "sum:vigil.check.run{check:a AND (status:pass OR status:warn)}.as_count()"; good != want {
		t.Errorf("one check: %q, want %q", good, want)
	}
}
