// Package endorsements is the policy validator: it checks that every policy
// returned by a query carries the endorsements its rules file requires for
// its transaction type (new, renewal or reissue), including copies carried
// over from the policy a reissue replaces.
package endorsements

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/vigilhq/vigil/checks"
)

// Kind registers the endorsements kind.
var Kind = checks.Kind{Name: "endorsements", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &Spec{} }}

// Spec is an endorsements check's configuration.
type Spec struct {
	// Rules is the path of the rules file, relative to the config file.
	Rules string `yaml:"rules" jsonschema:"required"`
	// PoliciesQuery returns policy_id, transaction_type, reissue_of and any
	// attribute columns; only the policies it returns are validated.
	PoliciesQuery string `yaml:"policies_query" jsonschema:"required"`
	// EndorsementsQuery returns policy_id and endorsement, one row per copy.
	EndorsementsQuery string `yaml:"endorsements_query" jsonschema:"required"`
	// AttributesQuery (optional) returns policy_id, name and value.
	AttributesQuery   string `yaml:"attributes_query"`
	checks.Thresholds `yaml:",inline"`
}

// rulesPath is where the rules file is: Rules as written when absolute,
// else joined to the config file's directory.
func (s *Spec) rulesPath(baseDir string) string {
	if filepath.IsAbs(s.Rules) {
		return s.Rules
	}
	return filepath.Join(baseDir, s.Rules)
}

// Validate reports missing required fields (by field name), threshold
// problems, and every problem in the rules file (with the rules file's path
// and line).
func (s *Spec) Validate(env checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	for _, f := range []struct{ name, value string }{
		{"rules", s.Rules},
		{"policies_query", s.PoliciesQuery},
		{"endorsements_query", s.EndorsementsQuery},
	} {
		if f.value == "" {
			ps = append(ps, checks.Problem{Field: f.name, Msg: f.name + " is required"})
		}
	}
	ps = append(ps, s.Thresholds.Problems()...)
	if s.Rules != "" {
		_, rulePs := loadRules(s.rulesPath(env.BaseDir))
		ps = append(ps, rulePs...)
	}
	return ps
}

// Build reads the rules file and returns the check. It fails when the
// rules file has a problem or the datasource is not SQL.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	if deps.SQL == nil {
		return nil, errors.New("endorsements: build: needs a SQL datasource")
	}
	rules, ps := loadRules(s.rulesPath(deps.BaseDir))
	if len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = fmt.Errorf("%s:%d: %s", p.File, p.Line, p.Msg)
		}
		return nil, fmt.Errorf("endorsements: build: %w", errors.Join(errs...))
	}
	return &check{
		id:         deps.CheckID,
		src:        deps.SQL,
		timeout:    deps.Timeout,
		rules:      rules,
		rulesFile:  s.rulesPath(deps.BaseDir),
		log:        deps.Log(),
		policies:   s.PoliciesQuery,
		endorse:    s.EndorsementsQuery,
		attributes: s.AttributesQuery,
		thresholds: s.Thresholds,
	}, nil
}

// Probe reads policies_query and attributes_query (read-only, as a run
// does) and reports each when key that names neither a column of
// policies_query nor an attribute attributes_query returned, at its line
// in the rules file. A query that fails is reported too.
func (s *Spec) Probe(ctx context.Context, deps checks.Deps) []checks.Problem {
	built, err := s.Build(deps)
	if err != nil {
		return []checks.Problem{{Msg: err.Error()}}
	}
	c := built.(*check)
	var coll checks.Collector
	st, err := c.read(ctx, &coll, false)
	if err != nil {
		return []checks.Problem{{Msg: err.Error()}}
	}
	var ps []checks.Problem
	for _, u := range st.unmatchable() {
		ps = append(ps, checks.Problem{File: c.rulesFile, Line: u.line, Msg: fmt.Sprintf(
			"rule %s: when key %q is neither a column of policies_query nor an attribute name in attributes_query: the rule never applies", u.code, u.key)})
	}
	return ps
}
