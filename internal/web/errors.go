package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/store"
)

// errorData is the error page's Data.
type errorData struct {
	Code    int
	Title   string // e.g. "Not Found"
	Message string
}

// handleError is the one place an error becomes a response. A
// *fiber.Error keeps its code and message; store.ErrNotFound is 404; a
// timed-out or canceled request is 503; anything else is a 500 whose text
// is only logged (redacted), never shown. /api/ requests, htmx requests
// and requests with an Authorization header get {"error": "..."}; others
// get the error page.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code, msg := http.StatusInternalServerError, ""
	var fe *fiber.Error
	switch {
	case errors.As(err, &fe):
		code, msg = fe.Code, fe.Message
		if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
			msg = strings.ToLower(http.StatusText(code)) // not Fiber's "Cannot GET /path"
		}
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code = http.StatusServiceUnavailable
	}
	if code >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", code,
			"err", datasource.RedactString(err.Error()))
		if fe == nil || msg == "" {
			msg = strings.ToLower(http.StatusText(code))
		}
	}
	c.Status(code)
	if isAPI(c) || isHX(c) || c.Get(fiber.HeaderAuthorization) != "" {
		return c.JSON(fiber.Map{"error": msg})
	}
	data := errorData{Code: code, Title: http.StatusText(code), Message: msg}
	if rerr := s.renderTemplate(c, "error", "layout", data); rerr != nil {
		s.log.Error("render error page", "err", datasource.RedactString(rerr.Error()))
		c.Type("txt", "utf-8")
		return c.Status(code).SendString(msg)
	}
	return nil
}
