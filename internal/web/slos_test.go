package web

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// seedSLOHistory writes the seeded history of the document-generation SLO
// (99.9 % of good runs of docs-render and docs-deliver over 30 days), as
// of now = 2025-03-31 12:00 UTC:
//
//   - docs-render runs every 5 minutes from 2025-03-01 12:00 (8640 runs in
//     the window). Six fail: 08:00 to 08:25 on 10 March. Two error: 11:35
//     and 11:40 today. All of 25 March warns (288 runs: warn is good).
//   - docs-deliver runs every 15 minutes from 2025-03-01 12:00 (2880 runs).
//     Three fail: 14:00, 14:15 and 14:30 on 20 March.
//   - One more docs-render run, failing, at 11:55 on 1 March: before the
//     window, so it never counts.
//
// Then retention rolls up every run older than 14 days, so the outage of
// 10 March is counted from the hourly rollups.
func seedSLOHistory(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	start := now.Add(-30 * 24 * time.Hour)
	outage := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	warnDay := time.Date(2025, 3, 25, 0, 0, 0, 0, time.UTC)
	err := st.WithTx(context.Background(), func(tx *store.Tx) error {
		add := func(check string, at time.Time, s checks.Status) error {
			_, err := tx.RecordResult(context.Background(), checks.Result{Check: check, Kind: "sql", Status: s, StartedAt: at})
			return err
		}
		if err := add("docs-render", start.Add(-5*time.Minute), checks.Fail); err != nil {
			return err
		}
		for at := start; at.Before(now); at = at.Add(5 * time.Minute) {
			s := checks.Pass
			switch {
			case !at.Before(outage) && at.Before(outage.Add(30*time.Minute)):
				s = checks.Fail
			case at.Equal(now.Add(-25*time.Minute)) || at.Equal(now.Add(-20*time.Minute)):
				s = checks.Error
			case !at.Before(warnDay) && at.Before(warnDay.Add(24*time.Hour)):
				s = checks.Warn
			}
			if err := add("docs-render", at, s); err != nil {
				return err
			}
		}
		deliverFail := time.Date(2025, 3, 20, 14, 0, 0, 0, time.UTC)
		for at := start; at.Before(now); at = at.Add(15 * time.Minute) {
			s := checks.Pass
			if !at.Before(deliverFail) && at.Before(deliverFail.Add(45*time.Minute)) {
				s = checks.Fail
			}
			if err := add("docs-deliver", at, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prune(context.Background(), now, 14*24*time.Hour); err != nil {
		t.Fatal(err)
	}
}

func sloConfig() *config.Config {
	return &config.Config{
		Checks: []config.Check{{ID: "docs-render", Kind: "sql"}, {ID: "docs-deliver", Kind: "sql"}, {ID: "other", Kind: "sql"}},
		SLOs: []config.SLO{{Name: "document-generation", Objective: 99.9, Window: 30 * 24 * time.Hour, WindowName: "30d",
			Checks: []string{"docs-render", "docs-deliver"}}},
	}
}

// TestSLONumbersByHand computes the document-generation SLO's numbers for
// the seeded history from the definitions (Google SRE workbook, chapter 2
// "Implementing SLOs": SLI = good events / valid events, error budget =
// 1 - SLO; chapter 5 "Alerting on SLOs": burn rate = how fast the budget
// is consumed relative to the SLO, i.e. error rate / (1 - SLO)) and
// compares them with GET /api/v1/slos and the /slos page.
func TestSLONumbersByHand(t *testing.T) {
	f := newFixture(t, sloConfig(), nil)
	f.clock.Add(22 * 24 * time.Hour) // 2025-03-31 12:00 UTC
	now := f.clock.Now()
	seedSLOHistory(t, f.store, now)

	// Runs in [2025-03-01 12:00, 2025-03-31 12:00): 30 days.
	renderRuns := 30.0 * 24 * 12 // every 5 minutes: 8640
	deliverRuns := 30.0 * 24 * 4 // every 15 minutes: 2880
	total := renderRuns + deliverRuns
	bad := 6.0 + 2 + 3 // the outage, today's errors, the deliver failures
	budget := 1 - 99.9/100.0
	attainment := 100 * (total - bad) / total
	budgetLeft := 1 - (bad/total)/budget
	budgetMinutes := budget * 30 * 24 * 60
	// Burn rate per window [now - w, now): runs of both checks, bad ones.
	//   5m:  render 11:55                              -> 1 run, 0 bad
	//   30m: render 11:30..11:55 (6), deliver 11:30, 11:45 (2) -> 8, 2 bad
	//   1h:  render 12, deliver 4                       -> 16, 2 bad
	//   6h:  render 72, deliver 24                      -> 96, 2 bad
	//   24h: render 288, deliver 96                     -> 384, 2 bad
	//   3d:  3 × 384                                    -> 1152, 2 bad
	burn := map[string]float64{
		"5m": 0, "30m": (2.0 / 8) / budget, "1h": (2.0 / 16) / budget, "6h": (2.0 / 96) / budget,
		"24h": (2.0 / 384) / budget, "3d": (2.0 / 1152) / budget,
	}
	t.Logf("by hand: attainment %.6f %%, budget left %.6f %% (%.4f of %.1f minutes), burn rates %v",
		attainment, 100*budgetLeft, budgetLeft*budgetMinutes, budgetMinutes, burn)

	c := f.client()
	var got struct {
		SLOs []struct {
			Name       string
			Attainment float64
			Runs       struct{ Good, Total, Pass, Warn, Fail, Error int64 }
			Budget     struct {
				Minutes     float64 `json:"minutes"`
				LeftMinutes float64 `json:"left_minutes"`
				Left        float64 `json:"left"`
			} `json:"error_budget"`
			BurnRates map[string]float64 `json:"burn_rates"`
			Firing    *string
			Chart     []struct {
				At   time.Time
				Left float64 `json:"budget_left"`
			}
		}
	}
	r := c.get("/api/v1/slos")
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || len(got.SLOs) != 1 {
		t.Fatalf("GET /api/v1/slos: %d %v\n%s", r.StatusCode, err, r.body)
	}
	s := got.SLOs[0]
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("attainment", s.Attainment, attainment)
	near("budget left", s.Budget.Left, budgetLeft)
	near("budget minutes", s.Budget.Minutes, budgetMinutes)
	near("budget left minutes", s.Budget.LeftMinutes, budgetLeft*budgetMinutes)
	for w, want := range burn {
		near("burn rate "+w, s.BurnRates[w], want)
	}
	if s.Runs.Total != int64(total) || s.Runs.Warn != 288 || s.Runs.Fail != 9 || s.Runs.Error != 2 {
		t.Errorf("runs = %+v, want %v in all, 288 warn, 9 fail, 2 error", s.Runs, total)
	}
	// Page: 1h burns 125 but 5m 0: no page. Ticket: 6h 20.8 and 30m 250,
	// both at least 6: a ticket.
	if s.Firing == nil || *s.Firing != "ticket" {
		t.Errorf("firing = %v, want ticket", s.Firing)
	}
	// The chart ends at the budget left now and stepped down by 6/11.52
	// in the hour of the outage.
	if n := len(s.Chart); n != 30*24+1 || !s.Chart[n-1].At.Equal(now) {
		t.Fatalf("chart has %d points ending %v", n, s.Chart[n-1].At)
	}
	near("chart end", s.Chart[len(s.Chart)-1].Left, budgetLeft)
	for i := 1; i < len(s.Chart); i++ {
		drop := s.Chart[i-1].Left - s.Chart[i].Left
		if s.Chart[i].At.Equal(time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)) {
			near("the outage's drop", drop, 6/(budget*total))
		} else if drop < -1e-12 {
			t.Errorf("budget left grows at %s", s.Chart[i].At)
		}
	}

	page := c.get("/slos").body
	for _, want := range []string{
		`id="slo-document-generation"`, "99.904 %", "4.513 %", "1.95 of 43.20 minutes", "250×", "125×", "20.83×", "5.21×", "1.74×",
		`role="img" aria-label="Burn chart: error budget left over the last 30d`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/slos lacks %q", want)
		}
	}
}
