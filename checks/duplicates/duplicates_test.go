package duplicates_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/duplicates"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/internal/testdb"
)

func TestRun(t *testing.T) {
	manyKeys, manySample := manyViolations(60)
	cases := []kindtest.Case{
		{
			Name: "window boundary is inclusive",
			Setup: []string{
				"CREATE TABLE boundary (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO boundary VALUES
					(1, 'A', '2024-01-02 10:00:00'), (2, 'A', '2024-01-02 10:00:02'),
					(3, 'B', '2024-01-02 10:00:00'), (4, 'B', '2024-01-02 10:00:02.001')`,
			},
			Spec:       "{query: 'SELECT id, k, at FROM boundary', key_columns: [k], window: 2s}",
			Status:     checks.Fail,
			Violations: 1,
			Sample:     []checks.Violation{{Key: "A", Detail: "2 rows within 2s: id 1 at 2024-01-02T10:00:00Z, id 2 at 2024-01-02T10:00:02Z"}},
		},
		{
			Name: "far-apart re-writes are legitimate",
			Setup: []string{
				"CREATE TABLE rewrites (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO rewrites VALUES
					(1, 'A', '2024-01-02 10:00:00'), (2, 'A', '2024-01-02 11:00:00'), (3, 'A', '2024-01-03 10:00:00'),
					(4, 'B', '2024-01-02 10:00:00')`,
			},
			Spec:   "{query: 'SELECT id, k, at FROM rewrites', key_columns: [k], window: 30m}",
			Status: checks.Pass,
		},
		{
			Name: "a NULL key column is never a duplicate",
			Setup: []string{
				"CREATE TABLE nullkeys (id INTEGER, policy VARCHAR(64), doc VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO nullkeys VALUES
					(1, 'P-1', NULL, '2024-01-02 10:00:00'), (2, 'P-1', NULL, '2024-01-02 10:00:00'),
					(3, NULL, NULL, '2024-01-02 10:00:00'), (4, NULL, NULL, '2024-01-02 10:00:00'),
					(5, 'P-1', 'D-1', '2024-01-02 10:00:00'), (6, 'P-1', 'D-1', '2024-01-02 10:00:01'),
					(7, 'P-1', 'D-2', '2024-01-02 10:00:00'), (8, 'P-2', 'D-1', '2024-01-02 10:00:00')`,
			},
			Spec:       "{query: 'SELECT id, policy, doc, at FROM nullkeys', key_columns: [policy, doc], window: 1s}",
			Status:     checks.Fail,
			Violations: 1,
			Sample:     []checks.Violation{{Key: "P-1|D-1", Detail: "2 rows within 1s: id 5 at 2024-01-02T10:00:00Z, id 6 at 2024-01-02T10:00:01Z"}},
		},
		{
			Name: "unicode keys",
			Setup: []string{
				"CREATE TABLE unikeys (id INTEGER, city VARCHAR(64), name VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO unikeys VALUES
					(1, '東京', 'ключ', '2024-01-02 10:00:00'), (2, '東京', 'ключ', '2024-01-02 10:00:00'),
					(3, '東京', 'ключи', '2024-01-02 10:00:00'), (4, 'Zürich', 'ключ', '2024-01-02 10:00:00'),
					(5, 'Zürich', 'ключ', '2024-01-02 10:00:01')`,
			},
			Spec:       "{query: 'SELECT id, city, name, at FROM unikeys', key_columns: [city, name], window: 1s}",
			Status:     checks.Fail,
			Violations: 2,
			Sample: []checks.Violation{
				{Key: "Zürich|ключ", Detail: "2 rows within 1s: id 4 at 2024-01-02T10:00:00Z, id 5 at 2024-01-02T10:00:01Z"},
				{Key: "東京|ключ", Detail: "2 rows within 1s: id 1 at 2024-01-02T10:00:00Z, id 2 at 2024-01-02T10:00:00Z"},
			},
		},
		{
			Name: "mixed text timestamp formats",
			Setup: []string{
				"CREATE TABLE mixed (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO mixed VALUES
					(1, 'M', '2024-01-02T12:00:00+02:00'), (2, 'M', '2024-01-02 10:00:01.250'),
					(3, 'N', '2024-01-02T10:00:00Z'), (4, 'N', '2024-01-02 07:00:00-03:00'),
					(5, 'O', '2024-01-02T10:00:00+02:00'), (6, 'O', '2024-01-02 10:00:00'),
					(7, 'P', '2024-01-02T10:00:00.5Z'), (8, 'P', '2024-01-02 10:00:00.750')`,
			},
			Spec:       "{query: 'SELECT id, k, at FROM mixed', key_columns: [k], window: 2s}",
			Status:     checks.Fail,
			Violations: 3,
			Sample: []checks.Violation{
				{Key: "M", Detail: "2 rows within 2s: id 1 at 2024-01-02T10:00:00Z, id 2 at 2024-01-02T10:00:01.25Z"},
				{Key: "N", Detail: "2 rows within 2s: id 3 at 2024-01-02T10:00:00Z, id 4 at 2024-01-02T10:00:00Z"},
				{Key: "P", Detail: "2 rows within 2s: id 7 at 2024-01-02T10:00:00.5Z, id 8 at 2024-01-02T10:00:00.75Z"},
			},
		},
		{
			Name: "native timestamps and other column names",
			Setup: []string{
				"CREATE TABLE native (doc_id VARCHAR(16), k VARCHAR(64), written_at {ts})",
				`INSERT INTO native VALUES
					('d-1', 'A', '2024-01-02 10:00:00.250'), ('d-2', 'A', '2024-01-02 10:00:01.750'),
					('d-3', 'B', '2024-01-02 10:00:00'), ('d-4', 'B', '2024-01-02 10:00:01.501')`,
			},
			Spec:       "{query: 'SELECT doc_id, k, written_at FROM native', key_columns: [k], id_column: doc_id, at_column: written_at, window: 1500ms}",
			Status:     checks.Fail,
			Violations: 1,
			Sample:     []checks.Violation{{Key: "A", Detail: "2 rows within 1.5s: id d-1 at 2024-01-02T10:00:00.25Z, id d-2 at 2024-01-02T10:00:01.75Z"}},
		},
		{
			Name:   "empty table",
			Setup:  []string{"CREATE TABLE empty (id INTEGER, k VARCHAR(64), at VARCHAR(40))"},
			Spec:   "{query: 'SELECT id, k, at FROM empty', key_columns: [k], window: 2s}",
			Status: checks.Pass,
		},
		{
			Name: "equal times keep query order",
			Setup: []string{
				"CREATE TABLE ties (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO ties VALUES
					(5, 'T', '2024-01-02 10:00:00'), (6, 'T', '2024-01-02 10:00:00'), (7, 'T', '2024-01-02 10:00:00'),
					(8, 'T', '2024-01-02 09:59:59')`,
			},
			Spec:       "{query: 'SELECT id, k, at FROM ties ORDER BY id DESC', key_columns: [k], window: 0s}",
			Status:     checks.Fail,
			Violations: 1,
			Sample:     []checks.Violation{{Key: "T", Detail: "3 rows within 0s: id 7 at 2024-01-02T10:00:00Z, id 6 at 2024-01-02T10:00:00Z, id 5 at 2024-01-02T10:00:00Z"}},
		},
		{
			Name: "only rows near another are named",
			Setup: []string{
				"CREATE TABLE bursts (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO bursts VALUES
					(6, 'A', '2024-01-02 10:02:00.500'), (1, 'A', '2024-01-02 10:00:00'), (2, 'A', '2024-01-02 10:00:02'),
					(3, 'A', '2024-01-02 10:00:04'), (4, 'A', '2024-01-02 10:01:00'), (5, 'A', '2024-01-02 10:02:00')`,
			},
			Spec:       "{query: 'SELECT id, k, at FROM bursts', key_columns: [k], window: 2s}",
			Status:     checks.Fail,
			Violations: 1,
			Sample: []checks.Violation{{Key: "A", Detail: "5 rows within 2s: id 1 at 2024-01-02T10:00:00Z, id 2 at 2024-01-02T10:00:02Z, " +
				"id 3 at 2024-01-02T10:00:04Z, id 5 at 2024-01-02T10:02:00Z, id 6 at 2024-01-02T10:02:00.5Z"}},
		},
		{
			Name: "a long burst names the first ten ids",
			Setup: []string{
				"CREATE TABLE longburst (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO longburst VALUES " + repeatRows(12, func(i int) string {
					return fmt.Sprintf("(%d, 'L', '2024-01-02 10:00:%02d')", i+1, i)
				}),
			},
			Spec:       "{query: 'SELECT id, k, at FROM longburst', key_columns: [k], window: 1s}",
			Status:     checks.Fail,
			Violations: 1,
			Sample: []checks.Violation{{Key: "L", Detail: "12 rows within 1s: " + repeatJoin(10, ", ", func(i int) string {
				return fmt.Sprintf("id %d at 2024-01-02T10:00:%02dZ", i+1, i)
			}) + " and 2 more"}},
		},
		{
			Name: "more than 50 violations keep the smallest keys",
			Setup: []string{
				"CREATE TABLE many (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO many VALUES " + manyKeys,
			},
			Spec:       "{query: 'SELECT id, k, at FROM many', key_columns: [k], window: 2s}",
			Status:     checks.Fail,
			Violations: 60,
			Sample:     manySample,
		},
		{
			Name: "thresholds decide the status",
			Setup: []string{
				"CREATE TABLE warned (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO warned VALUES (1, 'A', '2024-01-02 10:00:00'), (2, 'A', '2024-01-02 10:00:00')",
			},
			Spec:       "{query: 'SELECT id, k, at FROM warned', key_columns: [k], window: 0s, warn_above: 0, fail_above: 3}",
			Status:     checks.Warn,
			Violations: 1,
			Sample:     []checks.Violation{{Key: "A", Detail: "2 rows within 0s: id 1 at 2024-01-02T10:00:00Z, id 2 at 2024-01-02T10:00:00Z"}},
		},
		{
			Name: "an unreadable timestamp is an error quoting it",
			Setup: []string{
				"CREATE TABLE badtime (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO badtime VALUES (1, 'A', '2024-01-02 10:00:00'), (2, 'A', '02/01/2024 10:00')",
			},
			Spec: "{query: 'SELECT id, k, at FROM badtime', key_columns: [k], window: 2s}",
			Err:  []string{"duplicates:", "id 2", `"02/01/2024 10:00"`},
		},
		{
			Name: "a NULL timestamp is an error",
			Setup: []string{
				"CREATE TABLE nulltime (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO nulltime VALUES (1, 'A', NULL)",
			},
			Spec: "{query: 'SELECT id, k, at FROM nulltime', key_columns: [k], window: 2s}",
			Err:  []string{"id 1", "NULL"},
		},
		{
			Name: "a missing column is an error naming it",
			Setup: []string{
				"CREATE TABLE nocol (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO nocol VALUES (1, 'A', '2024-01-02 10:00:00')",
			},
			Spec: "{query: 'SELECT id, k FROM nocol', key_columns: [k, region], window: 2s}",
			Err:  []string{"duplicates:", `"region"`, `"at"`},
		},
		{
			Name: "a writing query is refused",
			Setup: []string{
				"CREATE TABLE writes (id INTEGER, k VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO writes VALUES (1, 'A', '2024-01-02 10:00:00')",
			},
			Spec:  "{query: 'DELETE FROM writes', key_columns: [k], window: 2s}",
			Err:   []string{"duplicates:"},
			Keeps: map[string]int{"writes": 1},
		},
	}
	kindtest.RunCases(t, duplicates.Kind, deps, cases)
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		spec string
		want []checks.Problem
	}{
		{
			name: "complete",
			spec: "{query: 'SELECT 1', key_columns: [a, b], id_column: doc, at_column: ts, window: 2s, warn_above: 1, fail_above: 2}",
		},
		{
			name: "zero window",
			spec: "{query: 'SELECT 1', key_columns: [a], window: 0s}",
		},
		{
			name: "everything missing",
			spec: "{}",
			want: []checks.Problem{
				{Field: "query", Msg: "query is required"},
				{Field: "key_columns", Msg: "key_columns is required: list the columns that form the business key"},
				{Field: "window", Msg: "window is required (e.g. 2s): two writes of a key this close count as a race"},
			},
		},
		{
			name: "bad values",
			spec: "{query: 'SELECT 1', key_columns: [a, '', a], window: -1s, warn_above: 5}",
			want: []checks.Problem{
				{Field: "key_columns[1]", Msg: "a key column name must not be empty"},
				{Field: "key_columns[2]", Msg: `key column "a" is listed twice`},
				{Field: "window", Msg: "window must not be negative, got -1s"},
				{Field: "warn_above", Msg: "warn_above (5) must not be greater than fail_above (0)"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := kindtest.Decode(t, duplicates.Kind, tc.spec).Validate(checks.SpecEnv{})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	if duplicates.Kind.Name != "duplicates" || duplicates.Kind.Needs != checks.NeedsSQL {
		t.Errorf("kind %q needs %q, want duplicates needing %q", duplicates.Kind.Name, duplicates.Kind.Needs, checks.NeedsSQL)
	}
	if _, ok := duplicates.Kind.NewSpec().(*duplicates.Spec); !ok {
		t.Errorf("NewSpec returned %T, want *duplicates.Spec", duplicates.Kind.NewSpec())
	}
}

// deps is what a check of these tests runs with.
func deps(src checks.SQLSource) checks.Deps {
	return checks.Deps{CheckID: "dups", Timeout: 30 * time.Second, SQL: src}
}

// manyViolations returns VALUES for n keys written twice at once, and the
// sample a run must keep: the 50 smallest keys in byte order.
func manyViolations(n int) (string, []checks.Violation) {
	var keys []string
	values := repeatRows(n, func(i int) string {
		keys = append(keys, fmt.Sprintf("K-%d", i))
		return fmt.Sprintf("(%d, 'K-%d', '2024-01-02 10:00:00'), (%d, 'K-%d', '2024-01-02 10:00:01')", 2*i, i, 2*i+1, i)
	})
	sort.Strings(keys)
	var sample []checks.Violation
	for _, k := range keys[:checks.SampleSize] {
		var i int
		fmt.Sscanf(k, "K-%d", &i)
		sample = append(sample, checks.Violation{Key: k, Detail: fmt.Sprintf(
			"2 rows within 2s: id %d at 2024-01-02T10:00:00Z, id %d at 2024-01-02T10:00:01Z", 2*i, 2*i+1)})
	}
	return values, sample
}

func repeatRows(n int, row func(i int) string) string { return repeatJoin(n, ", ", row) }

func repeatJoin(n int, sep string, item func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return strings.Join(parts, sep)
}

// TestKeyIsATupleAsInGroupBy holds the key to the rule of SQL's GROUP BY
// (and of dbt's unique_combination_of_columns, which is a GROUP BY of the
// key columns HAVING COUNT(*) > 1): rows are one key when each key column
// is equal, compared by the column's type, never by a joined string. So
// ('P-1|invoice', 'id_card') and ('P-1', 'invoice|id_card') are two keys,
// and a NUMERIC 1.0 and 1.00 are one value (PostgreSQL: numeric equality
// ignores the scale). The test asks each server's own GROUP BY which keys
// have two rows or more and wants exactly those reported (the window, 1h,
// covers every pair of rows here).
func TestKeyIsATupleAsInGroupBy(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			amount := "NUMERIC" // PostgreSQL keeps the scale written; SQLite stores a number
			if driver == "mysql" {
				amount = "DECIMAL(12,4)"
			}
			kindtest.Seed(t, db,
				"CREATE TABLE tuples (id INTEGER, policy VARCHAR(64), doc VARCHAR(64), amount "+amount+", at VARCHAR(40))",
				`INSERT INTO tuples VALUES
					(1, 'P-1|invoice', 'id_card', 1.0, '2024-01-02 10:00:00'),
					(2, 'P-1', 'invoice|id_card', 1.0, '2024-01-02 10:00:00.5'),
					(3, 'P-2', 'invoice', 1.0, '2024-01-02 10:00:00'),
					(4, 'P-2', 'invoice', 1.00, '2024-01-02 10:00:00.5'),
					(5, 'P-3', 'a|b', 2.5, '2024-01-02 10:00:00'),
					(6, 'P-3|a', 'b', 2.5, '2024-01-02 10:00:00.1'),
					(7, 'P-5', 'inv', 10, '2024-01-02 10:00:00'),
					(8, 'P-5', 'inv', 10.000, '2024-01-02 10:00:01'),
					(9, 'P-6', 'inv', 0.5, '2024-01-02 10:00:00'),
					(10, 'P-6', 'inv', 0.50, '2024-01-02 10:00:01'),
					(11, 'P-6', 'inv', 0.51, '2024-01-02 10:00:01'),
					(12, 'P-7|x', 'y', 1, '2024-01-02 10:00:00'),
					(13, 'P-7|x', 'y', 1, '2024-01-02 10:00:01')`,
			)
			// The outside rule: the server's GROUP BY.
			rows, err := db.Admin.Query("SELECT policy, doc, COUNT(*) FROM tuples GROUP BY policy, doc, amount HAVING COUNT(*) > 1")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			want := map[string]int{} // policy/doc -> rows in the group
			for rows.Next() {
				var policy, doc string
				var n int
				if err := rows.Scan(&policy, &doc, &n); err != nil {
					t.Fatal(err)
				}
				want[policy+" / "+doc] = n
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			src := kindtest.Source(t, "test", db.Driver, db.DSN)
			res, err := kindtest.Run(t, kindtest.Decode(t, duplicates.Kind,
				"{query: 'SELECT id, policy, doc, amount, at FROM tuples', key_columns: [policy, doc, amount], window: 1h}"), deps(src))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, v := range res.Sample {
				var n int
				if _, err := fmt.Sscanf(v.Detail, "%d rows", &n); err != nil {
					t.Fatalf("detail %q: %v", v.Detail, err)
				}
				got[v.Key] = n
			}
			wantKeys := map[string]int{`P-2|invoice|1`: want["P-2 / invoice"], `P-5|inv|10`: want["P-5 / inv"], `P-6|inv|0.5`: want["P-6 / inv"], `P-7\|x|y|1`: want["P-7|x / y"]}
			if len(want) != 4 || !reflect.DeepEqual(got, wantKeys) || res.Violations != len(want) {
				t.Errorf("%s's GROUP BY finds %v; vigil reports %d violations: %v (want %v)", driver, want, res.Violations, got, wantKeys)
			}
		})
	}
}

// TestKeyEscapesItsSeparator: a key column's value may hold the separator
// | or the escape \ itself; with both escaped (\| and \\, the escaping of
// a delimited format such as PostgreSQL's COPY text format), two different
// tuples never print the same key. ('a\', 'b|c') and ('a|b\', 'c') would
// both print a\|b\|c if only | were escaped. SQLite reads \ in a literal as
// itself, so the data is written as is.
func TestKeyEscapesItsSeparator(t *testing.T) {
	db := testdb.SQLite(t)
	kindtest.Seed(t, db,
		"CREATE TABLE escapes (id INTEGER, a TEXT, b TEXT, at TEXT)",
		`INSERT INTO escapes VALUES
			(1, 'a\', 'b|c', '2024-01-02 10:00:00'), (2, 'a|b\', 'c', '2024-01-02 10:00:00'),
			(3, 'x\', 'y', '2024-01-02 10:00:00'), (4, 'x\', 'y', '2024-01-02 10:00:00')`,
	)
	src := kindtest.Source(t, "test", db.Driver, db.DSN)
	res, err := kindtest.Run(t, kindtest.Decode(t, duplicates.Kind,
		"{query: 'SELECT id, a, b, at FROM escapes', key_columns: [a, b], window: 1s}"), deps(src))
	kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{
		{Key: `x\\|y`, Detail: "2 rows within 1s: id 3 at 2024-01-02T10:00:00Z, id 4 at 2024-01-02T10:00:00Z"},
	}}.Check(t, res, err)
}
