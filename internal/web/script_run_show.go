package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// scriptRunData is the script run page's Data.
type scriptRunData struct {
	Run scriptlog.Record
	// Output is the stored output as text (bytes that are not UTF-8 become
	// U+FFFD); set only for the output fragment.
	Output string
}

// scriptRunShow shows one script run (GET /script-runs/:id): its fields,
// its hash and the hash before it. The output comes with htmx from
// scriptRunOutput; a running run's page refreshes itself.
func (s *Server) scriptRunShow(c *fiber.Ctx) error {
	run, err := s.getScriptRun(c)
	if err != nil {
		return err
	}
	run.Output = nil // the page loads it on its own
	return s.render(c, "script_run_show", "script_runs_record", scriptRunData{Run: run})
}

// scriptRunOutput answers GET /script-runs/:id/output: the output in a
// <pre> for htmx, or as plain text for a browser without JavaScript.
func (s *Server) scriptRunOutput(c *fiber.Ctx) error {
	run, err := s.getScriptRun(c)
	if err != nil {
		return err
	}
	out := strings.ToValidUTF8(string(run.Output), "\uFFFD")
	if !isHX(c) {
		c.Type("txt", "utf-8")
		return c.SendString(out)
	}
	return s.renderTemplate(c, "script_run_show", "script_runs_output", scriptRunData{Run: run, Output: out})
}
