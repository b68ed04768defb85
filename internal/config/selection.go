package config

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// selection reads the `checks` and `tags` keys of f, which pick configured
// checks: each check listed by id, in the order given, then every other
// check carrying any of the tags, in configuration order. An unknown id, a
// tag no check carries, a repeated entry and an empty selection are
// reported with f's prefix. Call it after the checks are loaded.
func (l *loader) selection(f *fields) []string {
	var ids, tags []string
	f.strings("checks", &ids)
	f.strings("tags", &tags)
	idLines, tagLines := f.elementLines("checks"), f.elementLines("tags")
	if !f.has("checks") && !f.has("tags") {
		f.problem("checks", "needs checks or tags")
		return nil
	}
	known := map[string]bool{}
	for _, c := range l.cfg.Checks {
		known[c.ID] = true
	}
	var out []string
	for i, id := range ids {
		line := lineAt(idLines, i, f.keyLine("checks"))
		switch {
		case !known[id]:
			l.addf(line, "%s%s: unknown check %q", f.prefix, "checks", id)
		case slices.Contains(out, id):
			l.addf(line, "%s%s: check %q is listed twice", f.prefix, "checks", id)
		default:
			out = append(out, id)
		}
	}
	for i, tag := range tags {
		line := lineAt(tagLines, i, f.keyLine("tags"))
		if slices.Contains(tags[:i], tag) {
			l.addf(line, "%s%s: tag %q is listed twice", f.prefix, "tags", tag)
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
			l.addf(line, "%s%s: no check has the tag %q", f.prefix, "tags", tag)
		}
	}
	return out
}

func lineAt(lines []int, i, fallback int) int {
	if i < len(lines) {
		return lines[i]
	}
	return fallback
}

// listOfMappings returns the mappings of the list n (nil or null: none),
// reporting n when it is not a list and each element that is not a
// mapping, as "<name>[i] must be a mapping".
func (l *loader) listOfMappings(n *yaml.Node, name string) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.addf(n.Line, "%s must be a list, got %s", name, kindName(n))
		return nil
	}
	var out []*yaml.Node
	for i, item := range n.Content {
		r := resolve(item)
		if r == nil || r.Kind != yaml.MappingNode {
			l.addf(item.Line, "%s[%d] must be a mapping, got %s", name, i, kindName(item))
			continue
		}
		out = append(out, r)
	}
	return out
}
