// Package slo measures service level objectives over check runs: the
// attainment of an SLO over its window, the error budget left, how fast it
// burns, and when that calls for an alert.
//
// Definitions (Google SRE workbook, chapter 2 "Implementing SLOs" and
// chapter 5 "Alerting on SLOs", https://sre.google/workbook/alerting-on-slos/):
//
//   - A run is good when it passes or warns, bad when it fails or could
//     not run (error): the same split as the Datadog SLOs vigil exports
//     (check.run with status pass or warn over all check.run).
//   - Attainment over a window = good runs / all runs.
//   - The error budget is 1 - objective: the share of runs allowed to be
//     bad. Budget left = 1 - (bad runs / all runs) / (1 - objective) over
//     the SLO's window: 100 % untouched, 0 % spent, negative overspent. As
//     time, the window's budget is (1 - objective) × window (43.2 minutes
//     for 99.9 % over 30 days) and what is left is that times budget left.
//   - Burn rate over a window w = (bad runs / all runs over w) /
//     (1 - objective): 1 spends the budget exactly by the end of the
//     SLO's window; 14.4 over 1 hour spends 2 % of a 30-day budget.
//
// Alerts are the workbook's multi-window, multi-burn-rate alerts (its
// recommended table, iteration 6): page when the burn rate is at least 14.4
// over both the last hour and the last 5 minutes; ticket when it is at
// least 6 over both the last 6 hours and the last 30 minutes. The short
// window makes an alert stop soon after the burning stops. See Decide.
package slo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// SLO is an objective for the share of good runs of some checks over a
// rolling window.
type SLO struct {
	Name string
	// Objective is the target share of good runs, in percent (99.9).
	Objective float64
	Window    time.Duration
	// WindowName is the window as configured: "7d", "30d" or "90d".
	WindowName string
	Checks     []string
}

// FromConfig returns the configured SLOs.
func FromConfig(cs []config.SLO) []SLO {
	out := make([]SLO, 0, len(cs))
	for _, c := range cs {
		out = append(out, SLO{Name: c.Name, Objective: c.Objective, Window: c.Window, WindowName: c.WindowName, Checks: c.Checks})
	}
	return out
}

// Budget is the error budget: the share of runs that may be bad
// (1 - objective).
func (s SLO) Budget() float64 { return 1 - s.Objective/100 }

// Window is a span of time ending now over which a burn rate is measured.
type Window struct {
	Name string // "5m", "1h", "3d"
	D    time.Duration
}

// Burn-rate windows: those the alerts use and those the dashboard shows.
var (
	Win5m  = Window{"5m", 5 * time.Minute}
	Win30m = Window{"30m", 30 * time.Minute}
	Win1h  = Window{"1h", time.Hour}
	Win6h  = Window{"6h", 6 * time.Hour}
	Win24h = Window{"24h", 24 * time.Hour}
	Win3d  = Window{"3d", 72 * time.Hour}
	// Windows are every window a Report measures, shortest first.
	Windows = []Window{Win5m, Win30m, Win1h, Win6h, Win24h, Win3d}
	// Shown are the burn rates the dashboard shows.
	Shown = []Window{Win1h, Win6h, Win24h, Win3d}
)

// Severity is how urgent an SLO alert is.
type Severity string

const (
	None   Severity = ""
	Ticket Severity = "ticket"
	Page   Severity = "page"
)

// Rule is a multi-window burn-rate alert: it fires when the burn rate is
// at least Threshold over both Long and Short.
type Rule struct {
	Severity    Severity
	Long, Short Window
	Threshold   float64
}

// Rules are the alerts, most urgent first (the SRE workbook's page and
// ticket thresholds for a 30-day SLO; a burn rate means the same for any
// window).
var Rules = []Rule{
	{Severity: Page, Long: Win1h, Short: Win5m, Threshold: 14.4},
	{Severity: Ticket, Long: Win6h, Short: Win30m, Threshold: 6},
}

// String describes the rule: "burn rate ≥ 14.4 over 1h and 5m".
func (r Rule) String() string {
	return fmt.Sprintf("burn rate ≥ %g over %s and %s", r.Threshold, r.Long.Name, r.Short.Name)
}

