package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/testdb"
)

// kcItem is one row of the generated items table for the sql kind.
type kcItem struct {
	id      int
	code    string
	amount  *int
	note    *string
	flagged bool
}

func kcGenerateItems(r *rand.Rand, n int) []kcItem {
	items := make([]kcItem, n)
	for i := range items {
		it := kcItem{id: i + 1, flagged: r.IntN(100) < 65}
		switch r.IntN(6) {
		case 0:
			it.code = fmt.Sprintf("X-1#%d", i)
		case 1:
			it.code = fmt.Sprintf("Ü-%d", i)
		case 2:
			it.code = fmt.Sprintf("注文-%02d", i)
		default:
			it.code = fmt.Sprintf("X-%d", i)
		}
		if i > 0 && r.IntN(12) == 0 { // several rows with one key
			it.code = items[r.IntN(i)].code
		}
		if r.IntN(5) > 0 {
			a := r.IntN(2000) - 500
			it.amount = &a
		}
		if r.IntN(4) > 0 {
			s := []string{"late", "café au lait", "x y", "ok", "日本"}[r.IntN(5)]
			it.note = &s
		}
		items[i] = it
	}
	return items
}

// kcFields is the reference detail of a sql violation: name=value per
// column other than the key, NULL written NULL, in column order.
func kcFields(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		v := "NULL"
		switch x := pairs[i+1].(type) {
		case *int:
			if x != nil {
				v = fmt.Sprint(*x)
			}
		case *string:
			if x != nil {
				v = *x
			}
		case int:
			v = fmt.Sprint(x)
		case string:
			v = x
		}
		out = append(out, pairs[i].(string)+"="+v)
	}
	return out
}

// kcDetailHasFields reports whether detail holds exactly the fields, in order,
// each separated from the next by a short separator that DESIGN.md leaves open.
func kcDetailHasFields(detail string, fields []string) bool {
	rest := detail
	for i, f := range fields {
		at := strings.Index(rest, f)
		if at < 0 || (i == 0 && at != 0) || (i > 0 && at > 3) {
			return false
		}
		rest = rest[at+len(f):]
	}
	return rest == ""
}

