package web

import (
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// overviewData is the overview page's Data: the checks grouped by status,
// after the filters.
type overviewData struct {
	Filter   overviewFilter
	Query    string // the filters as a query string, for the poll URL
	Tags     []string
	Owners   []string
	Statuses []string
	Groups   []checkGroup
	Total    int // configured checks
	Shown    int // checks that pass the filters
	Pinged   bool
}

// overviewFilter is the overview's query: ?tag=&owner=&status=.
type overviewFilter struct {
	Tag, Owner, Status string
}

// checkGroup is the checks with one status.
type checkGroup struct {
	Status   string
	Checks   []checkRow
	RowsHTML template.HTML // the table rows of Checks (overview_rows.go)
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

// overview shows the checks grouped by status (GET /?tag=&owner=&status=);
// htmx polls get overview_body.
func (s *Server) overview(c *fiber.Ctx) error {
	data, err := s.overviewData(c)
	if err != nil {
		return err
	}
	return s.render(c, "overview", "overview_body", data)
}

func (s *Server) overviewData(c *fiber.Ctx) (overviewData, error) {
	ctx := c.UserContext()
	f := overviewFilter{Tag: c.Query("tag"), Owner: c.Query("owner"), Status: c.Query("status")}
	sums, err := s.checkSummaries(ctx)
	if err != nil {
		return overviewData{}, err
	}
	data := overviewData{Filter: f, Statuses: statusOrder, Total: len(sums)}
	q := url.Values{}
	for k, v := range map[string]string{"tag": f.Tag, "owner": f.Owner, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	data.Query = q.Encode()
	tags, owners := map[string]bool{}, map[string]bool{}
	groups := map[string][]checkRow{}
	now := s.now()
	for _, sum := range sums {
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
		row := checkRow{
			ID: c.ID, Kind: c.Kind, Owner: c.Owner, Tags: c.Tags, Status: sum.Status, Violations: sum.Violations,
			Since: at(sum.Since, now), LastRun: at(sum.LastRun.StartedAt, now), Incident: sum.Incident,
		}
		if sum.Silence != nil {
			row.SilencedUntil = at(sum.Silence.Until, now)
		}
		row.Recent = sum.Recent[:min(len(sum.Recent), stripRuns)]
		groups[sum.Status] = append(groups[sum.Status], row)
		data.Shown++
	}
	for _, st := range statusOrder {
		if len(groups[st]) > 0 {
			data.Groups = append(data.Groups, checkGroup{Status: st, Checks: groups[st], RowsHTML: rowsHTML(groups[st])})
		}
	}
	data.Tags, data.Owners = sortedKeys(tags), sortedKeys(owners)
	return data, nil
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
