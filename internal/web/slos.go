package web

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

// sloRecentIncidents is how many past alerts the SLO page lists per SLO.
const sloRecentIncidents = 5

// sloReport is one SLO measured now, with its alert.
type sloReport struct {
	slo.Report
	Open   store.SLOIncident   // zero when no alert is open
	Recent []store.SLOIncident // newest first
}

// sloReports measures every configured SLO at now.
func (s *Server) sloReports(ctx context.Context, now time.Time) ([]sloReport, error) {
	out := make([]sloReport, 0, len(s.slos))
	for _, def := range s.slos {
		r, err := slo.Measure(ctx, s.store, def, now)
		if err != nil {
			return nil, err
		}
		recent, err := s.store.SLOIncidents(ctx, def.Name, false, sloRecentIncidents)
		if err != nil {
			return nil, err
		}
		rep := sloReport{Report: r, Recent: recent}
		if len(recent) > 0 && recent[0].Open() {
			rep.Open = recent[0]
		}
		out = append(out, rep)
	}
	return out, nil
}

// sloList shows every SLO: attainment, error budget, burn rates, a burn
// chart and its alert (GET /slos).
func (s *Server) sloList(c *fiber.Ctx) error {
	vc := s.viewClock(c)
	reports, err := s.sloReports(c.UserContext(), vc.now)
	if err != nil {
		return err
	}
	views := make([]sloView, len(reports))
	for i, r := range reports {
		views[i] = newSLOView(r, vc)
	}
	return s.render(c, "slos", "", views)
}

// apiSLOs answers GET /api/v1/slos: {"slos": [...]} (see apiSLO).
func (s *Server) apiSLOs(c *fiber.Ctx) error {
	reports, err := s.sloReports(c.UserContext(), s.now())
	if err != nil {
		return err
	}
	out := make([]apiSLO, len(reports))
	for i, r := range reports {
		out[i] = newAPISLO(r)
	}
	return c.JSON(fiber.Map{"slos": out})
}

// apiSLO is an SLO in the JSON API. Attainment is null without runs in
// the window; budget left is a fraction (1 untouched, negative
// overspent); burn rates are by window ("5m" ... "3d"), 0 without runs.
type apiSLO struct {
	Name       string             `json:"name"`
	Objective  float64            `json:"objective"`
	Window     string             `json:"window"`
	Checks     []string           `json:"checks"`
	At         time.Time          `json:"at"`
	Runs       apiRuns            `json:"runs"`
	Attainment *float64           `json:"attainment"`
	Budget     apiBudget          `json:"error_budget"`
	BurnRates  map[string]float64 `json:"burn_rates"`
	// Firing is the most urgent rule firing now ("page", "ticket" or null);
	// Alert is the open SLO alert (null when none).
	Firing *string          `json:"firing"`
	Alert  *apiSLOIncident  `json:"alert"`
	Recent []apiSLOIncident `json:"recent_alerts"`
	Chart  []apiChartPoint  `json:"chart"`
}

type apiRuns struct {
	Good  int64 `json:"good"`
	Total int64 `json:"total"`
	Pass  int64 `json:"pass"`
	Warn  int64 `json:"warn"`
	Fail  int64 `json:"fail"`
	Error int64 `json:"error"`
}

type apiBudget struct {
	Minutes     float64 `json:"minutes"`      // (1 - objective) × window
	LeftMinutes float64 `json:"left_minutes"` // Left × Minutes
	Left        float64 `json:"left"`         // fraction
}

type apiSLOIncident struct {
	ID          int64              `json:"id"`
	Severity    string             `json:"severity"`
	OpenedAt    time.Time          `json:"opened_at"`
	EscalatedAt *time.Time         `json:"escalated_at"`
	ResolvedAt  *time.Time         `json:"resolved_at"`
	BurnRates   map[string]float64 `json:"burn_rates"`
}

type apiChartPoint struct {
	At   time.Time `json:"at"`
	Left float64   `json:"budget_left"`
}

func newAPISLO(r sloReport) apiSLO {
	a := apiSLO{
		Name: r.Name, Objective: r.Objective, Window: r.WindowName, Checks: r.Checks, At: r.At.UTC(),
		Runs:      apiRuns{Good: r.Good(), Total: r.Total(), Pass: r.Pass, Warn: r.Warn, Fail: r.Fail, Error: r.Error},
		Budget:    apiBudget{Minutes: r.BudgetMinutes, LeftMinutes: r.BudgetLeftMinutes, Left: r.BudgetLeft},
		BurnRates: r.Rates(), Recent: []apiSLOIncident{}, Chart: make([]apiChartPoint, len(r.Chart)),
	}
	if a.Checks == nil {
		a.Checks = []string{}
	}
	if r.HasData() {
		v := r.Attainment
		a.Attainment = &v
	}
	if rule, ok := r.Firing(); ok {
		sev := string(rule.Severity)
		a.Firing = &sev
	}
	if r.Open.ID != 0 {
		in := newAPISLOIncident(r.Open)
		a.Alert = &in
	}
	for _, in := range r.Recent {
		a.Recent = append(a.Recent, newAPISLOIncident(in))
	}
	for i, p := range r.Chart {
		a.Chart[i] = apiChartPoint{At: p.At.UTC(), Left: p.Left}
	}
	return a
}