// TestContractSQL generates an items table per driver and compares vigil's
// sql results with the reference.
func TestContractSQL(t *testing.T) {
	for i, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			seed := uint64(7100 + i)
			t.Logf("seed %d", seed)
			items := kcGenerateItems(rand.New(rand.NewPCG(seed, 3)), 180)
			db := testdb.Open(t, driver)
			db.Exec(t, "CREATE TABLE items (id INTEGER NOT NULL, code VARCHAR(64) NOT NULL, amount INTEGER, note VARCHAR(64), flagged INTEGER NOT NULL)")
			var rows [][]any
			for _, it := range items {
				row := []any{it.id, it.code, nil, nil, 0}
				if it.amount != nil {
					row[2] = *it.amount
				}
				if it.note != nil {
					row[3] = *it.note
				}
				if it.flagged {
					row[4] = 1
				}
				rows = append(rows, row)
			}
			kcInsert(t, db, "items", rows)
			key := `"key"`
			if driver == "mysql" {
				key = "`key`"
			}

			// Reference answers, one per check.
			fields := map[string]map[string][][]string{} // check -> key -> candidate details
			keysOf := map[string][]string{}
			add := func(check, key string, f []string) {
				if fields[check] == nil {
					fields[check] = map[string][][]string{}
				}
				fields[check][key] = append(fields[check][key], f)
				keysOf[check] = append(keysOf[check], key)
			}
			for _, it := range items {
				if it.flagged {
					add("sql-first-column", it.code, kcFields("amount", it.amount, "note", it.note))
				}
				if it.flagged && it.amount != nil && *it.amount > 100 {
					add("sql-key-column", it.code, kcFields("id", it.id, "amount", it.amount))
				}
				if it.note == nil {
					add("sql-integer-key", fmt.Sprint(it.id), kcFields("note", it.note))
				}
			}
			n := len(keysOf["sql-first-column"])
			if n <= 50 || len(keysOf["sql-integer-key"]) == 0 {
				t.Fatalf("generated data is too small: %d flagged rows", n)
			}
			detailOf := func(check string) func(key, detail string) error {
				return func(key, detail string) error {
					for _, f := range fields[check][key] {
						if kcDetailHasFields(detail, f) {
							return nil
						}
					}
					return fmt.Errorf("want the fields of one of %q", fields[check][key])
				}
			}

			q1 := "SELECT code, amount, note FROM items WHERE flagged = 1"
			cfg := "store: {driver: sqlite, dsn: store.db}\ndatasources:\n  db: {driver: " + driver + ", dsn: \"${ITEMS_DSN}\"}\nchecks:\n" +
				"  - {id: sql-first-column, kind: sql, datasource: db, query: \"" + q1 + "\"}\n" +
				"  - id: sql-key-column\n    kind: sql\n    datasource: db\n    query: SELECT id, amount, code AS " + key + " FROM items WHERE flagged = 1 AND amount > 100\n" +
				"  - {id: sql-integer-key, kind: sql, datasource: db, query: \"SELECT id, note FROM items WHERE note IS NULL\"}\n" +
				"  - {id: sql-empty, kind: sql, datasource: db, query: \"SELECT id, code FROM items WHERE id < 0\"}\n" +
				fmt.Sprintf("  - {id: sql-warn, kind: sql, datasource: db, query: \"%s\", warn_above: 5, fail_above: %d}\n", q1, n) +
				fmt.Sprintf("  - {id: sql-at-warn-above, kind: sql, datasource: db, query: \"%s\", warn_above: %d, fail_above: %d}\n", q1, n, n+5) +
				fmt.Sprintf("  - {id: sql-at-fail-above, kind: sql, datasource: db, query: \"%s\", warn_above: %d, fail_above: %d}\n", q1, n, n) +
				fmt.Sprintf("  - {id: sql-over-fail-above, kind: sql, datasource: db, query: \"%s\", warn_above: 0, fail_above: %d}\n", q1, n-1) +
				"  - {id: sql-broken, kind: sql, datasource: db, query: \"SELECT nope FROM no_such_table\"}\n"
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"vigil.yaml": cfg})
			want := map[string]kcExpect{
				"sql-first-column":    {kind: "sql", status: "fail", keys: keysOf["sql-first-column"], detail: detailOf("sql-first-column")},
				"sql-key-column":      {kind: "sql", status: kcStatus(len(keysOf["sql-key-column"]), -1, 0), keys: keysOf["sql-key-column"], detail: detailOf("sql-key-column")},
				"sql-integer-key":     {kind: "sql", status: "fail", keys: keysOf["sql-integer-key"], detail: detailOf("sql-integer-key")},
				"sql-empty":           {kind: "sql", status: "pass", keys: nil},
				"sql-warn":            {kind: "sql", status: "warn", keys: keysOf["sql-first-column"]},
				"sql-at-warn-above":   {kind: "sql", status: "pass", keys: keysOf["sql-first-column"]},
				"sql-at-fail-above":   {kind: "sql", status: "pass", keys: keysOf["sql-first-column"]},
				"sql-over-fail-above": {kind: "sql", status: "fail", keys: keysOf["sql-first-column"]},
				"sql-broken":          {kind: "sql", status: "error", errorHas: []string{"sql-broken", "datasource db", "no_such_table"}},
			}
			env := []string{"ITEMS_DSN=" + db.DSN}
			got, order, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"))
			for id, w := range want {
				r, ok := got[id]
				kcCompare(t, id, r, ok, w)
			}
			if len(order) != len(want) {
				t.Errorf("got results %v, want %d", order, len(want))
			}
			if code != 2 {
				t.Errorf("exit %d, want 2 (sql-broken errors)", code)
			}
			for _, tc := range []struct {
				name   string
				checks []string
				code   int
			}{
				{name: "pass and warn", checks: []string{"sql-empty", "sql-warn", "sql-at-fail-above"}, code: 0},
				{name: "a fail", checks: []string{"sql-warn", "sql-over-fail-above"}, code: 1},
				{name: "an error beats a fail", checks: []string{"sql-first-column", "sql-broken"}, code: 2},
			} {
				var args []string
				for _, c := range tc.checks {
					args = append(args, "--check", c)
				}
				if got, _, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"), args...); code != tc.code || len(got) != len(tc.checks) {
					t.Errorf("%s: exit %d with %d results, want %d with %d", tc.name, code, len(got), tc.code, len(tc.checks))
				}
			}
		})
	}
}

