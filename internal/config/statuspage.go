package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultStatusTitle is status_page.title when it is not set.
const DefaultStatusTitle = "Service status"

// StatusPage is the optional `status_page` section: a read-only page for
// people outside on-call, at /status.
//
//	status_page:
//	  title: Acme policy services
//	  public: true                  # no login, even with auth on
//	  names: {quote-api: Quote API} # public names; default the check id
//	  groups:
//	    - {name: Quoting, checks: [quote-api]}
//	    - {name: Policies, tags: [team:policy]}
type StatusPage struct {
	Title string `yaml:"title"` // default DefaultStatusTitle
	// Public serves the page, its JSON and badges without a login.
	Public bool          `yaml:"public"`
	Groups []StatusGroup `yaml:"groups" jsonschema:"required,minItems=1"`
	// Names maps check ids to the names the page shows for them; a check
	// without one is shown by its id.
	Names map[string]string `yaml:"names"`
	Line  int               `yaml:"-"` // the line of the status_page key
}

// StatusGroup is one entry of status_page.groups.
type StatusGroup struct {
	Name string `yaml:"name" jsonschema:"required"`
	// Checks are, as loaded, the ids of the group's checks: those listed
	// under checks, then those carrying any of Tags, in configuration
	// order, each once.
	Checks []string `yaml:"checks"`
	Tags   []string `yaml:"tags"`
	// Slug names the group in its badge's URL: the name in lower case with
	// every run of characters other than a-z and 0-9 made one "-".
	Slug string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Name returns the public name of a check: its status_page.names entry, or
// its id.
func (p *StatusPage) Name(checkID string) string {
	if n, ok := p.Names[checkID]; ok {
		return n
	}
	return checkID
}

// Slug returns the badge slug of a group name (see StatusGroup.Slug); ""
// when the name has no ASCII letter or digit.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// maxStatusText bounds the title, group names and public names (in
// characters): they are headings on a page.
const maxStatusText = 200

// statusPage decodes the status_page section n (its key at line); call it
// after the checks. Each group is decoded on its own, so that messages
// name it.
func (l *loader) statusPage(n *yaml.Node, line int) {
	if isNull(n) {
		return
	}
	r := resolve(n)
	if r.Kind != yaml.MappingNode {
		l.addf(r.Line, "status_page must be a mapping, got %s", kindName(r))
		return
	}
	var groups *yaml.Node
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: r.Line, Column: r.Column}
	for _, p := range l.mappingPairs(r) {
		if p.key.Value == "groups" {
			groups = p.value
			continue
		}
		rest.Content = append(rest.Content, p.key, p.value)
	}
	p := &StatusPage{Title: DefaultStatusTitle, Line: line}
	f := l.decode(rest, line, "status_page", false, p)
	if f.has("title") && strings.TrimSpace(p.Title) == "" {
		f.problem("title", "title: must not be empty")
	}
	if len([]rune(p.Title)) > maxStatusText {
		f.problem("title", "title: longer than %d characters", maxStatusText)
	}
	switch g := resolve(groups); {
	case isNull(g):
		l.addf(line, "status_page: missing required field %q", "groups")
	case g.Kind == yaml.SequenceNode && len(g.Content) == 0:
		l.addf(g.Line, "status_page: groups: must list at least one group")
	}
	slugs := map[string]int{}
	inGroup := map[string]bool{}
	for _, item := range l.listItems(groups, "status_page: groups") {
		label := l.label(item, "status_page: groups", "status_page: group")
		g := StatusGroup{Line: item.node.Line}
		gf := l.decode(item.node, item.node.Line, label, false, &g)
		g.Checks = l.selection(gf, g.Checks, g.Tags)
		g.Slug = Slug(g.Name)
		switch {
		case gf.reported("name"):
		case strings.TrimSpace(g.Name) == "":
			gf.problem("", "missing name")
		case len([]rune(g.Name)) > maxStatusText:
			gf.problem("name", "name: longer than %d characters", maxStatusText)
		case g.Slug == "":
			gf.problem("name", "name needs a letter or digit from a-z or 0-9 (its badge is /status/badge/<name in lower case>.svg)")
		default:
			if first, dup := slugs[g.Slug]; dup {
				gf.problem("name", "name: its badge /status/badge/%s.svg is also the badge of the group at line %d", g.Slug, first)
			} else {
				slugs[g.Slug] = gf.lineOf("name")
			}
		}
		for _, id := range g.Checks {
			inGroup[id] = true
		}
		p.Groups = append(p.Groups, g)
	}
	l.statusNames(p, f, inGroup)
	l.cfg.StatusPage = p
}

// statusNames checks status_page.names: public names of the ids of checks
// in some group. A name with a problem is left out.
func (l *loader) statusNames(p *StatusPage, f *decoded, inGroup map[string]bool) {
	for id, name := range p.Names {
		path := "names." + id
		trimmed := strings.TrimSpace(name)
		switch {
		case !l.isCheck(id):
			f.problem(path, "names: unknown check %q", id)
		case !inGroup[id]:
			f.problem(path, "names: check %q is in no group", id)
		case trimmed == "":
			f.problem(path, "names: %s: must not be empty", id)
		case len([]rune(trimmed)) > maxStatusText:
			f.problem(path, "names: %s: longer than %d characters", id, maxStatusText)
		default:
			p.Names[id] = trimmed
			continue
		}
		delete(p.Names, id)
	}
	if p.Names == nil {
		p.Names = map[string]string{}
	}
}

func (l *loader) isCheck(id string) bool {
	_, ok := l.cfg.Check(id)
	return ok
}