// Burn is the burn rate over one window.
type Burn struct {
	Window
	store.Counts
	// Rate is (bad/all)/(1-objective); 0 without runs.
	Rate float64
}

// HasData reports whether any run counted.
func (b Burn) HasData() bool { return b.Total() > 0 }

// Point is the error budget left (a fraction) at a time, for the burn
// chart.
type Point struct {
	At   time.Time
	Left float64
}

// Report is an SLO measured at a moment.
type Report struct {
	SLO
	At time.Time
	// Counts are the runs over the SLO's window.
	store.Counts
	// Attainment is the share of good runs over the window, in percent
	// (100 without runs).
	Attainment float64
	// BudgetLeft is the share of the window's error budget left: 1
	// untouched (and without runs), 0 spent, negative overspent.
	BudgetLeft float64
	// BudgetMinutes is the window's error budget as time:
	// (1 - objective) × window; BudgetLeftMinutes = BudgetLeft × that.
	BudgetMinutes, BudgetLeftMinutes float64
	// Burns holds the burn rate over each of Windows, in that order.
	Burns []Burn
	// Chart is the budget left at the end of each hour of the window
	// (and at At), counting the bad runs from the window's start:
	// 1 - bad so far / (budget × all runs of the window).
	Chart []Point
}

// HasData reports whether any run of the SLO's checks counted in its window.
func (r Report) HasData() bool { return r.Total() > 0 }

// Burn returns the burn over w (the zero Burn when w is not measured).
func (r Report) Burn(w Window) Burn {
	for _, b := range r.Burns {
		if b.Name == w.Name {
			return b
		}
	}
	return Burn{Window: w}
}

// Counter counts runs; *store.Store is one.
type Counter interface {
	RunCounts(ctx context.Context, q store.CountQuery) ([]store.BucketCounts, error)
}

// Measure reports on s at now from the runs c counts.
func Measure(ctx context.Context, c Counter, s SLO, now time.Time) (Report, error) {
	hours, err := c.RunCounts(ctx, store.CountQuery{Checks: s.Checks, From: now.Add(-s.Window), To: now, Bucket: time.Hour})
	if err != nil {
		return Report{}, fmt.Errorf("slo %s: %w", s.Name, err)
	}
	burns, err := measureBurns(ctx, c, s, now, Windows)
	if err != nil {
		return Report{}, err
	}
	return Compute(s, now, hours, burns), nil
}

// MeasureAlerts is Measure of the burn rates the Rules read (5m, 30m, 1h,
// 6h) only: enough for Firing and Decide, and far cheaper than the whole
// window. The report's attainment, budget and chart are those of no runs.
func MeasureAlerts(ctx context.Context, c Counter, s SLO, now time.Time) (Report, error) {
	var ws []Window
	for _, r := range Rules {
		ws = append(ws, r.Long, r.Short)
	}
	burns, err := measureBurns(ctx, c, s, now, ws)
	if err != nil {
		return Report{}, err
	}
	return Compute(s, now, nil, burns), nil
}

func measureBurns(ctx context.Context, c Counter, s SLO, now time.Time, ws []Window) ([]Burn, error) {
	burns := make([]Burn, len(ws))
	for i, w := range ws {
		got, err := c.RunCounts(ctx, store.CountQuery{Checks: s.Checks, From: now.Add(-w.D), To: now})
		if err != nil {
			return nil, fmt.Errorf("slo %s: %w", s.Name, err)
		}
		burns[i].Window = w
		for _, b := range got {
			burns[i].Add(b.Counts)
		}
	}
	return burns, nil
}

// Compute is Measure's arithmetic: hours are the window's runs by hour
// (RunCounts with a one-hour bucket, checks summed), burns the runs of each
// of Windows.
func Compute(s SLO, now time.Time, hours []store.BucketCounts, burns []Burn) Report {
	r := Report{SLO: s, At: now, Attainment: 100, BudgetLeft: 1}
	for _, h := range hours {
		r.Add(h.Counts)
	}
	budget := s.Budget()
	if r.Total() > 0 {
		r.Attainment = 100 * float64(r.Good()) / float64(r.Total())
		r.BudgetLeft = 1 - float64(r.Bad())/float64(r.Total())/budget
	}
	r.BudgetMinutes = budget * s.Window.Minutes()
	r.BudgetLeftMinutes = r.BudgetLeft * r.BudgetMinutes
	for _, b := range burns {
		if b.Total() > 0 {
			b.Rate = float64(b.Bad()) / float64(b.Total()) / budget
		}
		r.Burns = append(r.Burns, b)
	}
	r.Chart = chart(now.Add(-s.Window), now, hours, budget*float64(r.Total()))
	return r
}

