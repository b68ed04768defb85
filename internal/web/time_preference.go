package web

import (
	"github.com/gofiber/fiber/v2"
)

// timePreference sets how the viewer's pages write times (POST
// /preferences/time, any user; field utc=1 for UTC, utc=0 for the
// browser's zone; back, the page to return to) in the vigil_utc cookie,
// kept a year, and returns to back.
func (s *Server) timePreference(c *fiber.Ctx) error {
	switch c.FormValue("utc") {
	case "1":
		s.setCookie(c, utcCookie, "1", s.now().AddDate(1, 0, 0))
	case "0":
		s.clearCookie(c, utcCookie)
	default:
		return fiber.NewError(fiber.StatusBadRequest, "utc must be 1 or 0")
	}
	back := "/"
	if b := c.FormValue("back"); b != "" && safeNext(b) == b {
		back = b
	}
	return s.seeOther(c, back)
}
