// Package sqlrows is the "sql" check kind (failed rows, as in dbt or Soda):
// every row the configured query returns is a violation.
package sqlrows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// Kind registers the sql kind.
var Kind = checks.Kind{Name: "sql", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &Spec{} }}

// Spec is the sql kind's configuration: the query, and thresholds on the
// number of rows it returns (by default any row fails).
type Spec struct {
	Query             string `yaml:"query" jsonschema:"required"`
	checks.Thresholds `yaml:",inline"`
}

// Validate reports a missing query and bad thresholds.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	if strings.TrimSpace(s.Query) == "" {
		ps = append(ps, checks.Problem{Field: "query", Msg: "query is required"})
	}
	return append(ps, s.Thresholds.Problems()...)
}

// Build returns the check. It fails when deps has no SQL datasource.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	if deps.SQL == nil {
		return nil, errors.New("sql: build: no SQL datasource")
	}
	return &check{src: deps.SQL, timeout: deps.Timeout, query: s.Query, thresholds: s.Thresholds}, nil
}

type check struct {
	src        checks.SQLSource
	timeout    time.Duration
	query      string
	thresholds checks.Thresholds
}

// Run streams the query's rows in a read-only transaction. Each row is a
// violation keyed by its "key" column (else its first column), whose detail
// is the other columns as name=value, joined with ", ". A failing query is
// an error.
func (c *check) Run(ctx context.Context) (checks.Result, error) {
	var col checks.Collector
	err := c.src.ReadOnly(ctx, c.timeout, func(ctx context.Context, tx *checks.Tx) error {
		keyAt := -1
		var b strings.Builder
		err := checks.EachRow(ctx, tx, c.query, func(cols []string, vals []any) error {
			if keyAt < 0 {
				keyAt = max(checks.ColumnIndex(cols, "key"), 0)
			}
			b.Reset()
			for i, v := range vals {
				if i == keyAt {
					continue
				}
				if b.Len() > 0 {
					b.WriteString(", ")
				}
				b.WriteString(cols[i])
				b.WriteByte('=')
				b.WriteString(text(v))
			}
			col.Add(checks.Violation{Key: text(vals[keyAt]), Detail: b.String()})
			return nil
		})
		if err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		return nil
	})
	if err != nil {
		return checks.Result{}, err
	}
	return col.Result(c.thresholds.Status(col.Count())), nil
}

// text is checks.Text with timestamps in UTC, so that a key or detail does
// not change with the time zone of the host or the session.
func text(v any) string {
	if t, ok := v.(time.Time); ok {
		v = t.UTC()
	}
	return checks.Text(v)
}