// chart is the budget left after each hour from start to end, given the
// budget in runs (allowed bad runs over the window).
func chart(start, end time.Time, hours []store.BucketCounts, allowed float64) []Point {
	left := func(bad int64) float64 {
		if allowed <= 0 {
			return 1
		}
		return 1 - float64(bad)/allowed
	}
	out := []Point{{At: start, Left: 1}}
	var bad int64
	i := 0
	for t := start.Truncate(time.Hour).Add(time.Hour); t.Before(end); t = t.Add(time.Hour) {
		for ; i < len(hours) && hours[i].Start.Before(t); i++ {
			bad += hours[i].Bad()
		}
		out = append(out, Point{At: t, Left: left(bad)})
	}
	for ; i < len(hours); i++ {
		bad += hours[i].Bad()
	}
	return append(out, Point{At: end, Left: left(bad)})
}

// Firing returns the most urgent rule whose long and short windows both
// burn at or above its threshold (false when none does).
func (r Report) Firing() (Rule, bool) {
	for _, rule := range Rules {
		if r.fires(rule) {
			return rule, true
		}
	}
	return Rule{}, false
}

func (r Report) fires(rule Rule) bool {
	long, short := r.Burn(rule.Long), r.Burn(rule.Short)
	return long.HasData() && short.HasData() && long.Rate >= rule.Threshold && short.Rate >= rule.Threshold
}

// below reports whether both of rule's windows burn below its threshold.
func (r Report) below(rule Rule) bool {
	return r.Burn(rule.Long).Rate < rule.Threshold && r.Burn(rule.Short).Rate < rule.Threshold
}

// Action is what an SLO's alert state should do.
type Action int

const (
	Keep     Action = iota // nothing changes
	Open                   // open an incident at Decision.Severity
	Escalate               // raise the open ticket to a page
	Resolve                // resolve the open incident
)

// Decision is Decide's answer.
type Decision struct {
	Action   Action
	Severity Severity // the severity opened or escalated to
	Rule     Rule     // the rule that fired (Open, Escalate)
}

// Decide says what to do with an SLO's alert given its open incident's
// severity (None when it has none) and a fresh report:
//
//   - without an incident, a firing rule opens one at its severity;
//   - a ticket escalates to a page when the page rule fires;
//   - an incident resolves when both windows of its own rule burn below
//     the rule's threshold and no rule fires. Between firing and clearing
//     (one window above, one below) nothing changes, so an SLO near a
//     threshold does not flap: one message when it opens, one if it
//     escalates, one when it resolves.
func Decide(open Severity, r Report) Decision {
	rule, firing := r.Firing()
	switch {
	case open == None && firing:
		return Decision{Action: Open, Severity: rule.Severity, Rule: rule}
	case open == Ticket && firing && rule.Severity == Page:
		return Decision{Action: Escalate, Severity: Page, Rule: rule}
	case open != None && !firing && r.below(ruleOf(open)):
		return Decision{Action: Resolve}
	}
	return Decision{Action: Keep}
}

// ruleOf is the rule of a severity (the page rule for any unknown one).
func ruleOf(s Severity) Rule {
	for _, r := range Rules {
		if r.Severity == s {
			return r
		}
	}
	return Rules[0]
}

// Rates returns the burn rates by window name, for storing with an
// incident.
func (r Report) Rates() map[string]float64 {
	out := make(map[string]float64, len(r.Burns))
	for _, b := range r.Burns {
		out[b.Name] = b.Rate
	}
	return out
}

// Percent formats a percentage with at most 3 decimals, rounded down so
// that it never overstates (99.9996 is "99.999 %", not "100 %"); a
// millionth of a percent of float error is forgiven (-49900 % stays so).
func Percent(v float64) string {
	s := strconv.FormatFloat(math.Floor(v*1000+1e-3)/1000, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s + " %"
}
