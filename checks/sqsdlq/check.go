package sqsdlq

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigilhq/vigil/checks"
)

// MetricDepth prefixes the Result.Metrics key holding a queue's depth
// ("depth:<queue>"); the next run reads it to compute growth.
const MetricDepth = "depth:"

// maxSourcesShown bounds the source names written in a detail.
const maxSourcesShown = 10

// Check is a runnable sqs_dlq check. It caches the queues it watches and
// their sources for a while between runs, so a run normally costs one
// GetQueueAttributes call per queue. It is safe for concurrent use.
type Check struct {
	id          string
	client      *sqs.Client
	spec        Spec
	timeout     time.Duration
	previous    func(ctx context.Context) (checks.Result, bool, error)
	now         func() time.Time
	concurrency int           // queues read at a time
	refresh     time.Duration // how long the topology is reused

	mu       sync.Mutex
	cached   []dlq
	cachedAt time.Time
}

// depth is what one run reads from a queue.
type depth struct {
	visible, inFlight, delayed int
	retention                  int // seconds
}

// Run reads every watched queue's attributes and reports one violation per
// queue over a threshold; Result.Metrics holds each queue's depth under
// "depth:<queue>". An AWS failure (access denied, a missing queue given in
// `queues`, an unreachable endpoint) is returned as an error that names the
// queue and the AWS error code, with the previous run's depths still in
// Result.Metrics.
func (c *Check) Run(ctx context.Context) (checks.Result, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	prev, hadRun, err := c.previousDepths(ctx)
	if err != nil {
		return checks.Result{}, fmt.Errorf("sqs_dlq %s: read previous result: %w", c.id, err)
	}
	// A run that fails keeps the last known depths, so the next run's
	// growth is measured from them.
	carried := checks.Result{Metrics: make(map[string]float64, len(prev))}
	for name, d := range prev {
		carried.Metrics[MetricDepth+name] = float64(d)
	}
	dlqs, fresh, err := c.watched(ctx, false)
	if err != nil {
		return carried, fmt.Errorf("sqs_dlq %s: %w", c.id, err)
	}
	depths, err := c.read(ctx, dlqs)
	if err != nil && !fresh && isMissing(err) {
		// A queue went away since the topology was cached: look again.
		if dlqs, _, err = c.watched(ctx, true); err == nil {
			depths, err = c.read(ctx, dlqs)
		}
	}
	if err != nil {
		return carried, fmt.Errorf("sqs_dlq %s: %w", c.id, err)
	}

	var col checks.Collector
	status := checks.Pass
	metrics := make(map[string]float64, len(dlqs)+1)
	total := 0
	for i, q := range dlqs {
		d := depths[i]
		metrics[MetricDepth+q.name] = float64(d.visible)
		total += d.visible
		growth, known := 0, false
		if p, ok := prev[q.name]; ok {
			growth, known = d.visible-p, true
		}
		qs, detail := c.judge(q, d, growth, known, hadRun)
		if qs == checks.Pass {
			continue
		}
		status = checks.Worst(status, qs)
		col.Add(checks.Violation{Key: q.name, Detail: detail})
	}
	metrics[checks.MetricMeasure] = float64(total) // the chart's queue depth: every watched DLQ's messages
	res := col.Result(status)
	res.Metrics = metrics
	return res, nil
}

