package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// Records is what the exercises read from vigil's store; *store.Store
// implements it.
type Records interface {
	AuditLog(ctx context.Context, limit int) ([]store.AuditEntry, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]store.Incident, error)
	Silences(ctx context.Context, before int64, limit int) ([]store.Silence, error)
}

// Step ids of an exercise, in order.
const (
	StepFindRows    = "find-rows"
	StepOpenRunbook = "open-runbook"
	StepDiagnose    = "diagnose"
	StepAck         = "ack"
	StepSilence     = "silence"
	StepAct         = "act" // redrive (dlq-filling) or run now
	StepRecover     = "recover"
)

// Step is one item of an exercise's checklist. It is done when the
// sandbox saw it happen, never because someone ticked it.
type Step struct {
	ID    string
	Title string
	Hint  string // how to do it
	Done  bool
	At    time.Time // when it was done
	By    string    // who did it, when known
	// Evidence says what showed it was done ("acked incident 3: ...").
	Evidence string
}

// Exercise is a scenario's checklist for the trainee, with its progress.
type Exercise struct {
	Scenario   Scenario
	Active     bool
	InjectedAt time.Time
	ClearedAt  time.Time
	Steps      []Step
}

// Done counts the steps done.
func (e Exercise) Done() int {
	n := 0
	for _, s := range e.Steps {
		if s.Done {
			n++
		}
	}
	return n
}

// view is one dashboard page served to someone.
type view struct {
	at    time.Time
	actor string
	path  string
}

// maxViews bounds the page views the sandbox remembers.
const maxViews = 5000

// Viewed tells the sandbox that the dashboard served path (for example
// "/checks/quote-api" or "/runbooks/api-latency") to actor. The web server
// calls it for each page it renders; the exercises read it.
func (s *Sandbox) Viewed(actor, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.views = appendKept(s.views, view{at: s.now(), actor: actor, path: path}, maxViews)
}

// Exercises returns the exercise of every scenario injected since the last
// Reset, in display order, with progress derived from what happened: the
// pages served (Viewed), the audit log, incidents, silences and the SQS
// fake's move tasks. Without Attach only the page views count.
func (s *Sandbox) Exercises(ctx context.Context) ([]Exercise, error) {
	s.mu.Lock()
	records := s.records
	views := append([]view(nil), s.views...)
	runs := make(map[string]scenarioRun, len(s.runs))
	for n, r := range s.runs {
		runs[n] = *r
	}
	s.mu.Unlock()

	var ev evidence
	ev.views = views
	ev.tasks = s.sqs.MoveTasks()
	if records != nil {
		var err error
		if ev.audit, err = records.AuditLog(ctx, store.MaxLimit); err != nil {
			return nil, fmt.Errorf("demo: exercises: %w", err)
		}
		if ev.silences, err = records.Silences(ctx, 0, store.MaxLimit); err != nil {
			return nil, fmt.Errorf("demo: exercises: %w", err)
		}
	}
	var out []Exercise
	for _, sc := range catalog {
		r, ok := runs[sc.Name]
		if !ok {
			continue
		}
		var incidents []store.Incident
		if records != nil {
			all, err := records.Incidents(ctx, store.IncidentQuery{CheckID: sc.Check, Limit: store.MaxLimit})
			if err != nil {
				return nil, fmt.Errorf("demo: exercises: %w", err)
			}
			for _, inc := range all {
				if !inc.OpenedAt.Before(r.injectedAt) {
					incidents = append(incidents, inc)
				}
			}
		}
		out = append(out, Exercise{
			Scenario: sc, Active: r.active(), InjectedAt: r.injectedAt, ClearedAt: r.clearedAt,
			Steps: ev.steps(sc, r, incidents),
		})
	}
	return out, nil
}

// evidence is everything the exercises are judged on.
type evidence struct {
	views    []view
	audit    []store.AuditEntry
	silences []store.Silence
	tasks    []MoveTask
}

