package sqlrows_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/checks/sqlrows"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/testdb"
)

// fixture opens a fresh database on driver with the policies table every
// test reads, and the vigil datasource over it.
func fixture(t *testing.T, driver string) (*testdb.DB, *datasource.SQL) {
	t.Helper()
	db := testdb.Open(t, driver)
	double := map[string]string{"postgres": "DOUBLE PRECISION", "mysql": "DOUBLE", "sqlite": "REAL"}[driver]
	kindtest.Seed(t, db,
		"CREATE TABLE policies (id VARCHAR(40), state VARCHAR(10), premium INT, ratio "+double+", issued_at {ts}, note VARCHAR(40))",
		"INSERT INTO policies (id, state, premium, ratio, issued_at, note) VALUES "+
			"('P-2', 'FL', 1200, 0.25, '2024-01-02 03:04:05', NULL), "+
			"('P-1', 'LA', -7, 1.5, '2023-12-31 23:59:59', 'late'), "+
			"('P-ü', 'TX', 0, 100, NULL, 'ünïcode ok'), "+
			"('政策-3', 'NY', 5, 0.125, '2024-02-29 12:00:00', ''), "+
			"(NULL, 'CA', NULL, NULL, NULL, NULL), "+
			"('P-2', 'GA', 1, 2, '2024-01-02 03:04:05', 'written twice')",
		"CREATE TABLE empty (id INT)",
	)
	return db, kindtest.Source(t, "warehouse", driver, db.DSN)
}

// run validates, builds and runs spec against src.
func run(t *testing.T, src checks.SQLSource, spec *sqlrows.Spec) (checks.Result, error) {
	t.Helper()
	return kindtest.Run(t, spec, checks.Deps{CheckID: "rows", Timeout: 5 * time.Second, SQL: src})
}

func intp(n int) *int { return &n }

func TestRun(t *testing.T) {
	all := []checks.Violation{
		{Key: "NULL", Detail: "state=CA, premium=NULL, ratio=NULL, issued_at=NULL, note=NULL"},
		{Key: "P-1", Detail: "state=LA, premium=-7, ratio=1.5, issued_at=2023-12-31T23:59:59Z, note=late"},
		{Key: "P-2", Detail: "state=FL, premium=1200, ratio=0.25, issued_at=2024-01-02T03:04:05Z, note=NULL"},
		{Key: "P-2", Detail: "state=GA, premium=1, ratio=2, issued_at=2024-01-02T03:04:05Z, note=written twice"},
		{Key: "P-ü", Detail: "state=TX, premium=0, ratio=100, issued_at=NULL, note=ünïcode ok"},
		{Key: "政策-3", Detail: "state=NY, premium=5, ratio=0.125, issued_at=2024-02-29T12:00:00Z, note="},
	}
	tests := []struct {
		name       string
		query      string // {key} is the quoted identifier key
		thresholds checks.Thresholds
		status     checks.Status
		count      int
		sample     []checks.Violation
	}{
		{
			name:   "first column is the key",
			query:  "SELECT id, state, premium, ratio, issued_at, note FROM policies",
			status: checks.Fail, count: 6, sample: all,
		},
		{
			name:   "column named key wins wherever it is",
			query:  "SELECT state, premium, id AS {key}, note FROM policies WHERE id = 'P-1'",
			status: checks.Fail, count: 1,
			sample: []checks.Violation{{Key: "P-1", Detail: "state=LA, premium=-7, note=late"}},
		},
		{
			name:   "key column matched case-insensitively",
			query:  "SELECT state, id AS " + "KEY_PLACEHOLDER" + " FROM policies WHERE id = 'P-1'",
			status: checks.Fail, count: 1,
			sample: []checks.Violation{{Key: "P-1", Detail: "state=LA"}},
		},
		{
			name:   "a lone key column has an empty detail",
			query:  "SELECT id FROM policies WHERE state = 'NY'",
			status: checks.Fail, count: 1,
			sample: []checks.Violation{{Key: "政策-3", Detail: ""}},
		},
		{
			name:   "no rows pass",
			query:  "SELECT id FROM empty",
			status: checks.Pass, count: 0, sample: []checks.Violation{},
		},
		{
			name:   "expressions keep their names",
			query:  "SELECT id, premium * 2 AS doubled, ratio / 2 AS half FROM policies WHERE id = 'P-1'",
			status: checks.Fail, count: 1,
			sample: []checks.Violation{{Key: "P-1", Detail: "doubled=-14, half=0.75"}},
		},
		{
			name:       "under warn_above passes",
			query:      "SELECT id FROM policies WHERE id = 'P-2'",
			thresholds: checks.Thresholds{WarnAbove: intp(2), FailAbove: intp(5)},
			status:     checks.Pass, count: 2,
			sample: []checks.Violation{{Key: "P-2"}, {Key: "P-2"}},
		},
		{
			name:       "duplicate keys count toward warn_above",
			query:      "SELECT id FROM policies WHERE id = 'P-2'",
			thresholds: checks.Thresholds{WarnAbove: intp(1), FailAbove: intp(5)},
			status:     checks.Warn, count: 2,
			sample: []checks.Violation{{Key: "P-2"}, {Key: "P-2"}},
		},
		{
			name:       "over fail_above fails",
			query:      "SELECT id FROM policies",
			thresholds: checks.Thresholds{WarnAbove: intp(1), FailAbove: intp(5)},
			status:     checks.Fail, count: 6,
			sample: []checks.Violation{{Key: "NULL"}, {Key: "P-1"}, {Key: "P-2"}, {Key: "P-2"}, {Key: "P-ü"}, {Key: "政策-3"}},
		},
		{
			name:       "at fail_above only warns",
			query:      "SELECT id FROM policies",
			thresholds: checks.Thresholds{WarnAbove: intp(1), FailAbove: intp(6)},
			status:     checks.Warn, count: 6,
			sample: []checks.Violation{{Key: "NULL"}, {Key: "P-1"}, {Key: "P-2"}, {Key: "P-2"}, {Key: "P-ü"}, {Key: "政策-3"}},
		},
	}
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			_, src := fixture(t, driver)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					q := strings.ReplaceAll(tt.query, "{key}", src.QuoteIdent("key"))
					q = strings.ReplaceAll(q, "KEY_PLACEHOLDER", src.QuoteIdent("Key"))
					res, err := run(t, src, &sqlrows.Spec{Query: q, Thresholds: tt.thresholds})
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
					if res.Status != tt.status || res.Violations != tt.count {
						t.Errorf("status %s, %d violations; want %s, %d", res.Status, res.Violations, tt.status, tt.count)
					}
					if !reflect.DeepEqual(res.Sample, tt.sample) {
						t.Errorf("sample:\n got %q\nwant %q", res.Sample, tt.sample)
					}
				})
			}
		})
	}
}