func newAPISLOIncident(in store.SLOIncident) apiSLOIncident {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return apiSLOIncident{ID: in.ID, Severity: in.Severity, OpenedAt: in.OpenedAt, EscalatedAt: opt(in.EscalatedAt), ResolvedAt: opt(in.ResolvedAt), BurnRates: in.BurnRates}
}

// sloView is one SLO on the /slos page.
type sloView struct {
	Name, Objective, Window string
	Checks                  []string
	HasData                 bool
	Attainment              string
	Good, Total             int64
	BudgetLeft              string // "34.5 %"
	BudgetLeftMinutes       string // "14.9 of 43.2 minutes"
	Overspent               bool
	Burns                   []sloBurnView
	Alert                   *sloAlertView
	Recent                  []sloAlertView
	Chart                   sloChart
}

type sloBurnView struct {
	Window, Rate string
	Runs         int64
	// Over is the rule this window belongs to when the rate is at or
	// above its threshold ("page", "ticket"), for emphasis.
	Over string
}

type sloAlertView struct {
	Severity string
	Opened   when
	Resolved when
	Open     bool
}

func newSLOView(r sloReport, vc viewClock) sloView {
	v := sloView{
		Name: r.Name, Objective: slo.Percent(r.Objective), Window: r.WindowName, Checks: r.Checks,
		HasData: r.HasData(), Attainment: "—", Good: r.Good(), Total: r.Total(),
		BudgetLeft:        slo.Percent(100 * r.BudgetLeft),
		BudgetLeftMinutes: fmt.Sprintf("%s of %s minutes", minutes(r.BudgetLeftMinutes), minutes(r.BudgetMinutes)),
		Overspent:         r.BudgetLeft < 0,
		Chart:             newSLOChart(r.Report),
	}
	if r.HasData() {
		v.Attainment = slo.Percent(r.Attainment)
	}
	for _, b := range r.Burns {
		bv := sloBurnView{Window: b.Name, Rate: "—", Runs: b.Total()}
		if b.HasData() {
			bv.Rate = burnText(b.Rate)
		}
		for _, rule := range slo.Rules {
			if (rule.Long.Name == b.Name || rule.Short.Name == b.Name) && b.HasData() && b.Rate >= rule.Threshold {
				bv.Over = string(rule.Severity)
			}
		}
		v.Burns = append(v.Burns, bv)
	}
	if r.Open.ID != 0 {
		a := newSLOAlertView(r.Open, vc)
		v.Alert = &a
	}
	for _, in := range r.Recent {
		v.Recent = append(v.Recent, newSLOAlertView(in, vc))
	}
	return v
}

func newSLOAlertView(in store.SLOIncident, vc viewClock) sloAlertView {
	return sloAlertView{Severity: in.Severity, Opened: vc.at(in.OpenedAt), Resolved: vc.at(in.ResolvedAt), Open: in.Open()}
}

// minutes writes a number of minutes with two decimals.
func minutes(m float64) string { return fmt.Sprintf("%.2f", m) }

// burnText writes a burn rate: "0.25×", "14.4×", "1000×".
func burnText(r float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", r), "0"), ".") + "×"
}

// sloChart is the burn chart: the error budget left over the window, as
// an SVG polyline from 100 % at the window's start down to what is left
// now (below the zero line when overspent).
type sloChart struct {
	Label   string
	ViewBox string
	Points  string // the polyline's points
	ZeroY   int    // the 0 % line
	W, H    int
	// Bottom labels the chart's bottom when the budget went below 0.
	Bottom     string
	Start, End string
}

const (
	chartW = 720
	chartH = 160
)

// chartLow is the lowest budget left the chart draws (-100 %): an
// overspent budget below it runs along the chart's bottom.
const chartLow = -1.0

func newSLOChart(r slo.Report) sloChart {
	low := 0.0
	for _, p := range r.Chart {
		low = min(low, p.Left)
	}
	low = max(low, chartLow)
	span := 1 - low
	y := func(left float64) float64 { return (1 - max(left, low)) / span * chartH }
	start := r.At.Add(-r.Window)
	var b strings.Builder
	for i, p := range r.Chart {
		if i > 0 {
			b.WriteByte(' ')
		}
		x := float64(p.At.Sub(start)) / float64(r.Window) * chartW
		fmt.Fprintf(&b, "%.1f,%.1f", x, y(p.Left))
	}
	left := r.BudgetLeft
	c := sloChart{
		Label: fmt.Sprintf("Burn chart: error budget left over the last %s, from 100 %% at %s to %s now",
			r.WindowName, start.UTC().Format("2 Jan 15:04 UTC"), slo.Percent(100*left)),
		ViewBox: fmt.Sprintf("-56 -10 %d %d", chartW+64, chartH+20),
		Points:  b.String(), ZeroY: int(math.Round(y(0))), W: chartW, H: chartH,
		Start: start.UTC().Format("2 Jan"), End: "now",
	}
	if low < 0 {
		c.Bottom = slo.Percent(100 * low)
		if low == chartLow {
			c.Bottom = "≤ " + c.Bottom
		}
	}
	return c
}
