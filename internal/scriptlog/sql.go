package scriptlog

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// SQL is a Log in the script_log table of vigil's store, a SQLite or
// PostgreSQL database (internal/store/migrations/0003_script_runs.*.sql,
// applied by store.Open). Appends are serialized: on SQLite by
// BEGIN IMMEDIATE, on PostgreSQL by an EXCLUSIVE table lock (readers are
// never blocked), so the chain never forks.
//
// A keyed SQL (see NewSQL) hashes what it appends under its key, starting
// a keyed part of the chain first whenever the newest entry is not under
// that key; an unkeyed one refuses to append to a keyed chain.
type SQL struct {
	db  *sql.DB
	d   dialect
	key Key
}

// NewSQL returns the log stored in db, whose driver is "sqlite" or
// "postgres", keyed with key (the zero Key: unkeyed). The table must exist.
func NewSQL(db *sql.DB, driver string, key Key) (*SQL, error) {
	d, ok := dialects[driver]
	if !ok {
		return nil, fmt.Errorf("scriptlog: unsupported store driver %q (want sqlite or postgres)", driver)
	}
	return &SQL{db: db, d: d, key: key}, nil
}

// ErrKeyed is returned by an unkeyed log asked to append to a keyed chain.
var ErrKeyed = errors.New("scriptlog: the log is keyed")

// dialect holds everything that differs between the two drivers.
type dialect struct {
	// rebind turns the ? placeholders of a query into the driver's own.
	rebind func(string) string
	// timeArg is how a time is passed as a query argument.
	timeArg func(time.Time) any
	// like is the case-insensitive LIKE operator.
	like string
	// begin starts the transaction that appends to the chain, holding the
	// lock that serializes appends until it ends.
	begin func(ctx context.Context, db *sql.DB) (appendTx, error)
	// textIndex: substring search uses the script_log_text trigram index
	// (SQLite FTS5) for needles of three characters or more.
	textIndex bool
}

var dialects = map[string]dialect{
	"sqlite": {
		rebind:    func(q string) string { return q },
		timeArg:   func(t time.Time) any { return formatTime(t) },
		like:      "LIKE",
		begin:     beginImmediate,
		textIndex: true,
	},
	"postgres": {
		rebind:  dollarPlaceholders,
		timeArg: func(t time.Time) any { return storedTime(t) },
		like:    "ILIKE",
		begin:   beginLocked,
	},
}

func dollarPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// querier is what *sql.Tx and *sql.Conn share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type appendTx interface {
	querier
	commit() error
	rollback()
}

// sqliteTx is a BEGIN IMMEDIATE transaction on one connection: it takes
// the write lock at once (waiting busy_timeout), so two appenders never read
// the same head.
type sqliteTx struct{ *sql.Conn }

func beginImmediate(ctx context.Context, db *sql.DB) (appendTx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		conn.Close()
		return nil, err
	}
	return sqliteTx{conn}, nil
}

func (t sqliteTx) commit() error {
	if _, err := t.ExecContext(context.Background(), "COMMIT"); err != nil {
		t.rollback()
		return err
	}
	return t.Close()
}

func (t sqliteTx) rollback() {
	if _, err := t.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		// Never hand a connection still inside a transaction back to the pool.
		_ = t.Raw(func(any) error { return driver.ErrBadConn })
	}
	t.Close()
}

type pgTx struct{ *sql.Tx }

func beginLocked(ctx context.Context, db *sql.DB) (appendTx, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE script_log IN EXCLUSIVE MODE"); err != nil {
		tx.Rollback()
		return nil, err
	}
	return pgTx{tx}, nil
}

func (t pgTx) commit() error { return t.Commit() }
func (t pgTx) rollback()     { _ = t.Rollback() }

