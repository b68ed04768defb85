package freshness_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/freshness"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/internal/testdb"
)

// now is the clock every run in these tests reads.
var now = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// fixture opens a fresh database on driver with the loads table every test
// reads: text timestamps in several formats and a native timestamp column.
func fixture(t *testing.T, driver string) (*testdb.DB, checks.SQLSource) {
	t.Helper()
	db := testdb.Open(t, driver)
	kindtest.Seed(t, db,
		"CREATE TABLE loads (name VARCHAR(40), txt VARCHAR(40), ts {ts})",
		"INSERT INTO loads (name, txt, ts) VALUES "+
			"('rfc3339-offset', '2024-06-01T13:30:00+02:00', NULL), "+
			"('rfc3339-z', '2024-06-01T11:00:00Z', NULL), "+
			"('space', '2024-06-01 09:00:00', NULL), "+
			"('space-fff', '2024-06-01 11:59:59.250', NULL), "+
			"('padded', ' 2024-06-01 09:00:00 ', NULL), "+
			"('bad', 'yesterday', NULL), "+
			"('date-only', '2024-06-01', NULL), "+
			"('null', NULL, NULL), "+
			"('native', NULL, '2024-06-01 08:48:00'), "+
			"('native-old', NULL, '2024-05-30 12:00:00.500'), "+
			"('zürich-加载', '2024-05-31 12:00:00', NULL)",
	)
	return db, kindtest.Source(t, "warehouse", driver, db.DSN)
}

// run validates, builds and runs spec against src at the fixed clock.
func run(t *testing.T, src checks.SQLSource, spec *freshness.Spec) (checks.Result, error) {
	t.Helper()
	spec.SetNow(func() time.Time { return now })
	return kindtest.Run(t, spec, checks.Deps{CheckID: "loads", Timeout: 5 * time.Second, SQL: src})
}

