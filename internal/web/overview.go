package web

import "github.com/gofiber/fiber/v2"

// overviewPing is a no-op action (POST /ping, operator) that only writes
// an audit entry: it proves auth, CSRF and the audit log work end to end.
func (s *Server) overviewPing(c *fiber.Ctx) error {
	if err := s.audit(c, "ping", "overview", ""); err != nil {
		return err
	}
	if isHX(c) {
		data, err := s.overviewData(c)
		if err != nil {
			return err
		}
		data.Pinged = true
		return s.render(c, "overview", "overview_body", data)
	}
	return s.seeOther(c, "/")
}
