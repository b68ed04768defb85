package engine

import (
	"encoding/json"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// Message is the payload of every outbox message the engine enqueues (JSON
// in store.OutboxMessage.Payload): what a Slack alert needs to say, as of
// the moment the alert was decided.
type Message struct {
	// Kind is opened, resolved, reminder or silence_expired.
	Kind       store.OutboxKind `json:"kind"`
	Check      string           `json:"check"`
	CheckKind  string           `json:"check_kind"`
	Owner      string           `json:"owner,omitempty"`
	Runbook    string           `json:"runbook,omitempty"`
	Tags       []string         `json:"tags,omitempty"`
	IncidentID int64            `json:"incident_id"`
	// Status is the latest run's; OpenedStatus is the status that opened
	// the incident, and CheckBroken is true when that was error.
	Status       checks.Status `json:"status"`
	OpenedStatus checks.Status `json:"opened_status"`
	CheckBroken  bool          `json:"check_broken"`
	// Violations is the latest run's count; WorstViolations the largest
	// over the incident.
	Violations      int `json:"violations"`
	WorstViolations int `json:"worst_violations"`
	// SampleKeys holds at most 5 keys of the latest run's sample, in
	// ascending byte order.
	SampleKeys []string `json:"sample_keys"`
	// Error is the latest run's error text (status error).
	Error string `json:"error,omitempty"`
	RunID int64  `json:"run_id,omitempty"`
	// Since is when the check stopped passing; OpenedAt when the incident
	// opened; ResolvedAt when it resolved (absent until then).
	Since      time.Time `json:"since"`
	OpenedAt   time.Time `json:"opened_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	AckedBy    string    `json:"acked_by,omitempty"`
	// At is when the alert was decided.
	At time.Time `json:"at"`
	// SLO is set on the slo_* kinds, whose Check is "slo:<name>" and
	// IncidentID an SLO incident's; the check fields are then empty.
	SLO *SLOAlert `json:"slo,omitempty"`
}

// SLOAlert is what an SLO alert says: which SLO, how urgent, which rule
// fired and how fast the budget burns.
type SLOAlert struct {
	Name      string  `json:"name"`
	Objective float64 `json:"objective"` // percent
	Window    string  `json:"window"`    // "30d"
	// Severity is ticket or page (for slo_resolved: the highest reached).
	Severity string `json:"severity"`
	// Rule describes the rule that fired ("" for slo_resolved).
	Rule string `json:"rule,omitempty"`
	// BurnRates are the burn rates by window ("5m", "1h", ...) at At.
	BurnRates map[string]float64 `json:"burn_rates"`
	// Attainment is the share of good runs over the window (percent) and
	// BudgetLeft the share of the error budget left (1 = all), at At.
	Attainment float64 `json:"attainment"`
	BudgetLeft float64 `json:"budget_left"`
}

// DecodeMessage reads an outbox payload written by the engine.
func DecodeMessage(payload []byte) (Message, error) {
	var m Message
	err := json.Unmarshal(payload, &m)
	return m, err
}

func (m Message) encode() ([]byte, error) { return json.Marshal(m) }

// newMessage builds an alert for an incident from the run r (its latest).
func newMessage(kind store.OutboxKind, check CheckInfo, inc store.Incident, r checks.Result, runID int64, at time.Time) Message {
	keys := []string{}
	for _, v := range r.Sample {
		if len(keys) == sampleKeys {
			break
		}
		keys = append(keys, v.Key)
	}
	return Message{
		Kind: kind, Check: check.ID, CheckKind: r.Kind, Owner: check.Owner, Runbook: check.Runbook, Tags: check.Tags,
		IncidentID: inc.ID, Status: r.Status, OpenedStatus: inc.OpenedStatus, CheckBroken: inc.CheckBroken(),
		Violations: r.Violations, WorstViolations: inc.WorstViolations, SampleKeys: keys, Error: r.Error, RunID: runID,
		Since: inc.Since, OpenedAt: inc.OpenedAt, ResolvedAt: inc.ResolvedAt, AckedBy: inc.AckedBy, At: at,
	}
}
