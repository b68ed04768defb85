package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template/parse"

	"github.com/gofiber/fiber/v2"
)

// layoutFile is the page shell; it defines "layout", which executes
// "title" and "content".
const layoutFile = "layouts/main.html"

// pageDefines are the templates a page file may define: the ones the layout
// executes. A page must define "content".
var pageDefines = map[string]bool{"title": true, "content": true}

// partialName is the <noun>_<part> form of a partial's file name.
var partialName = regexp.MustCompile(`^[a-z][a-z0-9]*_[a-z0-9_]+$`)

// templates holds one set per page: the layout, every partial and the
// page's own "title" and "content". html/template copies every template of
// a set it clones, so the sets are made on a page's first render, not at
// start: a page never shown (the sandbox's in production, say) costs no
// memory. parseTemplates has made and checked each one once already, so
// making it again cannot fail for a reason it did not report.
type templates struct {
	pages map[string]func() (*template.Template, error)
}

// page returns the set of the named page, making it on first use.
func (t *templates) page(name string) (*template.Template, error) {
	set, ok := t.pages[name]
	if !ok {
		return nil, fmt.Errorf("unknown page %q", name)
	}
	return set()
}

// View is what every template receives as its dot: the page's own data in
// Data, and what the layout and forms need.
type View struct {
	Page string // the page's name, e.g. "overview"
	User *User  // nil on the login page and error pages of anonymous requests
	// CSRF is the token forms send as the hidden field _csrf (htmx sends it
	// as the X-CSRF-Token header, set on <body>).
	CSRF string
	Data any

	// Sandbox is set in the training sandbox (vigil demo): the layout
	// shows its banner and its pages.
	Sandbox bool
	// Clock writes the page's times (the top bar offers UTC or local).
	Clock viewClock
	// Path is the page's own path and query, where the time toggle returns.
	Path string
	// Version goes in the URL a page polls (?v=): renderPolled answers a
	// poll that sends the version it would render again with 204.
	Version string
	// Fragment is set when a partial is rendered alone, as htmx's answer:
	// fragments of a page that swap out of band mark themselves so.
	Fragment bool
	// StatusPage is set when a status page is configured (the layout
	// links it).
	StatusPage bool
}

// CanAct reports whether the user may act on checks (run, ack, silence,
// redrive): operators, and in the training sandbox every trainee too, on
// the sandbox's own checks (sandboxRole).
func (v View) CanAct() bool {
	return v.Can("operator") || (v.Sandbox && v.User != nil && v.User.Via != ViaToken)
}

// Can reports whether the user may act with role ("viewer", "operator",
// "admin"), so a template shows only the buttons that would work:
// {{if .Can "operator"}}.
func (v View) Can(role string) bool {
	r, err := ParseRole(role)
	return err == nil && v.User.Can(r)
}

