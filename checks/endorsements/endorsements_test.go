package endorsements_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/endorsements"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/internal/testdb"
)

// policy is one row of a fixture's policies table; nil is NULL.
type policy struct {
	id, txn, reissueOf, state, agency any
	floors                            any
}

// fixture is one scenario: its tables, its rules and what a run must find.
// Queries name the tables {p}, {e} and {a}; empty queries take the defaults.
type fixture struct {
	name         string
	rules        string
	policies     []policy
	endorsements [][2]any // policy_id, endorsement
	attributes   [][3]any // policy_id, name, value
	spec         endorsements.Spec

	wantStatus checks.Status
	wantCount  int                // when 0, len(want)
	want       []checks.Violation // the sample, in order
	wantErr    string             // a substring of the run's error
}

const (
	defaultPolicies     = "SELECT policy_id, transaction_type, reissue_of, state, agency, floors FROM {p}"
	defaultEndorsements = "SELECT policy_id, endorsement FROM {e}"
	defaultAttributes   = "SELECT policy_id, name, value FROM {a}"
)

func v(key, detail string) checks.Violation { return checks.Violation{Key: key, Detail: detail} }

func fixtures() []fixture {
	var many []policy
	var manyWant []checks.Violation
	for i := range 120 {
		id := fmt.Sprintf("M-%d", i)
		many = append(many, policy{id: id, txn: "new"})
		manyWant = append(manyWant, v(id+"/EN-1", "new policy: needs EN-1, has none"))
	}
	sort.Slice(manyWant, func(i, j int) bool { return manyWant[i].Key < manyWant[j].Key })
	var lots [][2]any
	for range 300 {
		lots = append(lots, [2]any{"S-1", "EN-C"}, [2]any{"X-1", "EN-C"}, [2]any{"X-2", "EN-C"})
	}
	lots = append(lots, [2]any{"X-2", "EN-C"}, [2]any{"S-1", "EN-C"}) // S-1: 301, X-1: 300, X-2: 301

	return []fixture{
		{
			name: "yes for each transaction",
			rules: `endorsements:
  - code: EN-1
    auto_attach: {new: yes, renewal: yes, reissue: yes}
`,
			policies: []policy{
				{id: "N-1", txn: "new"}, {id: "N-2", txn: "new"},
				{id: "R-1", txn: "renewal"}, {id: "R-2", txn: "renewal"},
				{id: "X-1", txn: "reissue", reissueOf: "N-1"}, {id: "X-2", txn: "reissue", reissueOf: "N-1"},
			},
			endorsements: [][2]any{{"N-1", "EN-1"}, {"R-1", "EN-1"}, {"R-1", "EN-1"}, {"X-1", "EN-1"}, {"N-2", "EN-OTHER"}},
			wantStatus:   checks.Fail,
			want: []checks.Violation{
				v("N-2/EN-1", "new policy: needs EN-1, has none"),
				v("R-2/EN-1", "renewal policy: needs EN-1, has none"),
				v("X-2/EN-1", "reissue policy: needs EN-1, has none"),
			},
		},
		{
			name: "no, and a transaction missing from auto_attach, require nothing",
			rules: `endorsements:
  - code: EN-NO
    auto_attach: {new: no, renewal: no, reissue: no}
  - code: EN-NEW
    auto_attach: {new: yes}
  - code: EN-NONE
`,
			policies: []policy{
				{id: "N-1", txn: "new"}, {id: "N-2", txn: "new"},
				{id: "R-1", txn: "renewal"}, {id: "X-1", txn: "reissue", reissueOf: "N-1"},
			},
			endorsements: [][2]any{{"N-1", "EN-NEW"}, {"N-1", "EN-NO"}, {"R-1", "EN-NO"}},
			wantStatus:   checks.Fail,
			want:         []checks.Violation{v("N-2/EN-NEW", "new policy: needs EN-NEW, has none")},
		},
		{
			name: "copy counts the reissue source's copies",
			rules: `endorsements:
  - code: EN-C
    auto_attach: {new: yes, reissue: copy}
  - code: EN-D
    auto_attach: {new: copy, renewal: copy, reissue: copy}
`,
			policies: []policy{
				{id: "S-1", txn: "new"},
				{id: "X-1", txn: "reissue", reissueOf: "S-1"}, // 1 of 2
				{id: "X-2", txn: "reissue", reissueOf: "S-1"}, // 2 of 2
				{id: "X-3", txn: "reissue", reissueOf: "S-1"}, // 3 of 2
				{id: "X-4", txn: "reissue", reissueOf: "GONE"},
				{id: "X-5", txn: "reissue"},
				{id: "X-6", txn: "reissue", reissueOf: "OUT"}, // source not validated
				{id: "X-7", txn: "reissue", reissueOf: "X-1"}, // source is itself a reissue
				{id: "R-1", txn: "renewal", reissueOf: "S-1"},
				{id: "N-1", txn: "new", reissueOf: "OUT"},
				{id: "OUT", txn: "new"},
			},
			endorsements: [][2]any{
				{"S-1", "EN-C"}, {"S-1", "EN-C"}, {"S-1", "EN-D"},
				{"X-1", "EN-C"}, {"X-2", "EN-C"}, {"X-2", "EN-C"}, {"X-3", "EN-C"}, {"X-3", "EN-C"}, {"X-3", "EN-C"},
				{"OUT", "EN-C"}, {"OUT", "EN-D"}, {"OUT", "EN-D"}, {"GONE-ELSEWHERE", "EN-C"},
			},
			spec:       endorsements.Spec{PoliciesQuery: defaultPolicies + " WHERE policy_id <> 'OUT'"},
			wantStatus: checks.Fail,
			want: []checks.Violation{
				v("N-1/EN-C", "new policy: needs EN-C, has none"),
				v("N-1/EN-D", "new from OUT: needs 2 copies, has 0"),
				v("R-1/EN-D", "renewal of S-1: needs 1 copy, has 0"),
				v("X-1/EN-C", "reissue of S-1: needs 2 copies, has 1"),
				v("X-1/EN-D", "reissue of S-1: needs 1 copy, has 0"),
				v("X-2/EN-D", "reissue of S-1: needs 1 copy, has 0"),
				v("X-3/EN-D", "reissue of S-1: needs 1 copy, has 0"),
				v("X-6/EN-C", "reissue of OUT: needs 1 copy, has 0"),
				v("X-6/EN-D", "reissue of OUT: needs 2 copies, has 0"),
				v("X-7/EN-C", "reissue of X-1: needs 1 copy, has 0"),
			},
		},
		{
			name: "copies beyond 255 are counted",
			rules: `endorsements:
  - code: EN-C
    auto_attach: {reissue: copy}
`,
			policies:     []policy{{id: "S-1", txn: "new"}, {id: "X-1", txn: "reissue", reissueOf: "S-1"}, {id: "X-2", txn: "reissue", reissueOf: "S-1"}},
			endorsements: lots,
			wantStatus:   checks.Fail,
			want:         []checks.Violation{v("X-1/EN-C", "reissue of S-1: needs 301 copies, has 300")},
		},
		{
			name: "column when, list and single values, NULL never matches",
			rules: `endorsements:
  - code: EN-S
    when: {state: [FL, LA]}
    auto_attach: {new: yes}
  - code: EN-A
    when: {agency: Acme, floors: [2, 3]}
    auto_attach: {new: yes}
  - code: EN-LONG
    when: {state: [AK, AL, AR, AZ, CO, CT, DE, GA, LA, MA]}
    auto_attach: {new: yes}
`,
			policies: []policy{
				{id: "P-FL", txn: "new", state: "FL"}, {id: "P-LA", txn: "new", state: "LA"},
				{id: "P-TX", txn: "new", state: "TX"}, {id: "P-NULL", txn: "new"},
				{id: "P-fl", txn: "new", state: "fl"},
				{id: "A-2", txn: "new", agency: "Acme", floors: 2}, {id: "A-1", txn: "new", agency: "Acme", floors: 1},
				{id: "A-N", txn: "new", agency: "Acme"}, {id: "B-3", txn: "new", agency: "Bolt", floors: 3},
			},
			wantStatus: checks.Fail,
			want: []checks.Violation{
				v("A-2/EN-A", "new policy: needs EN-A, has none"),
				v("P-FL/EN-S", "new policy: needs EN-S, has none"),
				v("P-LA/EN-LONG", "new policy: needs EN-LONG, has none"),
				v("P-LA/EN-S", "new policy: needs EN-S, has none"),
			},
		},
		{
			name: "attribute when, multi-valued, combined with a column",
			rules: `endorsements:
  - code: EN-FLOOD-01
    when: {coverage: [flood], state: [FL, LA]}
    auto_attach: {new: yes, renewal: yes, reissue: copy}
  - code: EN-WIND
    when: {coverage: wind}
    auto_attach: {renewal: yes}
`,
			policies: []policy{
				{id: "P-1", txn: "new", state: "FL"},     // flood + wind
				{id: "P-2", txn: "new", state: "FL"},     // wind only
				{id: "P-3", txn: "new", state: "TX"},     // flood, wrong state
				{id: "P-4", txn: "new", state: "LA"},     // NULL coverage
				{id: "P-5", txn: "renewal", state: "LA"}, // flood + wind, has flood
				{id: "P-6", txn: "renewal"},              // wind, state NULL
				{id: "P-7", txn: "new", state: "FL"},     // no attributes at all
			},
			attributes: [][3]any{
				{"P-1", "coverage", "flood"}, {"P-1", "coverage", "wind"}, {"P-1", "agency", "x"},
				{"P-2", "coverage", "wind"}, {"P-3", "coverage", "flood"}, {"P-4", "coverage", nil},
				{"P-5", "coverage", "wind"}, {"P-5", "coverage", "flood"}, {"P-6", "coverage", "wind"},
				{"NOT-VALIDATED", "coverage", "flood"}, {"P-7", "Coverage", "flood"},
			},
			endorsements: [][2]any{{"P-5", "EN-FLOOD-01"}},
			wantStatus:   checks.Fail,
			want: []checks.Violation{
				v("P-1/EN-FLOOD-01", "new policy: needs EN-FLOOD-01, has none"),
				v("P-5/EN-WIND", "renewal policy: needs EN-WIND, has none"),
				v("P-6/EN-WIND", "renewal policy: needs EN-WIND, has none"),
			},
		},
		{
			name: "unknown transaction type",
			rules: `endorsements:
  - code: EN-1
    auto_attach: {new: yes, renewal: yes, reissue: yes}
`,
			policies:   []policy{{id: "P-1", txn: "cancel"}, {id: "P-2"}, {id: "P-3", txn: "NEW"}, {id: "P-4", txn: "new"}},
			wantStatus: checks.Fail,
			want: []checks.Violation{
				v("P-1/transaction_type", `transaction_type is "cancel", want new, renewal or reissue`),
				v("P-2/transaction_type", "transaction_type is NULL, want new, renewal or reissue"),
				v("P-3/transaction_type", `transaction_type is "NEW", want new, renewal or reissue`),
				v("P-4/EN-1", "new policy: needs EN-1, has none"),
			},
		},
		{
			name: "unicode policy ids and codes",
			rules: `endorsements:
  - code: EN-ÉTÉ-☂
    when: {agency: Ägentur}
    auto_attach: {new: yes, reissue: copy}
`,
			policies: []policy{
				{id: "Pólizá-1", txn: "new", agency: "Ägentur"},
				{id: "Pólizá-2", txn: "new", agency: "Ägentur"},
				{id: "Pólizá-3", txn: "reissue", reissueOf: "Pólizá-2", agency: "Ägentur"},
				{id: "保险-4", txn: "new", agency: "Agentur"},
			},
			endorsements: [][2]any{{"Pólizá-2", "EN-ÉTÉ-☂"}, {"Pólizá-2", "EN-ÉTÉ-☂"}, {"Pólizá-3", "EN-ÉTÉ-☂"}, {"Pólizá-1", "EN-ETE-☂"}},
			wantStatus:   checks.Fail,
			want: []checks.Violation{
				v("Pólizá-1/EN-ÉTÉ-☂", "new policy: needs EN-ÉTÉ-☂, has none"),
				v("Pólizá-3/EN-ÉTÉ-☂", "reissue of Pólizá-2: needs 2 copies, has 1"),
			},
		},
		{
			name: "empty tables pass",
			rules: `endorsements:
  - code: EN-1
    when: {coverage: flood}
    auto_attach: {new: yes}
`,
			attributes: [][3]any{},
			wantStatus: checks.Pass,
		},
		{
			name: "sample in byte-wise key order",
			rules: `endorsements:
  - code: EN-1
    auto_attach: {new: yes}
  - code: EN-10
    auto_attach: {new: yes}
`,
			policies:     []policy{{id: "P-9", txn: "new"}, {id: "P-10", txn: "new"}, {id: "P-1", txn: "new"}},
			endorsements: [][2]any{{"P-1", "EN-1"}, {"P-9", "EN-10"}},
			wantStatus:   checks.Fail,
			want: []checks.Violation{
				v("P-1/EN-10", "new policy: needs EN-10, has none"),
				v("P-10/EN-1", "new policy: needs EN-1, has none"),
				v("P-10/EN-10", "new policy: needs EN-10, has none"),
				v("P-9/EN-1", "new policy: needs EN-1, has none"),
			},
		},
		{
			name: "sample capped at 50 with the full count",
			rules: `endorsements:
  - code: EN-1
    auto_attach: {new: yes}
`,
			policies:   many,
			wantStatus: checks.Fail,
			wantCount:  120,
			want:       manyWant[:checks.SampleSize],
		},
		{
			name: "thresholds decide the status",
			rules: `endorsements:
  - code: EN-1
    auto_attach: {new: yes}
`,
			policies:   []policy{{id: "P-1", txn: "new"}, {id: "P-2", txn: "new"}},
			spec:       endorsements.Spec{Thresholds: checks.Thresholds{WarnAbove: intp(1), FailAbove: intp(2)}},
			wantStatus: checks.Warn,
			want:       []checks.Violation{v("P-1/EN-1", "new policy: needs EN-1, has none"), v("P-2/EN-1", "new policy: needs EN-1, has none")},
		},
		{
			name:     "a writing query is refused",
			rules:    "endorsements: []\n",
			policies: []policy{{id: "P-1", txn: "new", state: "FL"}},
			spec:     endorsements.Spec{PoliciesQuery: "UPDATE {p} SET state = 'XX'"},
			wantErr:  "policies_query: ",
		},
		{
			name:     "a missing column is an error",
			rules:    "endorsements: []\n",
			policies: []policy{{id: "P-1", txn: "new"}},
			spec:     endorsements.Spec{PoliciesQuery: "SELECT policy_id, reissue_of FROM {p}"},
			wantErr:  `policies_query: query result has no column "transaction_type"`,
		},
		{
			name:         "a missing endorsements column is an error",
			rules:        "endorsements: []\n",
			policies:     []policy{{id: "P-1", txn: "new"}},
			endorsements: [][2]any{{"P-1", "EN-1"}},
			spec:         endorsements.Spec{EndorsementsQuery: "SELECT policy_id, endorsement AS code FROM {e}"},
			wantErr:      `endorsements_query: query result has no column "endorsement"`,
		},
		{
			name:     "a bad query is an error",
			rules:    "endorsements: []\n",
			policies: []policy{{id: "P-1", txn: "new"}},
			spec:     endorsements.Spec{EndorsementsQuery: "SELECT policy_id, endorsement FROM no_such_table"},
			wantErr:  "endorsements_query: query: ",
		},
		{
			name: "a when key that names no column never matches without attributes_query",
			rules: `endorsements:
  - code: EN-1
    when: {coverage: flood}
    auto_attach: {new: yes}
`,
			policies:   []policy{{id: "P-1", txn: "new"}},
			wantStatus: checks.Pass,
		},
		{
			name:     "a policy returned twice is an error",
			rules:    "endorsements: []\n",
			policies: []policy{{id: "P-1", txn: "new"}},
			spec:     endorsements.Spec{PoliciesQuery: defaultPolicies + " UNION ALL " + defaultPolicies},
			wantErr:  `policies_query: policy_id "P-1" returned twice`,
		},
	}
}

