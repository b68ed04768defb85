package main

// Contract tests: generated databases and configs, the real binary's JSON
// output, and answers computed by a small reference written from DESIGN.md's
// text alone (not from the kinds' code).

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/testdb"
)

// kcViolation and kcResult are DESIGN.md's JSON result shape.
type kcViolation struct {
	Key    string `json:"key"`
	Detail string `json:"detail"`
}

type kcResult struct {
	Check      string        `json:"check"`
	Kind       string        `json:"kind"`
	Status     string        `json:"status"`
	Violations int           `json:"violations"`
	Sample     []kcViolation `json:"sample"`
	DurationMS int64         `json:"duration_ms"`
	Error      string        `json:"error"`
}

// kcExpect is an independently computed answer for one check.
type kcExpect struct {
	kind   string
	status string
	keys   []string // every violation key, in any order; nil when status is error
	// detail, when set, checks the detail of a sampled violation.
	detail func(key, detail string) error
	// errorHas lists texts the error message must contain (status error).
	errorHas []string
}

// kcRun runs `vigil run --once --format json` on cfgPath and returns the
// results by check id, in output order, and the exit code. It fails the test
// when a result lacks one of DESIGN.md's fields or the output is not JSON.
func kcRun(t *testing.T, env []string, cfgPath string, extra ...string) (map[string]kcResult, []string, int) {
	t.Helper()
	args := append([]string{"run", "--once", "-c", cfgPath, "--format", "json"}, extra...)
	stdout, stderr, code := vigil(t, env, args...)
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("stdout is not a JSON array (exit %d): %v\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
	}
	byID := map[string]kcResult{}
	var order []string
	for _, r := range raw {
		for _, field := range []string{"check", "kind", "status", "violations", "sample", "duration_ms", "error"} {
			if _, ok := r[field]; !ok {
				t.Errorf("result %s lacks %q", r["check"], field)
			}
		}
		if string(r["sample"]) == "null" {
			t.Errorf("result %s: sample is null, want an array", r["check"])
		}
		b, _ := json.Marshal(r)
		var res kcResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("result %s: %v", b, err)
		}
		byID[res.Check] = res
		order = append(order, res.Check)
	}
	return byID, order, code
}

// kcSample is DESIGN.md's sample: the first 50 keys in ascending byte-wise order.
func kcSample(keys []string) []string {
	s := slices.Clone(keys)
	sort.Strings(s) // Go compares strings byte-wise
	if len(s) > 50 {
		s = s[:50]
	}
	return s
}

// kcExit is DESIGN.md's exit code for a set of statuses.
func kcExit(statuses []string) int {
	code := 0
	for _, s := range statuses {
		switch s {
		case "error":
			return 2
		case "fail":
			code = 1
		}
	}
	return code
}

// kcCompare reports every difference between got and want.
func kcCompare(t *testing.T, id string, got kcResult, ok bool, want kcExpect) {
	t.Helper()
	if !ok {
		t.Errorf("%s: no result in the output", id)
		return
	}
	if got.Kind != want.kind {
		t.Errorf("%s: kind = %q, want %q", id, got.Kind, want.kind)
	}
	if got.Status != want.status {
		t.Errorf("%s: status = %q, want %q (violations %d, error %q, sample %v)", id, got.Status, want.status, got.Violations, got.Error, kcKeys(got.Sample))
	}
	if want.status == "error" {
		if got.Error == "" {
			t.Errorf("%s: status error with an empty error", id)
		}
		for _, s := range want.errorHas {
			if !strings.Contains(got.Error, s) {
				t.Errorf("%s: error %q does not contain %q", id, got.Error, s)
			}
		}
		return
	}
	if got.Error != "" {
		t.Errorf("%s: error = %q, want none", id, got.Error)
	}
	if got.Violations != len(want.keys) {
		t.Errorf("%s: violations = %d, want %d", id, got.Violations, len(want.keys))
	}
	if gk, wk := kcKeys(got.Sample), kcSample(want.keys); !slices.Equal(gk, wk) {
		t.Errorf("%s: sample keys differ\n got: %q\nwant: %q", id, gk, wk)
	}
	if want.detail != nil {
		for _, v := range got.Sample {
			if err := want.detail(v.Key, v.Detail); err != nil {
				t.Errorf("%s: %s: detail %q: %v", id, v.Key, v.Detail, err)
			}
		}
	}
}