func txt(name string) string { return "SELECT txt FROM loads WHERE name = '" + name + "'" }

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		tables []freshness.Table
		status checks.Status
		sample []checks.Violation
	}{
		{
			name:   "fresh",
			tables: []freshness.Table{{Name: "orders", Query: txt("rfc3339-z"), WarnAfter: 2 * time.Hour}},
			status: checks.Pass,
		},
		{
			name:   "older than warn_after warns",
			tables: []freshness.Table{{Name: "orders", Query: txt("space"), WarnAfter: time.Hour, ErrorAfter: 6 * time.Hour}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h, error after 6h)"}},
		},
		{
			name:   "older than error_after fails",
			tables: []freshness.Table{{Name: "orders", Query: txt("space"), WarnAfter: time.Hour, ErrorAfter: 2*time.Hour + 30*time.Minute}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h, error after 2h30m)"}},
		},
		{
			name:   "exactly warn_after is not older",
			tables: []freshness.Table{{Name: "orders", Query: txt("space"), WarnAfter: 3 * time.Hour}},
			status: checks.Pass,
		},
		{
			name:   "exactly error_after only warns",
			tables: []freshness.Table{{Name: "orders", Query: txt("space"), WarnAfter: time.Hour, ErrorAfter: 3 * time.Hour}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h, error after 3h)"}},
		},
		{
			name:   "one second past error_after fails",
			tables: []freshness.Table{{Name: "orders", Query: txt("space"), WarnAfter: time.Hour, ErrorAfter: 3*time.Hour - time.Second}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h, error after 2h59m59s)"}},
		},
		{
			name:   "error_after alone fails",
			tables: []freshness.Table{{Name: "orders", Query: txt("space"), ErrorAfter: time.Hour}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (error after 1h)"}},
		},
		{
			name:   "RFC 3339 with an offset",
			tables: []freshness.Table{{Name: "orders", Query: txt("rfc3339-offset"), WarnAfter: 20 * time.Minute}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T11:30:00Z, 30m ago (warn after 20m)"}},
		},
		{
			name:   "RFC 3339 in UTC within warn_after",
			tables: []freshness.Table{{Name: "orders", Query: txt("rfc3339-z"), WarnAfter: time.Hour}},
			status: checks.Pass,
		},
		{
			name:   "fractional seconds",
			tables: []freshness.Table{{Name: "orders", Query: txt("space-fff"), WarnAfter: 500 * time.Millisecond}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T11:59:59Z, 750ms ago (warn after 500ms)"}},
		},
		{
			name:   "fractional seconds within warn_after",
			tables: []freshness.Table{{Name: "orders", Query: txt("space-fff"), WarnAfter: time.Second}},
			status: checks.Pass,
		},
		{
			name:   "surrounding spaces",
			tables: []freshness.Table{{Name: "orders", Query: txt("padded"), WarnAfter: time.Hour}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h)"}},
		},
		{
			name:   "native timestamp column",
			tables: []freshness.Table{{Name: "orders", Query: "SELECT ts FROM loads WHERE name = 'native'", WarnAfter: time.Hour, ErrorAfter: 6 * time.Hour}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T08:48:00Z, 3h12m ago (warn after 1h, error after 6h)"}},
		},
		{
			name:   "max over a native timestamp column",
			tables: []freshness.Table{{Name: "orders", Query: "SELECT max(ts) FROM loads", WarnAfter: time.Hour, ErrorAfter: 3 * time.Hour}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T08:48:00Z, 3h12m ago (warn after 1h, error after 3h)"}},
		},
		{
			name:   "native timestamp with milliseconds",
			tables: []freshness.Table{{Name: "orders", Query: "SELECT ts FROM loads WHERE name = 'native-old'", WarnAfter: 24 * time.Hour, ErrorAfter: 48 * time.Hour}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-05-30T12:00:00Z, 47h59m59s ago (warn after 24h, error after 48h)"}},
		},
		{
			name:   "NULL fails",
			tables: []freshness.Table{{Name: "orders", Query: txt("null"), WarnAfter: time.Hour}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "no last load: the query returned NULL"}},
		},
		{
			name:   "NULL with on_empty fail",
			tables: []freshness.Table{{Name: "orders", Query: txt("null"), WarnAfter: time.Hour, OnEmpty: "fail"}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "no last load: the query returned NULL"}},
		},
		{
			name:   "NULL with on_empty warn",
			tables: []freshness.Table{{Name: "orders", Query: txt("null"), WarnAfter: time.Hour, OnEmpty: "warn"}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "no last load: the query returned NULL"}},
		},
		{
			name:   "NULL with on_empty pass",
			tables: []freshness.Table{{Name: "orders", Query: txt("null"), WarnAfter: time.Hour, OnEmpty: "pass"}},
			status: checks.Pass,
		},
		{
			name:   "max over an empty table is NULL",
			tables: []freshness.Table{{Name: "orders", Query: "SELECT max(ts) FROM loads WHERE name = 'nobody'", WarnAfter: time.Hour}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "no last load: the query returned NULL"}},
		},
		{
			name:   "no row fails",
			tables: []freshness.Table{{Name: "orders", Query: txt("nobody"), WarnAfter: time.Hour}},
			status: checks.Fail,
			sample: []checks.Violation{{Key: "orders", Detail: "no last load: the query returned no row"}},
		},
		{
			name:   "no row with on_empty warn",
			tables: []freshness.Table{{Name: "orders", Query: txt("nobody"), WarnAfter: time.Hour, OnEmpty: "warn"}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "no last load: the query returned no row"}},
		},
		{
			name:   "no row with on_empty pass",
			tables: []freshness.Table{{Name: "orders", Query: txt("nobody"), WarnAfter: time.Hour, OnEmpty: "pass"}},
			status: checks.Pass,
		},
		{
			name:   "unicode table name is the key",
			tables: []freshness.Table{{Name: "zürich-加载", Query: txt("zürich-加载"), WarnAfter: 12 * time.Hour}},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "zürich-加载", Detail: "last load 2024-05-31T12:00:00Z, 24h ago (warn after 12h)"}},
		},
		{
			name: "worst over the tables, sample in key order",
			tables: []freshness.Table{
				{Name: "orders", Query: txt("space"), WarnAfter: time.Hour},
				{Name: "claims", Query: txt("rfc3339-z"), WarnAfter: 2 * time.Hour},
				{Name: "agents", Query: txt("null"), WarnAfter: time.Hour, OnEmpty: "warn"},
				{Name: "Policies", Query: txt("space"), WarnAfter: time.Hour, ErrorAfter: 2 * time.Hour},
			},
			status: checks.Fail,
			sample: []checks.Violation{
				{Key: "Policies", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h, error after 2h)"},
				{Key: "agents", Detail: "no last load: the query returned NULL"},
				{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h)"},
			},
		},
		{
			name: "warn is the worst",
			tables: []freshness.Table{
				{Name: "orders", Query: txt("space"), WarnAfter: time.Hour, ErrorAfter: 4 * time.Hour},
				{Name: "claims", Query: txt("null"), WarnAfter: time.Hour, OnEmpty: "pass"},
			},
			status: checks.Warn,
			sample: []checks.Violation{{Key: "orders", Detail: "last load 2024-06-01T09:00:00Z, 3h ago (warn after 1h, error after 4h)"}},
		},
	}
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			_, src := fixture(t, driver)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := run(t, src, &freshness.Spec{Tables: tt.tables})
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
					if res.Status != tt.status {
						t.Errorf("status = %s, want %s", res.Status, tt.status)
					}
					if res.Violations != len(tt.sample) {
						t.Errorf("violations = %d, want %d", res.Violations, len(tt.sample))
					}
					if !reflect.DeepEqual(res.Sample, tt.sample) && len(res.Sample)+len(tt.sample) > 0 {
						t.Errorf("sample:\n got %q\nwant %q", res.Sample, tt.sample)
					}
				})
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name   string
		tables []freshness.Table
		want   []string // substrings of the error
	}{
		{
			name:   "unparseable text quotes the value",
			tables: []freshness.Table{{Name: "orders", Query: txt("bad"), WarnAfter: time.Hour}},
			want:   []string{"datasource warehouse", "table orders", `"yesterday"`},
		},
		{
			name:   "a date alone is not a timestamp",
			tables: []freshness.Table{{Name: "orders", Query: txt("date-only"), WarnAfter: time.Hour}},
			want:   []string{"datasource warehouse", "table orders", `"2024-06-01"`},
		},
		{
			name:   "a number is not a timestamp",
			tables: []freshness.Table{{Name: "orders", Query: "SELECT 1717243200", WarnAfter: time.Hour}},
			want:   []string{"datasource warehouse", "table orders", `"1717243200"`},
		},
		{
			name: "one failing query fails the run and names its table",
			tables: []freshness.Table{
				{Name: "orders", Query: txt("space"), WarnAfter: time.Hour},
				{Name: "claims", Query: "SELECT loaded_at FROM loads", WarnAfter: time.Hour},
			},
			want: []string{"datasource warehouse", "table claims", "loaded_at"},
		},
		{
			name:   "missing table",
			tables: []freshness.Table{{Name: "orders", Query: "SELECT max(ts) FROM no_such_table", WarnAfter: time.Hour}},
			want:   []string{"table orders", "no_such_table"},
		},
		{
			name:   "a writing query is refused",
			tables: []freshness.Table{{Name: "orders", Query: "DELETE FROM loads", WarnAfter: time.Hour}},
			want:   []string{"datasource warehouse", "table orders"},
		},
	}
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db, src := fixture(t, driver)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := run(t, src, &freshness.Spec{Tables: tt.tables})
					if err == nil {
						t.Fatalf("Run: no error (result %+v), want one", res)
					}
					t.Logf("error: %v", err)
					for _, w := range tt.want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q does not contain %q", err, w)
						}
					}
				})
			}
			var n int
			if err := db.Admin.QueryRow("SELECT count(*) FROM loads").Scan(&n); err != nil || n != 11 {
				t.Errorf("loads has %d rows (%v), want the 11 seeded", n, err)
			}
		})
	}
}

