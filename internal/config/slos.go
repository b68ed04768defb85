package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
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
	Name string // unique; [a-z0-9-]+
	// Objective is the target share of good runs, in percent, strictly
	// between 0 and 100 (99.9 means 99.9 %).
	Objective float64
	// Window is the rolling window; WindowName how it was written ("30d").
	Window     time.Duration
	WindowName string
	// Checks are the ids of the SLO's checks: those listed under checks,
	// then those carrying any of its tags, in configuration order.
	Checks []string
	Line   int
}

var sloNamePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

// slos reads the slos list; call it after checks.
func (l *loader) slos(n *yaml.Node) {
	first := map[string]int{}
	for i, item := range l.listOfMappings(n, "slos") {
		label := fmt.Sprintf("slos[%d]", i)
		f := l.fieldsOf(item, item.Line, label, "in "+label, label+": ")
		s := SLO{Line: item.Line}
		f.str("name", &s.Name)
		if s.Name != "" {
			f.prefix, f.where = fmt.Sprintf("slo %q: ", s.Name), fmt.Sprintf("in slo %q", s.Name)
		}
		objective, hasObjective := f.scalar("objective")
		var window string
		f.str("window", &window)
		s.Checks = l.selection(f)
		f.done()

		switch {
		case s.Name == "":
			f.problem("name", "missing name")
		case !sloNamePattern.MatchString(s.Name):
			f.problem("name", "name must match %s", sloNamePattern)
		default:
			if line, dup := first[s.Name]; dup {
				f.problem("name", "duplicate name (first defined at line %d)", line)
			} else {
				first[s.Name] = f.keyLine("name")
			}
		}
		switch {
		case !hasObjective:
			if !f.has("objective") {
				f.problem("objective", "missing objective (a percentage such as 99.9)")
			}
		case !l.bad[objective]:
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(objective.Value), "%"), 64)
			if err != nil || math.IsNaN(v) || v <= 0 || v >= 100 {
				f.problem("objective", "objective: want a percentage above 0 and below 100 such as 99.9, got %q", objective.Value)
			}
			s.Objective = v
		}
		if d, ok := SLOWindows[window]; ok {
			s.Window, s.WindowName = d, window
		} else if !f.has("window") {
			f.problem("window", "missing window (7d, 30d or 90d)")
		} else if wn := f.value("window"); wn.Kind == yaml.ScalarNode && !l.bad[wn] {
			f.problem("window", "window: want 7d, 30d or 90d (Datadog's SLO timeframes), got %q", window)
		}
		l.cfg.SLOs = append(l.cfg.SLOs, s)
	}
}