func kcKeys(vs []kcViolation) []string {
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.Key
	}
	return keys
}

// kcLiteral writes v as a SQL literal: nil is NULL, strings are quoted.
func kcLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("kcLiteral: %T", v))
}

// kcInsert inserts rows into table in batches of literal multi-row INSERTs,
// which all three drivers accept.
func kcInsert(t *testing.T, db *testdb.DB, table string, rows [][]any) {
	t.Helper()
	for len(rows) > 0 {
		n := min(len(rows), 100)
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " VALUES ")
		for i, row := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			vals := make([]string, len(row))
			for j, v := range row {
				vals[j] = kcLiteral(v)
			}
			b.WriteString("(" + strings.Join(vals, ", ") + ")")
		}
		db.Exec(t, b.String())
		rows = rows[n:]
	}
}

// kcRule is one endorsement rule as the reference reads it.
type kcRule struct {
	code   string
	when   map[string][]string // key -> listed values, as text
	attach map[string]string   // transaction type -> yes | no | copy
	yaml   string              // how the rules file writes it
}

// kcPolicy is one row of the generated policies table.
type kcPolicy struct {
	id, agency string
	txType     *string
	reissueOf  *string
	state      *string
	tier       *int
	agencyNull bool
	active     bool
}

// columns returns the policy's policies_query columns as text (nil = NULL).
func (p kcPolicy) columns() map[string]*string {
	text := func(s string) *string { return &s }
	cols := map[string]*string{
		"policy_id":        text(p.id),
		"transaction_type": p.txType,
		"reissue_of":       p.reissueOf,
		"state":            p.state,
		"agency":           text(p.agency),
		"tier":             nil,
	}
	if p.agencyNull {
		cols["agency"] = nil
	}
	if p.tier != nil {
		cols["tier"] = text(fmt.Sprint(*p.tier))
	}
	return cols
}

// kcPolicyColumns are the columns of the generated policies_query.
var kcPolicyColumns = map[string]bool{"policy_id": true, "transaction_type": true, "reissue_of": true, "agency": true, "state": true, "tier": true}

var kcRules = []kcRule{
	{code: "EN-BASE-01", attach: map[string]string{"new": "yes", "renewal": "yes", "reissue": "copy"},
		yaml: "  - code: EN-BASE-01\n    auto_attach: {new: yes, renewal: yes, reissue: copy}\n"},
	{code: "EN-FLOOD-01", when: map[string][]string{"coverage": {"flood"}, "state": {"FL", "LA"}},
		attach: map[string]string{"new": "yes", "renewal": "yes", "reissue": "copy"},
		yaml:   "  - code: EN-FLOOD-01\n    when: {coverage: [flood], state: [FL, LA]}\n    auto_attach: {new: yes, renewal: yes, reissue: copy}\n"},
	{code: "EN-AG-02", when: map[string][]string{"agency": {"acme", "Zürich"}}, attach: map[string]string{"new": "yes"},
		yaml: "  - code: EN-AG-02\n    when:\n      agency: [acme, \"Zürich\"]\n    auto_attach: {new: yes}\n"},
	{code: "EN-EMPTY-03", when: map[string][]string{}, attach: map[string]string{"new": "no", "renewal": "yes", "reissue": "no"},
		yaml: "  - code: EN-EMPTY-03\n    when: {}\n    auto_attach:\n      new: no\n      renewal: yes\n      reissue: no\n"},
	{code: "EN-TIER-04", when: map[string][]string{"tier": {"2", "3"}}, attach: map[string]string{"renewal": "copy", "reissue": "copy"},
		yaml: "  - code: EN-TIER-04\n    when: {tier: [2, 3]}\n    auto_attach: {renewal: copy, reissue: copy}\n"},
	// "state" is both a column and an attribute name: the column wins.
	{code: "EN-TX-05", when: map[string][]string{"state": {"TX"}}, attach: map[string]string{"new": "yes", "renewal": "yes", "reissue": "yes"},
		yaml: "  - code: EN-TX-05\n    when: {state: [TX]}\n    auto_attach: {new: \"yes\", renewal: 'yes', reissue: yes}\n"},
	{code: "EN-WIND-06", when: map[string][]string{"coverage": {"wind", "hail"}}, attach: map[string]string{"new": "yes", "reissue": "copy"},
		yaml: "  - code: EN-WIND-06\n    when: {coverage: [wind, hail]}\n    auto_attach: {new: yes, reissue: copy}\n"},
	{code: "EN-ÜBER-07", when: map[string][]string{"agency": {"acme"}, "coverage": {"theft"}}, attach: map[string]string{"new": "no", "renewal": "no", "reissue": "no"},
		yaml: "  - code: EN-ÜBER-07\n    when: {agency: [acme], coverage: [theft]}\n    auto_attach: {new: no, renewal: no, reissue: no}\n"},
	// No policy has a "peril" column or attribute: the rule never matches.
	{code: "EN-QUAKE-08", when: map[string][]string{"peril": {"quake"}}, attach: map[string]string{"new": "yes", "renewal": "yes", "reissue": "yes"},
		yaml: "  - code: EN-QUAKE-08\n    when: {peril: [quake]}\n    auto_attach: {new: yes, renewal: yes, reissue: yes}\n"},
	{code: "EN-REISSUE-09", when: map[string][]string{"transaction_type": {"reissue"}, "coverage": {"fire"}},
		attach: map[string]string{"reissue": "yes"},
		yaml:   "  - code: EN-REISSUE-09\n    when: {transaction_type: [reissue], coverage: [fire]}\n    auto_attach: {reissue: yes}\n"},
}

