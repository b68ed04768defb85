package web

import "github.com/gofiber/fiber/v2"

// overviewData is the overview page's Data. The overview is a placeholder:
// it lists nothing yet, and proves the layout, partials, auth, CSRF and
// audit work end to end. The checks overview replaces it.
type overviewData struct {
	Pinged bool // the ping action just ran
}

// overview shows the overview (GET /); htmx polls get overview_body.
func (s *Server) overview(c *fiber.Ctx) error {
	return s.render(c, "overview", "overview_body", overviewData{})
}

// overviewPing is the placeholder action (POST /ping, operator): it only
// writes an audit entry.
func (s *Server) overviewPing(c *fiber.Ctx) error {
	if err := s.audit(c, "ping", "overview", ""); err != nil {
		return err
	}
	if isHX(c) {
		return s.render(c, "overview", "overview_body", overviewData{Pinged: true})
	}
	return s.seeOther(c, "/")
}
