package config

import (
	"fmt"
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
	Title string // default DefaultStatusTitle
	// Public serves the page, its JSON and badges without a login.
	Public bool
	Groups []StatusGroup
	// Names maps check ids to the names the page shows for them; a check
	// without one is shown by its id.
	Names map[string]string
	Line  int // the line of the status_page key
}

// StatusGroup is one entry of status_page.groups.
type StatusGroup struct {
	Name string
	// Slug names the group in its badge's URL: the name in lower case with
	// every run of characters other than a-z and 0-9 made one "-".
	Slug string
	// Checks are the ids of the group's checks: those listed under checks,
	// then those carrying any of its tags, in configuration order.
	Checks []string
	Line   int
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

// statusPage reads the status_page section; call it after checks.
func (l *loader) statusPage(n *yaml.Node, line int) {
	if isNull(n) {
		return
	}
	f := l.fieldsOf(n, line, "status_page", "in status_page", "status_page: ")
	p := &StatusPage{Title: DefaultStatusTitle, Line: line}
	f.str("title", &p.Title)
	f.bool("public", &p.Public)
	groups := l.listOfMappings(f.value("groups"), "status_page: groups")
	names := f.value("names")
	f.done()
	if f.has("title") && strings.TrimSpace(p.Title) == "" {
		f.problem("title", "title: must not be empty")
	}
	if len([]rune(p.Title)) > maxStatusText {
		f.problem("title", "title: longer than %d characters", maxStatusText)
	}
	if gn := f.value("groups"); gn == nil {
		f.problem("groups", "missing required field %q", "groups")
	} else if gn.Kind == yaml.SequenceNode && len(gn.Content) == 0 {
		f.problem("groups", "groups: must list at least one group")
	}
	slugs := map[string]int{}
	inGroup := map[string]bool{}
	for i, item := range groups {
		label := fmt.Sprintf("status_page: groups[%d]", i)
		g := l.fieldsOf(item, item.Line, label, "in "+label, label+": ")
		sg := StatusGroup{Line: item.Line}
		g.str("name", &sg.Name)
		if sg.Name != "" {
			g.prefix, g.where = fmt.Sprintf("status_page: group %q: ", sg.Name), fmt.Sprintf("in status_page group %q", sg.Name)
		}
		sg.Checks = l.selection(g)
		g.done()
		sg.Slug = Slug(sg.Name)
		switch {
		case strings.TrimSpace(sg.Name) == "":
			g.problem("name", "missing name")
		case len([]rune(sg.Name)) > maxStatusText:
			g.problem("name", "name: longer than %d characters", maxStatusText)
		case sg.Slug == "":
			g.problem("name", "name needs a letter or digit from a-z or 0-9 (its badge is /status/badge/<name in lower case>.svg)")
		default:
			if first, dup := slugs[sg.Slug]; dup {
				g.problem("name", "name: its badge /status/badge/%s.svg is also the badge of the group at line %d", sg.Slug, first)
			} else {
				slugs[sg.Slug] = g.keyLine("name")
			}
		}
		for _, id := range sg.Checks {
			inGroup[id] = true
		}
		p.Groups = append(p.Groups, sg)
	}
	p.Names = l.statusNames(names, inGroup)
	l.cfg.StatusPage = p
}

// statusNames reads status_page.names: a mapping of the ids of checks in
// some group to public names.
func (l *loader) statusNames(n *yaml.Node, inGroup map[string]bool) map[string]string {
	out := map[string]string{}
	if n == nil {
		return out
	}
	if n.Kind != yaml.MappingNode {
		l.addf(n.Line, "status_page: names must be a mapping of check ids to names, got %s", kindName(n))
		return out
	}
	for _, p := range l.mappingPairs(n) {
		id, v := p.key.Value, resolve(p.value)
		if !l.isCheck(id) {
			l.addf(p.key.Line, "status_page: names: unknown check %q", id)
			continue
		}
		if !inGroup[id] {
			l.addf(p.key.Line, "status_page: names: check %q is in no group", id)
			continue
		}
		if v == nil || v.Kind != yaml.ScalarNode || isNull(v) {
			l.addf(p.key.Line, "status_page: names: %s: expected a name, got %s", id, kindName(p.value))
			continue
		}
		name := strings.TrimSpace(v.Value)
		switch {
		case name == "":
			l.addf(v.Line, "status_page: names: %s: must not be empty", id)
		case len([]rune(name)) > maxStatusText:
			l.addf(v.Line, "status_page: names: %s: longer than %d characters", id, maxStatusText)
		default:
			out[id] = name
		}
	}
	return out
}

func (l *loader) isCheck(id string) bool {
	for _, c := range l.cfg.Checks {
		if c.ID == id {
			return true
		}
	}
	return false
}
