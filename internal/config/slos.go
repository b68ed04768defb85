package config

import (
	"math"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// SLOWindows are the windows an SLO may have: Datadog's SLO timeframes
// (https://docs.datadoghq.com/api/latest/service-level-objectives/,
// thresholds.timeframe "7d", "30d" or "90d"), so that `vigil datadog
// export` can emit every SLO as it is configured.
var SLOWindows = map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// SLO is one entry of the optional `slos` list: an objective for the share
// of good runs (pass or warn) of some checks over a rolling window.
//
//	slos:
//	  - {name: document-generation, objective: 99.99, window: 30d, checks: [duplicate-documents]}
//	  - {name: policy-data, objective: 99.9, window: 7d, tags: [team:policy]}
type SLO struct {
	Name string `yaml:"name" jsonschema:"required,pattern=^[a-z0-9-]+$"` // unique
	// Objective is the target share of good runs, in percent, strictly
	// between 0 and 100 (99.9 means 99.9 %).
	Objective float64 `yaml:"objective" jsonschema:"required,exclusiveMinimum=0,exclusiveMaximum=100"`
	// WindowName is the rolling window as written ("30d"); Window is it
	// as a duration.
	WindowName string        `yaml:"window" jsonschema:"required,enum=7d,enum=30d,enum=90d"`
	Window     time.Duration `yaml:"-"`
	// Checks are, as loaded, the ids of the SLO's checks: those listed
	// under checks, then those carrying any of Tags, in configuration
	// order, each once.
	Checks []string `yaml:"checks"`
	Tags   []string `yaml:"tags"`
	Line   int      `yaml:"-"`
}

var sloNamePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

// slos decodes the slos list n, each SLO on its own so that messages name
// it; call it after the checks.
func (l *loader) slos(n *yaml.Node) {
	first := map[string]int{}
	for _, item := range l.listItems(n, "slos") {
		label := l.label(item, "slos", "slo")
		s := SLO{Line: item.node.Line}
		f := l.decode(item.node, item.node.Line, label, false, &s)
		s.Checks = l.selection(f, s.Checks, s.Tags)
		switch {
		case f.reported("name"):
		case s.Name == "":
			f.problem("", "missing name")
		case !sloNamePattern.MatchString(s.Name):
			f.problem("name", "name must match %s", sloNamePattern)
		default:
			if line, dup := first[s.Name]; dup {
				f.problem("name", "duplicate name (first defined at line %d)", line)
			} else {
				first[s.Name] = f.lineOf("name")
			}
		}
		switch {
		case f.reported("objective"):
		case !f.has("objective"):
			f.problem("", "missing objective (a percentage such as 99.9)")
		case math.IsNaN(s.Objective) || s.Objective <= 0 || s.Objective >= 100:
			f.problem("objective", "objective: want a percentage above 0 and below 100 such as 99.9, got %v", s.Objective)
		}
		switch d, ok := SLOWindows[s.WindowName]; {
		case ok:
			s.Window = d
		case f.reported("window"):
		case !f.has("window"):
			f.problem("", "missing window (7d, 30d or 90d)")
		default:
			f.problem("window", "window: want 7d, 30d or 90d (Datadog's SLO timeframes), got %q", s.WindowName)
		}
		l.cfg.SLOs = append(l.cfg.SLOs, s)
	}
}
