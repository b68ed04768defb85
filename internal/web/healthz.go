package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz answers GET /healthz without authentication: 200 {"status":"ok"}
// when the store answers within 2 s, else 503 {"status":"unavailable"}.
func (s *Server) healthz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.ReadDB().PingContext(ctx); err != nil {
		s.log.Warn("healthz: store unreachable")
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable"})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