// steps judges one exercise. incidents are the check's, opened since the
// injection, newest first.
func (ev evidence) steps(sc Scenario, r scenarioRun, incidents []store.Incident) []Step {
	since := r.injectedAt
	steps := []Step{
		{ID: StepFindRows, Title: "Find the failing rows", Hint: "Open the failing check " + sc.Check + " from the overview and read its violations."},
		{ID: StepOpenRunbook, Title: "Open the runbook", Hint: "Open the runbook " + sc.Runbook + " linked from the check."},
		{ID: StepDiagnose, Title: "Follow Diagnosis", Hint: "Work through the runbook's Diagnosis and name what you found (" + clueHint(sc) + ") in your ack note or silence reason."},
		{ID: StepAck, Title: "Acknowledge with a note", Hint: "Ack the incident of " + sc.Check + " with a note saying what you are doing."},
		{ID: StepSilence, Title: "Silence with a reason", Hint: "Silence " + sc.Check + " (or one of its tags) until the fix lands, with a reason."},
		actStep(sc),
		{ID: StepRecover, Title: "See it recover", Hint: "Once the scenario is cleared, the check passes and its incident resolves (the Slack recovery message follows)."},
	}
	mark := func(i int, at time.Time, by, evidence string) {
		if !steps[i].Done || at.Before(steps[i].At) {
			steps[i].Done, steps[i].At, steps[i].By, steps[i].Evidence = true, at, by, evidence
		}
	}

	// Find the failing rows: the check's page served while an incident of
	// this exercise was open.
	for _, v := range ev.views {
		if pathIs(v.path, "/checks/", sc.Check) && openAt(incidents, v.at) {
			mark(0, v.at, v.actor, "viewed "+v.path+" while the incident was open")
		}
		if pathIs(v.path, "/runbooks/", sc.Runbook) && !v.at.Before(since) {
			mark(1, v.at, v.actor, "viewed "+v.path)
		}
	}

	clues := r.clues
	for _, inc := range incidents {
		if inc.Acked() && strings.TrimSpace(inc.AckNote) != "" {
			mark(3, inc.AckedAt, inc.AckedBy, fmt.Sprintf("acked incident %d: %q", inc.ID, inc.AckNote))
			if c := findClue(inc.AckNote, clues); c != "" {
				mark(2, inc.AckedAt, inc.AckedBy, fmt.Sprintf("the ack note names %q", c))
			}
		}
	}
	for _, sl := range ev.silences {
		if sl.CreatedAt.Before(since) || !silences(sl.Matcher, sc) {
			continue
		}
		mark(4, sl.CreatedAt, sl.Author, fmt.Sprintf("silenced %s until %s: %q", sl.Matcher, sl.Until.Format(time.RFC3339), sl.Reason))
		if c := findClue(sl.Reason, clues); c != "" {
			mark(2, sl.CreatedAt, sl.Author, fmt.Sprintf("the silence reason names %q", c))
		}
	}

	for _, a := range ev.audit {
		if a.At.Before(since) {
			continue
		}
		switch {
		case sc.Name == ScenarioDLQFilling && a.Action == "redrive" && strings.Contains(a.Target, DeadLetterQueue):
			mark(5, a.At, a.Actor, "redrove "+a.Target+": "+a.Detail)
		case sc.Name != ScenarioDLQFilling && a.Action == "run" && a.Target == sc.Check:
			mark(5, a.At, a.Actor, "ran "+sc.Check+" now")
		}
	}
	if sc.Name == ScenarioDLQFilling {
		for _, t := range ev.tasks {
			// The sandbox's own redrive when the scenario is cleared is not the trainee's.
			if t.Source == DeadLetterQueue && !t.Started.Before(since) && (r.clearedAt.IsZero() || t.Started.Before(r.clearedAt)) {
				mark(5, t.Started, "", fmt.Sprintf("message move task on %s: %s, %d of %d moved", t.Source, t.Status, t.Moved, t.ToMove))
			}
		}
	}

	if !r.clearedAt.IsZero() {
		for _, inc := range incidents {
			if !inc.Open() && !inc.ResolvedAt.Before(r.clearedAt) {
				mark(6, inc.ResolvedAt, "", fmt.Sprintf("incident %d resolved", inc.ID))
			}
		}
	}
	return steps
}

