// Package transitions is the transitions check kind: it replays each
// entity's state changes in time order and reports every move the
// configured state machine does not allow, the symptom of an out-of-order
// or lost update.
package transitions

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/timeline"
)

// Kind registers the transitions kind.
var Kind = checks.Kind{Name: "transitions", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &Spec{} }}

// Spec is the kind-specific configuration of a transitions check.
type Spec struct {
	// Query returns the columns entity, state and at.
	Query string `yaml:"query" jsonschema:"required"`
	// Allowed maps each state to the states that may follow it. A state
	// missing from the map allows no move out of it, to itself included.
	Allowed map[string][]string `yaml:"allowed" jsonschema:"required"`
	// Initial, when set, lists the states an entity may start in.
	Initial []string `yaml:"initial"`

	checks.Thresholds `yaml:",inline"`
}

// Validate reports a missing query or allowed map, an empty state name, an
// initial list given but empty, and bad thresholds.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	if strings.TrimSpace(s.Query) == "" {
		ps = append(ps, checks.Problem{Field: "query", Msg: "query is required"})
	}
	if len(s.Allowed) == 0 {
		ps = append(ps, checks.Problem{Field: "allowed", Msg: "allowed is required: map each state to the states that may follow it"})
	}
	from := make([]string, 0, len(s.Allowed))
	for f := range s.Allowed {
		from = append(from, f)
	}
	sort.Strings(from)
	for _, f := range from {
		if f == "" {
			ps = append(ps, checks.Problem{Field: "allowed", Msg: "a state name must not be empty"})
		}
		for i, to := range s.Allowed[f] {
			if to == "" {
				ps = append(ps, checks.Problem{Field: fmt.Sprintf("allowed.%s[%d]", f, i), Msg: "a state name must not be empty"})
			}
		}
	}
	if s.Initial != nil && len(s.Initial) == 0 {
		ps = append(ps, checks.Problem{Field: "initial", Msg: "initial must list at least one state (leave it out to allow any first state)"})
	}
	for i, st := range s.Initial {
		if st == "" {
			ps = append(ps, checks.Problem{Field: fmt.Sprintf("initial[%d]", i), Msg: "a state name must not be empty"})
		}
	}
	return append(ps, s.Thresholds.Problems()...)
}

// Build returns the check; it needs deps.SQL.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	if deps.SQL == nil {
		return nil, fmt.Errorf("transitions: build %s: no SQL datasource", deps.CheckID)
	}
	return &check{query: s.Query, machine: newMachine(s.Allowed, s.Initial), thresholds: s.Thresholds, sql: deps.SQL, timeout: deps.Timeout}, nil
}

// machine is the configured state machine over state ids: the configured
// states are 0 to len(names)-1; a run numbers any other state after them.
type machine struct {
	names       []string
	moves       []bool // moves[from*len(names)+to]
	initial     []bool // nil: any first state
	initialText string
}

func newMachine(allowed map[string][]string, initial []string) *machine {
	ids := map[string]int{}
	var names []string
	id := func(state string) int {
		if i, ok := ids[state]; ok {
			return i
		}
		ids[state] = len(names)
		names = append(names, state)
		return len(names) - 1
	}
	from := make([]string, 0, len(allowed))
	for f := range allowed {
		from = append(from, f)
	}
	sort.Strings(from)
	for _, f := range from {
		id(f)
		for _, to := range allowed[f] {
			id(to)
		}
	}
	for _, st := range initial {
		id(st)
	}
	m := &machine{names: names, moves: make([]bool, len(names)*len(names))}
	for f, tos := range allowed {
		for _, to := range tos {
			m.moves[ids[f]*len(names)+ids[to]] = true
		}
	}
	if initial != nil {
		m.initial = make([]bool, len(names))
		for _, st := range initial {
			m.initial[ids[st]] = true
		}
		m.initialText = strings.Join(initial, ", ")
	}
	return m
}

// allows reports whether a move from one state to another is allowed.
func (m *machine) allows(from, to int32) bool {
	k := int32(len(m.names))
	return from < k && to < k && m.moves[from*k+to]
}

// starts reports whether an entity may start in state.
func (m *machine) starts(state int32) bool {
	return m.initial == nil || (state < int32(len(m.names)) && m.initial[state])
}