// judge decides a queue's status and writes its detail.
func (c *Check) judge(q dlq, d depth, growth int, growthKnown, hadRun bool) (checks.Status, string) {
	status := c.spec.Thresholds.Status(d.visible)
	var b strings.Builder
	fmt.Fprintf(&b, "depth %d (visible %d, in flight %d, delayed %d)", d.visible, d.visible, d.inFlight, d.delayed)
	switch status {
	case checks.Fail:
		fmt.Fprintf(&b, " over fail_above %d", c.spec.Thresholds.Fail())
	case checks.Warn:
		fmt.Fprintf(&b, " over warn_above %d", *c.spec.WarnAbove)
	}
	switch {
	case growthKnown:
		fmt.Fprintf(&b, "; growth %+d since last run", growth)
		if c.spec.InflowAbove != nil && growth > *c.spec.InflowAbove {
			fmt.Fprintf(&b, " over inflow_above %d", *c.spec.InflowAbove)
			status = checks.Fail
		}
	case hadRun:
		b.WriteString("; growth unknown (no depth recorded for this queue last run)")
	default:
		b.WriteString("; growth unknown (first run)")
	}
	b.WriteString("; sources: ")
	if len(q.sources) == 0 {
		b.WriteString("none found")
	}
	for i, s := range q.sources {
		if i == maxSourcesShown {
			fmt.Fprintf(&b, " and %d more", len(q.sources)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.name)
	}
	for _, s := range q.sources {
		if s.retention > 0 && d.retention > 0 && d.retention <= s.retention {
			fmt.Fprintf(&b, "; WARNING: retention %s is not longer than source %s's (%s): messages can expire before a redrive",
				seconds(d.retention), s.name, seconds(s.retention))
			break
		}
	}
	return status, b.String()
}

// watched returns the DLQs to read, from the cache unless it is stale or
// force is set; fresh says they were just resolved.
func (c *Check) watched(ctx context.Context, force bool) (dlqs []dlq, fresh bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !force && c.cached != nil && c.now().Sub(c.cachedAt) < c.refresh {
		return c.cached, false, nil
	}
	dlqs, err = c.topology(ctx)
	if err != nil {
		c.cached = nil
		return nil, false, err
	}
	c.cached, c.cachedAt = dlqs, c.now()
	return dlqs, true, nil
}

// read makes one GetQueueAttributes call per queue, at most c.concurrency
// at a time.
func (c *Check) read(ctx context.Context, dlqs []dlq) ([]depth, error) {
	out := make([]depth, len(dlqs))
	err := each(ctx, c.concurrency, len(dlqs), func(ctx context.Context, i int) error {
		q := dlqs[i]
		res, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: &q.url,
			AttributeNames: []types.QueueAttributeName{
				types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
				types.QueueAttributeNameMessageRetentionPeriod,
			},
		})
		if err != nil {
			return awsError("queue "+q.name+": get attributes", err)
		}
		a := res.Attributes
		var d depth
		for _, f := range []struct {
			name types.QueueAttributeName
			dst  *int
		}{
			{types.QueueAttributeNameApproximateNumberOfMessages, &d.visible},
			{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, &d.inFlight},
			{types.QueueAttributeNameApproximateNumberOfMessagesDelayed, &d.delayed},
			{types.QueueAttributeNameMessageRetentionPeriod, &d.retention},
		} {
			v, err := strconv.Atoi(a[string(f.name)])
			if err != nil {
				return fmt.Errorf("queue %s: attribute %s is %q, not a number", q.name, f.name, a[string(f.name)])
			}
			*f.dst = v
		}
		out[i] = d
		return nil
	})
	return out, err
}

// previousDepths returns each queue's depth recorded by the last run;
// hadRun is false when there was no last run at all.
func (c *Check) previousDepths(ctx context.Context) (depths map[string]int, hadRun bool, err error) {
	if c.previous == nil {
		return nil, false, nil
	}
	r, ok, err := c.previous(ctx)
	if err != nil || !ok {
		return nil, false, err
	}
	depths = map[string]int{}
	for k, v := range r.Metrics {
		if name, found := strings.CutPrefix(k, MetricDepth); found {
			depths[name] = int(v)
		}
	}
	return depths, true, nil
}

// seconds writes a retention period: whole days as "4d", else a duration.
func seconds(s int) string {
	if s%86400 == 0 {
		return strconv.Itoa(s/86400) + "d"
	}
	return (time.Duration(s) * time.Second).String()
}