// kcPolicyDB is one generated policy database.
type kcPolicyDB struct {
	policies     []kcPolicy
	endorsements [][2]string               // policy_id, code
	attributes   [][3]any                  // policy_id, name, value
	copies       map[string]map[string]int // policy -> code -> copies
	attrs        map[string]map[string][]string
}

func kcGeneratePolicies(r *rand.Rand, n int) kcPolicyDB {
	d := kcPolicyDB{copies: map[string]map[string]int{}, attrs: map[string]map[string][]string{}}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	str := func(s string) *string { return &s }
	ids := make([]string, n)
	for i := range ids {
		switch r.IntN(8) {
		case 0:
			ids[i] = fmt.Sprintf("P-1#%d", i) // '#' sorts before digits
		case 1:
			ids[i] = fmt.Sprintf("Pé-%03d", i)
		case 2:
			ids[i] = fmt.Sprintf("保单-%d", i)
		case 3:
			ids[i] = fmt.Sprintf("P-%d", i) // unpadded: P-10 < P-9
		default:
			ids[i] = fmt.Sprintf("P-%05d", i)
		}
	}
	codes := []string{"EN-OTHER"}
	for _, rule := range kcRules {
		codes = append(codes, rule.code)
	}
	for i, id := range ids {
		p := kcPolicy{id: id, active: r.IntN(100) < 85, agency: pick("acme", "Zürich", "globex", "ACME")}
		p.agencyNull = r.IntN(10) == 0
		switch k := r.IntN(100); {
		case k < 28:
			p.txType = str("new")
		case k < 56:
			p.txType = str("renewal")
		case k < 88:
			p.txType = str("reissue")
		case k < 91:
			p.txType = nil
		default:
			p.txType = str(pick("cancel", "", "NEW", "Renewal", "reissue "))
		}
		source := func() *string {
			switch k := r.IntN(100); {
			case k < 60 && i > 0:
				return str(ids[r.IntN(i)])
			case k < 75:
				return nil
			case k < 90:
				return str(fmt.Sprintf("P-GHOST-%d", i))
			default:
				return str(ids[r.IntN(n)])
			}
		}
		if p.txType != nil && (*p.txType == "reissue" || *p.txType == "renewal" && r.IntN(3) == 0) {
			p.reissueOf = source()
		}
		if s := pick("FL", "LA", "TX", "NY", "null"); s != "null" {
			p.state = str(s)
		}
		if t := r.IntN(4); t > 0 {
			p.tier = &t
		}
		d.policies = append(d.policies, p)

		d.copies[id] = map[string]int{}
		for _, code := range codes {
			if r.IntN(100) < 45 {
				continue
			}
			c := 1 + r.IntN(3)
			d.copies[id][code] = c
			for range c {
				d.endorsements = append(d.endorsements, [2]string{id, code})
			}
		}
		d.attrs[id] = map[string][]string{}
		for range r.IntN(4) {
			v := pick("flood", "wind", "hail", "theft", "fire", "Flood")
			d.attributes = append(d.attributes, [3]any{id, "coverage", v})
			d.attrs[id]["coverage"] = append(d.attrs[id]["coverage"], v)
		}
		if r.IntN(3) == 0 { // an attribute named like a column: never consulted
			v := pick("TX", "FL")
			d.attributes = append(d.attributes, [3]any{id, "state", v})
			d.attrs[id]["state"] = append(d.attrs[id]["state"], v)
		}
		if r.IntN(10) == 0 { // a NULL attribute value never matches
			d.attributes = append(d.attributes, [3]any{id, "coverage", nil})
		}
	}
	// Facts about ghost policies, which policies_query never returns.
	d.attributes = append(d.attributes, [3]any{"P-GHOST-X", "coverage", "flood"})
	r.Shuffle(len(d.endorsements), func(i, j int) { d.endorsements[i], d.endorsements[j] = d.endorsements[j], d.endorsements[i] })
	return d
}