func TestSampleOrderAndCap(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db, src := fixture(t, driver)
			var values []string
			var keys []string
			for i := 60; i >= 1; i-- {
				key := fmt.Sprintf("P-1#%d", i)
				keys = append(keys, key)
				values = append(values, fmt.Sprintf("('%s', %d)", key, i))
			}
			db.Exec(t,
				"CREATE TABLE events (k VARCHAR(20), n INT)",
				"INSERT INTO events (k, n) VALUES "+strings.Join(values, ", "),
			)
			res, err := run(t, src, &sqlrows.Spec{Query: "SELECT k, n FROM events"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != checks.Fail || res.Violations != 60 {
				t.Errorf("status %s, %d violations; want fail, 60", res.Status, res.Violations)
			}
			if len(res.Sample) != checks.SampleSize {
				t.Fatalf("sample holds %d, want %d", len(res.Sample), checks.SampleSize)
			}
			sort.Strings(keys) // byte-wise
			for i, v := range res.Sample {
				if v.Key != keys[i] {
					t.Errorf("sample[%d].Key = %q, want %q", i, v.Key, keys[i])
				}
				if want := "n=" + strings.TrimPrefix(v.Key, "P-1#"); v.Detail != want {
					t.Errorf("sample[%d].Detail = %q, want %q", i, v.Detail, want)
				}
			}
			// Byte-wise, P-1#10 is second and P-1#9 comes last of all 60,
			// outside the sample; numerically it would be ninth.
			if pos10, pos9 := index(res.Sample, "P-1#10"), index(res.Sample, "P-1#9"); pos10 != 1 || pos9 != -1 {
				t.Errorf("P-1#10 at %d, P-1#9 at %d: want 1 and absent", pos10, pos9)
			}
			if n := len(res.Keys); n == 0 || res.Keys[n-1] != "P-1#9" {
				t.Errorf("last key %q, want P-1#9", res.Keys)
			}
			if len(res.Keys) != 60 || !sort.StringsAreSorted(res.Keys) {
				t.Errorf("Keys: %d sorted=%v, want all 60 in order", len(res.Keys), sort.StringsAreSorted(res.Keys))
			}
		})
	}
}

