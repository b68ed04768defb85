package checks

import "fmt"

// Thresholds compare a count: above FailAbove fails, above WarnAbove (when
// set) warns. Kinds embed it inline in their configuration.
type Thresholds struct {
	WarnAbove *int `yaml:"warn_above"`
	FailAbove *int `yaml:"fail_above"`
}

// Fail returns the fail threshold, 0 when unset.
func (t Thresholds) Fail() int {
	if t.FailAbove == nil {
		return 0
	}
	return *t.FailAbove
}

// Status decides the status for a count.
func (t Thresholds) Status(n int) Status {
	switch {
	case n > t.Fail():
		return Fail
	case t.WarnAbove != nil && n > *t.WarnAbove:
		return Warn
	default:
		return Pass
	}
}

// Problems reports negative or inconsistent thresholds.
func (t Thresholds) Problems() []Problem {
	var ps []Problem
	if t.WarnAbove != nil && *t.WarnAbove < 0 {
		ps = append(ps, Problem{Field: "warn_above", Msg: fmt.Sprintf("warn_above must not be negative, got %d", *t.WarnAbove)})
	}
	if t.FailAbove != nil && *t.FailAbove < 0 {
		ps = append(ps, Problem{Field: "fail_above", Msg: fmt.Sprintf("fail_above must not be negative, got %d", *t.FailAbove)})
	}
	if t.WarnAbove != nil && *t.WarnAbove > t.Fail() {
		ps = append(ps, Problem{Field: "warn_above", Msg: fmt.Sprintf("warn_above (%d) must not be greater than fail_above (%d)", *t.WarnAbove, t.Fail())})
	}
	return ps
}
