// Package runbook reads the markdown runbooks that explain each failure
// mode: YAML front matter (`title`, `checks`) followed by the sections
// Meaning, Impact, Diagnosis, Mitigation and Escalation.
package runbook

import (
	"errors"

	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sections every runbook must have, in the order a reader expects them.
var Sections = []string{"Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation"}

// Runbook is one parsed runbook file.
type Runbook struct {
	Name   string   // file name without .md: what a check's `runbook:` names
	File   string   // path as shown in messages
	Title  string   // front matter title
	Checks []string // front matter checks
	// ChecksLine is the line of the `checks` key (for messages).
	ChecksLine int
	Body       string         // markdown after the front matter
	Sections   map[string]int // section heading -> line
}

// Problem is one runbook problem with its location. A Warning does not
// fail `vigil validate`: a check without a runbook still runs, and the
// dashboard says it has none.
type Problem struct {
	File    string
	Line    int
	Msg     string
	Warning bool
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

var headingRE = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)

// Parse reads one runbook. name is the runbook's name, file its path for
// messages. Structural problems (no front matter, bad YAML, missing title
// or section) are returned alongside the best-effort parsed runbook.
func Parse(name, file string, data []byte) (Runbook, []Problem) {
	rb := Runbook{Name: name, File: file, Sections: map[string]int{}}
	var problems []Problem
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	bodyLine := 1
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		end := strings.Index(rest, "\n---\n")
		if end < 0 && strings.HasSuffix(rest, "\n---") {
			end = len(rest) - len("\n---")
		}
		if end < 0 {
			problems = append(problems, Problem{File: file, Line: 1, Msg: "front matter is not closed by a line '---'"})
		} else {
			front := rest[:end+1]
			var node yaml.Node
			if err := yaml.Unmarshal([]byte(front), &node); err != nil {
				problems = append(problems, Problem{File: file, Line: 2, Msg: "front matter: " + strings.TrimPrefix(err.Error(), "yaml: ")})
			} else {
				problems = append(problems, rb.readFront(&node)...)
			}
			bodyLine = 1 + strings.Count(text[:4+end+5], "\n")
			if 4+end+5 <= len(text) {
				text = text[4+end+5:]
			} else {
				text = ""
			}
		}
	} else {
		problems = append(problems, Problem{File: file, Line: 1, Msg: "runbook has no front matter (--- title, checks ---)"})
	}
	rb.Body = text
	inFence := false
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if inFence {
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			if _, seen := rb.Sections[m[1]]; !seen {
				rb.Sections[m[1]] = bodyLine + i
			}
		}
	}
	if rb.Title == "" {
		problems = append(problems, Problem{File: file, Line: 1, Msg: "runbook has no title in its front matter"})
	}
	for _, s := range Sections {
		if _, ok := rb.Sections[s]; !ok {
			problems = append(problems, Problem{File: file, Line: 1, Msg: fmt.Sprintf("runbook has no %q section", s)})
		}
	}
	return rb, problems
}

func (rb *Runbook) readFront(node *yaml.Node) []Problem {
	if len(node.Content) == 0 {
		return nil
	}
	m := node.Content[0]
	if m.Kind != yaml.MappingNode {
		return []Problem{{File: rb.File, Line: 1 + m.Line, Msg: "front matter must be a mapping with title and checks"}}
	}
	var problems []Problem
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		line := 1 + k.Line
		switch k.Value {
		case "title":
			rb.Title = strings.TrimSpace(v.Value)
		case "checks":
			rb.ChecksLine = line
			if err := v.Decode(&rb.Checks); err != nil {
				problems = append(problems, Problem{File: rb.File, Line: line, Msg: "checks must be a list of check ids"})
			}
		default:
			problems = append(problems, Problem{File: rb.File, Line: line, Msg: fmt.Sprintf("unknown front matter field %q", k.Value)})
		}
	}
	return problems
}

// Set is every runbook of a folder, by name.
type Set struct {
	Runbooks map[string]Runbook
	Problems []Problem
}

// LoadFS reads every *.md file at the top of fsys. dirLabel prefixes file
// names in messages. A missing folder is an empty set, not an error.
func LoadFS(fsys fs.FS, dirLabel string) (Set, error) {
	set := Set{Runbooks: map[string]Runbook{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		if isNotExist(err) {
			return set, nil
		}
		return set, fmt.Errorf("runbook: read %s: %w", dirLabel, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") || strings.EqualFold(e.Name(), "README.md") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return set, fmt.Errorf("runbook: read %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(e.Name(), ".md")
		rb, ps := Parse(name, path.Join(dirLabel, e.Name()), data)
		set.Runbooks[name] = rb
		set.Problems = append(set.Problems, ps...)
	}
	return set, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// CheckRef is what validation needs to know of a configured check.
type CheckRef struct {
	ID      string
	Runbook string // the check's `runbook:` (may be empty)
	File    string // config file
	Line    int    // the check's line
}

// Validate cross-checks runbooks against the configured checks: a check
// with no runbook (or naming a missing one), and a runbook naming an
// unknown check. Structural problems of the set are included. Problems come
// sorted by file and line.
func (s Set) Validate(refs []CheckRef) []Problem {
	problems := append([]Problem(nil), s.Problems...)
	known := map[string]bool{}
	for _, c := range refs {
		known[c.ID] = true
		if c.Runbook != "" {
			if _, ok := s.Runbooks[c.Runbook]; !ok {
				problems = append(problems, Problem{File: c.File, Line: c.Line, Msg: fmt.Sprintf("check %q: runbook %q not found (want %s.md in the runbooks folder)", c.ID, c.Runbook, c.Runbook)})
			}
			continue
		}
		if _, ok := s.ForCheck(c.ID, ""); !ok {
			problems = append(problems, Problem{File: c.File, Line: c.Line, Msg: fmt.Sprintf("check %q has no runbook (set runbook: or list it in a runbook's checks)", c.ID), Warning: true})
		}
	}
	for _, rb := range s.Runbooks {
		for _, id := range rb.Checks {
			if !known[id] {
				problems = append(problems, Problem{File: rb.File, Line: rb.ChecksLine, Msg: fmt.Sprintf("runbook names unknown check %q", id)})
			}
		}
	}
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	return problems
}

// ForCheck returns the runbook a check names, or the first runbook whose
// front matter lists the check.
func (s Set) ForCheck(id, name string) (Runbook, bool) {
	if rb, ok := s.Runbooks[name]; ok && name != "" {
		return rb, true
	}
	names := make([]string, 0, len(s.Runbooks))
	for n := range s.Runbooks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, c := range s.Runbooks[n].Checks {
			if c == id {
				return s.Runbooks[n], true
			}
		}
	}
	return Runbook{}, false
}