// inAppend runs fn in an append transaction, committing when it returns nil.
func (s *SQL) inAppend(ctx context.Context, fn func(q querier) error) error {
	tx, err := s.d.begin(ctx, s.db)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.rollback()
		return err
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

const entryColumns = "seq, kind, run_id, script, script_sha256, actor, purpose, ticket, target, inputs, " +
	"at, duration_ms, exit_code, status, output_bytes, checkpoint, prev_hash, hash, output"

// appendEntry gives e the next sequence number and its chain link, and
// inserts it (after starting a keyed part, see sealedHead). It must run
// inside inAppend.
func (s *SQL) appendEntry(ctx context.Context, q querier, e *Entry) error {
	head, err := s.sealedHead(ctx, q, e.At)
	if err != nil {
		return err
	}
	return s.insert(ctx, q, head, e)
}

// sealedHead returns the entry the next one links to. A keyed log whose
// head is not under its key first appends the checkpoint that starts a
// keyed part (at time at), and returns it; an unkeyed log whose head is not
// under the public encoding refuses with ErrKeyed.
func (s *SQL) sealedHead(ctx context.Context, q querier, at time.Time) (Entry, error) {
	head, err := s.headEntry(ctx, q)
	if err != nil {
		return Entry{}, err
	}
	if head.Seq > 0 && HashEntry(s.key, head.PrevHash, head) == head.Hash {
		return head, nil
	}
	if s.key.IsZero() {
		if head.Seq == 0 {
			return head, nil
		}
		return Entry{}, fmt.Errorf("%w: its newest entry %d is not under the public encoding (set scriptlog.key_file)", ErrKeyed, head.Seq)
	}
	text, err := json.Marshal(Checkpoint{Keyed: &Keyed{KeyID: s.key.ID(), Encoding: EncodingV2}})
	if err != nil {
		return Entry{}, err
	}
	start := Entry{Kind: KindCheckpoint, At: at, Checkpoint: string(text)}
	if err := s.insert(ctx, q, head, &start); err != nil {
		return Entry{}, err
	}
	return start, nil
}

// headEntry returns the newest entry, or a zero Entry (Seq 0, Hash
// Genesis) when the log is empty.
func (s *SQL) headEntry(ctx context.Context, q querier) (Entry, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+entryColumns+" FROM script_log ORDER BY seq DESC LIMIT 1")
	if err != nil {
		return Entry{}, fmt.Errorf("read head: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Entry{}, fmt.Errorf("read head: %w", err)
		}
		return Entry{Hash: Genesis}, nil
	}
	e, err := scanEntry(rows)
	if err != nil {
		return Entry{}, fmt.Errorf("read head: %w", err)
	}
	return e, nil
}

