package web

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"

	"github.com/gofiber/fiber/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/vigilhq/vigil/internal/runbook"
)

// renderRunbooks renders every runbook's markdown body to HTML, once, with
// goldmark's defaults: raw HTML in the markdown is dropped and dangerous
// link schemes (javascript:, ...) are removed. Tables and strikethrough
// (GFM) are on.
func renderRunbooks(set runbook.Set) (map[string]template.HTML, error) {
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
	out := make(map[string]template.HTML, len(set.Runbooks))
	for name, rb := range set.Runbooks {
		var b bytes.Buffer
		if err := md.Convert([]byte(rb.Body), &b); err != nil {
			return nil, fmt.Errorf("render runbook %s: %w", name, err)
		}
		out[name] = template.HTML(b.String()) // goldmark escapes text and drops raw HTML
	}
	return out, nil
}

// runbookView is a runbook as a page shows it.
type runbookView struct {
	Name, Title string
	Checks      []string
	HTML        template.HTML
}

func (s *Server) runbookView(rb runbook.Runbook) runbookView {
	title := rb.Title
	if title == "" {
		title = rb.Name
	}
	return runbookView{Name: rb.Name, Title: title, Checks: rb.Checks, HTML: s.runbookHTML[rb.Name]}
}

// runbookList shows every runbook by name (GET /runbooks).
func (s *Server) runbookList(c *fiber.Ctx) error {
	list := make([]runbookView, 0, len(s.runbooks.Runbooks))
	for _, rb := range s.runbooks.Runbooks {
		v := s.runbookView(rb)
		v.HTML = ""
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return s.render(c, "runbooks", "", list)
}

// runbookShow shows one runbook (GET /runbooks/:name); 404 when there is
// none by that name.
func (s *Server) runbookShow(c *fiber.Ctx) error {
	rb, ok := s.runbooks.Runbooks[c.Params("name")]
	if !ok {
		return fiber.ErrNotFound
	}
	return s.render(c, "runbook_show", "", s.runbookView(rb))
}