// parseTemplates parses the layout, partials and pages of fsys and checks
// them: every page defines "content" and nothing but "title" and
// "content"; every partials/<noun>_<part>.html defines exactly the template
// <noun>_<part>; no name is defined twice; every {{template "x"}} names a
// defined template; every {{asset "x"}} names an existing asset.
func parseTemplates(fsys fs.FS, a *assets) (*templates, error) {
	funcs := template.FuncMap{
		"asset":     a.url,
		"hxHeaders": hxHeaders,
	}
	var errs []error
	definedIn := map[string]string{} // template name -> file

	base := template.New("").Funcs(funcs)
	if _, err := fs.Stat(fsys, layoutFile); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	names, err := defineFile(fsys, layoutFile, funcs, base)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, n := range names {
		definedIn[n] = layoutFile
	}
	if base.Lookup("layout") == nil {
		errs = append(errs, fmt.Errorf("%s: does not define \"layout\"", layoutFile))
	}

	partials, err := fs.Glob(fsys, "partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, file := range partials {
		stem := strings.TrimSuffix(path.Base(file), ".html")
		names, err := defineFile(fsys, file, funcs, base)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !partialName.MatchString(stem) {
			errs = append(errs, fmt.Errorf("%s: a partial's file name must be <noun>_<part>.html", file))
		}
		if len(names) != 1 || names[0] != stem {
			errs = append(errs, fmt.Errorf("%s: must define exactly the template %q, defines %q", file, stem, names))
		}
		for _, n := range names {
			if first, dup := definedIn[n]; dup {
				errs = append(errs, fmt.Errorf("%s: template %q is already defined in %s", file, n, first))
				continue
			}
			definedIn[n] = file
		}
	}

	t := &templates{pages: map[string]func() (*template.Template, error){}}
	pages, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, file := range pages {
		pageSet := func() (*template.Template, []string, error) {
			set, err := base.Clone()
			if err != nil {
				return nil, nil, err
			}
			names, err := defineFile(fsys, file, funcs, set)
			return set, names, err
		}
		set, names, err := pageSet()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		hasContent := false
		for _, n := range names {
			hasContent = hasContent || n == "content"
			if !pageDefines[n] {
				errs = append(errs, fmt.Errorf("%s: a page may define only \"title\" and \"content\", not %q (make it a partial)", file, n))
			}
		}
		if !hasContent {
			errs = append(errs, fmt.Errorf("%s: does not define \"content\"", file))
		}
		errs = append(errs, checkReferences(file, set, a)...)
		t.pages[strings.TrimSuffix(path.Base(file), ".html")] = sync.OnceValues(func() (*template.Template, error) {
			set, _, err := pageSet()
			return set, err
		})
	}
	if len(pages) == 0 {
		errs = append(errs, errors.New("no pages in pages/"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return t, nil
}

// defineFile parses file into set and returns the names of the templates
// it defines, sorted. Text outside {{define}} blocks (other than space) is
// an error: it would be silently dropped.
func defineFile(fsys fs.FS, file string, funcs template.FuncMap, set *template.Template) ([]string, error) {
	body, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	// Parse alone first, to learn what this file defines.
	trees, err := parse.Parse(file, string(body), "", "", builtinFuncs(funcs))
	if err != nil {
		return nil, err
	}
	var names []string
	for name, tree := range trees {
		if name == file {
			if !isBlank(tree.Root) {
				return nil, fmt.Errorf("%s: text outside {{define}}", file)
			}
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if _, err := set.New(file).Parse(string(body)); err != nil {
		return nil, err
	}
	return names, nil
}

// builtinFuncs is funcs plus the names text/template predefines, for
// parse.Parse, which only needs to know that a function exists.
func builtinFuncs(funcs template.FuncMap) map[string]any {
	m := map[string]any{}
	for k, v := range funcs {
		m[k] = v
	}
	for _, k := range []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"} {
		m[k] = fmt.Sprint
	}
	return m
}

func isBlank(n *parse.ListNode) bool {
	if n == nil {
		return true
	}
	for _, c := range n.Nodes {
		t, ok := c.(*parse.TextNode)
		if !ok || len(bytes.TrimSpace(t.Text)) > 0 {
			return false
		}
	}
	return true
}

// checkReferences reports every {{template "x"}} in set that names no
// template of set, and every {{asset "x"}} naming no asset.
func checkReferences(file string, set *template.Template, a *assets) []error {
	var errs []error
	seen := map[string]bool{}
	report := func(err error) {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			errs = append(errs, err)
		}
	}
	for _, t := range set.Templates() {
		if t.Tree == nil {
			continue
		}
		walk(t.Tree.Root, func(n parse.Node) {
			switch n := n.(type) {
			case *parse.TemplateNode:
				if set.Lookup(n.Name) == nil || set.Lookup(n.Name).Tree == nil {
					report(fmt.Errorf("%s: template %q (used in %q) is not defined", file, n.Name, t.Name()))
				}
			case *parse.CommandNode:
				if len(n.Args) == 2 {
					if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "asset" {
						if s, ok := n.Args[1].(*parse.StringNode); ok {
							if _, err := a.url(s.Text); err != nil {
								report(fmt.Errorf("%s: %w (used in %q)", file, err, t.Name()))
							}
						}
					}
				}
			}
		})
	}
	return errs
}

// walk calls fn on n and every node below it.
func walk(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, fn)
		}
	case *parse.ActionNode:
		walk(n.Pipe, fn)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, fn)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.TemplateNode:
		walk(n.Pipe, fn)
	}
}

func walkBranch(b *parse.BranchNode, fn func(parse.Node)) {
	walk(b.Pipe, fn)
	if b.List != nil {
		walk(b.List, fn)
	}
	if b.ElseList != nil {
		walk(b.ElseList, fn)
	}
}

// hxHeaders is the value of <body hx-headers>: the CSRF header as JSON.
func hxHeaders(csrf string) (string, error) {
	b, err := json.Marshal(map[string]string{"X-CSRF-Token": csrf})
	return string(b), err
}

