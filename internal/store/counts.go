package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Counts is a number of runs by status.
type Counts struct {
	Pass, Warn, Fail, Error int64 // Error counts error runs and any other status
}

// Good is the runs that pass or warn: good for an SLO and up for the status
// page, as the Datadog SLOs count them (check.run with status pass or warn).
func (c Counts) Good() int64 { return c.Pass + c.Warn }

// Bad is the runs that fail or could not run.
func (c Counts) Bad() int64 { return c.Fail + c.Error }

// Total is every run counted.
func (c Counts) Total() int64 { return c.Pass + c.Warn + c.Fail + c.Error }

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Pass += o.Pass
	c.Warn += o.Warn
	c.Fail += o.Fail
	c.Error += o.Error
}

// CountQuery selects the runs RunCounts counts.
type CountQuery struct {
	// Checks limits the count to these check ids; nil counts every check.
	Checks []string
	// From and To bound the runs' start times, [From, To); both required.
	From, To time.Time
	// Bucket, when positive, splits the range into buckets of this width
	// aligned on the Unix epoch (a day's bucket is a UTC day); zero counts
	// the whole range in one bucket starting at From.
	Bucket time.Duration
	// PerCheck keeps each check's counts apart; otherwise the checks are
	// summed and CheckID is "".
	PerCheck bool
}

// BucketCounts is the runs of one bucket of a RunCounts answer.
type BucketCounts struct {
	CheckID string    // "" unless CountQuery.PerCheck
	Start   time.Time // the bucket's start, UTC
	Counts
}

// RunCounts counts runs by status, from the raw runs and from the hourly
// rollups of runs that retention removed, in one statement (so a prune
// running meanwhile neither hides nor doubles a run). A raw run counts when
// its start is in [From, To); a rollup hour counts whole when the hour's
// start is, so a range or bucket edge inside a rolled-up hour is rounded
// to the hour. Runs without a start time are not counted. Buckets without
// runs are left out; the rest come by check id, then start. It fails with
// ErrInvalid for a missing or empty range, or a negative bucket.
func (s *Store) RunCounts(ctx context.Context, q CountQuery) ([]BucketCounts, error) {
	wrap := func(err error) error { return fmt.Errorf("store: run counts: %w", err) }
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) || q.Bucket < 0 {
		return nil, wrap(fmt.Errorf("range [%v, %v) bucket %s: %w", q.From, q.To, q.Bucket, ErrInvalid))
	}
	ts, err := times(q.From, q.To)
	if err != nil {
		return nil, wrap(fmt.Errorf("%w: %w", err, ErrInvalid))
	}
	from, to := ts[0].Int64, ts[1].Int64
	width := int64(q.Bucket)
	if width == 0 {
		width = to - from
	}
	checkCol, filter, args := "''", "", []any{}
	if q.PerCheck {
		checkCol = "check_id"
	}
	if q.Checks != nil {
		if len(q.Checks) == 0 {
			return []BucketCounts{}, nil
		}
		filter = " AND check_id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(q.Checks)), ", ") + ")"
		for _, id := range q.Checks {
			args = append(args, cleanText(id))
		}
	}
	out := []BucketCounts{}
	if !s.d.groupPerBucket {
		bucket := func(col string) string {
			if q.Bucket == 0 {
				return fmt.Sprint(from)
			}
			return fmt.Sprintf("(%s / %d) * %d", col, width, width)
		}
		err = s.countInto(ctx, &out, countsSQL(checkCol, bucket("started_at"), bucket("hour"), filter), -1, from, to, args)
	} else {
		// One statement per bucket: rows come in the index's (check_id,
		// time) order, so grouping by check needs no sort.
		query := bucketSQL(q.PerCheck, filter)
		for b := from; b < to && err == nil; {
			start, end := b, to
			if q.Bucket > 0 {
				start = b - b%width
				end = min(to, start+width)
			}
			err = s.countInto(ctx, &out, query, start, b, end, args)
			b = end
		}
		slices.SortStableFunc(out, func(a, b BucketCounts) int { return strings.Compare(a.CheckID, b.CheckID) })
	}
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// countsSQL counts runs by the check column and bucket expressions given
// (one for runs.started_at, one for run_rollups.hour), from the raw runs
// and the rollups whose time is in [?, ?), with filter (" AND check_id IN
// (...)" or ""). Each part groups before the union, so the outer sum sees
// at most two rows per group.
func countsSQL(checkCol, runBucket, hourBucket, filter string) string {
	return `SELECT c, b, SUM(p), SUM(w), SUM(f), SUM(e) FROM (
	SELECT ` + checkCol + ` AS c, ` + runBucket + ` AS b,
		SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END) AS p,
		SUM(CASE WHEN status = 'warn' THEN 1 ELSE 0 END) AS w,
		SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END) AS f,
		SUM(CASE WHEN status IN ('pass', 'warn', 'fail') THEN 0 ELSE 1 END) AS e
	FROM runs WHERE started_at >= ? AND started_at < ?` + filter + `
	GROUP BY 1, 2
	UNION ALL
	SELECT ` + checkCol + `, ` + hourBucket + `, SUM(pass_runs), SUM(warn_runs), SUM(fail_runs), SUM(error_runs)
	FROM run_rollups WHERE hour >= ? AND hour < ?` + filter + `
	GROUP BY 1, 2
) u GROUP BY c, b ORDER BY c, b`
}

// bucketSQL counts one bucket's runs by check (or all together, as check
// ""), from the raw runs and the rollups whose time is in [?, ?), with
// filter: the rows are c, p, w, f, e (countsSQL without b).
func bucketSQL(perCheck bool, filter string) string {
	checkCol, group := "check_id", " GROUP BY check_id"
	if !perCheck {
		checkCol, group = "''", " HAVING COUNT(*) > 0"
	}
	return `SELECT c, SUM(p), SUM(w), SUM(f), SUM(e) FROM (
	SELECT ` + checkCol + ` AS c,
		SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END) AS p,
		SUM(CASE WHEN status = 'warn' THEN 1 ELSE 0 END) AS w,
		SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END) AS f,
		SUM(CASE WHEN status IN ('pass', 'warn', 'fail') THEN 0 ELSE 1 END) AS e
	FROM runs WHERE started_at >= ? AND started_at < ?` + filter + group + `
	UNION ALL
	SELECT ` + checkCol + `, SUM(pass_runs), SUM(warn_runs), SUM(fail_runs), SUM(error_runs)
	FROM run_rollups WHERE hour >= ? AND hour < ?` + filter + group + `
) u GROUP BY c ORDER BY c`
}

// countInto runs a countsSQL query (start < 0) or a bucketSQL query for
// the bucket starting at start over [from, to), and appends its rows.
func (s *Store) countInto(ctx context.Context, out *[]BucketCounts, query string, start, from, to int64, filter []any) error {
	args := append(append([]any{from, to}, filter...), append([]any{from, to}, filter...)...)
	rows, err := s.read.QueryContext(ctx, s.d.rebind(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	oneBucket := start >= 0
	for rows.Next() {
		var b BucketCounts
		dest := []any{&b.CheckID, &start, &b.Pass, &b.Warn, &b.Fail, &b.Error}
		if oneBucket {
			dest = append(dest[:1], dest[2:]...)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		b.Start = time.Unix(0, start).UTC()
		*out = append(*out, b)
	}
	return rows.Err()
}