func intp(n int) *int { return &n }

func TestRun(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			src := kindtest.Source(t, "policies", driver, db.DSN)
			for n, f := range fixtures() {
				t.Run(f.name, func(t *testing.T) {
					tables := seed(t, db, n, f)
					res, err := run(t, src, f, tables)
					if f.wantErr != "" {
						if err == nil {
							t.Fatalf("run succeeded with %d violations, want an error containing %q", res.Violations, f.wantErr)
						}
						if !strings.Contains(err.Error(), f.wantErr) || !strings.Contains(err.Error(), "datasource policies: ") {
							t.Fatalf("error = %q, want it to name the datasource and contain %q", err, f.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("run: %v", err)
					}
					wantCount := f.wantCount
					if wantCount == 0 {
						wantCount = len(f.want)
					}
					if res.Status != f.wantStatus || res.Violations != wantCount {
						t.Errorf("status %s with %d violations, want %s with %d", res.Status, res.Violations, f.wantStatus, wantCount)
					}
					if got, want := sampleText(res.Sample), sampleText(f.want); got != want {
						t.Errorf("sample:\n%s\nwant:\n%s", got, want)
					}
				})
			}
		})
	}
}

// TestRunNeverWrites proves the refused UPDATE left the data alone.
func TestRunNeverWrites(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			src := kindtest.Source(t, "policies", driver, db.DSN)
			f := fixture{rules: "endorsements: []\n", policies: []policy{{id: "P-1", txn: "new", state: "FL"}}}
			tables := seed(t, db, 0, f)
			for _, q := range []struct{ field, query string }{
				{"policies_query", "UPDATE {p} SET state = 'XX'"},
				{"endorsements_query", "DELETE FROM {p}"},
				{"attributes_query", "INSERT INTO {p} (policy_id) VALUES ('P-2')"},
			} {
				f.spec = endorsements.Spec{}
				switch q.field {
				case "policies_query":
					f.spec.PoliciesQuery = q.query
				case "endorsements_query":
					f.spec.EndorsementsQuery = q.query
				default:
					f.spec.AttributesQuery = q.query
				}
				if _, err := run(t, src, f, tables); err == nil || !strings.Contains(err.Error(), q.field+": ") {
					t.Errorf("%s %q: error = %v, want a refusal naming %s", q.field, q.query, err, q.field)
				}
			}
			var n int
			var state string
			if err := db.Admin.QueryRow("SELECT COUNT(*), MAX(state) FROM "+tables.p).Scan(&n, &state); err != nil {
				t.Fatal(err)
			}
			if n != 1 || state != "FL" {
				t.Fatalf("policies table changed: %d rows, state %q", n, state)
			}
		})
	}
}

