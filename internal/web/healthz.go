package web

import (
	"github.com/gofiber/fiber/v2"
)

// healthz answers GET /healthz without authentication: 200
// {"status":"ok"} whenever the process serves HTTP. It is liveness only: a
// store that does not answer makes /readyz fail, not this (restarting vigil
// would not bring the store back).
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}