// TestContractSQLValueText pins the text of non-string values: NULL, numbers
// and timestamps in their plain text form.
func TestContractSQLValueText(t *testing.T) {
	native := map[string]string{"sqlite": "DATETIME", "postgres": "TIMESTAMP", "mysql": "DATETIME"}
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			db.Exec(t,
				"CREATE TABLE v (k VARCHAR(10), n INTEGER, neg INTEGER, z INTEGER, s VARCHAR(10), at "+native[driver]+")",
				"INSERT INTO v VALUES ('a', 42, -7, NULL, '', '2024-03-05 06:07:08')",
			)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"vigil.yaml": "datasources:\n  db: {driver: " + driver + ", dsn: \"${V_DSN}\"}\nchecks:\n" +
				"  - {id: values, kind: sql, datasource: db, query: \"SELECT k, n, neg, z, s, at FROM v\"}\n"})
			got, _, code := kcRun(t, []string{"V_DSN=" + db.DSN}, filepath.Join(dir, "vigil.yaml"))
			r := got["values"]
			if code != 1 || r.Status != "fail" || len(r.Sample) != 1 || r.Sample[0].Key != "a" {
				t.Fatalf("exit %d, result %+v; want one violation a", code, r)
			}
			d := r.Sample[0].Detail
			if !kcDetailHasFields(strings.SplitN(d, "at=", 2)[0]+"at=", []string{"n=42", "neg=-7", "z=NULL", "s=", "at="}) {
				t.Errorf("detail %q: want n=42, neg=-7, z=NULL, s= and at= in order", d)
			}
			_, at, _ := strings.Cut(d, "at=")
			if !strings.HasPrefix(at, "2024-03-05") || !strings.Contains(at, "06:07:08") {
				t.Errorf("detail %q: at is not the timestamp 2024-03-05 06:07:08 in plain text", d)
			}
			t.Logf("detail: %q", d)
		})
	}
}

// kcFreshCase is one generated freshness table.
type kcFreshCase struct {
	name   string
	format string        // how the last load is stored
	age    time.Duration // now - last load
	status string        // pass | warn | fail for this table alone
}

// kcFreshFormats are the ways a last-load time reaches vigil. The text forms
// use zones far from UTC, so a misread offset moves a table across a band.
var kcFreshFormats = []string{"native", "native_zone", "rfc3339_z", "rfc3339_plus", "rfc3339_minus_frac", "plain", "plain_ms"}

// kcFreshText renders at for a text format, or "" for a native column.
func kcFreshText(format string, at time.Time) string {
	switch format {
	case "rfc3339_z":
		return at.UTC().Format(time.RFC3339)
	case "rfc3339_plus":
		return at.In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339)
	case "rfc3339_minus_frac":
		return at.In(time.FixedZone("", -7*3600)).Format("2006-01-02T15:04:05.000-07:00")
	case "plain":
		return at.UTC().Format("2006-01-02 15:04:05")
	case "plain_ms":
		return at.UTC().Format("2006-01-02 15:04:05.000")
	}
	return ""
}

