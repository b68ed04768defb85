// Package freshness is the "freshness" check kind: each configured table's
// query returns the time of its last load, and a table whose last load is
// too old, or missing, is a violation.
package freshness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// Kind registers the freshness kind.
var Kind = checks.Kind{Name: "freshness", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &Spec{} }}

// What a table whose query returns no row or NULL means (on_empty).
const (
	EmptyFail = "fail"
	EmptyWarn = "warn"
	EmptyPass = "pass"
)

// Spec is the freshness kind's configuration. It has no warn_above or
// fail_above: the status is the worst over the tables.
type Spec struct {
	Tables []Table `yaml:"tables" jsonschema:"required,minItems=1"`

	now func() time.Time
}

// Table is one watched load.
type Table struct {
	// Name is the violation key; unique within the check.
	Name string `yaml:"name" jsonschema:"required"`
	// Query returns one timestamp, the last load, in its first column of
	// its first row (further rows and columns are ignored).
	Query string `yaml:"query" jsonschema:"required"`
	// WarnAfter: a last load older than this warns. ErrorAfter: older than
	// this fails. At least one is required; when both are set WarnAfter
	// must not be longer than ErrorAfter.
	WarnAfter  time.Duration `yaml:"warn_after"`
	ErrorAfter time.Duration `yaml:"error_after"`
	// OnEmpty is the status when the query returns no row or NULL: fail
	// (the default), warn or pass (no violation).
	OnEmpty string `yaml:"on_empty" jsonschema:"enum=fail,enum=warn,enum=pass"`
}

// SetNow makes the check's runs read the clock from now instead of
// time.Now (for tests and the demo). It must be called before Build.
func (s *Spec) SetNow(now func() time.Time) { s.now = now }

// Validate reports every problem: no tables, a table without a name or a
// query, a duplicate name, a missing, negative or inverted age, and an
// unknown on_empty.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	if len(s.Tables) == 0 {
		ps = append(ps, checks.Problem{Field: "tables", Msg: "tables is required: list at least one {name, query, warn_after}"})
	}
	seen := map[string]int{}
	for i, t := range s.Tables {
		field := func(name string) string { return fmt.Sprintf("tables[%d].%s", i, name) }
		switch first, dup := seen[t.Name]; {
		case strings.TrimSpace(t.Name) == "":
			ps = append(ps, checks.Problem{Field: field("name"), Msg: "name is required"})
		case dup:
			ps = append(ps, checks.Problem{Field: field("name"), Msg: fmt.Sprintf("duplicate table name %q (also tables[%d])", t.Name, first)})
		default:
			seen[t.Name] = i
		}
		if strings.TrimSpace(t.Query) == "" {
			ps = append(ps, checks.Problem{Field: field("query"), Msg: "query is required"})
		}
		switch {
		case t.WarnAfter == 0 && t.ErrorAfter == 0:
			ps = append(ps, checks.Problem{Field: field("warn_after"), Msg: "warn_after or error_after is required (e.g. warn_after: 2h)"})
		case t.WarnAfter < 0:
			ps = append(ps, checks.Problem{Field: field("warn_after"), Msg: fmt.Sprintf("warn_after must be positive, got %s", t.WarnAfter)})
		case t.ErrorAfter < 0:
			ps = append(ps, checks.Problem{Field: field("error_after"), Msg: fmt.Sprintf("error_after must be positive, got %s", t.ErrorAfter)})
		case t.WarnAfter > 0 && t.ErrorAfter > 0 && t.WarnAfter > t.ErrorAfter:
			ps = append(ps, checks.Problem{Field: field("warn_after"), Msg: fmt.Sprintf("warn_after (%s) must not be longer than error_after (%s)", human(t.WarnAfter), human(t.ErrorAfter))})
		}
		switch t.OnEmpty {
		case "", EmptyFail, EmptyWarn, EmptyPass:
		default:
			ps = append(ps, checks.Problem{Field: field("on_empty"), Msg: fmt.Sprintf("on_empty must be fail, warn or pass, got %q", t.OnEmpty)})
		}
	}
	return ps
}

// Build returns the check. It fails when deps has no SQL datasource.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	if deps.SQL == nil {
		return nil, errors.New("freshness: build: no SQL datasource")
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	tables := make([]Table, len(s.Tables))
	copy(tables, s.Tables)
	return &check{src: deps.SQL, timeout: deps.Timeout, tables: tables, now: now}, nil
}

