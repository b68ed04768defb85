package checks

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Execute runs c once for the check id of the given kind and returns a
// complete result: timing filled in, and a returned error, a panic or an
// interrupted context turned into status "error" with a message that names
// the check. It never panics and never returns a result without a status.
func Execute(ctx context.Context, id, kind string, c Check, now func() time.Time) (res Result) {
	if now == nil {
		now = time.Now
	}
	start := now()
	defer func() {
		if p := recover(); p != nil {
			res = Result{Status: Error, Error: fmt.Sprintf("check %s: panic: %v\n%s", id, p, debug.Stack())}
		}
		res.Check, res.Kind, res.StartedAt = id, kind, start
		res.Duration = now().Sub(start)
		res.DurationMS = res.Duration.Milliseconds()
		if res.Sample == nil {
			res.Sample = []Violation{}
		}
	}()
	r, err := c.Run(ctx)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			msg = "interrupted: " + msg
		}
		return Result{Status: Error, Error: "check " + id + ": " + msg, Metrics: r.Metrics}
	}
	if r.Status == "" {
		r.Status = Pass
	}
	r.Error = ""
	return r
}
