package slo_test

import (
	"math"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

var now = time.Date(2025, 6, 30, 12, 30, 0, 0, time.UTC)

// report builds a report for a 99.9 % SLO whose burn windows saw bad of
// every 1000 runs, by window name.
func report(bad map[string]int64) slo.Report {
	s := slo.SLO{Name: "x", Objective: 99.9, Window: 30 * 24 * time.Hour, WindowName: "30d"}
	var burns []slo.Burn
	for _, w := range slo.Windows {
		b := bad[w.Name]
		burns = append(burns, slo.Burn{Window: w, Counts: store.Counts{Pass: 1000 - b, Fail: b}})
	}
	return slo.Compute(s, now, nil, burns)
}

// TestDecide follows the SRE workbook's multi-window, multi-burn-rate
// alerts (https://sre.google/workbook/alerting-on-slos/, "6: Multiwindow,
// Multi-Burn-Rate Alerts"): with a 99.9 % objective the budget is 0.1 %, so
// a burn rate of 14.4 is 14.4 bad runs in 1000, and 6 is 6 in 1000.
func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		open slo.Severity
		bad  map[string]int64 // bad runs of 1000 per window
		want slo.Decision
	}{
		{name: "quiet", bad: map[string]int64{}, want: slo.Decision{Action: slo.Keep}},
		{name: "page: 1h and 5m at 14.4", bad: map[string]int64{"1h": 15, "5m": 15},
			want: slo.Decision{Action: slo.Open, Severity: slo.Page, Rule: slo.Rules[0]}},
		{name: "no page on the long window alone", bad: map[string]int64{"1h": 500, "5m": 14},
			want: slo.Decision{Action: slo.Keep}},
		{name: "no page on the short window alone", bad: map[string]int64{"1h": 14, "5m": 1000},
			want: slo.Decision{Action: slo.Keep}},
		{name: "ticket: 6h and 30m at 6", bad: map[string]int64{"6h": 6, "30m": 6},
			want: slo.Decision{Action: slo.Open, Severity: slo.Ticket, Rule: slo.Rules[1]}},
		{name: "page wins over ticket", bad: map[string]int64{"1h": 20, "5m": 20, "6h": 20, "30m": 20},
			want: slo.Decision{Action: slo.Open, Severity: slo.Page, Rule: slo.Rules[0]}},
		{name: "ticket escalates", open: slo.Ticket, bad: map[string]int64{"1h": 20, "5m": 20, "6h": 20, "30m": 20},
			want: slo.Decision{Action: slo.Escalate, Severity: slo.Page, Rule: slo.Rules[0]}},
		{name: "open page stays while ticket fires", open: slo.Page, bad: map[string]int64{"6h": 7, "30m": 7},
			want: slo.Decision{Action: slo.Keep}},
		{name: "open page stays while its long window burns", open: slo.Page, bad: map[string]int64{"1h": 15},
			want: slo.Decision{Action: slo.Keep}},
		{name: "page resolves when both windows fall below", open: slo.Page, bad: map[string]int64{"1h": 14, "5m": 0, "6h": 100},
			want: slo.Decision{Action: slo.Resolve}},
		{name: "ticket stays while its long window burns", open: slo.Ticket, bad: map[string]int64{"6h": 6, "30m": 0},
			want: slo.Decision{Action: slo.Keep}},
		{name: "ticket resolves", open: slo.Ticket, bad: map[string]int64{"6h": 5, "30m": 5, "1h": 14},
			want: slo.Decision{Action: slo.Resolve}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slo.Decide(tt.open, report(tt.bad)); got != tt.want {
				t.Errorf("Decide(%q) = %+v, want %+v", tt.open, got, tt.want)
			}
		})
	}
}

// TestNoAlertWithoutRuns: a window without runs burns nothing.
func TestNoAlertWithoutRuns(t *testing.T) {
	r := slo.Compute(slo.SLO{Name: "x", Objective: 99.9, Window: 7 * 24 * time.Hour}, now, nil, []slo.Burn{{Window: slo.Win1h}, {Window: slo.Win5m}})
	if r.HasData() || r.Attainment != 100 || r.BudgetLeft != 1 || r.Burn(slo.Win1h).Rate != 0 {
		t.Errorf("empty report = %+v", r)
	}
	if d := slo.Decide(slo.None, r); d.Action != slo.Keep {
		t.Errorf("Decide on no data = %+v", d)
	}
}

// TestChart: the budget left falls at each hour by the bad runs of that
// hour, out of the window's budget in runs (budget × all runs).
func TestChart(t *testing.T) {
	s := slo.SLO{Name: "x", Objective: 90, Window: 7 * 24 * time.Hour}
	start := now.Add(-s.Window) // 12:30, seven days ago
	h := func(d time.Duration, pass, fail int64) store.BucketCounts {
		return store.BucketCounts{Start: start.Truncate(time.Hour).Add(d), Counts: store.Counts{Pass: pass, Fail: fail}}
	}
	// 200 runs, 10 % may be bad: 20. Bad: 5 in the partial first hour
	// (12:00, counted from 12:30), 10 at 15:00 the next day.
	r := slo.Compute(s, now, []store.BucketCounts{h(0, 45, 5), h(27*time.Hour, 140, 10)}, nil)
	if r.Total() != 200 || math.Abs(r.BudgetLeft-0.25) > 1e-12 {
		t.Fatalf("total %d, budget left %v; want 200, 0.25", r.Total(), r.BudgetLeft)
	}
	if n := len(r.Chart); n != 7*24+2 {
		t.Errorf("chart has %d points, want one per hour boundary plus both ends (%d)", n, 7*24+2)
	}
	want := map[time.Time]float64{start: 1, start.Add(30 * time.Minute): 0.75, start.Add(26*time.Hour + 30*time.Minute): 0.75, start.Add(27*time.Hour + 30*time.Minute): 0.25, now: 0.25}
	for _, p := range r.Chart {
		if w, ok := want[p.At]; ok && math.Abs(p.Left-w) > 1e-12 {
			t.Errorf("left at %s = %v, want %v", p.At, p.Left, w)
		}
	}
}

func TestPercent(t *testing.T) {
	for v, want := range map[float64]string{99.9: "99.9 %", 99.99962: "99.999 %", 100: "100 %", 0: "0 %", -12.5: "-12.5 %", 33.3333: "33.333 %", 100 * (1 - 0.5/0.001): "-49900 %"} {
		if got := slo.Percent(v); got != want {
			t.Errorf("Percent(%v) = %q, want %q", v, got, want)
		}
	}
}