type check struct {
	src     checks.SQLSource
	timeout time.Duration
	tables  []Table
	now     func() time.Time
}

// Run reads every table's last load in one read-only transaction. A query
// that fails or returns a value that is not a timestamp makes the run an
// error naming the datasource and the table.
func (c *check) Run(ctx context.Context) (checks.Result, error) {
	loads := make([]any, len(c.tables))
	err := c.src.ReadOnly(ctx, c.timeout, func(ctx context.Context, tx *checks.Tx) error {
		for i, t := range c.tables {
			v, err := lastLoad(ctx, tx, t.Query)
			if err != nil {
				return fmt.Errorf("freshness: table %s: %w", t.Name, err)
			}
			loads[i] = v
		}
		return nil
	})
	if err != nil {
		return checks.Result{}, err
	}
	now := c.now()
	var col checks.Collector
	status := checks.Pass
	stalest, loaded := time.Duration(0), false
	for i, t := range c.tables {
		st, detail, err := judge(t, loads[i], now)
		if err != nil {
			// Named like the errors inside ReadOnly: check, datasource, cause.
			return checks.Result{}, fmt.Errorf("datasource %s: freshness: table %s: %w", c.src.Name(), t.Name, err)
		}
		if at, err := checks.ParseTime(loads[i]); err == nil && (!loaded || now.Sub(at) > stalest) {
			stalest, loaded = now.Sub(at), true
		}
		if st == checks.Pass {
			continue
		}
		col.Add(checks.Violation{Key: t.Name, Detail: detail})
		status = checks.Worst(status, st)
	}
	res := col.Result(status)
	if loaded {
		res.Metrics = map[string]float64{checks.MetricMeasure: stalest.Seconds()} // the chart's age of the stalest load
	}
	return res, nil
}

// noRow marks a query that returned no row (as opposed to NULL).
type noRow struct{}

// lastLoad returns the first column of the query's first row: nil for
// NULL, noRow{} when there is no row. Further rows are not read.
func lastLoad(ctx context.Context, tx *checks.Tx, query string) (any, error) {
	var load any = noRow{}
	err := checks.EachRow(ctx, tx, query, func(_ []string, vals []any) error {
		load = vals[0]
		if b, ok := load.([]byte); ok {
			load = string(b) // the driver may reuse its buffer
		}
		return checks.StopRows
	})
	if err != nil {
		return nil, err
	}
	return load, nil
}

// judge decides one table's status and violation detail from its last load.
func judge(t Table, load any, now time.Time) (checks.Status, string, error) {
	if _, none := load.(noRow); none || load == nil {
		st := checks.Status(t.OnEmpty)
		if t.OnEmpty == "" {
			st = checks.Fail
		}
		if _, none := load.(noRow); none {
			return st, "no last load: the query returned no row", nil
		}
		return st, "no last load: the query returned NULL", nil
	}
	at, err := checks.ParseTime(load)
	if err != nil {
		return "", "", err
	}
	elapsed := now.Sub(at)
	st := checks.Pass
	switch {
	case t.ErrorAfter > 0 && elapsed > t.ErrorAfter:
		st = checks.Fail
	case t.WarnAfter > 0 && elapsed > t.WarnAfter:
		st = checks.Warn
	}
	var limits []string
	if t.WarnAfter > 0 {
		limits = append(limits, "warn after "+human(t.WarnAfter))
	}
	if t.ErrorAfter > 0 {
		limits = append(limits, "error after "+human(t.ErrorAfter))
	}
	detail := fmt.Sprintf("last load %s, %s ago (%s)", at.UTC().Format(time.RFC3339), age(elapsed), strings.Join(limits, ", "))
	return st, detail, nil
}

// age writes how long ago a load was, truncated to whole seconds (to
// milliseconds under a second) so it never reads older than it is, without
// zero trailing units ("3h12m", "1h", "45s", "2h0m5s").
func age(d time.Duration) string {
	if d < time.Second {
		return human(d.Truncate(time.Millisecond))
	}
	return human(d.Truncate(time.Second))
}

// human writes a duration as Go does, without zero trailing units: "1h",
// "3h12m", "90s" as "1m30s", "500ms".
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
