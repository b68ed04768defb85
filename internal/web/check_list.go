package web

import (
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// overviewData is the overview page's Data: the checks grouped by status,
// after the filters.
type overviewData struct {
	Filter   overviewFilter
	Query    string // the filters and ?show= as a query string: the page's own URL
	Filtered bool   // a filter is set (the page offers to clear them)
	Tags     []string
	Owners   []string
	Statuses []string
	Sorts    []durationOption // the sort choices, value and label
	Groups   []checkGroup
	Total    int // configured checks
	Shown    int // checks that pass the filters
	Failing  int // configured checks failing or erroring: the tab title's count
	Poll     string
	// Replicas share a PostgreSQL store's checks (none on SQLite); shown
	// on the full page only, not polled.
	Replicas []replicaRow
}

// overviewFilter is the overview's query: ?q= (a part of the check id),
// ?tag=&owner=&status=, ?sort= and show=passing to list the passing
// checks.
type overviewFilter struct {
	Q, Tag, Owner, Status, Sort string
	ShowPassing                 bool
}

// overviewSorts are the orders of the rows within a group.
var overviewSorts = []durationOption{
	{"", "needs attention"}, {"name", "name"}, {"since", "longest in this status"}, {"owner", "owner"},
}

// collapsesPassing reports whether the passing group is shown as a count
// only: on-call looks for what is broken, and a thousand passing rows
// would bury it. Asking for them (show=passing, status=pass or a search)
// lists them.
func (f overviewFilter) collapsesPassing() bool {
	return !f.ShowPassing && f.Status != "pass" && f.Q == ""
}

// values is the filter as query values, with show=passing when set.
func (f overviewFilter) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Q, "tag": f.Tag, "owner": f.Owner, "status": f.Status, "sort": f.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.ShowPassing {
		q.Set("show", "passing")
	}
	return q
}

// url is the overview's URL for f.
func (f overviewFilter) url() string {
	if q := f.values().Encode(); q != "" {
		return "/?" + q
	}
	return "/"
}

// checkGroup is the checks with one status.
type checkGroup struct {
	Status   string
	Count    int
	Checks   []checkRow    // nil when Collapsed
	RowsHTML template.HTML // the table rows of Checks (overview_rows.go)
	// Collapsed is set on the passing group when it is shown as its count
	// only; ShowURL lists its checks. HideURL, on a listed passing group
	// that can be collapsed, collapses it again.
	Collapsed        bool
	ShowURL, HideURL string
}

// checkRow is one check on the overview.
type checkRow struct {
	ID, Kind, Owner string
	Tags            []string
	Status          string
	Violations      int
	Since           when // the current status began
	LastRun         when
	Incident        *store.Incident
	AckedAt         when
	SilencedUntil   when            // zero when not silenced
	Runbook         string          // the runbook's name, "" for none
	Recent          []checks.Status // the newest runs' statuses, newest first: the history strip
	since           time.Time
}

// attention orders rows by what needs a human first: an incident nobody
// acknowledged, then one someone did, then silenced checks, then the rest.
func (r checkRow) attention() int {
	switch {
	case r.Incident != nil && !r.Incident.Acked() && r.SilencedUntil.IsZero():
		return 0
	case r.Incident != nil && r.SilencedUntil.IsZero():
		return 1
	case !r.SilencedUntil.IsZero():
		return 2
	}
	return 3
}

// overview shows the checks grouped by status (GET
// /?q=&tag=&owner=&status=&sort=&show=passing); htmx polls get
// overview_body, or 204 No Content when they send the version they hold
// (?v=) and nothing but the clock changed.
func (s *Server) overview(c *fiber.Ctx) error {
	data, err := s.overviewData(c)
	if err != nil {
		return err
	}
	return s.renderPolled(c, "overview", "overview_body", data)
}

