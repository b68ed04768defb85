package config

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// selection resolves the checks and tags of a status page group or an SLO
// (decoded as f) into check ids: each check listed by id, in the order
// given, then every other check carrying any of the tags, in configuration
// order. An unknown id, a tag no check carries, a repeated entry and an
// empty selection are reported at their lines. Call it after the checks
// are loaded.
func (l *loader) selection(f *decoded, ids, tags []string) []string {
	if !f.has("checks") && !f.has("tags") {
		if !f.reported("checks") && !f.reported("tags") {
			f.problem("", "needs checks or tags")
		}
		return nil
	}
	known := map[string]bool{}
	for _, c := range l.cfg.Checks {
		known[c.ID] = true
	}
	var out []string
	for i, id := range ids {
		path := fmt.Sprintf("checks[%d]", i)
		switch {
		case f.reported(path):
		case !known[id]:
			f.problem(path, "checks: unknown check %q", id)
		case slices.Contains(out, id):
			f.problem(path, "checks: check %q is listed twice", id)
		default:
			out = append(out, id)
		}
	}
	for i, tag := range tags {
		path := fmt.Sprintf("tags[%d]", i)
		if f.reported(path) {
			continue
		}
		if slices.Contains(tags[:i], tag) {
			f.problem(path, "tags: tag %q is listed twice", tag)
			continue
		}
		matched := false
		for _, c := range l.cfg.Checks {
			if slices.Contains(c.Tags, tag) {
				matched = true
				if !slices.Contains(out, c.ID) {
					out = append(out, c.ID)
				}
			}
		}
		if !matched {
			f.problem(path, "tags: no check has the tag %q", tag)
		}
	}
	return out
}

// label names a list item in messages: by its name when it has a readable
// one (noun "name"), else by its index (list[i]).
func (l *loader) label(item listItem, list, noun string) string {
	for _, p := range l.mappingPairs(item.node) {
		if v := resolve(p.value); p.key.Value == "name" && v != nil && v.Kind == yaml.ScalarNode && !l.bad[v] {
			return fmt.Sprintf("%s %q", noun, v.Value)
		}
	}
	return fmt.Sprintf("%s[%d]", list, item.index)
}

// listItem is one mapping of a list, with its index in the list.
type listItem struct {
	index int
	node  *yaml.Node
}

// listItems returns the mappings of the list n (nil or null: none),
// reporting n when it is not a list and each item that is not a mapping,
// as "<name>[i] must be a mapping".
func (l *loader) listItems(n *yaml.Node, name string) []listItem {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.addf(n.Line, "%s must be a list, got %s", name, kindName(n))
		return nil
	}
	var out []listItem
	for i, item := range n.Content {
		r := resolve(item)
		if r == nil || r.Kind != yaml.MappingNode {
			l.addf(item.Line, "%s[%d] must be a mapping, got %s", name, i, kindName(item))
			continue
		}
		out = append(out, listItem{i, r})
	}
	return out
}