// render answers with a page. A request from htmx (HX-Request, not
// boosted) gets only the template partial (a partials/<partial>.html);
// any other request, or an empty partial, gets views/pages/<page>.html
// inside the layout. The template's dot is a View whose Data is data.
// Nothing is written when the template fails; the error goes to the
// ErrorHandler. The response status is left as the handler set it.
func (s *Server) render(c *fiber.Ctx, page, partial string, data any) error {
	c.Vary("HX-Request")
	name := "layout"
	if partial != "" && isHX(c) {
		name = partial
	}
	return s.renderTemplate(c, page, name, data)
}

// renderTemplate executes template name of page's set into the response.
func (s *Server) renderTemplate(c *fiber.Ctx, page, name string, data any) error {
	set, err := s.views.page(page)
	if err != nil {
		return fmt.Errorf("web: render: %w", err)
	}
	if set.Lookup(name) == nil {
		return fmt.Errorf("web: render %s: unknown template %q", page, name)
	}
	csrf, err := s.csrfToken(c)
	if err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	v := View{Page: page, User: currentUser(c), CSRF: csrf, Data: data, Sandbox: s.demo != nil,
		Clock: s.viewClock(c), Path: string(c.Request().URI().RequestURI()), Version: versionToken, Fragment: name != "layout",
		StatusPage: s.status != nil}
	b := renderBuffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= maxPooledRender {
			b.Reset()
			renderBuffers.Put(b)
		}
	}()
	if err := set.ExecuteTemplate(b, name, v); err != nil {
		return fmt.Errorf("web: render %s/%s: %w", page, name, err)
	}
	c.Type("html", "utf-8")
	// SetBody copies (c.Send would keep b, which goes back to the pool and
	// may be rendered into again before this response is written).
	c.Response().SetBody(b.Bytes())
	return nil
}

// versionToken stands for View.Version while a page is rendered.
const versionToken = "vigilversiontoken"

// renderPolled answers a page that polls itself. Its version is the hash
// of what partial renders, with the relative labels of times left out
// (the clock alone changes nothing that matters, and vigil.js ticks them):
// an htmx request that sends it back (?v=) gets 204 No Content, which
// htmx answers by swapping nothing; other htmx requests get partial, and
// plain requests the page, with the version in place of View.Version.
func (s *Server) renderPolled(c *fiber.Ctx, page, partial string, data any) error {
	c.Vary("HX-Request")
	if err := s.renderTemplate(c, page, partial, data); err != nil {
		return err
	}
	body := c.Response().Body()
	version := s.stableVersion(body)
	if isHX(c) {
		if c.Query("v") == version {
			c.Response().ResetBody()
			c.Response().Header.Del(fiber.HeaderContentType)
			return c.SendStatus(fiber.StatusNoContent)
		}
		c.Response().SetBodyRaw(bytes.ReplaceAll(body, []byte(versionToken), []byte(version)))
		return nil
	}
	if err := s.renderTemplate(c, page, "layout", data); err != nil {
		return err
	}
	c.Response().SetBodyRaw(bytes.ReplaceAll(c.Response().Body(), []byte(versionToken), []byte(version)))
	return nil
}

// agoLabel starts the relative label writeWhen writes; its text runs to
// the next "<".
var agoLabel = []byte(`<span class="ago" data-t="`)

// stableVersion hashes a rendered partial less the text of its relative
// labels. Versions are this process's own (seed): a poll that reaches
// another replica, or a restarted one, gets the whole partial.
func (s *Server) stableVersion(body []byte) string {
	var h maphash.Hash
	h.SetSeed(s.versionSeed)
	for {
		i := bytes.Index(body, agoLabel)
		if i < 0 {
			break
		}
		text := i + bytes.IndexByte(body[i:], '>') + 1 // after the start tag
		end := text + bytes.IndexByte(body[text:], '<')
		if text <= i || end < text {
			break
		}
		h.Write(body[:text])
		body = body[end:]
	}
	h.Write(body)
	return strconv.FormatUint(h.Sum64(), 36)
}

// renderBuffers keeps the buffers pages are rendered into, so a large
// page (the overview of a thousand checks is about 2 MB) does not grow a
// new one on every request.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRender is the largest buffer kept in renderBuffers.
const maxPooledRender = 8 << 20