// insert links e after head, hashes it under the log's key and inserts it.
func (s *SQL) insert(ctx context.Context, q querier, head Entry, e *Entry) error {
	e.Seq, e.PrevHash = head.Seq+1, head.Hash
	if e.Kind == KindStart {
		e.RunID = e.Seq
	}
	e.At = storedTime(e.At)
	if e.Output == nil {
		e.Output = []byte{}
	}
	e.Hash = HashEntry(s.key, e.PrevHash, *e)
	_, err := q.ExecContext(ctx, s.d.rebind("INSERT INTO script_log ("+entryColumns+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		e.Seq, string(e.Kind), e.RunID, e.Script, e.ScriptSHA256, e.Actor, e.Purpose, e.Ticket, e.Target, e.Inputs,
		s.d.timeArg(e.At), e.DurationMS, e.ExitCode, string(e.Status), e.OutputBytes, e.Checkpoint,
		e.PrevHash, e.Hash, e.Output)
	if err != nil {
		return fmt.Errorf("insert entry %d: %w", e.Seq, err)
	}
	if s.d.textIndex && e.Kind == KindStart {
		_, err = q.ExecContext(ctx, "INSERT INTO script_log_text (rowid, script, inputs, purpose) VALUES (?, ?, ?, ?)",
			e.Seq, e.Script, e.Inputs, e.Purpose)
		if err != nil {
			return fmt.Errorf("index entry %d: %w", e.Seq, err)
		}
	}
	return nil
}

// Seal makes sure the log's newest entry is under its key, appending the
// checkpoint that starts a keyed part (at time now) when it is not: that
// entry's keyed hash seals every entry before it. An unkeyed log does
// nothing.
func (s *SQL) Seal(ctx context.Context, now time.Time) error {
	if s.key.IsZero() {
		return nil
	}
	err := s.inAppend(ctx, func(q querier) error {
		_, err := s.sealedHead(ctx, q, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("scriptlog: seal: %w", err)
	}
	return nil
}

// Head returns the log's newest entry as an Anchor taken at now; ok is
// false when the log is empty.
func (s *SQL) Head(ctx context.Context, now time.Time) (a Anchor, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, "SELECT seq, hash FROM script_log ORDER BY seq DESC LIMIT 1").Scan(&a.Seq, &a.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Anchor{}, false, nil
	}
	if err != nil {
		return Anchor{}, false, fmt.Errorf("scriptlog: read head: %w", err)
	}
	a.At = now.UTC().Truncate(time.Second)
	return a, true, nil
}

// Start implements Recorder.
func (s *SQL) Start(ctx context.Context, rec Record) (Record, error) {
	if strings.TrimSpace(rec.Purpose) == "" || rec.Script == "" || rec.StartedAt.IsZero() {
		return Record{}, fmt.Errorf("scriptlog: start: %w: purpose, script and start time are required", ErrInvalid)
	}
	inputs, err := encodeInputs(rec.Inputs)
	if err != nil {
		return Record{}, fmt.Errorf("scriptlog: start: %w", err)
	}
	e := Entry{
		Kind: KindStart, Script: rec.Script, ScriptSHA256: rec.ScriptSHA256, Actor: rec.Actor,
		Purpose: rec.Purpose, Ticket: rec.Ticket, Target: rec.Target, Inputs: inputs, At: rec.StartedAt,
	}
	if err := s.inAppend(ctx, func(q querier) error { return s.appendEntry(ctx, q, &e) }); err != nil {
		return Record{}, fmt.Errorf("scriptlog: start: %w", err)
	}
	return recordOf(e, nil)
}

// Finish implements Recorder.
func (s *SQL) Finish(ctx context.Context, rec Record) (Record, error) {
	if !rec.Status.Ended() || rec.EndedAt.IsZero() {
		return Record{}, fmt.Errorf("scriptlog: finish run %d: %w: status %q, end time %v", rec.ID, ErrInvalid, rec.Status, rec.EndedAt)
	}
	var out Record
	err := s.inAppend(ctx, func(q querier) error {
		start, err := s.entry(ctx, q, rec.ID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && start.Kind != KindStart) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var n int
		if err := q.QueryRowContext(ctx, s.d.rebind("SELECT COUNT(*) FROM script_log WHERE kind = 'finish' AND run_id = ?"), rec.ID).Scan(&n); err != nil {
			return fmt.Errorf("look for a finish: %w", err)
		}
		if n > 0 {
			return ErrFinished
		}
		fin := Entry{
			Kind: KindFinish, RunID: rec.ID, At: rec.EndedAt, DurationMS: rec.Duration.Milliseconds(),
			ExitCode: rec.ExitCode, Status: rec.Status, OutputBytes: rec.OutputBytes, Output: rec.Output,
		}
		if err := s.appendEntry(ctx, q, &fin); err != nil {
			return err
		}
		out, err = recordOf(start, &fin)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("scriptlog: finish run %d: %w", rec.ID, err)
	}
	return out, nil
}

func (s *SQL) entry(ctx context.Context, q querier, seq int64) (Entry, error) {
	rows, err := q.QueryContext(ctx, s.d.rebind("SELECT "+entryColumns+" FROM script_log WHERE seq = ?"), seq)
	if err != nil {
		return Entry{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Entry{}, err
		}
		return Entry{}, sql.ErrNoRows
	}
	return scanEntry(rows)
}

func scanEntry(rows *sql.Rows) (Entry, error) {
	var (
		e          Entry
		kind, stat string
		at         timeColumn
	)
	err := rows.Scan(&e.Seq, &kind, &e.RunID, &e.Script, &e.ScriptSHA256, &e.Actor, &e.Purpose, &e.Ticket,
		&e.Target, &e.Inputs, &at, &e.DurationMS, &e.ExitCode, &stat, &e.OutputBytes, &e.Checkpoint,
		&e.PrevHash, &e.Hash, &e.Output)
	e.Kind, e.Status, e.At = EntryKind(kind), Status(stat), at.t
	if e.Output == nil {
		e.Output = []byte{}
	}
	return e, err
}

// Walk implements Walker.
func (s *SQL) Walk(ctx context.Context, fn func(Entry) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+entryColumns+" FROM script_log ORDER BY seq")
	if err != nil {
		return fmt.Errorf("scriptlog: walk: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return fmt.Errorf("scriptlog: walk: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scriptlog: walk: %w", err)
	}
	return nil
}

// runColumns are a run's start joined with its finish (f.* are NULL while
// it runs); the output comes last so that Search can leave it out.
const runColumns = "s.seq, s.script, s.script_sha256, s.actor, s.purpose, s.ticket, s.target, s.inputs, s.at, " +
	"s.prev_hash, s.hash, f.seq, f.at, f.duration_ms, f.exit_code, f.status, f.output_bytes, f.hash"

const runFrom = " FROM script_log s LEFT JOIN script_log f ON f.kind = 'finish' AND f.run_id = s.seq WHERE s.kind = 'start'"

func scanRun(rows *sql.Rows, withOutput bool) (Record, error) {
	var (
		r                         Record
		start, end                timeColumn
		inputs                    string
		finSeq, dur, exit, nbytes sql.NullInt64
		status, finHash           sql.NullString
	)
	dest := []any{&r.ID, &r.Script, &r.ScriptSHA256, &r.Actor, &r.Purpose, &r.Ticket, &r.Target, &inputs, &start,
		&r.PrevHash, &r.Hash, &finSeq, &end, &dur, &exit, &status, &nbytes, &finHash}
	if withOutput {
		dest = append(dest, &r.Output)
	}
	if err := rows.Scan(dest...); err != nil {
		return Record{}, err
	}
	if err := json.Unmarshal([]byte(inputs), &r.Inputs); err != nil {
		return Record{}, fmt.Errorf("run %d: decode inputs: %w", r.ID, err)
	}
	r.StartedAt, r.Status = start.t, Running
	if finSeq.Valid {
		r.FinishSeq, r.FinishHash, r.EndedAt = finSeq.Int64, finHash.String, end.t
		r.Duration = time.Duration(dur.Int64) * time.Millisecond
		r.ExitCode, r.Status, r.OutputBytes = int(exit.Int64), Status(status.String), nbytes.Int64
	}
	return r, nil
}

// Get implements Log.
func (s *SQL) Get(ctx context.Context, id int64) (Record, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind("SELECT "+runColumns+", f.output"+runFrom+" AND s.seq = ?"), id)
	if err != nil {
		return Record{}, fmt.Errorf("scriptlog: get run %d: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Record{}, fmt.Errorf("scriptlog: get run %d: %w", id, err)
		}
		return Record{}, fmt.Errorf("scriptlog: get run %d: %w", id, ErrNotFound)
	}
	r, err := scanRun(rows, true)
	if err != nil {
		return Record{}, fmt.Errorf("scriptlog: get run %d: %w", id, err)
	}
	return r, nil
}

// Search implements Log.
func (s *SQL) Search(ctx context.Context, q Query) ([]Record, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if q.Actor != "" {
		add("s.actor = ?", q.Actor)
	}
	if q.Ticket != "" {
		add("s.ticket = ?", q.Ticket)
	}
	if q.Target != "" {
		add("s.target = ?", q.Target)
	}
	// Substring searches use the trigram index where there is one; the
	// query is then driven by it, newest first, so that it stops after a
	// page however common the text.
	var match []string
	if q.Purpose != "" {
		if s.indexable(q.Purpose) {
			match = append(match, "purpose : "+ftsPhrase(q.Purpose))
		} else {
			add("s.purpose "+s.d.like+" ? ESCAPE '\\'", likeContains(q.Purpose))
		}
	}
	if q.Text != "" {
		// inputs is JSON: look for the text as JSON would spell it.
		quoted, _ := json.Marshal(q.Text)
		inJSON := string(bytes.Trim(quoted, `"`))
		if s.indexable(q.Text) {
			match = append(match, "(script : "+ftsPhrase(q.Text)+" OR inputs : "+ftsPhrase(inJSON)+")")
		} else {
			add("(s.script "+s.d.like+" ? ESCAPE '\\' OR s.inputs "+s.d.like+" ? ESCAPE '\\')",
				likeContains(q.Text), likeContains(inJSON))
		}
	}
	from, order := runFrom, "s.seq"
	if len(match) > 0 {
		from = " FROM script_log_text JOIN script_log s ON s.seq = script_log_text.rowid" +
			" LEFT JOIN script_log f ON f.kind = 'finish' AND f.run_id = s.seq WHERE s.kind = 'start'"
		order = "script_log_text.rowid"
		add("script_log_text MATCH ?", strings.Join(match, " AND "))
	}
	switch {
	case q.Status == Running:
		add("f.seq IS NULL")
	case q.Status != "":
		add("f.status = ?", string(q.Status))
		if len(match) == 0 {
			// f.run_id equals s.seq; ordering by it lets the (status,
			// run_id) index yield rows newest first.
			order = "f.run_id"
		}
	}
	if !q.From.IsZero() {
		add("s.at >= ?", s.d.timeArg(q.From))
	}
	if !q.To.IsZero() {
		add("s.at < ?", s.d.timeArg(q.To))
	}
	if q.BeforeID > 0 {
		add("s.seq < ?", q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	query := "SELECT " + runColumns + from
	for _, w := range where {
		query += " AND " + w
	}
	query += " ORDER BY " + order + " DESC LIMIT ? OFFSET ?"
	args = append(args, limit, max(q.Offset, 0))

	rows, err := s.db.QueryContext(ctx, s.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("scriptlog: search: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRun(rows, false)
		if err != nil {
			return nil, fmt.Errorf("scriptlog: search: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scriptlog: search: %w", err)
	}
	return out, nil
}

// indexable reports whether a substring search for needle can use the
// trigram index (which matches needles of three characters or more).
func (s *SQL) indexable(needle string) bool {
	return s.d.textIndex && utf8.RuneCountInString(needle) >= 3
}

// ftsPhrase quotes s as an FTS5 phrase; on a trigram index a phrase
// matches s as a case-insensitive substring.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// likeContains is a LIKE pattern (escape character '\') matching s anywhere.
func likeContains(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
	return "%" + s + "%"
}

// Prune implements Log.
func (s *SQL) Prune(ctx context.Context, now time.Time) (PruneReport, error) {
	cp := Checkpoint{
		SuccessBefore: storedTime(now.Add(-KeepSuccess)),
		FailedBefore:  storedTime(now.Add(-KeepFailed)),
	}
	var rep PruneReport
	err := s.inAppend(ctx, func(q querier) error {
		var err error
		if cp.Removed, err = s.prunable(ctx, q, cp); err != nil {
			return err
		}
		if len(cp.Removed) == 0 {
			return nil
		}
		doomed := map[int64]bool{}
		for _, r := range cp.Removed {
			doomed[r.ID] = true
			if r.Finish != 0 {
				doomed[r.Finish] = true
			}
		}
		cp.Runs = len(cp.Removed)
		if cp.Gaps, err = s.gaps(ctx, q, doomed); err != nil {
			return err
		}
		text, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		e := Entry{Kind: KindCheckpoint, At: now, Checkpoint: string(text)}
		if err := s.appendEntry(ctx, q, &e); err != nil {
			return err
		}
		for _, g := range cp.Gaps {
			res, err := q.ExecContext(ctx, s.d.rebind("DELETE FROM script_log WHERE seq BETWEEN ? AND ? AND kind <> 'checkpoint'"), g.First, g.Last)
			if err != nil {
				return fmt.Errorf("delete entries %d-%d: %w", g.First, g.Last, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			rep.Entries += int(n)
			if s.d.textIndex {
				if _, err := q.ExecContext(ctx, "DELETE FROM script_log_text WHERE rowid BETWEEN ? AND ?", g.First, g.Last); err != nil {
					return fmt.Errorf("unindex entries %d-%d: %w", g.First, g.Last, err)
				}
			}
		}
		if rep.Entries != len(doomed) {
			return fmt.Errorf("deleted %d entries, expected %d", rep.Entries, len(doomed))
		}
		rep.Runs, rep.CheckpointSeq = cp.Runs, e.Seq
		return nil
	})
	if err != nil {
		return PruneReport{}, fmt.Errorf("scriptlog: prune: %w", err)
	}
	return rep, nil
}

// prunable returns the runs retention lets go, in start order.
func (s *SQL) prunable(ctx context.Context, q querier, cp Checkpoint) ([]RemovedRun, error) {
	rows, err := q.QueryContext(ctx, s.d.rebind("SELECT s.seq, s.hash, s.at, f.seq, f.hash, f.at, f.status"+runFrom+
		" AND ((f.status = 'success' AND f.at < ?) OR (f.status <> 'success' AND f.at < ?) OR (f.seq IS NULL AND s.at < ?))"+
		" ORDER BY s.seq"),
		s.d.timeArg(cp.SuccessBefore), s.d.timeArg(cp.FailedBefore), s.d.timeArg(cp.FailedBefore))
	if err != nil {
		return nil, fmt.Errorf("select prunable runs: %w", err)
	}
	defer rows.Close()
	var out []RemovedRun
	for rows.Next() {
		var (
			r                 RemovedRun
			started, ended    timeColumn
			finish            sql.NullInt64
			finHash, finState sql.NullString
		)
		if err := rows.Scan(&r.ID, &r.StartHash, &started, &finish, &finHash, &ended, &finState); err != nil {
			return nil, fmt.Errorf("select prunable runs: %w", err)
		}
		r.StartedAt, r.Status = started.t, Running
		if finish.Valid {
			r.Finish, r.FinishHash, r.EndedAt, r.Status = finish.Int64, finHash.String, ended.t, Status(finState.String)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select prunable runs: %w", err)
	}
	return out, nil
}

// gaps returns the maximal spans of doomed entries between kept ones.
func (s *SQL) gaps(ctx context.Context, q querier, doomed map[int64]bool) ([]Gap, error) {
	rows, err := q.QueryContext(ctx, "SELECT seq, prev_hash, hash FROM script_log ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("read chain: %w", err)
	}
	defer rows.Close()
	var (
		gaps []Gap
		open *Gap
	)
	for rows.Next() {
		var seq int64
		var prev, hash string
		if err := rows.Scan(&seq, &prev, &hash); err != nil {
			return nil, fmt.Errorf("read chain: %w", err)
		}
		if !doomed[seq] {
			open = nil
			continue
		}
		if open == nil {
			gaps = append(gaps, Gap{First: seq, PrevHash: prev})
			open = &gaps[len(gaps)-1]
		}
		open.Last, open.LastHash = seq, hash
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chain: %w", err)
	}
	return gaps, nil
}

// timeColumn scans a time stored as TimeLayout text (SQLite) or as a
// native timestamp (PostgreSQL); NULL is the zero time.
type timeColumn struct{ t time.Time }

func (c *timeColumn) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		c.t = time.Time{}
	case time.Time:
		c.t = storedTime(v)
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scriptlog: cannot read %T as a time", v)
	}
	return nil
}

func (c *timeColumn) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scriptlog: read time %q: %w", s, err)
	}
	c.t = storedTime(t)
	return nil
}

// encodeInputs is the JSON stored (and hashed) for a run's inputs; empty
// lists are [] so the text never depends on nil versus empty.
func encodeInputs(in Inputs) (string, error) {
	if in.Args == nil {
		in.Args = []string{}
	}
	if in.Env == nil {
		in.Env = []EnvVar{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(in); err != nil {
		return "", fmt.Errorf("encode inputs: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// recordOf builds a run from its start entry and, once finished, its finish.
func recordOf(start Entry, fin *Entry) (Record, error) {
	r := Record{
		ID: start.Seq, Script: start.Script, ScriptSHA256: start.ScriptSHA256, Actor: start.Actor,
		Purpose: start.Purpose, Ticket: start.Ticket, Target: start.Target, StartedAt: start.At,
		Status: Running, PrevHash: start.PrevHash, Hash: start.Hash,
	}
	if err := json.Unmarshal([]byte(start.Inputs), &r.Inputs); err != nil {
		return Record{}, fmt.Errorf("run %d: decode inputs: %w", start.Seq, err)
	}
	if fin != nil {
		r.EndedAt, r.Duration = fin.At, time.Duration(fin.DurationMS)*time.Millisecond
		r.ExitCode, r.Status, r.Output, r.OutputBytes = fin.ExitCode, fin.Status, fin.Output, fin.OutputBytes
		r.FinishSeq, r.FinishHash = fin.Seq, fin.Hash
	}
	return r, nil
}