type check struct {
	query      string
	machine    *machine
	thresholds checks.Thresholds
	sql        checks.SQLSource
	timeout    time.Duration
}

// Run reads every event of the query, orders each entity's events by time
// (equal times in query order) and reports each move that is not allowed,
// and each first state that is not initial. It returns an error when the
// query fails, a column is missing, an entity is NULL or an at value cannot
// be read as a timestamp.
func (c *check) Run(ctx context.Context) (checks.Result, error) {
	events := timeline.New()
	states := newStates(c.machine)
	err := c.sql.ReadOnly(ctx, c.timeout, func(ctx context.Context, tx *checks.Tx) error {
		entityIdx := -1
		var stateIdx, atIdx int
		var entity, state []byte
		return checks.EachRow(ctx, tx, c.query, func(cols []string, vals []any) error {
			if entityIdx < 0 {
				idx, err := checks.Columns(cols, "entity", "state", "at")
				if err != nil {
					return err
				}
				entityIdx, stateIdx, atIdx = idx["entity"], idx["state"], idx["at"]
			}
			if vals[entityIdx] == nil {
				return fmt.Errorf("an event with state %s at %s has a NULL entity", checks.Text(vals[stateIdx]), checks.Text(vals[atIdx]))
			}
			entity = checks.AppendText(entity[:0], vals[entityIdx])
			state = checks.AppendText(state[:0], vals[stateIdx])
			sec, nsec, err := checks.ReadUnixTime(vals[atIdx])
			if err != nil {
				return fmt.Errorf("entity %s, state %s: column at: %w", entity, state, err)
			}
			return events.Add(entity, sec, nsec, states.id(state), nil)
		})
	})
	if err != nil {
		return checks.Result{}, fmt.Errorf("transitions: %w", err)
	}
	var col checks.Collector
	events.Each(func(entityEvents []timeline.Record) { c.replay(events, states, entityEvents, &col) })
	return col.Result(c.thresholds.Status(col.Count())), nil
}

// states numbers the states a run meets: the machine's own first, in its
// order, then any other state as it is first seen. A record's tag is its
// state's number.
type states struct {
	ids   map[string]int32
	names []string
}

func newStates(m *machine) *states {
	s := &states{ids: make(map[string]int32, len(m.names)), names: slices.Clone(m.names)}
	for i, name := range m.names {
		s.ids[name] = int32(i)
	}
	return s
}

// shortStates is how many states are looked up in order rather than hashed
// (faster for the handful a state machine usually has).
const shortStates = 16

// id returns the number of a state, numbering it when it is new.
func (s *states) id(state []byte) int32 {
	if len(s.names) <= shortStates {
		for i, name := range s.names {
			if name == string(state) {
				return int32(i)
			}
		}
	} else if id, ok := s.ids[string(state)]; ok {
		return id
	}
	id := int32(len(s.names))
	name := string(state)
	s.ids[name] = id
	s.names = append(s.names, name)
	return id
}

// replay reports the violations of one entity's time-ordered events.
func (c *check) replay(all *timeline.Set, states *states, events []timeline.Record, col *checks.Collector) {
	m := c.machine
	first := &events[0]
	state := all.Tag(*first)
	if !m.starts(state) {
		col.Add(checks.Violation{
			Key: key(string(all.Key(*first)), 1),
			Detail: fmt.Sprintf("starts in %s at %s: not an initial state (initial: %s)",
				states.names[state], stamp(first), m.initialText),
		})
	}
	for n := 1; n < len(events); n++ {
		prev, cur := &events[n-1], &events[n]
		from := state
		state = all.Tag(*cur)
		if m.allows(from, state) {
			continue
		}
		col.Add(checks.Violation{
			Key: key(string(all.Key(*cur)), n+1),
			Detail: states.names[from] + " -> " + states.names[state] + " at " + stamp(cur) +
				" (previous at " + stamp(prev) + "): not allowed",
		})
	}
}

func key(entity string, n int) string { return entity + "#" + strconv.Itoa(n) }

func stamp(e *timeline.Record) string { return e.Time().Format(time.RFC3339Nano) }
