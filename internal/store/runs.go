package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// Run is one stored run: its id and its result. Sample, Metrics, StartedAt
// (in UTC), Duration, DurationMS (Duration in whole milliseconds) and
// KeysTruncated are restored; Keys is not loaded (see RunKeys).
type Run struct {
	ID int64
	checks.Result
}

// KeyChanges sorts a run's violation keys against the previous run of the
// same check. Each list is in ascending byte order.
type KeyChanges struct {
	New   []string // failing now, not in the previous run (all keys when there is no previous run)
	Still []string // failing in both runs
	Fixed []string // failing in the previous run, not now
	// Unknown holds keys of this run that cannot be called new or still
	// because the previous run's keys were cut off at checks.MaxKeys below
	// them. (A previous key above this run's own cut-off is in no list.)
	Unknown []string
}

const (
	// DefaultLimit is the page size Results and AuditLog use for a limit <= 0.
	DefaultLimit = 100
	// MaxLimit caps the page size of Results and AuditLog.
	MaxLimit = 1000
	// keysPerInsert bounds the rows of one multi-row INSERT of keys (two
	// bind parameters each, well under either driver's limit).
	keysPerInsert = 500
)

// insertRunSQL inserts a run; the dialect says how its id is read (a
// RETURNING clause or LastInsertId).
const insertRunSQL = `INSERT INTO runs
	(check_id, kind, status, violations, sample, duration_ns, error_text, started_at, keys_truncated, metrics, measure)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const runColumns = "id, check_id, kind, status, violations, sample, duration_ns, error_text, started_at, keys_truncated, metrics"

// RecordResult stores one run's result and its violation keys in one
// transaction and returns the run's id; ids grow with each run. Keys are
// stored sorted and without duplicates; when there are more than
// checks.MaxKeys, the smallest are kept and KeysTruncated is set. Duration
// is taken from DurationMS when Duration is zero. Text that PostgreSQL
// cannot hold (NUL bytes, invalid UTF-8) is stored with U+FFFD in its place,
// on both drivers. It fails when r.Check is empty or StartedAt is outside
// the years 1678-2262.
func (s *Store) RecordResult(ctx context.Context, r checks.Result) (int64, error) {
	if r.Check == "" {
		return 0, errors.New("store: record result: empty check id")
	}
	var id int64
	err := s.WithTx(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.recordResult(ctx, r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: record result %s: %w", r.Check, err)
	}
	return id, nil
}

// RecordResult is Store.RecordResult inside tx.
func (tx *Tx) RecordResult(ctx context.Context, r checks.Result) (int64, error) {
	if r.Check == "" {
		return 0, errors.New("store: record result: empty check id")
	}
	id, err := tx.recordResult(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("store: record result %s: %w", r.Check, err)
	}
	return id, nil
}

func (tx *Tx) recordResult(ctx context.Context, r checks.Result) (int64, error) {
	sample, err := encodeJSON(r.Sample)
	if err != nil {
		return 0, fmt.Errorf("encode sample: %w", err)
	}
	metrics, err := encodeMetrics(r.Metrics)
	if err != nil {
		return 0, fmt.Errorf("encode metrics: %w", err)
	}
	started, err := timeValue(r.StartedAt)
	if err != nil {
		return 0, fmt.Errorf("started_at: %w", err)
	}
	duration := r.Duration
	if duration == 0 {
		duration = time.Duration(r.DurationMS) * time.Millisecond
	}
	keys, truncated := normalizeKeys(r.Keys)
	truncated = truncated || r.KeysTruncated

	id, err := tx.insertID(ctx, insertRunSQL,
		cleanText(r.Check), cleanText(r.Kind), cleanText(string(r.Status)), r.Violations, sample,
		int64(duration), cleanText(r.Error), started, truncated, metrics, measureValue(r.Metrics))
	if err != nil {
		return 0, fmt.Errorf("insert run: %w", err)
	}
	for chunk := range slices.Chunk(keys, keysPerInsert) {
		q := "INSERT INTO run_keys (run_id, violation_key) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)), ", ")
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, id, k)
		}
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return 0, fmt.Errorf("insert keys: %w", err)
		}
	}
	return id, nil
}

// normalizeKeys returns the keys cleaned, sorted and unique, at most
// checks.MaxKeys of them, and whether some were dropped.
func normalizeKeys(in []string) ([]string, bool) {
	keys := make([]string, len(in))
	for i, k := range in {
		keys[i] = cleanText(k)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) > checks.MaxKeys {
		return keys[:checks.MaxKeys], true
	}
	return keys, false
}

// LatestResult returns the newest run of a check, or ErrNotFound.
func (s *Store) LatestResult(ctx context.Context, checkID string) (Run, error) {
	row := s.read.QueryRowContext(ctx, s.d.rebind("SELECT "+runColumns+" FROM runs WHERE check_id = ? ORDER BY id DESC LIMIT 1"), checkID)
	run, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("store: latest result of %s: %w", checkID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("store: latest result of %s: %w", checkID, err)
	}
	return run, nil
}

// Results returns a page of a check's runs, newest first: at most limit
// runs (DefaultLimit when limit <= 0, never more than MaxLimit) whose id is
// below before (no bound when before <= 0). The next page starts before the
// last run's id. An unknown check has no runs: the result is empty, not an
// error.
func (s *Store) Results(ctx context.Context, checkID string, before int64, limit int) ([]Run, error) {
	limit = pageSize(limit)
	q, args := "SELECT "+runColumns+" FROM runs WHERE check_id = ?", []any{checkID}
	if before > 0 {
		q, args = q+" AND id < ?", append(args, before)
	}
	q, args = q+" ORDER BY id DESC LIMIT ?", append(args, limit)
	runs, err := s.queryRuns(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: results of %s: %w", checkID, err)
	}
	return runs, nil
}

// LatestResults returns the newest run of every check that has one, by
// check id.
func (s *Store) LatestResults(ctx context.Context) (map[string]Run, error) {
	runs, err := s.queryRuns(ctx, "SELECT "+runColumns+" FROM runs WHERE id IN (SELECT last_run_id FROM check_recent)")
	if err != nil {
		return nil, fmt.Errorf("store: latest results: %w", err)
	}
	latest := make(map[string]Run, len(runs))
	for _, r := range runs {
		latest[r.Check] = r
	}
	return latest, nil
}

// RunKeys returns a run's violation keys in ascending byte order (empty
// when it had none), or ErrNotFound when the run does not exist.
func (s *Store) RunKeys(ctx context.Context, runID int64) ([]string, error) {
	if _, _, err := s.runHead(ctx, runID); err != nil {
		return nil, fmt.Errorf("store: keys of run %d: %w", runID, err)
	}
	keys, err := s.keys(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("store: keys of run %d: %w", runID, err)
	}
	return keys, nil
}

// KeyChanges compares a run's violation keys with those of the previous
// run of the same check (the one with the next lower id). Without a
// previous run every key is new. It returns ErrNotFound when the run does
// not exist.
func (s *Store) KeyChanges(ctx context.Context, runID int64) (KeyChanges, error) {
	return keyChanges(ctx, runID, s.readRowFixed, s.readFixed)
}

// KeyChanges is Store.KeyChanges inside tx, which sees the runs tx wrote.
func (tx *Tx) KeyChanges(ctx context.Context, runID int64) (KeyChanges, error) {
	return keyChanges(ctx, runID, tx.queryRowFixed, fixedQuerier{tx}.QueryContext)
}

func keyChanges(ctx context.Context, runID int64,
	queryRow func(ctx context.Context, q string, args ...any) *sql.Row,
	query func(ctx context.Context, q string, args ...any) (*sql.Rows, error),
) (KeyChanges, error) {
	wrap := func(err error) error { return fmt.Errorf("store: key changes of run %d: %w", runID, err) }
	var (
		curTruncated, curHasKeys   bool
		prevID                     sql.NullInt64
		prevTruncated, prevHasKeys sql.NullBool
	)
	err := queryRow(ctx, runPairSQL, runID).Scan(&curTruncated, &curHasKeys, &prevID, &prevTruncated, &prevHasKeys)
	if errors.Is(err, sql.ErrNoRows) {
		return KeyChanges{}, wrap(ErrNotFound)
	}
	if err != nil {
		return KeyChanges{}, wrap(fmt.Errorf("read run: %w", err))
	}
	// Most runs of a healthy check have no keys and neither had the one
	// before: then there is nothing more to read.
	cur, prev := []string{}, []string{}
	if curHasKeys {
		if cur, err = readKeys(ctx, query, runID); err != nil {
			return KeyChanges{}, wrap(err)
		}
	}
	if !prevID.Valid {
		return KeyChanges{New: cur, Still: []string{}, Fixed: []string{}, Unknown: []string{}}, nil
	}
	if prevHasKeys.Bool {
		if prev, err = readKeys(ctx, query, prevID.Int64); err != nil {
			return KeyChanges{}, wrap(err)
		}
	}
	return compareKeys(cur, curTruncated, prev, prevTruncated.Bool), nil
}

// runPairSQL reads, for a run, whether its keys were truncated and whether
// it has any, then the same for the previous run of its check (NULLs when
// there is none).
const runPairSQL = `SELECT r.keys_truncated, EXISTS (SELECT 1 FROM run_keys WHERE run_id = r.id),
	p.id, p.keys_truncated, EXISTS (SELECT 1 FROM run_keys WHERE run_id = p.id)