// kcReferenceEndorsements is DESIGN.md's endorsements kind, written from its text:
// the violation keys, and for each copy violation its expected detail.
func kcReferenceEndorsements(d kcPolicyDB, rules []kcRule, withAttributes bool) (keys []string, details map[string]string) {
	details = map[string]string{}
	for _, p := range d.policies {
		if !p.active {
			continue
		}
		tt := ""
		if p.txType != nil {
			tt = *p.txType
		}
		if tt != "new" && tt != "renewal" && tt != "reissue" {
			keys = append(keys, p.id+"/transaction_type")
			continue
		}
		cols := p.columns()
		for _, rule := range rules {
			if !kcMatches(rule, cols, d.attrs[p.id], withAttributes) {
				continue
			}
			has := d.copies[p.id][rule.code]
			switch rule.attach[tt] {
			case "yes":
				if has < 1 {
					keys = append(keys, p.id+"/"+rule.code)
				}
			case "copy":
				need := 0
				if p.reissueOf != nil {
					need = d.copies[*p.reissueOf][rule.code] // zero for a ghost
				}
				if has < need {
					key := p.id + "/" + rule.code
					keys = append(keys, key)
					if tt == "reissue" {
						details[key] = fmt.Sprintf("reissue of %s: needs %d copies, has %d", *p.reissueOf, need, has)
					}
				}
			}
		}
	}
	return keys, details
}

func kcMatches(rule kcRule, cols map[string]*string, attrs map[string][]string, withAttributes bool) bool {
	for key, listed := range rule.when {
		if v, isColumn := cols[key]; isColumn {
			if v == nil || !slices.Contains(listed, *v) {
				return false
			}
			continue
		}
		if !withAttributes {
			return false
		}
		if !slices.ContainsFunc(attrs[key], func(v string) bool { return slices.Contains(listed, v) }) {
			return false
		}
	}
	return true
}

