// Package checks is vigil's domain: a check, its result, its status and the
// violations it found. It imports only the standard library; each kind of
// check lives in its own package below this one.
package checks

import (
	"context"
	"time"
)

// Status is the outcome of one run.
type Status string

const (
	Pass  Status = "pass"
	Warn  Status = "warn"
	Fail  Status = "fail"
	Error Status = "error" // the check could not run; not the same as Fail
)

// Severity orders statuses from best (pass) to worst (error).
func (s Status) Severity() int {
	switch s {
	case Pass:
		return 0
	case Warn:
		return 1
	case Fail:
		return 2
	default:
		return 3
	}
}

// Worst returns the worse of two statuses.
func Worst(a, b Status) Status {
	if b.Severity() > a.Severity() {
		return b
	}
	return a
}

// Up reports whether a status counts as good for the SLO (pass or warn).
func (s Status) Up() bool { return s == Pass || s == Warn }

// Violation is one offending item: a stable key and a human detail.
type Violation struct {
	Key    string `json:"key"`
	Detail string `json:"detail"`
}

// SampleSize is how many violations a result keeps, the smallest keys first.
const SampleSize = 50

// MaxKeys bounds how many violation keys a result carries for the
// new / still failing / fixed comparison between runs.
const MaxKeys = 10000

// Result is the outcome of a run. It is also the JSON shape of
// `vigil run --once --format json` (one object per check).
type Result struct {
	Check      string        `json:"check"`
	Kind       string        `json:"kind"`
	Status     Status        `json:"status"`
	Violations int           `json:"violations"`
	Sample     []Violation   `json:"sample"`
	Duration   time.Duration `json:"-"`
	DurationMS int64         `json:"duration_ms"`
	Error      string        `json:"error"`

	// StartedAt is when the run began.
	StartedAt time.Time `json:"-"`
	// Keys holds the violation keys in ascending byte order, at most MaxKeys
	// of them (KeysTruncated says when there were more).
	Keys          []string `json:"-"`
	KeysTruncated bool     `json:"-"`
	// Metrics carries kind-specific numbers a later run may need (for
	// example each DLQ's depth, to compute inflow). Keys are kind-defined,
	// except MetricMeasure.
	Metrics map[string]float64 `json:"-"`
}

// MetricMeasure is the key of Result.Metrics under which a kind reports
// its own measure of a run, the number the dashboard charts beside the
// violations: the total depth of the dead-letter queues (sqs_dlq), the
// response latency in milliseconds (http), the age in seconds of the
// stalest load (freshness). Kinds without one leave it out.
const MetricMeasure = "measure"

// Check is a configured instance of a kind, ready to run.
type Check interface {
	// Run executes the check once. A non-nil error means the check could not
	// run (status "error"); violations are reported in the Result, never as
	// an error. Run fills Status, Violations, Sample and Keys; the caller
	// fills Check, Kind, timing and Error.
	Run(ctx context.Context) (Result, error)
}

// CheckFunc adapts a function to the Check interface.
type CheckFunc func(ctx context.Context) (Result, error)

// Run calls f.
func (f CheckFunc) Run(ctx context.Context) (Result, error) { return f(ctx) }