func TestRunUnreachableDatabase(t *testing.T) {
	src := kindtest.Source(t, "policies", "postgres", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	f := fixture{rules: "endorsements: []\n"}
	_, err := run(t, src, f, tableNames{p: "p", e: "e", a: "a"})
	if err == nil || !strings.Contains(err.Error(), "datasource policies: connect: ") {
		t.Fatalf("error = %v, want a connect error naming the datasource", err)
	}
}

func TestBuildRejectsBadRules(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("endorsements:\n  - code: X\n    auto_attach: {new: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := kindtest.Source(t, "policies", "sqlite", filepath.Join(dir, "db.sqlite"))
	spec := endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: "q", EndorsementsQuery: "q"}
	_, err := spec.Build(checks.Deps{BaseDir: dir, SQL: src})
	want := filepath.Join(dir, "rules.yaml") + `:3: auto_attach.new must be yes, no or copy, got "true"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Build error = %v, want it to contain %q", err, want)
	}
}

func sampleText(vs []checks.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "%s | %s\n", v.Key, v.Detail)
	}
	return b.String()
}

type tableNames struct{ p, e, a string }

// seed creates fixture n's tables and rows.
func seed(t *testing.T, db *testdb.DB, n int, f fixture) tableNames {
	t.Helper()
	tn := tableNames{p: fmt.Sprintf("p%d", n), e: fmt.Sprintf("e%d", n), a: fmt.Sprintf("a%d", n)}
	db.Exec(t,
		"CREATE TABLE "+tn.p+" (policy_id VARCHAR(40), transaction_type VARCHAR(20), reissue_of VARCHAR(40), state VARCHAR(10), agency VARCHAR(20), floors INTEGER)",
		"CREATE TABLE "+tn.e+" (policy_id VARCHAR(40), endorsement VARCHAR(40))",
		"CREATE TABLE "+tn.a+" (policy_id VARCHAR(40), name VARCHAR(40), value VARCHAR(40))",
	)
	var rows []string
	for _, p := range f.policies {
		rows = append(rows, values(p.id, p.txn, p.reissueOf, p.state, p.agency, p.floors))
	}
	insert(t, db, tn.p, rows)
	rows = nil
	for _, e := range f.endorsements {
		rows = append(rows, values(e[0], e[1]))
	}
	insert(t, db, tn.e, rows)
	rows = nil
	for _, a := range f.attributes {
		rows = append(rows, values(a[0], a[1], a[2]))
	}
	insert(t, db, tn.a, rows)
	return tn
}

func insert(t *testing.T, db *testdb.DB, table string, rows []string) {
	t.Helper()
	if len(rows) > 0 {
		db.Exec(t, "INSERT INTO "+table+" VALUES "+strings.Join(rows, ", "))
	}
}

// values renders one row as a SQL tuple of literals.
func values(vals ...any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			parts[i] = "NULL"
		case string:
			parts[i] = "'" + strings.ReplaceAll(x, "'", "''") + "'"
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// run writes the fixture's rules, validates and builds its spec over src,
// and runs it once.
func run(t *testing.T, src checks.SQLSource, f fixture, tn tableNames) (checks.Result, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(f.rules), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := f.spec
	spec.Rules = "rules.yaml"
	if spec.PoliciesQuery == "" {
		spec.PoliciesQuery = defaultPolicies
	}
	if spec.EndorsementsQuery == "" {
		spec.EndorsementsQuery = defaultEndorsements
	}
	if spec.AttributesQuery == "" && f.attributes != nil {
		spec.AttributesQuery = defaultAttributes
	}
	r := strings.NewReplacer("{p}", tn.p, "{e}", tn.e, "{a}", tn.a)
	spec.PoliciesQuery = r.Replace(spec.PoliciesQuery)
	spec.EndorsementsQuery = r.Replace(spec.EndorsementsQuery)
	spec.AttributesQuery = r.Replace(spec.AttributesQuery)
	return kindtest.Run(t, &spec, checks.Deps{CheckID: "missing-endorsements", Timeout: 30 * time.Second, BaseDir: dir, SQL: src})
}
