package main

// Contract tests for the race kinds (duplicates, transitions), written from
// DESIGN.md alone: seeded random data on every driver, the real binary, and
// a small reference implementation of the rules in this file.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/testdb"
)

// contractResult is the JSON result shape of DESIGN.md.
type contractResult struct {
	Check      string `json:"check"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Violations int    `json:"violations"`
	Sample     []struct {
		Key    string `json:"key"`
		Detail string `json:"detail"`
	} `json:"sample"`
	DurationMS *int64  `json:"duration_ms"`
	Error      *string `json:"error"`
}

// contractRun runs `vigil run --once --format json` on cfg and returns the
// results by check id and the exit code.
func contractRun(t *testing.T, env []string, cfg string, args ...string) (map[string]contractResult, []string, int, string) {
	t.Helper()
	stdout, stderr, code := vigil(t, env, append([]string{"run", "--once", "-c", cfg, "--format", "json"}, args...)...)
	var results []contractResult
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("stdout is not a JSON array of results: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	byID := map[string]contractResult{}
	var order []string
	for _, r := range results {
		if r.DurationMS == nil || r.Error == nil || r.Sample == nil {
			t.Errorf("result %q lacks duration_ms, error or sample (sample must be [] when empty): %s", r.Check, stdout)
		}
		byID[r.Check] = r
		order = append(order, r.Check)
	}
	return byID, order, code, stderr
}

// contractSample is DESIGN.md's sample: the first 50 keys in byte-wise order.
func contractSample(keys []string) []string {
	sorted := slices.Clone(keys)
	sort.Strings(sorted) // Go compares strings byte-wise
	if len(sorted) > 50 {
		sorted = sorted[:50]
	}
	return sorted
}

// contractStatus applies the default thresholds rule of DESIGN.md.
func contractStatus(n int, warnAbove *int, failAbove int) string {
	switch {
	case n > failAbove:
		return "fail"
	case warnAbove != nil && n > *warnAbove:
		return "warn"
	}
	return "pass"
}

// expectResult compares one result with the reference answer.
func expectResult(t *testing.T, results map[string]contractResult, id, kind, status string, keys []string) contractResult {
	t.Helper()
	r, ok := results[id]
	if !ok {
		t.Fatalf("no result for check %q", id)
	}
	if r.Kind != kind || r.Status != status || r.Violations != len(keys) {
		t.Errorf("%s: kind %q status %q violations %d; want %q %q %d (error %q)", id, r.Kind, r.Status, r.Violations, kind, status, len(keys), deref(r.Error))
	}
	var got []string
	for _, v := range r.Sample {
		got = append(got, v.Key)
	}
	if want := contractSample(keys); !slices.Equal(got, want) {
		t.Errorf("%s: sample keys\n got %q\nwant %q", id, got, want)
	}
	if status != "error" && deref(r.Error) != "" {
		t.Errorf("%s: error = %q, want empty", id, deref(r.Error))
	}
	return r
}

func deref(s *string) string {
	if s == nil {
		return "<missing>"
	}
	return *s
}

// sqlQuote is a SQL string literal (the data never holds a backslash).
func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// nativeTimestamp is each driver's column type for a native timestamp.
var nativeTimestamp = map[string]string{"sqlite": "TIMESTAMP", "postgres": "TIMESTAMP(3)", "mysql": "DATETIME(3)"}

// insertRows inserts literal rows in batches.
func insertRows(t *testing.T, db *testdb.DB, table string, rows []string) {
	t.Helper()
	for len(rows) > 0 {
		n := min(len(rows), 200)
		db.Exec(t, "INSERT INTO "+table+" VALUES "+strings.Join(rows[:n], ", "))
		rows = rows[n:]
	}
}

// textTimestamp renders an instant in one of the text forms DESIGN.md
// accepts, chosen at random (forms without a fraction only for whole seconds).
func textTimestamp(r *rand.Rand, at time.Time) string {
	zones := []*time.Location{time.FixedZone("", 2*3600), time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("", 5*3600+45*60)}
	whole := at.Nanosecond() == 0
	for {
		switch r.IntN(6) {
		case 0:
			return at.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		case 1:
			return at.In(zones[r.IntN(len(zones))]).Format("2006-01-02T15:04:05.000Z07:00")
		case 2:
			return at.UTC().Format("2006-01-02 15:04:05.000")
		case 3:
			if whole {
				return at.UTC().Format("2006-01-02 15:04:05")
			}
		case 4:
			if whole {
				return at.In(zones[r.IntN(len(zones))]).Format(time.RFC3339)
			}
		case 5:
			if whole {
				return at.UTC().Format(time.RFC3339)
			}
		}
	}
}

// dupRow is one row of a duplicates table; a nil key part is NULL.
type dupRow struct {
	id     int
	tenant *string
	number *int
	at     time.Time
}

// referenceDuplicates returns the violation keys of DESIGN.md's duplicates
// rule and, per key, the ids of its rows.
func referenceDuplicates(rows []dupRow, window time.Duration) ([]string, map[string][]int) {
	byKey := map[string][]dupRow{}
	for _, row := range rows {
		if row.tenant == nil || row.number == nil {
			continue // a NULL key column is never a duplicate
		}
		key := *row.tenant + "|" + fmt.Sprint(*row.number)
		byKey[key] = append(byKey[key], row)
	}
	var keys []string
	ids := map[string][]int{}
	for key, group := range byKey {
		dup := false
		for i := range group {
			for j := i + 1; j < len(group); j++ {
				d := group[i].at.Sub(group[j].at)
				if d < 0 {
					d = -d
				}
				if d <= window {
					dup = true
				}
			}
		}
		if dup {
			keys = append(keys, key)
			for _, row := range group {
				ids[key] = append(ids[key], row.id)
			}
		}
	}
	return keys, ids
}

// generateDupRows makes keys with one to four rows each, whose gaps straddle
// the window (exactly on it, just inside, just outside, far apart).
func generateDupRows(r *rand.Rand, window time.Duration) []dupRow {
	tenants := []string{"acme", "Acme", "zeta", "émile", "b2b", "ñandú"}
	gaps := []time.Duration{0, window, window - time.Millisecond, window + time.Millisecond, window / 2, 10 * time.Minute, 26 * time.Hour}
	base := time.Date(2024, 3, 30, 23, 59, 0, 0, time.UTC)
	var rows []dupRow
	id := 1
	for k := 0; k < 200; k++ {
		tenant := tenants[r.IntN(len(tenants))]
		number := r.IntN(40)
		at := base.Add(time.Duration(r.IntN(86400)) * time.Second)
		if r.IntN(3) == 0 {
			at = at.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		}
		for n := 1 + r.IntN(4); n > 0; n-- {
			row := dupRow{id: id, tenant: &tenant, number: &number, at: at}
			switch r.IntN(12) {
			case 0:
				row.tenant = nil
			case 1:
				row.number = nil
			}
			rows = append(rows, row)
			id++
			at = at.Add(gaps[r.IntN(len(gaps))])
		}
	}
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

func TestContractDuplicates(t *testing.T) {
	const window = 2 * time.Second
	for i, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(42, uint64(i)))
			rows := generateDupRows(r, window)
			wantKeys, wantIDs := referenceDuplicates(rows, window)
			if len(wantKeys) <= 50 {
				t.Fatalf("generated data has %d duplicate keys; want more than 50 to exercise the sample", len(wantKeys))
			}

			db := testdb.Open(t, driver)
			db.Exec(t,
				"CREATE TABLE writes (id INTEGER, tenant VARCHAR(20), doc_no INTEGER, at VARCHAR(40))",
				"CREATE TABLE docs (doc_id VARCHAR(20), tenant VARCHAR(20), doc_no INTEGER, written_at "+nativeTimestamp[driver]+")",
				"CREATE TABLE bad_at (id INTEGER, k VARCHAR(20), at VARCHAR(40))",
				"INSERT INTO bad_at VALUES (1, 'a', '2024-01-02 10:00:00'), (2, 'a', '02/01/2024 10:00')",
			)
			literal := func(s *string) string {
				if s == nil {
					return "NULL"
				}
				return sqlQuote(*s)
			}
			number := func(n *int) string {
				if n == nil {
					return "NULL"
				}
				return fmt.Sprint(*n)
			}
			var textRows, nativeRows []string
			for _, row := range rows {
				textRows = append(textRows, fmt.Sprintf("(%d, %s, %s, %s)", row.id, literal(row.tenant), number(row.number), sqlQuote(textTimestamp(r, row.at))))
				nativeRows = append(nativeRows, fmt.Sprintf("(%s, %s, %s, %s)", sqlQuote(fmt.Sprintf("doc-%04d", row.id)), literal(row.tenant), number(row.number), sqlQuote(row.at.Format("2006-01-02 15:04:05.000"))))
			}
			insertRows(t, db, "writes", textRows)
			insertRows(t, db, "docs", nativeRows)

			n := len(wantKeys)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"vigil.yaml": fmt.Sprintf(`
store: {driver: sqlite, dsn: store.db}
datasources:
  db: {driver: %s, dsn: "${CONTRACT_DSN}"}
checks:
  - id: dup-text
    kind: duplicates
    datasource: db
    query: SELECT id, tenant, doc_no, at FROM writes
    key_columns: [tenant, doc_no]
    window: 2s
  - id: dup-native
    kind: duplicates
    datasource: db
    query: SELECT written_at, doc_no, 1 AS extra, doc_id, tenant FROM docs  # columns by name, in any order
    key_columns: [tenant, doc_no]
    id_column: doc_id
    at_column: written_at
    window: 2s
  - id: dup-warn
    kind: duplicates
    datasource: db
    query: SELECT id, tenant, doc_no, at FROM writes
    key_columns: [tenant, doc_no]
    window: 2s
    warn_above: %d
    fail_above: %d
  - id: dup-under-thresholds
    kind: duplicates
    datasource: db
    query: SELECT id, tenant, doc_no, at FROM writes
    key_columns: [tenant, doc_no]
    window: 2s
    warn_above: %d
    fail_above: %d
  - id: dup-just-over
    kind: duplicates
    datasource: db
    query: SELECT id, tenant, doc_no, at FROM writes
    key_columns: [tenant, doc_no]
    window: 2s
    fail_above: %d
  - id: dup-single-key
    kind: duplicates
    datasource: db
    query: SELECT id, tenant, at FROM writes WHERE doc_no = 7
    key_columns: [tenant]
    window: 2s
  - id: dup-bad-at
    kind: duplicates
    datasource: db
    query: SELECT id, k, at FROM bad_at
    key_columns: [k]
    window: 2s
`, driver, n-1, n+3, n, n, n-1)})
			results, _, code, stderr := contractRun(t, []string{"CONTRACT_DSN=" + db.DSN}, filepath.Join(dir, "vigil.yaml"))
			if code != 2 {
				t.Errorf("exit code %d, want 2 (dup-bad-at cannot read its timestamps)\nstderr: %s", code, stderr)
			}

			text := expectResult(t, results, "dup-text", "duplicates", "fail", wantKeys)
			idWord := func(id int) *regexp.Regexp { return regexp.MustCompile(`\b` + fmt.Sprint(id) + `\b`) }
			for _, v := range text.Sample {
				if n := countIDs(v.Detail, wantIDs[v.Key], idWord); n < 2 {
					t.Errorf("dup-text %s: detail %q names %d of the ids %v; want at least the two that raced", v.Key, v.Detail, n, wantIDs[v.Key])
				}
			}
			native := expectResult(t, results, "dup-native", "duplicates", "fail", wantKeys)
			for _, v := range native.Sample {
				if !strings.Contains(v.Detail, "doc-") {
					t.Errorf("dup-native %s: detail %q does not list the doc_id values", v.Key, v.Detail)
				}
			}
			warn := n - 1
			expectResult(t, results, "dup-warn", "duplicates", contractStatus(n, &warn, n+3), wantKeys)
			under := n
			expectResult(t, results, "dup-under-thresholds", "duplicates", contractStatus(n, &under, n), wantKeys)
			expectResult(t, results, "dup-just-over", "duplicates", contractStatus(n, nil, n-1), wantKeys)

			var single []dupRow
			for _, row := range rows {
				if row.number != nil && *row.number == 7 {
					single = append(single, dupRow{id: row.id, tenant: row.tenant, number: new(int), at: row.at})
				}
			}
			singleKeys, _ := referenceDuplicates(single, window)
			for i, k := range singleKeys {
				singleKeys[i] = strings.TrimSuffix(k, "|0") // one key column: no separator
			}
			expectResult(t, results, "dup-single-key", "duplicates", contractStatus(len(singleKeys), nil, 0), singleKeys)

			bad := results["dup-bad-at"]
			if bad.Status != "error" || !strings.Contains(deref(bad.Error), "02/01/2024 10:00") {
				t.Errorf("dup-bad-at: status %q error %q; want error quoting the unreadable value", bad.Status, deref(bad.Error))
			}
		})
	}
}

func countIDs(detail string, ids []int, word func(int) *regexp.Regexp) int {
	n := 0
	for _, id := range ids {
		if word(id).MatchString(detail) {
			n++
		}
	}
	return n
}

// event is one row of a transitions table, in query order.
type event struct {
	entity, state string
	at            time.Time
}

// referenceTransitions applies DESIGN.md's transitions rule and returns the
// violation keys with, for moves, the expected "from -> to".
func referenceTransitions(events []event, allowed map[string][]string, initial []string) map[string]string {
	var entities []string
	byEntity := map[string][]event{}
	for _, e := range events {
		if _, ok := byEntity[e.entity]; !ok {
			entities = append(entities, e.entity)
		}
		byEntity[e.entity] = append(byEntity[e.entity], e)
	}
	want := map[string]string{}
	for _, entity := range entities {
		list := byEntity[entity]
		sort.SliceStable(list, func(i, j int) bool { return list[i].at.Before(list[j].at) })
		if initial != nil && !slices.Contains(initial, list[0].state) {
			want[entity+"#1"] = ""
		}
		for n := 1; n < len(list); n++ {
			from, to := list[n-1].state, list[n].state
			if !slices.Contains(allowed[from], to) {
				want[fmt.Sprintf("%s#%d", entity, n+1)] = from + " -> " + to
			}
		}
	}
	return want
}

func TestContractTransitions(t *testing.T) {
	allowed := map[string][]string{
		"new":       {"paid", "cancelled"},
		"paid":      {"paid", "shipped", "refunded"}, // a listed self-move
		"shipped":   {"delivered", "lost"},
		"delivered": {"refunded"},
		"cancelled": {},
		// refunded and lost are missing: no move out of them.
	}
	states := []string{"new", "paid", "shipped", "delivered", "cancelled", "refunded", "lost"}
	initial := []string{"new", "paid"}
	for i, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(7, uint64(i)))
			base := time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC)
			entityNames := []string{"order-1", "order-2", "Order-3", "ordre-é", "ünï", "o-10", "o-9", "x"}
			for n := 0; n < 40; n++ {
				entityNames = append(entityNames, fmt.Sprintf("ord-%d", r.IntN(1000)))
			}
			var events []event
			for _, entity := range entityNames {
				state := states[r.IntN(len(states))]
				if r.IntN(3) > 0 {
					state = "new"
				}
				at := base.Add(time.Duration(r.IntN(3600)) * time.Second)
				for k := 1 + r.IntN(14); k > 0; k-- {
					events = append(events, event{entity, state, at})
					if next := allowed[state]; len(next) > 0 && r.IntN(4) > 0 {
						state = next[r.IntN(len(next))]
					} else {
						state = states[r.IntN(len(states))]
					}
					switch r.IntN(5) {
					case 0: // a tie: the query order decides
					case 1:
						at = at.Add(time.Duration(1+r.IntN(999)) * time.Millisecond)
					default:
						at = at.Add(time.Duration(1+r.IntN(7200)) * time.Second)
					}
				}
			}
			// The query returns the events shuffled: out of time order, and
			// ties in an order only the query defines.
			r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

			db := testdb.Open(t, driver)
			db.Exec(t,
				"CREATE TABLE events (seq INTEGER, entity VARCHAR(40), state VARCHAR(20), at VARCHAR(40))",
				"CREATE TABLE native_events (seq INTEGER, entity VARCHAR(40), state VARCHAR(20), at "+nativeTimestamp[driver]+")",
				"CREATE TABLE bad_events (seq INTEGER, entity VARCHAR(40), state VARCHAR(20), at VARCHAR(40))",
				"INSERT INTO bad_events VALUES (1, 'e', 'new', '2024-01-01 00:00:00'), (2, 'e', 'paid', 'last tuesday')",
			)
			var textRows, nativeRows []string
			for seq, e := range events {
				textRows = append(textRows, fmt.Sprintf("(%d, %s, %s, %s)", seq, sqlQuote(e.entity), sqlQuote(e.state), sqlQuote(textTimestamp(r, e.at))))
				nativeRows = append(nativeRows, fmt.Sprintf("(%d, %s, %s, %s)", seq, sqlQuote(e.entity), sqlQuote(e.state), sqlQuote(e.at.Format("2006-01-02 15:04:05.000"))))
			}
			insertRows(t, db, "events", textRows)
			insertRows(t, db, "native_events", nativeRows)

			withInitial := referenceTransitions(events, allowed, initial)
			anyStart := referenceTransitions(events, allowed, nil)
			if len(withInitial) <= 50 || len(withInitial) == len(anyStart) {
				t.Fatalf("generated data has %d/%d violations; want > 50 and some initial-state ones", len(withInitial), len(anyStart))
			}
			nWith := len(withInitial)

			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"vigil.yaml": fmt.Sprintf(`
store: {driver: sqlite, dsn: store.db}
datasources:
  db: {driver: %s, dsn: "${CONTRACT_DSN}"}
checks:
  - id: orders-text
    kind: transitions
    datasource: db
    query: SELECT entity, state, at FROM events ORDER BY seq
    initial: [new, paid]
    allowed: &allowed
      new: [paid, cancelled]
      paid: [paid, shipped, refunded]
      shipped: [delivered, lost]
      delivered: [refunded]
      cancelled: []
  - id: orders-native
    kind: transitions
    datasource: db
    query: SELECT seq, at, state, entity FROM native_events ORDER BY seq  # columns by name, in any order
    initial: [new, paid]
    allowed: *allowed
  - id: orders-any-start
    kind: transitions
    datasource: db
    query: SELECT entity, state, at FROM events ORDER BY seq
    allowed:
      new: [paid, cancelled]
      paid: [paid, shipped, refunded]
      shipped: [delivered, lost]
      delivered: [refunded]
      cancelled: []
  - id: orders-warn
    kind: transitions
    datasource: db
    query: SELECT entity, state, at FROM events ORDER BY seq
    initial: [new, paid]
    allowed: *allowed
    warn_above: 0
    fail_above: %d
  - id: orders-bad-at
    kind: transitions
    datasource: db
    query: SELECT entity, state, at FROM bad_events ORDER BY seq
    allowed: {new: [paid]}
`, driver, nWith)})
			results, _, code, stderr := contractRun(t, []string{"CONTRACT_DSN=" + db.DSN}, filepath.Join(dir, "vigil.yaml"))
			if code != 2 {
				t.Errorf("exit code %d, want 2 (orders-bad-at cannot read its timestamps)\nstderr: %s", code, stderr)
			}
			keysOf := func(m map[string]string) []string {
				var keys []string
				for k := range m {
					keys = append(keys, k)
				}
				return keys
			}
			for _, id := range []string{"orders-text", "orders-native"} {
				res := expectResult(t, results, id, "transitions", "fail", keysOf(withInitial))
				for _, v := range res.Sample {
					if move := withInitial[v.Key]; move != "" && !strings.Contains(v.Detail, move) {
						t.Errorf("%s %s: detail %q does not show %q", id, v.Key, v.Detail, move)
					}
				}
			}
			expectResult(t, results, "orders-any-start", "transitions", "fail", keysOf(anyStart))
			zero := 0
			expectResult(t, results, "orders-warn", "transitions", contractStatus(nWith, &zero, nWith), keysOf(withInitial))
			bad := results["orders-bad-at"]
			if bad.Status != "error" || !strings.Contains(deref(bad.Error), "last tuesday") {
				t.Errorf("orders-bad-at: status %q error %q; want error quoting the unreadable value", bad.Status, deref(bad.Error))
			}
		})
	}
}

// TestContractTimestampForms pins freshness's timestamp rules as duplicates
// reads `at`: each case is two rows of one key, one second apart at most
// when they race (window 1s, inclusive).
func TestContractTimestampForms(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string
		result string // "dup", "none" or "error"
	}{
		{name: "space form and RFC 3339 with offset", a: "2024-05-01 10:00:00", b: "2024-05-01T12:00:00.500+02:00", result: "dup"},
		{name: "exactly the window apart", a: "2024-05-01 10:00:00", b: "2024-05-01T10:00:01Z", result: "dup"},
		{name: "a millisecond over the window", a: "2024-05-01 10:00:00.000", b: "2024-05-01T10:00:01.001Z", result: "none"},
		{name: "fraction in the space form", a: "2024-05-01 10:00:00", b: "2024-05-01 10:00:00.999", result: "dup"},
		{name: "negative offset is the same instant", a: "2024-05-01T06:30:00-03:30", b: "2024-05-01 10:00:00", result: "dup"},
		{name: "offset read, not dropped", a: "2024-05-01T10:00:00+02:00", b: "2024-05-01 10:00:00", result: "none"},
		{name: "RFC 3339 with nanoseconds", a: "2024-05-01T10:00:00.123456789Z", b: "2024-05-01 10:00:01", result: "dup"},
		{name: "lower-case t and z (RFC 3339 allows them)", a: "2024-05-01t10:00:00.5z", b: "2024-05-01 10:00:00", result: "dup"},
		{name: "day first is unreadable", a: "2024-05-01 10:00:00", b: "01/05/2024 10:00:00", result: "error"},
		{name: "words are unreadable", a: "now", b: "2024-05-01 10:00:00", result: "error"},
		{name: "empty text is unreadable", a: "", b: "2024-05-01 10:00:00", result: "error"},
	}
	db := testdb.SQLite(t)
	db.Exec(t, "CREATE TABLE w (id INTEGER, k VARCHAR(20), at VARCHAR(40))")
	var checksYAML strings.Builder
	for i, tc := range tests {
		db.Exec(t, fmt.Sprintf("INSERT INTO w VALUES (%d, 'k', %s), (%d, 'k', %s)", 2*i, sqlQuote(tc.a), 2*i+1, sqlQuote(tc.b)))
		fmt.Fprintf(&checksYAML, "  - {id: case-%d, kind: duplicates, datasource: db, key_columns: [k], window: 1s, query: \"SELECT id, k, at FROM w WHERE id IN (%d, %d)\"}\n", i, 2*i, 2*i+1)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": "datasources:\n  db: {driver: sqlite, dsn: " + db.DSN + "}\nchecks:\n" + checksYAML.String()})
	results, _, _, _ := contractRun(t, nil, filepath.Join(dir, "vigil.yaml"))
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := results[fmt.Sprintf("case-%d", i)]
			got := map[string]string{"fail": "dup", "pass": "none", "error": "error"}[r.Status]
			if got != tc.result || (got == "dup" && r.Violations != 1) {
				t.Errorf("%q and %q: status %q, %d violations, error %q; want %s", tc.a, tc.b, r.Status, r.Violations, deref(r.Error), tc.result)
			}
		})
	}
}
