package s3freshness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilhq/vigil/checks"
)

type check struct {
	id       string
	source   string // the datasource's name
	client   s3.ListObjectsV2APIClient
	bucket   string
	prefixes []Prefix
	maxPages int
	pageSize int32
	timeout  time.Duration
	now      func() time.Time
}

// Run lists every prefix and judges it. For each prefix it reports at most
// one violation keyed by the prefix (newest object too old, newest
// partition with too few objects, or no data object at all), plus one per
// too-small object of the newest partition keyed by the object's key. The
// status is the worst of them. An AWS failure (no such bucket, access
// denied, an unreachable endpoint) or a prefix that needs more than
// max_pages pages is an error naming the datasource, bucket and prefix.
func (c *check) Run(ctx context.Context) (checks.Result, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	landings := make([]Landing, len(c.prefixes))
	for i, p := range c.prefixes {
		l := &lister{client: c.client, bucket: c.bucket, maxPages: c.maxPages, pageSize: c.pageSize}
		got, err := l.land(ctx, p.Prefix)
		if err != nil {
			return checks.Result{}, fmt.Errorf("datasource %s: s3_freshness: bucket %s: prefix %s: %w", c.source, c.bucket, p.Prefix, err)
		}
		landings[i] = got
	}
	now := c.now()
	var col checks.Collector
	status := checks.Pass
	for i, p := range c.prefixes {
		status = checks.Worst(status, judge(p, landings[i], now, &col))
	}
	return col.Result(status), nil
}

// judge applies a prefix's rules to what it holds, adds its violations and
// returns its status.
func judge(p Prefix, l Landing, now time.Time, col *checks.Collector) checks.Status {
	if l.Newest == nil {
		detail := "no data object under the prefix"
		if l.Hidden > 0 {
			detail += fmt.Sprintf(" (%d hidden files or folder markers skipped)", l.Hidden)
		}
		col.Add(checks.Violation{Key: p.Prefix, Detail: detail})
		return checks.Fail
	}
	where := " in the newest partition " + l.Partition
	counted := where
	if l.Partition == "" {
		where, counted = "", " landed within "+checks.HumanDuration(UndatedWindow)+" of the newest"
	}

	status := checks.Pass
	var problems, facts []string
	at := l.Newest.modified.UTC().Format(time.RFC3339)
	switch elapsed := now.Sub(l.Newest.modified); {
	case elapsed < -ClockSkew:
		status = checks.Fail
		problems = append(problems, fmt.Sprintf("newest object %s landed %s, %s in the future (beyond the %s clock-skew allowance): vigil's clock or the storage's is wrong",
			l.Newest.key, at, checks.HumanAge(elapsed), checks.HumanDuration(ClockSkew)))
	default:
		elapsed = max(elapsed, 0)
		age := fmt.Sprintf("newest object %s landed %s, %s ago", l.Newest.key, at, checks.HumanAge(elapsed))
		switch {
		case p.ErrorAfter > 0 && elapsed > p.ErrorAfter:
			status = checks.Fail
		case p.WarnAfter > 0 && elapsed > p.WarnAfter:
			status = checks.Warn
		}
		if status == checks.Pass {
			facts = append(facts, age)
		} else {
			problems = append(problems, age+" ("+limits(p)+")")
		}
	}
	count := fmt.Sprintf("%d %s%s", len(l.Objects), plural(len(l.Objects), "object", "objects"), counted)
	if n := len(l.Objects); n < p.minObjects() {
		status = checks.Fail
		problems = append(problems, fmt.Sprintf("%s, want at least %d", count, p.minObjects()))
	} else {
		facts = append(facts, count)
	}
	if status != checks.Pass {
		detail := strings.Join(problems, "; ")
		if len(facts) > 0 {
			detail += " (" + strings.Join(facts, "; ") + ")"
		}
		col.Add(checks.Violation{Key: p.Prefix, Detail: detail})
	}

	if floor := p.minBytes(); floor > 0 {
		for _, o := range l.Objects {
			if o.size < floor {
				status = checks.Fail
				col.Add(checks.Violation{Key: o.key, Detail: fmt.Sprintf("%d %s (min_bytes %d), landed %s%s",
					o.size, plural(int(o.size), "byte", "bytes"), floor, o.modified.UTC().Format(time.RFC3339), where)})
			}
		}
	}
	return status
}

// limits writes a prefix's age thresholds: "warn after 2h, error after 6h".
func limits(p Prefix) string {
	var out []string
	if p.WarnAfter > 0 {
		out = append(out, "warn after "+checks.HumanDuration(p.WarnAfter))
	}
	if p.ErrorAfter > 0 {
		out = append(out, "error after "+checks.HumanDuration(p.ErrorAfter))
	}
	return strings.Join(out, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
