package web

import (
	"hash/maphash"
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

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
	// Version identifies what overview_body shows. The poll sends it back
	// as ?v=, and gets 204 No Content (htmx keeps the page) while it holds.
	Version  string
	Tags     []string
	Owners   []string
	Statuses []string
	Groups   []checkGroup
	Total    int // configured checks
	Shown    int // checks that pass the filters
	// Replicas share a PostgreSQL store's checks (none on SQLite); shown
	// on the full page only, not polled.
	Replicas []replicaRow
}

// overviewFilter is the overview's query: ?tag=&owner=&status=, and
// show=passing to list the passing checks.
type overviewFilter struct {
	Tag, Owner, Status string
	ShowPassing        bool
}

// collapsesPassing reports whether the passing group is shown as a count
// only: on-call looks for what is broken, and a thousand passing rows
// would bury it. Asking for them (show=passing or status=pass) lists them.
func (f overviewFilter) collapsesPassing() bool {
	return !f.ShowPassing && f.Status != "pass"
}

// values is the filter as query values, with show=passing when set.
func (f overviewFilter) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"tag": f.Tag, "owner": f.Owner, "status": f.Status} {
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
	SilencedUntil   when            // Ago is "" when not silenced
	Recent          []checks.Status // the newest runs' statuses, newest first: the history strip
}

// overview shows the checks grouped by status (GET
// /?tag=&owner=&status=&show=passing); htmx polls get overview_body, or
// 204 No Content when they send the Version they hold (?v=) and it still
// holds.
func (s *Server) overview(c *fiber.Ctx) error {
	data, err := s.overviewData(c)
	if err != nil {
		return err
	}
	if v := c.Query("v"); v != "" && v == data.Version && isHX(c) {
		c.Vary("HX-Request")
		return c.SendStatus(fiber.StatusNoContent)
	}
	return s.render(c, "overview", "overview_body", data)
}

func (s *Server) overviewData(c *fiber.Ctx) (overviewData, error) {
	ctx := c.UserContext()
	f := overviewFilter{Tag: c.Query("tag"), Owner: c.Query("owner"), Status: c.Query("status"), ShowPassing: c.Query("show") == "passing"}
	sums, err := s.checkSummaries(ctx)
	if err != nil {
		return overviewData{}, err
	}
	data := overviewData{Filter: f, Statuses: statusOrder, Query: f.values().Encode()}
	data.Filtered = f.Tag != "" || f.Owner != "" || f.Status != ""
	tags, owners := map[string]bool{}, map[string]bool{}
	groups := map[string][]checkRow{}
	counts := map[string]int{}
	collapse := f.collapsesPassing()
	now := s.now()
	for sum := range sums {
		data.Total++
		c := sum.Check
		for _, t := range c.Tags {
			tags[t] = true
		}
		if c.Owner != "" {
			owners[c.Owner] = true
		}
		if (f.Tag != "" && !slices.Contains(c.Tags, f.Tag)) || (f.Owner != "" && c.Owner != f.Owner) || (f.Status != "" && sum.Status != f.Status) {
			continue
		}
		data.Shown++
		counts[sum.Status]++
		if collapse && sum.Status == string(checks.Pass) {
			continue
		}
		row := checkRow{
			ID: c.ID, Kind: c.Kind, Owner: c.Owner, Tags: c.Tags, Status: sum.Status, Violations: sum.Violations,
			Since: at(sum.Since, now), LastRun: at(sum.LastRun.StartedAt, now), Incident: sum.Incident,
		}
		if sum.Silence != nil {
			row.SilencedUntil = at(sum.Silence.Until, now)
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
		switch {
		case st == string(checks.Pass) && collapse:
			show := f
			show.ShowPassing = true
			g.Collapsed, g.ShowURL = true, show.url()
		case st == string(checks.Pass) && f.Status != st:
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
	data.Version = data.version(s.versionSeed)
	if !isHX(c) {
		if data.Replicas, err = s.replicaRows(ctx); err != nil {
			return overviewData{}, err
		}
	}
	return data, nil
}

// version hashes what overview_body shows that can change between two
// requests for one URL: the counts, each group's heading and rows. (The
// rest of overview_body is fixed by the URL.) Anything overview_body comes
// to show must be hashed here, or a poll keeps showing the old page.
// Versions are this process's own (seed): a poll that reaches another
// replica, or a restarted one, gets the whole partial.
func (d overviewData) version(seed maphash.Seed) string {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(strconv.Itoa(d.Total) + " " + strconv.Itoa(d.Shown) + " " + d.Query)
	for _, g := range d.Groups {
		h.WriteString("\n" + g.Status + " " + strconv.Itoa(g.Count) + " " + strconv.FormatBool(g.Collapsed) + "\n")
		h.WriteString(string(g.RowsHTML))
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// PollURL is what overview_body polls: the page's own URL with its
// Version.
func (d overviewData) PollURL() string {
	q := d.Filter.values()
	q.Set("v", d.Version)
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