FROM runs r
LEFT JOIN runs p ON p.id = (SELECT MAX(id) FROM runs WHERE check_id = r.check_id AND id < r.id)
WHERE r.id = ?`

const runKeysSQL = "SELECT violation_key FROM run_keys WHERE run_id = ?"

// compareKeys classifies two sorted, unique key lists. A truncated list
// holds the smallest keys only, so it says nothing about keys above its
// last one.
func compareKeys(cur []string, curTruncated bool, prev []string, prevTruncated bool) KeyChanges {
	known := func(list []string, truncated bool, k string) bool {
		return !truncated || len(list) == 0 || k <= list[len(list)-1]
	}
	c := KeyChanges{New: []string{}, Still: []string{}, Fixed: []string{}, Unknown: []string{}}
	i, j := 0, 0
	for i < len(cur) || j < len(prev) {
		switch {
		case j == len(prev) || (i < len(cur) && cur[i] < prev[j]):
			if known(prev, prevTruncated, cur[i]) {
				c.New = append(c.New, cur[i])
			} else {
				c.Unknown = append(c.Unknown, cur[i])
			}
			i++
		case i == len(cur) || prev[j] < cur[i]:
			if known(cur, curTruncated, prev[j]) {
				c.Fixed = append(c.Fixed, prev[j])
			}
			j++
		default:
			c.Still = append(c.Still, cur[i])
			i, j = i+1, j+1
		}
	}
	return c
}

// runHead returns a run's check id and whether its keys were truncated, or
// ErrNotFound.
func (s *Store) runHead(ctx context.Context, runID int64) (checkID string, truncated bool, err error) {
	err = s.read.QueryRowContext(ctx, s.d.rebind("SELECT check_id, keys_truncated FROM runs WHERE id = ?"), runID).Scan(&checkID, &truncated)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, ErrNotFound
	}
	if err != nil {
		return "", false, fmt.Errorf("read run: %w", err)
	}
	return checkID, truncated, nil
}

// keys reads a run's keys, sorted byte-wise in Go (a PostgreSQL ORDER BY
// would follow the database collation).
func (s *Store) keys(ctx context.Context, runID int64) ([]string, error) {
	return readKeys(ctx, s.readFixed, runID)
}

func readKeys(ctx context.Context, query func(ctx context.Context, q string, args ...any) (*sql.Rows, error), runID int64) ([]string, error) {
	rows, err := query(ctx, runKeysSQL, runID)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	slices.Sort(keys)
	return keys, nil
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]Run, error) {
	return scanAll(scanRun)(s.read.QueryContext(ctx, s.d.rebind(q), args...))
}

type scanner interface{ Scan(dest ...any) error }

// scanRun reads the runColumns of one row.
func scanRun(row scanner) (Run, error) {
	var (
		r              Run
		status, sample string
		metrics        string
		durationNS     int64
		started        sql.NullInt64
		violations     int64
	)
	err := row.Scan(&r.ID, &r.Check, &r.Kind, &status, &violations, &sample, &durationNS, &r.Error, &started, &r.KeysTruncated, &metrics)
	if err != nil {
		return Run{}, err
	}
	r.Status = checks.Status(status)
	r.Violations = int(violations)
	r.Duration = time.Duration(durationNS)
	r.DurationMS = r.Duration.Milliseconds()
	r.StartedAt = timeFrom(started)
	if err := json.Unmarshal([]byte(sample), &r.Sample); err != nil {
		return Run{}, fmt.Errorf("run %d: decode sample: %w", r.ID, err)
	}
	if r.Metrics, err = decodeMetrics(metrics); err != nil {
		return Run{}, fmt.Errorf("run %d: decode metrics: %w", r.ID, err)
	}
	return r, nil
}

func pageSize(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return min(limit, MaxLimit)
}
