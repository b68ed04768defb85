package transitions_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/checks/transitions"
)

const orderFlow = "allowed: {pending: [paid, cancelled], paid: [shipped], shipped: [delivered]}"

func TestRun(t *testing.T) {
	manyRows, manySample := manyViolations(60)
	cases := []kindtest.Case{
		{
			Name: "moves not allowed, whatever the query order",
			Setup: []string{
				"CREATE TABLE orders (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO orders VALUES
					('O-1', 'pending', '2024-01-02 09:00:00'), ('O-1', 'paid', '2024-01-02 09:30:00'),
					('O-1', 'shipped', '2024-01-02 10:00:00'), ('O-1', 'delivered', '2024-01-03 10:00:00'),
					('O-2', 'pending', '2024-01-02 09:00:00'), ('O-2', 'shipped', '2024-01-02 09:00:01'),
					('O-3', 'shipped', '2024-01-02 09:00:00'), ('O-3', 'pending', '2024-01-02 10:00:00')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM orders ORDER BY at DESC', " + orderFlow + "}",
			Status:     checks.Fail,
			Violations: 2,
			Sample: []checks.Violation{
				{Key: "O-2#2", Detail: "pending -> shipped at 2024-01-02T09:00:01Z (previous at 2024-01-02T09:00:00Z): not allowed"},
				{Key: "O-3#2", Detail: "shipped -> pending at 2024-01-02T10:00:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
			},
		},
		{
			Name: "a state missing from allowed allows no move, to itself included",
			Setup: []string{
				"CREATE TABLE terminal (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO terminal VALUES
					('T-1', 'pending', '2024-01-02 09:00:00'), ('T-1', 'cancelled', '2024-01-02 09:01:00'), ('T-1', 'pending', '2024-01-02 09:02:00'),
					('T-2', 'delivered', '2024-01-02 09:00:00'), ('T-2', 'delivered', '2024-01-02 09:01:00'),
					('T-3', 'active', '2024-01-02 09:00:00'), ('T-3', 'active', '2024-01-02 09:01:00'),
					('T-4', 'paid', '2024-01-02 09:00:00'), ('T-4', 'paid', '2024-01-02 09:01:00')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM terminal', allowed: {pending: [cancelled], paid: [paid], active: [paused]}}",
			Status:     checks.Fail,
			Violations: 3,
			Sample: []checks.Violation{
				{Key: "T-1#3", Detail: "cancelled -> pending at 2024-01-02T09:02:00Z (previous at 2024-01-02T09:01:00Z): not allowed"},
				{Key: "T-2#2", Detail: "delivered -> delivered at 2024-01-02T09:01:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
				{Key: "T-3#2", Detail: "active -> active at 2024-01-02T09:01:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
			},
		},
		{
			Name: "equal times keep query order",
			Setup: []string{
				"CREATE TABLE ties (seq INTEGER, entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO ties VALUES
					(1, 'E-1', 'pending', '2024-01-02 10:00:00'), (2, 'E-1', 'paid', '2024-01-02 10:00:00'),
					(3, 'E-1', 'shipped', '2024-01-02 10:00:00'),
					(4, 'E-2', 'paid', '2024-01-02 10:00:00'), (5, 'E-2', 'pending', '2024-01-02 10:00:00'),
					(9, 'E-1', 'pending', '2024-01-02 09:00:00')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM ties ORDER BY seq', allowed: {pending: [pending, paid], paid: [shipped]}}",
			Status:     checks.Fail,
			Violations: 1,
			Sample: []checks.Violation{
				{Key: "E-2#2", Detail: "paid -> pending at 2024-01-02T10:00:00Z (previous at 2024-01-02T10:00:00Z): not allowed"},
			},
		},
		{
			Name: "initial states",
			Setup: []string{
				"CREATE TABLE starts (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO starts VALUES
					('I-1', 'pending', '2024-01-02 09:00:00'), ('I-1', 'paid', '2024-01-02 09:30:00'),
					('I-2', 'pending', '2024-01-02 09:30:00'), ('I-2', 'paid', '2024-01-02 09:00:00'),
					('I-3', 'shipped', '2024-01-02 09:00:00'),
					('I-4', 'draft', '2024-01-02 09:00:00'), ('I-4', 'pending', '2024-01-02 09:00:01')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM starts', initial: [pending, draft], allowed: {draft: [pending], pending: [paid]}}",
			Status:     checks.Fail,
			Violations: 3,
			Sample: []checks.Violation{
				{Key: "I-2#1", Detail: "starts in paid at 2024-01-02T09:00:00Z: not an initial state (initial: pending, draft)"},
				{Key: "I-2#2", Detail: "paid -> pending at 2024-01-02T09:30:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
				{Key: "I-3#1", Detail: "starts in shipped at 2024-01-02T09:00:00Z: not an initial state (initial: pending, draft)"},
			},
		},
		{
			Name: "without initial any first state is fine",
			Setup: []string{
				"CREATE TABLE anystart (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO anystart VALUES ('A-1', 'shipped', '2024-01-02 09:00:00'), ('A-2', 'nonsense', '2024-01-02 09:00:00')",
			},
			Spec:   "{query: 'SELECT entity, state, at FROM anystart', " + orderFlow + "}",
			Status: checks.Pass,
		},
		{
			Name: "the sample sorts keys byte-wise",
			Setup: []string{
				"CREATE TABLE flips (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO flips VALUES " + strings.Join([]string{
					"('P-1', 'a', '2024-01-02 10:00:01')", "('P-1', 'b', '2024-01-02 10:00:02')",
					"('P-1', 'a', '2024-01-02 10:00:03')", "('P-1', 'b', '2024-01-02 10:00:04')",
					"('P-1', 'a', '2024-01-02 10:00:05')", "('P-1', 'b', '2024-01-02 10:00:06')",
					"('P-1', 'a', '2024-01-02 10:00:07')", "('P-1', 'b', '2024-01-02 10:00:08')",
					"('P-1', 'b', '2024-01-02 10:00:09')", "('P-1', 'b', '2024-01-02 10:00:10')",
				}, ", "),
			},
			Spec:       "{query: 'SELECT entity, state, at FROM flips', allowed: {a: [b], b: [a]}}",
			Status:     checks.Fail,
			Violations: 2,
			Sample: []checks.Violation{
				{Key: "P-1#10", Detail: "b -> b at 2024-01-02T10:00:10Z (previous at 2024-01-02T10:00:09Z): not allowed"},
				{Key: "P-1#9", Detail: "b -> b at 2024-01-02T10:00:09Z (previous at 2024-01-02T10:00:08Z): not allowed"},
			},
		},
		{
			Name: "more than 50 violations keep the smallest keys",
			Setup: []string{
				"CREATE TABLE many (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO many VALUES " + manyRows,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM many', initial: [pending], " + orderFlow + "}",
			Status:     checks.Fail,
			Violations: 60,
			Sample:     manySample,
		},
		{
			Name: "unicode entities and states",
			Setup: []string{
				"CREATE TABLE unicode (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO unicode VALUES
					('заказ-1', 'новый', '2024-01-02 09:00:00'), ('заказ-1', 'оплачен', '2024-01-02 09:01:00'),
					('東京', 'оплачен', '2024-01-02 09:00:00'), ('東京', 'новый', '2024-01-02 09:01:00')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM unicode', allowed: {новый: [оплачен]}}",
			Status:     checks.Fail,
			Violations: 1,
			Sample: []checks.Violation{
				{Key: "東京#2", Detail: "оплачен -> новый at 2024-01-02T09:01:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
			},
		},
		{
			Name: "mixed text timestamp formats",
			Setup: []string{
				"CREATE TABLE mixed (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				`INSERT INTO mixed VALUES
					('M-1', 'pending', '2024-01-02T12:00:00+02:00'), ('M-1', 'paid', '2024-01-02 10:30:00'),
					('M-1', 'shipped', '2024-01-02T10:15:00.5Z'),
					('M-2', 'pending', '2024-01-02 09:59:59.999'), ('M-2', 'paid', '2024-01-02 07:00:00-03:00'),
					('M-2', 'shipped', '2024-01-02T10:00:00.001Z')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM mixed', " + orderFlow + "}",
			Status:     checks.Fail,
			Violations: 2,
			Sample: []checks.Violation{
				{Key: "M-1#2", Detail: "pending -> shipped at 2024-01-02T10:15:00.5Z (previous at 2024-01-02T10:00:00Z): not allowed"},
				{Key: "M-1#3", Detail: "shipped -> paid at 2024-01-02T10:30:00Z (previous at 2024-01-02T10:15:00.5Z): not allowed"},
			},
		},
		{
			Name: "native timestamps and numbers",
			Setup: []string{
				"CREATE TABLE native (entity INTEGER, state INTEGER, at {ts})",
				`INSERT INTO native VALUES
					(7, 1, '2024-01-02 10:00:00.250'), (7, 2, '2024-01-02 10:00:00.500'), (7, 1, '2024-01-02 10:00:00.125'),
					(8, 1, '2024-01-02 10:00:00')`,
			},
			Spec:       "{query: 'SELECT entity, state, at FROM native', allowed: {1: [2]}}",
			Status:     checks.Fail,
			Violations: 1,
			Sample: []checks.Violation{
				{Key: "7#2", Detail: "1 -> 1 at 2024-01-02T10:00:00.25Z (previous at 2024-01-02T10:00:00.125Z): not allowed"},
			},
		},
		{
			Name: "a NULL state is the state NULL",
			Setup: []string{
				"CREATE TABLE nullstate (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO nullstate VALUES ('N-1', 'pending', '2024-01-02 09:00:00'), ('N-1', NULL, '2024-01-02 09:01:00')",
			},
			Spec:       "{query: 'SELECT entity, state, at FROM nullstate', " + orderFlow + "}",
			Status:     checks.Fail,
			Violations: 1,
			Sample: []checks.Violation{
				{Key: "N-1#2", Detail: "pending -> NULL at 2024-01-02T09:01:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
			},
		},
		{
			Name:   "empty table",
			Setup:  []string{"CREATE TABLE empty (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))"},
			Spec:   "{query: 'SELECT entity, state, at FROM empty', initial: [pending], " + orderFlow + "}",
			Status: checks.Pass,
		},
		{
			Name: "thresholds decide the status",
			Setup: []string{
				"CREATE TABLE warned (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO warned VALUES ('W-1', 'paid', '2024-01-02 09:00:00'), ('W-1', 'pending', '2024-01-02 09:01:00')",
			},
			Spec:       "{query: 'SELECT entity, state, at FROM warned', warn_above: 0, fail_above: 1, " + orderFlow + "}",
			Status:     checks.Warn,
			Violations: 1,
			Sample: []checks.Violation{
				{Key: "W-1#2", Detail: "paid -> pending at 2024-01-02T09:01:00Z (previous at 2024-01-02T09:00:00Z): not allowed"},
			},
		},
		{
			Name: "an unreadable timestamp is an error quoting it",
			Setup: []string{
				"CREATE TABLE badtime (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO badtime VALUES ('B-1', 'pending', '2024-01-02 09:00:00'), ('B-1', 'paid', 'yesterday noon')",
			},
			Spec: "{query: 'SELECT entity, state, at FROM badtime', " + orderFlow + "}",
			Err:  []string{"transitions:", "B-1", `"yesterday noon"`},
		},
		{
			Name: "a NULL entity is an error",
			Setup: []string{
				"CREATE TABLE nullentity (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO nullentity VALUES (NULL, 'pending', '2024-01-02 09:00:00')",
			},
			Spec: "{query: 'SELECT entity, state, at FROM nullentity', " + orderFlow + "}",
			Err:  []string{"transitions:", "NULL entity"},
		},
		{
			Name: "a missing column is an error naming it",
			Setup: []string{
				"CREATE TABLE nocol (entity VARCHAR(64), status VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO nocol VALUES ('C-1', 'pending', '2024-01-02 09:00:00')",
			},
			Spec: "{query: 'SELECT entity, status, at FROM nocol', " + orderFlow + "}",
			Err:  []string{"transitions:", `"state"`},
		},
		{
			Name: "a writing query is refused",
			Setup: []string{
				"CREATE TABLE writes (entity VARCHAR(64), state VARCHAR(64), at VARCHAR(40))",
				"INSERT INTO writes VALUES ('X-1', 'pending', '2024-01-02 09:00:00')",
			},
			Spec:  "{query: 'DELETE FROM writes', " + orderFlow + "}",
			Err:   []string{"transitions:"},
			Keeps: map[string]int{"writes": 1},
		},
	}
	kindtest.RunCases(t, transitions.Kind, deps, cases)
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		spec string
		want []checks.Problem
	}{
		{
			name: "complete",
			spec: "{query: 'SELECT 1', allowed: {a: [b], b: []}, initial: [a], warn_above: 1, fail_above: 2}",
		},
		{
			name: "everything missing",
			spec: "{}",
			want: []checks.Problem{
				{Field: "query", Msg: "query is required"},
				{Field: "allowed", Msg: "allowed is required: map each state to the states that may follow it"},
			},
		},
		{
			name: "bad values",
			spec: "{query: 'SELECT 1', allowed: {a: [b, '']}, initial: [], fail_above: -1}",
			want: []checks.Problem{
				{Field: "allowed.a[1]", Msg: "a state name must not be empty"},
				{Field: "initial", Msg: "initial must list at least one state (leave it out to allow any first state)"},
				{Field: "fail_above", Msg: "fail_above must not be negative, got -1"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := kindtest.Decode(t, transitions.Kind, tc.spec).Validate(checks.SpecEnv{})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	if transitions.Kind.Name != "transitions" || transitions.Kind.Needs != checks.NeedsSQL {
		t.Errorf("kind %q needs %q, want transitions needing %q", transitions.Kind.Name, transitions.Kind.Needs, checks.NeedsSQL)
	}
	if _, ok := transitions.Kind.NewSpec().(*transitions.Spec); !ok {
		t.Errorf("NewSpec returned %T, want *transitions.Spec", transitions.Kind.NewSpec())
	}
}

// deps is what a check of these tests runs with.
func deps(src checks.SQLSource) checks.Deps {
	return checks.Deps{CheckID: "moves", Timeout: 30 * time.Second, SQL: src}
}

// manyViolations returns VALUES for n entities that start in a state that
// is not initial, and the sample a run must keep: the 50 smallest keys in
// byte order.
func manyViolations(n int) (string, []checks.Violation) {
	rows := make([]string, n)
	keys := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("('E-%d', 'paid', '2024-01-02 09:00:00')", i)
		keys[i] = fmt.Sprintf("E-%d#1", i)
	}
	sort.Strings(keys)
	var sample []checks.Violation
	for _, k := range keys[:checks.SampleSize] {
		sample = append(sample, checks.Violation{Key: k, Detail: "starts in paid at 2024-01-02T09:00:00Z: not an initial state (initial: pending)"})
	}
	return strings.Join(rows, ", "), sample
}
