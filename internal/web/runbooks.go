package web

import (
	"bytes"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"

	"github.com/vigilhq/vigil/internal/runbook"
)

// renderedRunbook is a runbook's body as HTML, and its sections' anchors.
type renderedRunbook struct {
	HTML     template.HTML
	Sections []anchor // the standard sections (runbook.Sections) found, in page order
}

// anchor is a heading a link can point at: /runbooks/x#mitigation.
type anchor struct {
	ID, Title string
}

// pageIDs are ids the pages that show a runbook use themselves: a runbook
// heading that would get one of them gets a suffixed id instead.
var pageIDs = []string{"main", "check-status", "check-rows", "check-poll", "check-history", "check-chart", "incident",
	"incident-h", "timeline", "timeline-h", "rows-h", "runbook-h", "history-h", "chart-h", "ack-form", "ack-note",
	"silence-form", "silence-h", "silence-matcher", "silence-for", "silence-reason", "redrives", "redrive-h", "actions-h"}

// renderRunbooks renders every runbook's markdown body to HTML, once, with
// goldmark's defaults: raw HTML in the markdown is dropped and dangerous
// link schemes (javascript:, ...) are removed. Tables and strikethrough
// (GFM) are on. Every heading gets an id from its text (# Mitigation is
// #mitigation), never one the page uses itself.
func renderRunbooks(set runbook.Set) (map[string]renderedRunbook, error) {
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()))
	out := make(map[string]renderedRunbook, len(set.Runbooks))
	for name, rb := range set.Runbooks {
		ctx := parser.NewContext()
		for _, id := range pageIDs {
			ctx.IDs().Put([]byte(id))
		}
		src := []byte(rb.Body)
		doc := md.Parser().Parse(text.NewReader(src), parser.WithContext(ctx))
		var b bytes.Buffer
		if err := md.Renderer().Render(&b, src, doc); err != nil {
			return nil, fmt.Errorf("render runbook %s: %w", name, err)
		}
		r := renderedRunbook{HTML: template.HTML(b.String())} // goldmark escapes text and drops raw HTML
		_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			h, ok := n.(*ast.Heading)
			if !entering || !ok {
				return ast.WalkContinue, nil
			}
			title := strings.TrimSpace(string(h.Lines().Value(src)))
			title = strings.TrimSpace(strings.TrimRight(title, "#"))
			if id, ok := h.AttributeString("id"); ok && slices.Contains(runbook.Sections, title) {
				r.Sections = append(r.Sections, anchor{ID: string(id.([]byte)), Title: title})
			}
			return ast.WalkSkipChildren, nil
		})
		out[name] = r
	}
	return out, nil
}

// runbookView is a runbook as a page shows it.
type runbookView struct {
	Name, Title string
	Checks      []string
	HTML        template.HTML
	Sections    []anchor
}

func (s *Server) runbookView(rb runbook.Runbook) runbookView {
	title := rb.Title
	if title == "" {
		title = rb.Name
	}
	r := s.runbookHTML[rb.Name]
	return runbookView{Name: rb.Name, Title: title, Checks: rb.Checks, HTML: r.HTML, Sections: r.Sections}
}

// Section returns the anchor of the section titled title ("Mitigation"),
// or nothing.
func (v runbookView) Section(title string) anchor {
	for _, a := range v.Sections {
		if a.Title == title {
			return a
		}
	}
	return anchor{}
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