func index(vs []checks.Violation, key string) int {
	for i, v := range vs {
		if v.Key == key {
			return i
		}
	}
	return -1
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "missing column", query: "SELECT id, nope FROM policies", want: []string{"datasource warehouse", "nope"}},
		{name: "missing table", query: "SELECT id FROM no_such_table", want: []string{"datasource warehouse", "no_such_table"}},
		{name: "delete is refused", query: "DELETE FROM policies", want: []string{"datasource warehouse"}},
		{name: "update is refused", query: "UPDATE policies SET note = 'x'", want: []string{"datasource warehouse"}},
		{name: "insert is refused", query: "INSERT INTO policies (id) VALUES ('P-9')", want: []string{"datasource warehouse"}},
	}
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db, src := fixture(t, driver)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := run(t, src, &sqlrows.Spec{Query: tt.query})
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
			var n, notes int
			if err := db.Admin.QueryRow("SELECT count(*), count(note) FROM policies").Scan(&n, &notes); err != nil || n != 6 || notes != 4 {
				t.Errorf("policies has %d rows, %d notes (%v); want 6 and 4 as seeded", n, notes, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec sqlrows.Spec
		want []checks.Problem
	}{
		{name: "valid", spec: sqlrows.Spec{Query: "SELECT 1"}},
		{name: "valid thresholds", spec: sqlrows.Spec{Query: "SELECT 1", Thresholds: checks.Thresholds{WarnAbove: intp(1), FailAbove: intp(3)}}},
		{name: "no query", spec: sqlrows.Spec{Query: "  "}, want: []checks.Problem{{Field: "query", Msg: "query is required"}}},
		{name: "negative fail_above", spec: sqlrows.Spec{Query: "SELECT 1", Thresholds: checks.Thresholds{FailAbove: intp(-1)}}, want: []checks.Problem{
			{Field: "fail_above", Msg: "fail_above must not be negative, got -1"},
		}},
		{name: "warn_above over fail_above", spec: sqlrows.Spec{Thresholds: checks.Thresholds{WarnAbove: intp(2)}}, want: []checks.Problem{
			{Field: "query", Msg: "query is required"},
			{Field: "warn_above", Msg: "warn_above (2) must not be greater than fail_above (0)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Validate(checks.SpecEnv{}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBuildNeedsSQL(t *testing.T) {
	if _, err := (&sqlrows.Spec{Query: "SELECT 1"}).Build(checks.Deps{}); err == nil {
		t.Error("Build without a datasource: no error")
	}
}

func TestKind(t *testing.T) {
	if sqlrows.Kind.Name != "sql" || sqlrows.Kind.Needs != checks.NeedsSQL {
		t.Errorf("Kind = %+v", sqlrows.Kind)
	}
	if _, ok := sqlrows.Kind.NewSpec().(*sqlrows.Spec); !ok {
		t.Errorf("NewSpec() is %T, want *sqlrows.Spec", sqlrows.Kind.NewSpec())
	}
	f, ok := reflect.TypeOf(sqlrows.Spec{}).FieldByName("Thresholds")
	if !ok || f.Tag.Get("yaml") != ",inline" {
		t.Errorf("Thresholds field %+v: want embedded with yaml:\",inline\"", f)
	}
}

func TestTimestampsInUTC(t *testing.T) {
	// A zoned timestamp renders in UTC whatever the session's or the
	// host's zone (the driver returns it in time.Local).
	local := time.Local
	time.Local = time.FixedZone("UTC+9", 9*3600)
	t.Cleanup(func() { time.Local = local })
	db := testdb.Open(t, "postgres")
	db.Exec(t, "CREATE TABLE t (id TEXT, at TIMESTAMPTZ)", "INSERT INTO t VALUES ('a', '2024-01-02 05:04:05+02')")
	src := kindtest.Source(t, "warehouse", "postgres", db.DSN+"&timezone=Asia/Tokyo")
	res, err := run(t, src, &sqlrows.Spec{Query: "SELECT at AS key, id FROM t"})
	if err != nil {
		t.Fatal(err)
	}
	want := []checks.Violation{{Key: "2024-01-02T03:04:05Z", Detail: "id=a"}}
	if !reflect.DeepEqual(res.Sample, want) {
		t.Errorf("sample %q, want %q", res.Sample, want)
	}
}