func actStep(sc Scenario) Step {
	if sc.Name == ScenarioDLQFilling {
		return Step{ID: StepAct, Title: "Redrive the dead-letter queue", Hint: "Once the consumer is fixed, redrive " + DeadLetterQueue + " back to its source, rate-limited."}
	}
	return Step{ID: StepAct, Title: "Run the check now", Hint: "Press Run now on " + sc.Check + " to confirm what you see (and, after the fix, the recovery)."}
}

// pathIs reports whether path is prefix+name or below it.
func pathIs(path, prefix, name string) bool {
	rest, ok := strings.CutPrefix(path, prefix+name)
	return ok && (rest == "" || rest[0] == '/' || rest[0] == '?' || rest[0] == '#')
}

// openAt reports whether one of the incidents was open at t.
func openAt(incidents []store.Incident, t time.Time) bool {
	for _, inc := range incidents {
		if !t.Before(inc.OpenedAt) && (inc.Open() || t.Before(inc.ResolvedAt)) {
			return true
		}
	}
	return false
}

// silences reports whether a silence matcher covers the scenario's check.
func silences(matcher string, sc Scenario) bool {
	if matcher == sc.Check {
		return true
	}
	tag, ok := checkTags[sc.Check]
	return ok && matcher == tag
}

// checkTags is each sandbox check's tag (sandbox.yaml.tmpl).
var checkTags = map[string]string{
	"missing-endorsements": "team:policy",
	"duplicate-documents":  "team:documents",
	"status-transitions":   "team:policy",
	"warehouse-freshness":  "team:data",
	"landing-freshness":    "team:data",
	"negative-premiums":    "team:billing",
	"policy-events-dlq":    "team:policy",
	"quote-api":            "team:contact-center",
}

// staticClues are what each scenario's Diagnosis leads to, besides the
// affected keys.
var staticClues = map[string][]string{
	"reissue-missing-copy": {"EN-FLOOD-01", "EN-WIND-02"},
	"double-write":         {"declarations"},
	"out-of-order-status":  {"bound"},
	ScenarioDLQFilling:     {SourceQueue, "deploy", "consumer"},
	"stale-warehouse":      {"warehouse.policies", StalledPrefix, "extract"},
	ScenarioSlowAPI:        {"504", "timeout", "timed out", "rating"},
}

// findClue returns the first clue text mentions (case-insensitive), or "".
func findClue(text string, clues []string) string {
	lower := strings.ToLower(text)
	for _, c := range clues {
		if strings.Contains(lower, strings.ToLower(c)) {
			return c
		}
	}
	return ""
}

// affectedQueries find the policies a data scenario broke, right after it
// was injected: naming one is a clue.
var affectedQueries = map[string]string{
	"reissue-missing-copy": `SELECT DISTINCT policy_id FROM scenario_removed_endorsements ORDER BY policy_id`,
	"double-write":         `SELECT DISTINCT policy_id FROM documents WHERE created_at LIKE '%.000' ORDER BY policy_id`,
	"out-of-order-status":  `SELECT DISTINCT policy_id FROM policy_status_history WHERE changed_at LIKE '%.000' ORDER BY policy_id`,
}

// clues returns what a diagnosis of the scenario would name: its static
// clues and the policies it broke.
func (s *Sandbox) clues(ctx context.Context, name string) ([]string, error) {
	clues := append([]string(nil), staticClues[name]...)
	q, ok := affectedQueries[name]
	if !ok {
		return clues, nil
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("demo: affected policies of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("demo: affected policies of %s: %w", name, err)
		}
		clues = append(clues, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("demo: affected policies of %s: %w", name, err)
	}
	return clues, nil
}

func clueHint(sc Scenario) string {
	switch sc.Name {
	case ScenarioDLQFilling:
		return "the source queue and the consumer"
	case ScenarioSlowAPI:
		return "the status and what timed out"
	case "stale-warehouse":
		return "the late table"
	default:
		return "an affected policy id"
	}
}