// TestContractEndorsements generates a policy database per driver and
// compares vigil's endorsements results with the reference.
func TestContractEndorsements(t *testing.T) {
	for i, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			seed := uint64(20240601 + i)
			r := rand.New(rand.NewPCG(seed, 7))
			t.Logf("seed %d", seed)
			d := kcGeneratePolicies(r, 240)

			db := testdb.Open(t, driver)
			db.Exec(t,
				"CREATE TABLE policies (policy_id VARCHAR(64) NOT NULL, transaction_type VARCHAR(20), reissue_of VARCHAR(64), agency VARCHAR(20), state VARCHAR(2), tier INTEGER, active INTEGER NOT NULL)",
				"CREATE TABLE endorsements (policy_id VARCHAR(64) NOT NULL, endorsement VARCHAR(64) NOT NULL)",
				"CREATE TABLE attributes (policy_id VARCHAR(64) NOT NULL, name VARCHAR(64) NOT NULL, value VARCHAR(64))",
			)
			var rows [][]any
			for _, p := range d.policies {
				row := []any{p.id, nil, nil, p.agency, nil, nil, 0}
				if p.txType != nil {
					row[1] = *p.txType
				}
				if p.reissueOf != nil {
					row[2] = *p.reissueOf
				}
				if p.agencyNull {
					row[3] = nil
				}
				if p.state != nil {
					row[4] = *p.state
				}
				if p.tier != nil {
					row[5] = *p.tier
				}
				if p.active {
					row[6] = 1
				}
				rows = append(rows, row)
			}
			kcInsert(t, db, "policies", rows)
			rows = rows[:0]
			for _, e := range d.endorsements {
				rows = append(rows, []any{e[0], e[1]})
			}
			kcInsert(t, db, "endorsements", rows)
			rows = rows[:0]
			for _, a := range d.attributes {
				rows = append(rows, []any{a[0], a[1], a[2]})
			}
			kcInsert(t, db, "attributes", rows)

			keys, copyDetails := kcReferenceEndorsements(d, kcRules, true)
			// Without attributes_query, rules whose when keys are all columns.
			var columnRules []kcRule
			for _, rule := range kcRules {
				if !slices.ContainsFunc(slices.Collect(maps.Keys(rule.when)), func(k string) bool { return !kcPolicyColumns[k] }) {
					columnRules = append(columnRules, rule)
				}
			}
			keysNoAttr, _ := kcReferenceEndorsements(d, columnRules, false)
			// Without attributes_query, a when key that names no column names
			// an attribute nobody supplies: its rule never matches.
			keysUnresolvable, _ := kcReferenceEndorsements(d, kcRules, false)
			n := len(keys)
			if n < 60 || len(copyDetails) == 0 {
				t.Fatalf("generated data is too clean to test anything: %d violations, %d copy violations", n, len(copyDetails))
			}
			t.Logf("%d violations (%d copy violations on reissues)", n, len(copyDetails))

			rulesFile := func(rules []kcRule) string {
				var b strings.Builder
				b.WriteString("endorsements:\n")
				for _, rule := range rules {
					b.WriteString(rule.yaml)
				}
				return b.String()
			}
			check := func(id string, extra string, attributes bool) string {
				rules := "rules/endorsements.yaml"
				if !attributes {
					rules = "rules/columns.yaml"
				}
				s := "  - id: " + id + "\n    kind: endorsements\n    datasource: policies\n    rules: " + rules + "\n" +
					"    policies_query: SELECT policy_id, transaction_type, reissue_of, agency, state, tier FROM policies WHERE active = 1\n" +
					"    endorsements_query: SELECT policy_id, endorsement FROM endorsements\n"
				if attributes {
					s += "    attributes_query: SELECT policy_id, name, value FROM attributes\n"
				}
				return s + extra
			}
			cfg := "store: {driver: sqlite, dsn: store.db}\ndatasources:\n  policies: {driver: " + driver + ", dsn: \"${POLICY_DSN}\"}\nchecks:\n" +
				check("endorsements-all", "", true) +
				check("endorsements-no-attributes", "", false) +
				check("endorsements-warn", fmt.Sprintf("    warn_above: %d\n    fail_above: %d\n", n-1, n), true) +
				check("endorsements-at-fail-above", fmt.Sprintf("    fail_above: %d\n", n), true) +
				check("endorsements-over-fail-above", fmt.Sprintf("    warn_above: 0\n    fail_above: %d\n", n-1), true) +
				// A when key that is no column, with no attributes_query.
				"  - id: endorsements-unresolvable-key\n    kind: endorsements\n    datasource: policies\n    rules: rules/endorsements.yaml\n" +
				"    policies_query: SELECT policy_id, transaction_type, reissue_of, agency, state, tier FROM policies WHERE active = 1\n" +
				"    endorsements_query: SELECT policy_id, endorsement FROM endorsements\n"
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"vigil.yaml": cfg, "rules/endorsements.yaml": rulesFile(kcRules), "rules/columns.yaml": rulesFile(columnRules)})

			detail := func(key, detail string) error {
				want, isCopy := copyDetails[key]
				if !isCopy {
					if detail == "" {
						return fmt.Errorf("empty detail")
					}
					return nil
				}
				if strings.Contains(want, "needs 1 copies") { // singular or plural both read well
					if head, tail, _ := strings.Cut(want, "needs 1 copies"); !strings.HasPrefix(detail, head+"needs 1 cop") || !strings.HasSuffix(detail, tail) {
						return fmt.Errorf("want %q", want)
					}
					return nil
				}
				if detail != want {
					return fmt.Errorf("want %q", want)
				}
				return nil
			}
			want := map[string]kcExpect{
				"endorsements-all":              {kind: "endorsements", status: "fail", keys: keys, detail: detail},
				"endorsements-no-attributes":    {kind: "endorsements", status: kcStatus(len(keysNoAttr), -1, 0), keys: keysNoAttr},
				"endorsements-warn":             {kind: "endorsements", status: "warn", keys: keys},
				"endorsements-at-fail-above":    {kind: "endorsements", status: "pass", keys: keys},
				"endorsements-over-fail-above":  {kind: "endorsements", status: "fail", keys: keys},
				"endorsements-unresolvable-key": {kind: "endorsements", status: kcStatus(len(keysUnresolvable), -1, 0), keys: keysUnresolvable},
			}
			env := []string{"POLICY_DSN=" + db.DSN}
			got, order, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"))
			var statuses []string
			for id, w := range want {
				r, ok := got[id]
				kcCompare(t, id, r, ok, w)
				statuses = append(statuses, w.status)
			}
			if len(order) != len(want) {
				t.Errorf("got results %v, want %d", order, len(want))
			}
			if code != kcExit(statuses) {
				t.Errorf("exit %d, want %d", code, kcExit(statuses))
			}
			// Only pass and warn: exit 0; a fail among them: exit 1.
			if _, _, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"), "--check", "endorsements-warn", "--check", "endorsements-at-fail-above"); code != 0 {
				t.Errorf("warn and pass only: exit %d, want 0", code)
			}
			if _, _, code := kcRun(t, env, filepath.Join(dir, "vigil.yaml"), "--check", "endorsements-warn", "--check", "endorsements-all"); code != 1 {
				t.Errorf("warn and fail: exit %d, want 1", code)
			}
		})
	}
}

