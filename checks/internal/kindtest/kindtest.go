// Package kindtest is the test harness the SQL check kinds share: a vigil
// datasource over a test database, seed statements with a portable native
// timestamp type, a kind's spec decoded as the config loader decodes it, and
// a check validated, built and run. bench.go holds what their benchmarks
// share.
//
// It is imported only by _test.go files. Every helper fails the test on a
// setup error, so a test using it never passes by skipping its setup.
package kindtest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/testdb"
)

// Source opens the datasource called name as vigil opens the databases it
// validates (read-only, with a statement timeout), and closes it when the
// test ends. Errors from it name the datasource ("datasource <name>: ...").
func Source(tb testing.TB, name, driver, dsn string) *datasource.SQL {
	tb.Helper()
	src, err := datasource.OpenSQL(name, driver, dsn)
	if err != nil {
		tb.Fatalf("kindtest: open datasource %s: %v", name, err)
	}
	tb.Cleanup(func() { src.Close() })
	return src
}

// Seed runs stmts on db's admin connection, each {ts} in them replaced by the
// driver's column type for a native timestamp with microseconds.
func Seed(tb testing.TB, db *testdb.DB, stmts ...string) {
	tb.Helper()
	ts := timestampType(tb, db.Driver)
	for _, s := range stmts {
		db.Exec(tb, strings.ReplaceAll(s, "{ts}", ts))
	}
}

// timestampType is driver's column type for a native timestamp with
// microseconds.
func timestampType(tb testing.TB, driver string) string {
	tb.Helper()
	switch driver {
	case datasource.SQLite:
		return "TIMESTAMP"
	case datasource.Postgres:
		return "TIMESTAMP(6)"
	case datasource.MySQL:
		return "DATETIME(6)"
	}
	tb.Fatalf("kindtest: no timestamp type for driver %q", driver)
	return ""
}

// Decode reads a check's kind-specific YAML into a new spec of kind as the
// config loader does: strictly, so an unknown field fails the test.
func Decode(tb testing.TB, kind checks.Kind, spec string) checks.Spec {
	tb.Helper()
	s := kind.NewSpec()
	if err := DecodeYAML(s, spec); err != nil {
		tb.Fatalf("kindtest: decode %s spec %s: %v", kind.Name, spec, err)
	}
	return s
}

// DecodeYAML reads a check's kind-specific YAML into s as the config loader
// does: strictly, so an unknown field is an error.
func DecodeYAML(s checks.Spec, spec string) error {
	dec := yaml.NewDecoder(strings.NewReader(spec))
	dec.KnownFields(true)
	return dec.Decode(s)
}

// Build validates spec (relative paths against deps.BaseDir) and builds its
// check with deps. A validation problem or a build error fails the test.
func Build(tb testing.TB, spec checks.Spec, deps checks.Deps) checks.Check {
	tb.Helper()
	if ps := spec.Validate(checks.SpecEnv{BaseDir: deps.BaseDir}); len(ps) > 0 {
		tb.Fatalf("kindtest: validate: %+v", ps)
	}
	c, err := spec.Build(deps)
	if err != nil {
		tb.Fatalf("kindtest: build: %v", err)
	}
	return c
}

// Run builds spec's check as Build does and runs it once, returning what
// the run returned.
func Run(tb testing.TB, spec checks.Spec, deps checks.Deps) (checks.Result, error) {
	tb.Helper()
	return Build(tb, spec, deps).Run(context.Background())
}

// Want is what a run should produce: an error containing every Err
// substring, or the status, the violation count (and as many keys) and the
// exact sample.
type Want struct {
	Err        []string
	Status     checks.Status
	Violations int
	Sample     []checks.Violation
}

// Check reports every way res and err differ from w.
func (w Want) Check(tb testing.TB, res checks.Result, err error) {
	tb.Helper()
	if len(w.Err) > 0 {
		if err == nil {
			tb.Fatalf("Run succeeded with %+v, want an error containing %q", res, w.Err)
		}
		tb.Logf("error: %v", err)
		for _, s := range w.Err {
			if !strings.Contains(err.Error(), s) {
				tb.Errorf("error %q does not contain %q", err, s)
			}
		}
		return
	}
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	if res.Status != w.Status || res.Violations != w.Violations {
		tb.Errorf("status %s with %d violations, want %s with %d", res.Status, res.Violations, w.Status, w.Violations)
	}
	if (len(res.Sample) != 0 || len(w.Sample) != 0) && !reflect.DeepEqual(res.Sample, w.Sample) {
		tb.Errorf("sample:\n got %q\nwant %q", res.Sample, w.Sample)
	}
	if len(res.Keys) != w.Violations {
		tb.Errorf("got %d keys, want %d", len(res.Keys), w.Violations)
	}
}

// Case is one case of a kind's table-driven run test.
type Case struct {
	Name  string
	Setup []string // seed statements; {ts} is a native timestamp type (Seed)
	Spec  string   // YAML of the kind-specific fields
	// What the run must give: an error containing every Err substring, or
	// the status, violation count and sample (see Want).
	Status     checks.Status
	Violations int
	Sample     []checks.Violation
	Err        []string
	// Keeps names tables the case's query must leave with this many rows:
	// the target of a query that tries to write.
	Keeps map[string]int
}

// RunCases runs cases on every driver of testdb: it seeds every case's
// Setup into one database per driver, then builds each case's check with
// deps over a datasource on it and runs it once, as subtests named by
// driver and case, and finally counts the rows each case Keeps.
func RunCases(t *testing.T, kind checks.Kind, deps func(checks.SQLSource) checks.Deps, cases []Case) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			for _, tc := range cases {
				Seed(t, db, tc.Setup...)
			}
			src := Source(t, "test", db.Driver, db.DSN)
			for _, tc := range cases {
				t.Run(tc.Name, func(t *testing.T) {
					res, err := Run(t, Decode(t, kind, tc.Spec), deps(src))
					Want{Err: tc.Err, Status: tc.Status, Violations: tc.Violations, Sample: tc.Sample}.Check(t, res, err)
				})
			}
			for _, tc := range cases {
				for table, want := range tc.Keeps {
					var n int
					if err := db.Admin.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil || n != want {
						t.Errorf("after case %q the table %s holds %d rows (err %v), want %d", tc.Name, table, n, err, want)
					}
				}
			}
		})
	}
}