func TestDefaultClock(t *testing.T) {
	// Without SetNow a run reads the real clock: a load stamped by the
	// database a moment ago is fresh, one from 2000 is stale.
	_, src := fixture(t, "sqlite")
	spec := &freshness.Spec{Tables: []freshness.Table{
		{Name: "now", Query: "SELECT datetime('now')", WarnAfter: time.Hour},
		{Name: "y2k", Query: "SELECT '2000-01-01 00:00:00'", WarnAfter: time.Hour},
	}}
	c, err := spec.Build(checks.Deps{SQL: src, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Violations != 1 || res.Sample[0].Key != "y2k" {
		t.Errorf("violations %d, sample %q; want only y2k", res.Violations, res.Sample)
	}
}

func TestValidate(t *testing.T) {
	ok := freshness.Table{Name: "orders", Query: "SELECT 1", WarnAfter: time.Hour}
	with := func(f func(*freshness.Table)) freshness.Table {
		t := ok
		f(&t)
		return t
	}
	tests := []struct {
		name   string
		tables []freshness.Table
		want   []checks.Problem
	}{
		{name: "valid", tables: []freshness.Table{ok, with(func(t *freshness.Table) { t.Name, t.ErrorAfter, t.OnEmpty = "claims", 2*time.Hour, "warn" })}},
		{name: "warn_after equal to error_after", tables: []freshness.Table{with(func(t *freshness.Table) { t.ErrorAfter = time.Hour })}},
		{name: "error_after alone", tables: []freshness.Table{with(func(t *freshness.Table) { t.WarnAfter, t.ErrorAfter = 0, time.Hour })}},
		{name: "every on_empty", tables: []freshness.Table{
			with(func(t *freshness.Table) { t.Name, t.OnEmpty = "a", "fail" }),
			with(func(t *freshness.Table) { t.Name, t.OnEmpty = "b", "warn" }),
			with(func(t *freshness.Table) { t.Name, t.OnEmpty = "c", "pass" }),
		}},
		{name: "no tables", want: []checks.Problem{{Field: "tables", Msg: "tables is required: list at least one {name, query, warn_after}"}}},
		{name: "missing name and query", tables: []freshness.Table{with(func(t *freshness.Table) { t.Name, t.Query = "", " " })}, want: []checks.Problem{
			{Field: "tables[0].name", Msg: "name is required"},
			{Field: "tables[0].query", Msg: "query is required"},
		}},
		{name: "duplicate name", tables: []freshness.Table{ok, with(func(t *freshness.Table) { t.Name = "claims" }), ok}, want: []checks.Problem{
			{Field: "tables[2].name", Msg: `duplicate table name "orders" (also tables[0])`},
		}},
		{name: "no age", tables: []freshness.Table{with(func(t *freshness.Table) { t.WarnAfter = 0 })}, want: []checks.Problem{
			{Field: "tables[0].warn_after", Msg: "warn_after or error_after is required (e.g. warn_after: 2h)"},
		}},
		{name: "negative warn_after", tables: []freshness.Table{with(func(t *freshness.Table) { t.WarnAfter = -time.Minute })}, want: []checks.Problem{
			{Field: "tables[0].warn_after", Msg: "warn_after must be positive, got -1m0s"},
		}},
		{name: "negative error_after", tables: []freshness.Table{with(func(t *freshness.Table) { t.ErrorAfter = -time.Minute })}, want: []checks.Problem{
			{Field: "tables[0].error_after", Msg: "error_after must be positive, got -1m0s"},
		}},
		{name: "warn_after longer than error_after", tables: []freshness.Table{with(func(t *freshness.Table) { t.WarnAfter, t.ErrorAfter = 2*time.Hour, 90*time.Minute })}, want: []checks.Problem{
			{Field: "tables[0].warn_after", Msg: "warn_after (2h) must not be longer than error_after (1h30m)"},
		}},
		{name: "unknown on_empty", tables: []freshness.Table{with(func(t *freshness.Table) { t.OnEmpty = "ignore" })}, want: []checks.Problem{
			{Field: "tables[0].on_empty", Msg: `on_empty must be fail, warn or pass, got "ignore"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&freshness.Spec{Tables: tt.tables}).Validate(checks.SpecEnv{})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBuildNeedsSQL(t *testing.T) {
	spec := &freshness.Spec{Tables: []freshness.Table{{Name: "orders", Query: "SELECT 1", WarnAfter: time.Hour}}}
	if _, err := spec.Build(checks.Deps{}); err == nil {
		t.Error("Build without a datasource: no error")
	}
}

// TestKind checks the registration, and that the spec offers no
// warn_above or fail_above: decoded strictly, they are unknown fields.
func TestKind(t *testing.T) {
	if freshness.Kind.Name != "freshness" || freshness.Kind.Needs != checks.NeedsSQL {
		t.Errorf("Kind = %+v", freshness.Kind)
	}
	spec, ok := freshness.Kind.NewSpec().(*freshness.Spec)
	if !ok {
		t.Fatalf("NewSpec() is %T, want *freshness.Spec", freshness.Kind.NewSpec())
	}
	tags := yamlTags(reflect.TypeOf(*spec))
	want := []string{"tables", "tables[].name", "tables[].query", "tables[].warn_after", "tables[].error_after", "tables[].on_empty"}
	if !reflect.DeepEqual(tags, want) {
		t.Errorf("yaml fields = %q, want %q", tags, want)
	}
}

// yamlTags lists the yaml field names a type decodes, nested lists as
// "name[].field".
func yamlTags(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		out = append(out, name)
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			for _, sub := range yamlTags(f.Type.Elem()) {
				out = append(out, name+"[]."+sub)
			}
		}
	}
	return out
}

// TestAgeMeasure: a run reports the age of its stalest load, in seconds, as
// checks.MetricMeasure (what the dashboard charts); tables without a load
// do not count, and a run where no table has one reports none.
func TestAgeMeasure(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			_, src := fixture(t, driver)
			res, err := run(t, src, &freshness.Spec{Tables: []freshness.Table{
				{Name: "a", Query: txt("rfc3339-z"), WarnAfter: 48 * time.Hour}, // 1h old
				{Name: "b", Query: txt("space"), WarnAfter: 48 * time.Hour},     // 3h old
				{Name: "c", Query: txt("null"), WarnAfter: 48 * time.Hour, OnEmpty: "pass"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Metrics[checks.MetricMeasure], (3 * time.Hour).Seconds(); got != want {
				t.Errorf("measure = %v, want %v (the stalest load's age in seconds)", got, want)
			}
			res, err = run(t, src, &freshness.Spec{Tables: []freshness.Table{{Name: "c", Query: txt("null"), WarnAfter: time.Hour, OnEmpty: "pass"}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := res.Metrics[checks.MetricMeasure]; ok {
				t.Errorf("a run without any load reports an age: %v", res.Metrics)
			}
		})
	}
}
