// Package statuspage builds the public status page: per group of checks
// and per check a plain-language state, uptime over 24 hours, 7 days and
// 90 days, a 90-day bar of daily status, and the open incidents under
// public titles.
//
// The page carries only what status_page configures (titles, group names,
// public names) and what the store counts (run statuses and times): never
// a violation key or detail, an owner, a tag, a query, a runbook or an
// error text, and a check appears under its public name (its id when it
// has none).
//
// Definitions:
//
//   - State: Operational when the check's latest run passed, Degraded when
//     it warned, Down when it failed or could not run (error), No data
//     before its first run. A group's state is its worst check's.
//   - Uptime over a span: good runs (pass or warn, as the SLOs count them)
//     / all runs started in it. 24 h is the last 24 hours (the current
//     hour and the 23 before it); 7 d and 90 d are the last 7 and 90 UTC
//     days, today included.
//   - A day's status is its worst run's: Down when any run failed or
//     errored, else Degraded when any warned, else Operational; No data
//     without runs.
//   - An open incident's public title is "<public name> is down" ("is
//     degraded" or "is recovering" while its check warns or passes but the
//     incident waits for resolve_after passes); it starts when the check
//     stopped passing.
//
// Counts come from store.RunCounts (raw runs, and hourly rollups of runs
// that retention removed). Days before yesterday and hours before the
// last do not change, so a Builder keeps them: its first build counts 90
// days (seconds on SQLite for a thousand checks), each later one the last
// hour or two. (A run recorded more than an hour after it started shows
// in its day once the day is over.)
package statuspage

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// State is a plain-language status.
type State string

const (
	Operational State = "operational"
	Degraded    State = "degraded"
	Down        State = "down"
	NoData      State = "no_data"
)

// Label is the state as the page words it.
func (s State) Label() string {
	switch s {
	case Operational:
		return "Operational"
	case Degraded:
		return "Degraded"
	case Down:
		return "Down"
	}
	return "No data"
}

// rank orders states from best to worst (no data counts as best: it says
// nothing is wrong, nor right).
func (s State) rank() int {
	switch s {
	case Degraded:
		return 2
	case Down:
		return 3
	case Operational:
		return 1
	}
	return 0
}

// worse returns the worse of two states.
func worse(a, b State) State {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// StateOf is the state of a run status.
func StateOf(s checks.Status) State {
	switch s {
	case checks.Pass:
		return Operational
	case checks.Warn:
		return Degraded
	case "":
		return NoData
	}
	return Down
}

// stateOfCounts is the status of a span of runs: its worst run's.
func stateOfCounts(c store.Counts) State {
	switch {
	case c.Total() == 0:
		return NoData
	case c.Bad() > 0:
		return Down
	case c.Warn > 0:
		return Degraded
	}
	return Operational
}

// Days is how many days the bar shows.
const Days = 90

// Uptime is the share of good runs over the last 24 hours, 7 days and 90
// days, in percent; nil when no run started in the span.
type Uptime struct {
	Day     *float64 `json:"24h"`
	Week    *float64 `json:"7d"`
	Quarter *float64 `json:"90d"`
}

func uptimeOf(c store.Counts) *float64 {
	if c.Total() == 0 {
		return nil
	}
	v := 100 * float64(c.Good()) / float64(c.Total())
	return &v
}

// Day is one day of the bar.
type Day struct {
	Date  string `json:"date"` // YYYY-MM-DD, UTC
	State State  `json:"state"`
	// Uptime is the day's share of good runs, nil without runs.
	Uptime *float64 `json:"uptime"`
}

// Check is one check as the page shows it.
type Check struct {
	Name   string `json:"name"` // its public name
	State  State  `json:"state"`
	Uptime Uptime `json:"uptime"`
	Days   []Day  `json:"days"` // oldest first, today last
}

// Group is one group of checks.
type Group struct {
	Name   string  `json:"name"`
	Slug   string  `json:"slug"` // its badge is /status/badge/<slug>.svg
	State  State   `json:"state"`
	Uptime Uptime  `json:"uptime"`
	Days   []Day   `json:"days"`
	Checks []Check `json:"checks"`
}

// Incident is an open incident under its public title.
type Incident struct {
	Title     string    `json:"title"`
	State     State     `json:"state"`
	StartedAt time.Time `json:"started_at"`
}

// Page is the whole status page.
type Page struct {
	Title     string     `json:"title"`
	State     State      `json:"state"` // the worst group's
	UpdatedAt time.Time  `json:"updated_at"`
	Groups    []Group    `json:"groups"`
	Incidents []Incident `json:"incidents"`
}

// Headline says the page's state in a sentence.
func (p *Page) Headline() string {
	switch p.State {
	case Operational:
		return "All systems operational"
	case Degraded:
		return "Some systems are degraded"
	case Down:
		return "Some systems are down"
	}
	return "No checks have run yet"
}

// Group returns the group with the slug.
func (p *Page) Group(slug string) (Group, bool) {
	for _, g := range p.Groups {
		if g.Slug == slug {
			return g, true
		}
	}
	return Group{}, false
}

// Store is what a Builder reads; *store.Store is one.
type Store interface {
	RunCounts(ctx context.Context, q store.CountQuery) ([]store.BucketCounts, error)
	RecentHistory(ctx context.Context, n int) (map[string]store.CheckHistory, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]store.Incident, error)
}

// MaxAge is how long a built page is served before it is built again.
const MaxAge = 15 * time.Second

// Builder builds the status page. It keeps the counts that cannot change
// any more between builds. Its methods are safe for concurrent use.
type Builder struct {
	st     Store
	cfg    *config.StatusPage
	checks []string // every check of every group, once
	now    func() time.Time

	mu       sync.Mutex                        // held while building
	days     map[int64]map[string]store.Counts // complete days (start, unix seconds) -> check -> runs
	complete time.Time                         // days before this are in days
	hours    map[int64]map[string]store.Counts // settled hours of yesterday and today, likewise
	settled  time.Time                         // hours from yesterday until this are in hours
}

// New returns a builder of the page cfg describes, on the clock now
// (time.Now when nil).
func New(st Store, cfg *config.StatusPage, now func() time.Time) *Builder {
	if now == nil {
		now = time.Now
	}
	b := &Builder{st: st, cfg: cfg, now: now, days: map[int64]map[string]store.Counts{}, hours: map[int64]map[string]store.Counts{}}
	for _, g := range cfg.Groups {
		for _, id := range g.Checks {
			if !slices.Contains(b.checks, id) {
				b.checks = append(b.checks, id)
			}
		}
	}
	return b
}

// Public reports whether the page is served without a login.
func (b *Builder) Public() bool { return b.cfg.Public }

// Build builds the page as of now. Callers share the page and must not
// modify it. Builds run one at a time.
func (b *Builder) Build(ctx context.Context) (*Page, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.build(ctx, b.now())
}
