// Package docs holds vigil's user documentation (configuration.md,
// runbooks.md, openapi.yaml). The binary embeds the configuration
// reference: its field tables are the descriptions `vigil schema` gives
// editors, so the reference and the schema cannot disagree.
package docs

import (
	_ "embed"
	"regexp"
	"strings"
	"sync"
)

//go:embed configuration.md
var configuration string

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 description of vigil's HTTP API.
func OpenAPI() []byte { return openAPI }

// Field is one row of a field table of configuration.md.
type Field struct {
	Name, Type, Default, Description string
}

// marker starts a field table: `<!-- fields: server -->` names the section
// of vigil.yaml (config.Sections) whose fields the next table lists.
var marker = regexp.MustCompile(`^<!--\s*fields:\s*(.+?)\s*-->\s*$`)

var (
	parseOnce sync.Once
	sections  map[string]map[string]Field
)

// Fields returns configuration.md's field tables: section -> field name ->
// row.
func Fields() map[string]map[string]Field {
	parseOnce.Do(func() { sections = ParseFields(configuration) })
	return sections
}

// ParseFields reads the field tables of a configuration reference: after a
// marker line, each table row whose first cell is a `code` name is a field
// (| `name` | type | default | description |); the first line that is not
// part of the table ends the section.
func ParseFields(md string) map[string]map[string]Field {
	out := map[string]map[string]Field{}
	section, inTable := "", false
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if m := marker.FindStringSubmatch(line); m != nil {
			section, inTable = m[1], false
			if out[section] == nil {
				out[section] = map[string]Field{}
			}
			continue
		}
		if section == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if inTable || line != "" {
				section = ""
			}
			continue
		}
		inTable = true
		cells := splitRow(line)
		if len(cells) < 4 || !strings.HasPrefix(cells[0], "`") {
			continue
		}
		f := Field{Name: strings.Trim(cells[0], "`"), Type: cells[1], Default: cells[2], Description: strings.Join(cells[3:], " | ")}
		out[section][f.Name] = f
	}
	return out
}

// splitRow splits a markdown table row into trimmed cells; `\|` is a pipe
// inside a cell.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	line = strings.ReplaceAll(line, `\|`, "\x00")
	parts := strings.Split(line, "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(strings.ReplaceAll(p, "\x00", "|"))
	}
	return parts
}

// Describe is the description of field in section as plain text, with its
// default when it has one; "" when the reference does not document it.
func Describe(section, field string) string {
	f, ok := Fields()[section][field]
	if !ok {
		return ""
	}
	d := plain(f.Description)
	if def := plain(f.Default); def != "" && def != "—" && def != "-" {
		d += " Default: " + def + "."
	}
	return d
}

var link = regexp.MustCompile(`\[([^\]]+)\]\([^)]+\)`)

// plain drops markdown's code quotes and links (keeping their text).
func plain(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(link.ReplaceAllString(s, "$1"), "`", ""))
}
