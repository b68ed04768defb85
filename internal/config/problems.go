package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration, located at File:Line.
// File is the path as given to Load (or as named by a check kind, for files
// such as an endorsements rules file); Line is 1-based, 0 when unknown.
type Problem struct {
	File string
	Line int
	Msg  string
}

// String formats the problem as "file:line: msg" ("file: msg" when the line
// is unknown).
func (p Problem) String() string {
	if p.Line <= 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Problems is every problem found in a configuration, sorted by file then
// line (problems on one line keep the order in which they were found).
// Load returns it as a *Problems; errors.As finds it with a target of either
// *Problems or **Problems.
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// As lets errors.As fill a Problems target (by value) as well as a *Problems
// one.
func (ps *Problems) As(target any) bool {
	if t, ok := target.(*Problems); ok {
		*t = *ps
		return true
	}
	return false
}

// sorted returns the problems sorted by file and line, exact duplicates
// removed (a node reached through two aliases is reported once).
func (ps Problems) sorted() Problems {
	out := make(Problems, 0, len(ps))
	seen := make(map[Problem]bool, len(ps))
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}
