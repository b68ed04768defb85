// Package duplicates is the duplicates check kind: it finds a business key
// written more than once within a short window, the symptom of a race
// between two writers.
package duplicates

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/timeline"
)

// Kind registers the duplicates kind.
var Kind = checks.Kind{Name: "duplicates", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &Spec{} }}

// Defaults for the column names.
const (
	DefaultIDColumn = "id"
	DefaultAtColumn = "at"
)

// maxListedIDs bounds how many ids one violation's detail names.
const maxListedIDs = 10

// Spec is the kind-specific configuration of a duplicates check.
type Spec struct {
	// Query returns the rows to examine.
	Query string `yaml:"query" jsonschema:"required"`
	// KeyColumns name the columns forming the business key.
	KeyColumns []string `yaml:"key_columns" jsonschema:"required,minItems=1"`
	// IDColumn names the row id column (default "id").
	IDColumn string `yaml:"id_column"`
	// AtColumn names the write-time column (default "at").
	AtColumn string `yaml:"at_column"`
	// Window is how close two writes of one key must be to count as a race
	// (inclusive). Required; 0s means identical timestamps only.
	Window *time.Duration `yaml:"window" jsonschema:"required"`

	checks.Thresholds `yaml:",inline"`
}

// Validate reports a missing query, key_columns or window, a blank column
// name, a negative window and bad thresholds.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	if strings.TrimSpace(s.Query) == "" {
		ps = append(ps, checks.Problem{Field: "query", Msg: "query is required"})
	}
	if len(s.KeyColumns) == 0 {
		ps = append(ps, checks.Problem{Field: "key_columns", Msg: "key_columns is required: list the columns that form the business key"})
	}
	seen := map[string]bool{}
	for i, c := range s.KeyColumns {
		field := fmt.Sprintf("key_columns[%d]", i)
		switch {
		case strings.TrimSpace(c) == "":
			ps = append(ps, checks.Problem{Field: field, Msg: "a key column name must not be empty"})
		case seen[c]:
			ps = append(ps, checks.Problem{Field: field, Msg: fmt.Sprintf("key column %q is listed twice", c)})
		}
		seen[c] = true
	}
	if s.IDColumn != "" && strings.TrimSpace(s.IDColumn) == "" {
		ps = append(ps, checks.Problem{Field: "id_column", Msg: "id_column must not be blank"})
	}
	if s.AtColumn != "" && strings.TrimSpace(s.AtColumn) == "" {
		ps = append(ps, checks.Problem{Field: "at_column", Msg: "at_column must not be blank"})
	}
	switch {
	case s.Window == nil:
		ps = append(ps, checks.Problem{Field: "window", Msg: "window is required (e.g. 2s): two writes of a key this close count as a race"})
	case *s.Window < 0:
		ps = append(ps, checks.Problem{Field: "window", Msg: fmt.Sprintf("window must not be negative, got %s", *s.Window)})
	}
	return append(ps, s.Thresholds.Problems()...)
}

// Build returns the check; it needs deps.SQL.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	if deps.SQL == nil {
		return nil, fmt.Errorf("duplicates: build %s: no SQL datasource", deps.CheckID)
	}
	c := &check{
		query:      s.Query,
		keyColumns: slices.Clone(s.KeyColumns),
		idColumn:   orDefault(s.IDColumn, DefaultIDColumn),
		atColumn:   orDefault(s.AtColumn, DefaultAtColumn),
		thresholds: s.Thresholds,
		sql:        deps.SQL,
		timeout:    deps.Timeout,
	}
	if s.Window != nil {
		c.window = *s.Window
	}
	return c, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

type check struct {
	query      string
	keyColumns []string
	idColumn   string
	atColumn   string
	window     time.Duration
	thresholds checks.Thresholds
	sql        checks.SQLSource
	timeout    time.Duration
}

// Run reads every row of the query and reports each key with two rows
// within the window. It returns an error when the query fails, a column is
// missing, or an at value cannot be read as a timestamp.
func (c *check) Run(ctx context.Context) (checks.Result, error) {
	rows := timeline.New()
	err := c.sql.ReadOnly(ctx, c.timeout, func(ctx context.Context, tx *checks.Tx) error {
		var keyIdx []int
		var idIdx, atIdx int
		var key, id []byte
		return checks.EachRow(ctx, tx, c.query, func(cols []string, vals []any) error {
			if keyIdx == nil {
				required := append(slices.Clone(c.keyColumns), c.idColumn, c.atColumn)
				idx, err := checks.Columns(cols, required...)
				if err != nil {
					return err
				}
				for _, k := range c.keyColumns {
					keyIdx = append(keyIdx, idx[k])
				}
				idIdx, atIdx = idx[c.idColumn], idx[c.atColumn]
			}
			key = key[:0]
			for i, k := range keyIdx {
				if vals[k] == nil {
					return nil // a NULL key column is never a duplicate
				}
				if i > 0 {
					key = append(key, '|')
				}
				key = checks.AppendText(key, vals[k])
			}
			sec, nsec, err := checks.ReadUnixTime(vals[atIdx])
			if err != nil {
				return fmt.Errorf("row with %s %s: column %s: %w", c.idColumn, checks.Text(vals[idIdx]), c.atColumn, err)
			}
			id = checks.AppendText(id[:0], vals[idIdx])
			return rows.Add(key, sec, nsec, 0, id)
		})
	})
	if err != nil {
		return checks.Result{}, fmt.Errorf("duplicates: %w", err)
	}
	var col checks.Collector
	rows.EachWhere(c.raced, func(group []timeline.Record) {
		col.Add(checks.Violation{Key: string(rows.Key(group[0])), Detail: c.detail(rows, group)})
	})
	return col.Result(c.thresholds.Status(col.Count())), nil
}

// raced reports whether two neighbours of time-ordered rows are within the
// window of each other. It holds for any rows that include rows it holds
// for, as timeline.Set.EachWhere requires.
func (c *check) raced(rows []timeline.Record) bool {
	for i := 1; i < len(rows); i++ {
		if within(&rows[i-1], &rows[i], c.window) {
			return true
		}
	}
	return false
}

// detail names every row of one key's raced, time-ordered rows that has
// another within the window.
func (c *check) detail(rows *timeline.Set, group []timeline.Record) string {
	var hits []*timeline.Record
	for i := range group {
		r := &group[i]
		if (i > 0 && within(&group[i-1], r, c.window)) || (i+1 < len(group) && within(r, &group[i+1], c.window)) {
			hits = append(hits, r)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows within %s: ", len(hits), c.window)
	for i, r := range hits {
		if i == maxListedIDs {
			fmt.Fprintf(&b, " and %d more", len(hits)-maxListedIDs)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("id ")
		b.Write(rows.Note(*r))
		b.WriteString(" at ")
		b.WriteString(r.Time().Format(time.RFC3339Nano))
	}
	return b.String()
}

// within reports whether b, no earlier than a, is within window of it.
func within(a, b *timeline.Record, window time.Duration) bool {
	ds := b.Sec - a.Sec
	if ds < 0 || ds > int64(window/time.Second)+1 {
		return false
	}
	return time.Duration(ds)*time.Second+time.Duration(b.Nsec-a.Nsec) <= window
}