// TestContractFreshness generates load times in every timestamp format, in
// every band, per driver, and compares vigil's freshness results with the
// reference. vigil runs with TZ far from UTC, so a zone-less time read as
// local shows.
func TestContractFreshness(t *testing.T) {
	const warnAfter, errorAfter = time.Hour, 6 * time.Hour
	// Native columns: without a zone (read as UTC) and, where the database
	// has one, with a zone.
	columns := map[string]string{
		"sqlite":   "ts_text VARCHAR(64), ts_native DATETIME, ts_zone TIMESTAMP",
		"postgres": "ts_text VARCHAR(64), ts_native TIMESTAMP(3), ts_zone TIMESTAMPTZ(3)",
		"mysql":    "ts_text VARCHAR(64), ts_native DATETIME(3), ts_zone DATETIME(6)",
	}
	for i, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			seed := uint64(9100 + i)
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 5))
			margin := 3 * time.Minute // vigil runs a few seconds after the data is written
			between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) }
			bands := []struct {
				status string
				age    func() time.Duration
			}{
				{"pass", func() time.Duration { return between(0, warnAfter-margin) }},
				{"pass", func() time.Duration { return warnAfter - margin }},
				// A load in the future: within the 5-minute clock-skew allowance
				// it is fresh; beyond it the clock or zone is wrong (issue 12).
				{"pass", func() time.Duration { return -between(time.Second, 4*time.Minute) }},
				{"fail", func() time.Duration { return -between(8*time.Minute, 3*time.Hour) }},
				{"warn", func() time.Duration { return warnAfter + margin }},
				{"warn", func() time.Duration { return between(warnAfter+margin, errorAfter-margin) }},
				{"warn", func() time.Duration { return errorAfter - margin }},
				{"fail", func() time.Duration { return errorAfter + margin }},
				{"fail", func() time.Duration { return between(errorAfter+margin, 30*24*time.Hour) }},
			}
			var cases []kcFreshCase
			for _, f := range kcFreshFormats {
				for j, b := range bands {
					cases = append(cases, kcFreshCase{name: fmt.Sprintf("load_%s_%d", f, j), format: f, age: b.age(), status: b.status})
				}
			}
			now := time.Now()
			db := testdb.Open(t, driver)
			db.Exec(t, "CREATE TABLE loads (name VARCHAR(64) NOT NULL, "+columns[driver]+")")
			var rows [][]any
			for _, c := range cases {
				at := now.Add(-c.age)
				row := []any{c.name, nil, nil, nil}
				switch c.format {
				case "native":
					row[2] = at.UTC().Format("2006-01-02 15:04:05.000")
				case "native_zone":
					switch driver {
					case "postgres":
						row[3] = at.In(time.FixedZone("", -3*3600)).Format("2006-01-02 15:04:05.000-07:00")
					case "sqlite": // text in a TIMESTAMP column
						row[3] = at.In(time.FixedZone("", 9*3600)).Format(time.RFC3339Nano)
					default:
						row[3] = at.UTC().Format("2006-01-02 15:04:05.000000")
					}
				default:
					row[1] = kcFreshText(c.format, at)
				}
				rows = append(rows, row)
			}
			rows = append(rows,
				[]any{"null_load", nil, nil, nil},
				[]any{"bad_words", "yesterday", nil, nil},
				[]any{"bad_slashes", "2024/01/02 03:04:05", nil, nil},
				[]any{"bad_day_first", "02.01.2024 10:00", nil, nil},
				[]any{"bad_empty", "", nil, nil},
			)
			kcInsert(t, db, "loads", rows)

			column := func(format string) string {
				switch format {
				case "native":
					return "ts_native"
				case "native_zone":
					return "ts_zone"
				}
				return "ts_text"
			}
			table := func(name, query, extra string) string {
				return "      - {name: " + name + ", query: \"" + query + "\", warn_after: 1h, error_after: 6h" + extra + "}\n"
			}
			check := func(id string, tables ...string) string {
				return "  - id: " + id + "\n    kind: freshness\n    datasource: w\n    tables:\n" + strings.Join(tables, "")
			}
			loadQuery := func(col, name string) string {
				return "SELECT " + col + " FROM loads WHERE name = '" + name + "'"
			}
			want := map[string]kcExpect{}
			var cfg strings.Builder
			cfg.WriteString("store: {driver: sqlite, dsn: store.db}\ndatasources:\n  w: {driver: " + driver + ", dsn: \"${W_DSN}\"}\nchecks:\n")
			var all []string
			var allKeys []string
			rank := map[string]int{"pass": 0, "warn": 1, "fail": 2, "error": 3}
			worst := "pass"
			for _, c := range cases {
				tbl := table(c.name, loadQuery(column(c.format), c.name), "")
				all = append(all, tbl)
				id := strings.ReplaceAll("f-"+c.name, "_", "-")
				cfg.WriteString(check(id, tbl))
				w := kcExpect{kind: "freshness", status: c.status}
				if c.status != "pass" {
					w.keys = []string{c.name}
					allKeys = append(allKeys, c.name)
				}
				if rank[c.status] > rank[worst] {
					worst = c.status
				}
				want[id] = w
			}

			// Empty: no row, or NULL.
			for _, e := range []struct {
				id, query, onEmpty, status string
			}{
				{"empty-no-row", loadQuery("ts_text", "missing"), "", "fail"},
				{"empty-null", loadQuery("ts_text", "null_load"), "", "fail"},
				{"empty-no-row-fail", loadQuery("ts_text", "missing"), "fail", "fail"},
				{"empty-null-warn", loadQuery("ts_text", "null_load"), "warn", "warn"},
				{"empty-no-row-warn", loadQuery("ts_text", "missing"), "warn", "warn"},
				{"empty-null-pass", loadQuery("ts_text", "null_load"), "pass", "pass"},
				{"empty-no-row-pass", loadQuery("ts_text", "missing"), "pass", "pass"},
				{"empty-max-of-nothing", "SELECT MAX(ts_native) FROM loads WHERE name = 'missing'", "", "fail"},
			} {
				extra := ""
				if e.onEmpty != "" {
					extra = ", on_empty: " + e.onEmpty
				}
				cfg.WriteString(check(e.id, table("t_"+strings.ReplaceAll(e.id, "-", "_"), e.query, extra)))
				w := kcExpect{kind: "freshness", status: e.status}
				if e.status != "pass" {
					w.keys = []string{"t_" + strings.ReplaceAll(e.id, "-", "_")}
				}
				want[e.id] = w
			}

			// The worst over every table; a quiet empty table adds nothing.
			all = append(all, table("quiet_empty", loadQuery("ts_text", "null_load"), ", on_empty: pass"))
			cfg.WriteString(check("f-all", all...))
			want["f-all"] = kcExpect{kind: "freshness", status: worst, keys: allKeys}
			// Only pass and warn tables: warn.
			var passWarn []string
			var passWarnKeys []string
			for j, c := range cases {
				if c.status != "fail" {
					passWarn = append(passWarn, all[j])
					if c.status == "warn" {
						passWarnKeys = append(passWarnKeys, c.name)
					}
				}
			}
			cfg.WriteString(check("f-pass-warn", passWarn...))
			want["f-pass-warn"] = kcExpect{kind: "freshness", status: "warn", keys: passWarnKeys}

			// Unreadable text is an error quoting the value, even beside a stale table.
			for _, b := range []struct{ id, name, value, query string }{
				{"bad-words", "bad_words", "yesterday", ""},
				{"bad-slashes", "bad_slashes", "2024/01/02 03:04:05", ""},
				{"bad-day-first", "bad_day_first", "02.01.2024 10:00", ""},
				{"bad-empty", "bad_empty", `""`, ""},
				{"bad-number", "bad_number", "1700000000", "SELECT 1700000000"}, // a number is not a timestamp
			} {
				query := b.query
				if query == "" {
					query = loadQuery("ts_text", b.name)
				}
				cfg.WriteString(check(b.id, all[len(cases)-1], table(b.name, query, "")))
				want[b.id] = kcExpect{kind: "freshness", status: "error", errorHas: []string{b.id, "datasource w", b.value}}
			}

			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"vigil.yaml": cfg.String()})
			env := []string{"W_DSN=" + db.DSN, "TZ=Asia/Kathmandu"} // UTC+05:45
			got, order, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"))
			for id, w := range want {
				r, ok := got[id]
				kcCompare(t, id, r, ok, w)
			}
			if len(order) != len(want) {
				t.Errorf("got %d results, want %d", len(order), len(want))
			}
			if code != 2 {
				t.Errorf("exit %d, want 2 (bad-* error)", code)
			}
			if _, _, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"), "--check", "f-pass-warn", "--check", "empty-null-pass"); code != 0 {
				t.Errorf("warn and pass only: exit %d, want 0", code)
			}
			if _, _, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"), "--check", "f-pass-warn", "--check", "f-all"); code != 1 {
				t.Errorf("warn and fail: exit %d, want 1", code)
			}
		})
	}
}
