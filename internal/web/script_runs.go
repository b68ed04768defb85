package web

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// scriptRunsData is the script log page's Data.
type scriptRunsData struct {
	Filter   scriptRunFilter
	Statuses []scriptlog.Status // the status choices of the form
	Runs     []scriptlog.Record
	Error    string // a search parameter that cannot be read
	// Older is the URL of the next page (the same search, older runs);
	// empty on the last page.
	Older string
}

// scriptRuns shows the script log (GET /script-runs): a search form over
// actor, purpose, ticket, target, text, status and dates, and the matching
// runs, newest first. htmx searches get script_runs_results.
func (s *Server) scriptRuns(c *fiber.Ctx) error {
	data := scriptRunsData{Statuses: []scriptlog.Status{scriptlog.Running, scriptlog.Success, scriptlog.Failed, scriptlog.Interrupted}}
	q, f, err := parseScriptRunQuery(c)
	data.Filter = f
	if err != nil {
		data.Error = err.Error()
		if !isHX(c) {
			c.Status(fiber.StatusBadRequest)
		}
		return s.render(c, "script_runs", "script_runs_results", data)
	}
	log, err := s.scriptLog()
	if err != nil {
		return err
	}
	if data.Runs, err = log.Search(c.UserContext(), q); err != nil {
		return err
	}
	if n := len(data.Runs); n > 0 && n == q.Limit {
		data.Older = olderURL(c, data.Runs[n-1].ID)
	}
	return s.render(c, "script_runs", "script_runs_results", data)
}

// olderURL is this page's URL with before=id.
func olderURL(c *fiber.Ctx, id int64) string {
	v := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, val []byte) {
		if string(k) != "before" {
			v.Add(string(k), string(val))
		}
	})
	v.Set("before", strconv.FormatInt(id, 10))
	return "/script-runs?" + v.Encode()
}