// kcStatus is DESIGN.md's threshold rule on a violation count; warnAbove < 0
// means unset.
func kcStatus(count, warnAbove, failAbove int) string {
	switch {
	case count > failAbove:
		return "fail"
	case warnAbove >= 0 && count > warnAbove:
		return "warn"
	}
	return "pass"
}

// TestContractEndorsementRuleErrors: a rule with an unknown transaction word,
// a duplicate code or a malformed when is a config error with the rules
// file's path and line, and both validate and run exit 2.
func TestContractEndorsementRuleErrors(t *testing.T) {
	db := testdb.SQLite(t)
	db.Exec(t, "CREATE TABLE p (policy_id TEXT, transaction_type TEXT, reissue_of TEXT)", "CREATE TABLE e (policy_id TEXT, endorsement TEXT)")
	const good = "endorsements:\n  - code: EN-OK\n    auto_attach: {new: yes}\n"
	tests := []struct {
		name  string
		rules string
		lines []int // the problem is reported on one of these lines
	}{
		{name: "unknown transaction type", rules: good + "  - code: EN-2\n    auto_attach: {new: yes, cancel: yes}\n", lines: []int{4, 5}},
		{name: "unknown attach word", rules: good + "  - code: EN-2\n    auto_attach: {new: maybe}\n", lines: []int{4, 5}},
		{name: "boolean is not a word", rules: good + "  - code: EN-2\n    auto_attach: {new: true}\n", lines: []int{4, 5}},
		{name: "duplicate code", rules: good + "  - code: EN-OK\n    auto_attach: {renewal: yes}\n", lines: []int{4}},
		{name: "when is a list", rules: good + "  - code: EN-2\n    when: [flood]\n    auto_attach: {new: yes}\n", lines: []int{4, 5}},
		{name: "when value is a map", rules: good + "  - code: EN-2\n    when: {coverage: {flood: 1}}\n    auto_attach: {new: yes}\n", lines: []int{4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"rules/r.yaml": tc.rules,
				"vigil.yaml": "datasources:\n  db: {driver: sqlite, dsn: " + db.DSN + "}\nchecks:\n" +
					"  - id: e\n    kind: endorsements\n    datasource: db\n    rules: rules/r.yaml\n" +
					"    policies_query: SELECT policy_id, transaction_type, reissue_of FROM p\n" +
					"    endorsements_query: SELECT policy_id, endorsement FROM e\n",
			})
			for _, cmd := range [][]string{{"validate"}, {"run", "--once"}} {
				_, stderr, code := vigil(t, nil, append(cmd, "-c", filepath.Join(dir, "vigil.yaml"))...)
				if code != 2 {
					t.Errorf("%v: exit %d, want 2", cmd, code)
				}
				if !slices.ContainsFunc(tc.lines, func(l int) bool { return strings.Contains(stderr, fmt.Sprintf("r.yaml:%d:", l)) }) {
					t.Errorf("%v: stderr names none of r.yaml lines %v:\n%s", cmd, tc.lines, stderr)
				}
			}
		})
	}
}