func (s *Server) overviewData(c *fiber.Ctx) (overviewData, error) {
	ctx := c.UserContext()
	f := overviewFilter{Q: strings.TrimSpace(c.Query("q")), Tag: c.Query("tag"), Owner: c.Query("owner"), Status: c.Query("status"),
		Sort: c.Query("sort"), ShowPassing: c.Query("show") == "passing"}
	if !slices.ContainsFunc(overviewSorts, func(o durationOption) bool { return o.Value == f.Sort }) {
		return overviewData{}, fiber.NewError(fiber.StatusBadRequest, "sort must be name, since or owner")
	}
	sums, err := s.checkSummaries(ctx)
	if err != nil {
		return overviewData{}, err
	}
	data := overviewData{Filter: f, Statuses: statusOrder, Sorts: overviewSorts, Query: f.values().Encode(), Poll: s.pollSeconds(false)}
	data.Filtered = f.Q != "" || f.Tag != "" || f.Owner != "" || f.Status != ""
	tags, owners := map[string]bool{}, map[string]bool{}
	groups := map[string][]checkRow{}
	counts := map[string]int{}
	collapse := f.collapsesPassing()
	vc := s.viewClock(c)
	q := strings.ToLower(f.Q)
	for sum := range sums {
		data.Total++
		c := sum.Check
		for _, t := range c.Tags {
			tags[t] = true
		}
		if c.Owner != "" {
			owners[c.Owner] = true
		}
		if sum.Status == string(checks.Fail) || sum.Status == string(checks.Error) {
			data.Failing++
		}
		if (f.Tag != "" && !slices.Contains(c.Tags, f.Tag)) || (f.Owner != "" && c.Owner != f.Owner) || (f.Status != "" && sum.Status != f.Status) ||
			(q != "" && !strings.Contains(strings.ToLower(c.ID), q)) {
			continue
		}
		data.Shown++
		counts[sum.Status]++
		if collapse && sum.Status == string(checks.Pass) {
			continue
		}
		row := checkRow{
			ID: c.ID, Kind: c.Kind, Owner: c.Owner, Tags: c.Tags, Status: sum.Status, Violations: sum.Violations,
			Since: vc.at(sum.Since), LastRun: vc.at(sum.LastRun.StartedAt), Incident: sum.Incident, Runbook: sum.Runbook, since: sum.Since,
		}
		if sum.Incident != nil {
			row.AckedAt = vc.at(sum.Incident.AckedAt)
		}
		if sum.Silence != nil {
			row.SilencedUntil = vc.at(sum.Silence.Until)
		}
		row.Recent = sum.Recent[:min(len(sum.Recent), stripRuns)]
		groups[sum.Status] = append(groups[sum.Status], row)
	}
	for _, st := range statusOrder {
		n := counts[st]
		if n == 0 {
			continue
		}
		g := checkGroup{Status: st, Count: n, Checks: groups[st]}
		sortRows(g.Checks, f.Sort)
		switch {
		case st == string(checks.Pass) && collapse:
			show := f
			show.ShowPassing = true
			g.Collapsed, g.ShowURL = true, show.url()
		case st == string(checks.Pass) && f.Status != st && f.Q == "":
			hide := f
			hide.ShowPassing = false
			g.HideURL = hide.url()
			fallthrough
		default:
			g.RowsHTML = rowsHTML(g.Checks)
		}
		data.Groups = append(data.Groups, g)
	}
	data.Tags, data.Owners = sortedKeys(tags), sortedKeys(owners)
	if !isHX(c) {
		if data.Replicas, err = s.replicaRows(ctx, vc); err != nil {
			return overviewData{}, err
		}
	}
	return data, nil
}

// sortRows orders a group's rows: by attention (the default), then config
// order; or by name, by how long they have been in their status (longest
// first), or by owner.
func sortRows(rows []checkRow, by string) {
	slices.SortStableFunc(rows, func(a, b checkRow) int {
		switch by {
		case "name":
			return strings.Compare(a.ID, b.ID)
		case "since":
			if a.since.IsZero() != b.since.IsZero() {
				return boolOrder(a.since.IsZero())
			}
			return a.since.Compare(b.since)
		case "owner":
			return strings.Compare(a.Owner, b.Owner)
		}
		return a.attention() - b.attention()
	})
}

// boolOrder sorts false before true.
func boolOrder(b bool) int {
	if b {
		return 1
	}
	return -1
}

// PollURL is what overview_body polls: the page's own URL with its
// version.
func (d overviewData) PollURL() string {
	q := d.Filter.values()
	q.Set("v", versionToken)
	return "/?" + q.Encode()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// statusLabel is a group's heading.
func statusLabel(status string) string {
	switch status {
	case "fail":
		return "Failing (data broken)"
	case "error":
		return "Error (check broken)"
	case "warn":
		return "Warning"
	case "pass":
		return "Passing"
	}
	return "Not run yet"
}

// Label is the group's heading.
func (g checkGroup) Label() string { return statusLabel(g.Status) }

// TagList is the row's tags joined for display.
func (r checkRow) TagList() string { return strings.Join(r.Tags, ", ") }
