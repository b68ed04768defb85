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

	"github.com/vigilhq/vigil/internal/datasource"
)

// OutboxKind says why an alert was enqueued.
type OutboxKind string

const (
	OutboxOpened         OutboxKind = "opened"
	OutboxResolved       OutboxKind = "resolved"
	OutboxReminder       OutboxKind = "reminder"
	OutboxSilenceExpired OutboxKind = "silence_expired"
	// SLO alerts: an SLO burning its error budget too fast (check id
	// "slo:<name>", incident id an SLO incident's).
	OutboxSLOOpened    OutboxKind = "slo_opened"
	OutboxSLOEscalated OutboxKind = "slo_escalated"
	OutboxSLOResolved  OutboxKind = "slo_resolved"
)

// OutboxMessage is one alert waiting for (or past) delivery. The outbox
// is written in the transaction that decided the alert, so a crash loses
// none; a delivery worker takes due messages with NextOutbox and reports
// each with MarkDelivered or MarkFailed.
type OutboxMessage struct {
	ID         int64
	CheckID    string
	IncidentID int64 // 0 when the alert is about no incident
	Kind       OutboxKind
	// Payload is the alert as JSON; its shape belongs to the writer (the
	// engine's Message).
	Payload       json.RawMessage
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	DeliveredAt   time.Time // zero until delivered
	LastError     string
}

const outboxColumns = "id, check_id, incident_id, kind, payload, created_at, attempts, next_attempt_at, delivered_at, last_error"

func scanOutbox(row scanner) (OutboxMessage, error) {
	var (
		m                        OutboxMessage
		incident                 sql.NullInt64
		kind, payload            string
		created, next, delivered sql.NullInt64
		attempts                 int64
	)
	if err := row.Scan(&m.ID, &m.CheckID, &incident, &kind, &payload, &created, &attempts, &next, &delivered, &m.LastError); err != nil {
		return OutboxMessage{}, err
	}
	m.IncidentID, m.Kind, m.Payload, m.Attempts = incident.Int64, OutboxKind(kind), json.RawMessage(payload), int(attempts)
	m.CreatedAt, m.NextAttemptAt, m.DeliveredAt = timeFrom(created), timeFrom(next), timeFrom(delivered)
	return m, nil
}

// EnqueueOutbox adds a message inside tx and returns its id. CheckID, Kind
// and a valid JSON Payload are required (ErrInvalid); a zero CreatedAt is
// the store's clock and a zero NextAttemptAt is CreatedAt. Attempts,
// DeliveredAt and LastError are ignored.
func (tx *Tx) EnqueueOutbox(ctx context.Context, m OutboxMessage) (int64, error) {
	wrap := func(err error) error { return fmt.Errorf("store: enqueue %s alert for %s: %w", m.Kind, m.CheckID, err) }
	if m.CheckID == "" || m.Kind == "" || !json.Valid(m.Payload) {
		return 0, wrap(fmt.Errorf("check id, kind and a JSON payload are required: %w", ErrInvalid))
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = tx.s.now()
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	ts, err := times(m.CreatedAt, m.NextAttemptAt)
	if err != nil {
		return 0, wrap(fmt.Errorf("%w: %w", err, ErrInvalid))
	}
	var id int64
	err = tx.queryRow(ctx, `INSERT INTO outbox (check_id, incident_id, kind, payload, created_at, next_attempt_at)
	VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		cleanText(m.CheckID), nullID(m.IncidentID), cleanText(string(m.Kind)), cleanText(string(m.Payload)), ts[0], ts[1]).Scan(&id)
	if err != nil {
		return 0, wrap(err)
	}
	return id, nil
}

// EnqueueOutbox is Tx.EnqueueOutbox in a transaction of its own.
func (s *Store) EnqueueOutbox(ctx context.Context, m OutboxMessage) (int64, error) {
	var id int64
	err := s.WithTx(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.EnqueueOutbox(ctx, m)
		return err
	})
	return id, err
}

// NextOutbox returns up to limit undelivered messages that are due at now
// (NextAttemptAt <= now), in id order, keeping each check's order: a
// message is returned only when every earlier undelivered message of its
// check is due too (and comes before it in the list). A worker delivers a
// check's messages in the order given and stops at that check's first
// failure, so a later alert never overtakes an earlier one. limit <= 0 is
// DefaultLimit, capped at MaxLimit. Run one worker at a time (on several
// replicas, the lease holder's).
func (s *Store) NextOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxMessage, error) {
	v, err := timeValue(now)
	if err != nil {
		return nil, fmt.Errorf("store: next outbox: %w", err)
	}
	out, err := scanAll(scanOutbox)(s.read.QueryContext(ctx, s.d.rebind(`SELECT `+outboxColumns+` FROM outbox o
	WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ?
	AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.check_id = o.check_id AND p.delivered_at IS NULL AND p.id < o.id AND p.next_attempt_at > ?)
	ORDER BY o.id LIMIT ?`), v, v, pageSize(limit)))
	if err != nil {
		return nil, fmt.Errorf("store: next outbox: %w", err)
	}
	return out, nil
}

// OutboxBacklog counts the undelivered messages.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox backlog: %w", err)
	}
	return n, nil
}

// OutboxMessage returns a message by id, delivered or not, or ErrNotFound.
func (s *Store) OutboxMessage(ctx context.Context, id int64) (OutboxMessage, error) {
	m, err := scanOutbox(s.read.QueryRowContext(ctx, s.d.rebind("SELECT "+outboxColumns+" FROM outbox WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxMessage{}, fmt.Errorf("store: outbox message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("store: outbox message %d: %w", id, err)
	}
	return m, nil
}

// MarkDelivered records a message's delivery at `at` (one more attempt).
// Marking a delivered message again changes nothing and is not an error;
// an unknown id is ErrNotFound.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return fmt.Errorf("store: mark outbox message %d delivered: time %v: %w", id, at, ErrInvalid)
	}
	err = s.updateUndelivered(ctx, id, "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ? AND delivered_at IS NULL", v, id)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: mark outbox message %d delivered: %w", id, err)
	}
	return nil
}

// markAllChunk bounds the ids one UPDATE of MarkDeliveredAll binds, well
// under both engines' bind-parameter limits.
const markAllChunk = 500

// MarkDeliveredAll records the delivery at `at` of every message in ids
// (one more attempt each) in ONE transaction: either all are marked or, on
// any error (an unknown id, a canceled context, a closed store), none is.
// Messages already delivered are left as they are and are not an error, so
// a retry is harmless; a repeated id counts once; no ids is a no-op. An
// unknown id is ErrNotFound.
func (s *Store) MarkDeliveredAll(ctx context.Context, ids []int64, at time.Time) error {
	wrap := func(err error) error {
		return fmt.Errorf("store: mark %d outbox messages delivered: %w", len(ids), err)
	}
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return wrap(fmt.Errorf("time %v: %w", at, ErrInvalid))
	}
	if len(ids) == 0 {
		return nil
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	return s.WithTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(uniq, markAllChunk) {
			if err := tx.markDelivered(ctx, chunk, v); err != nil {
				return wrap(err)
			}
		}
		return nil
	})
}

// markDelivered marks the undelivered messages among ids (distinct)
// delivered at v, and fails with ErrNotFound when an id is unknown.
func (tx *Tx) markDelivered(ctx context.Context, ids []int64, v sql.NullInt64) error {
	in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := make([]any, 0, len(ids)+1)
	args = append(args, v)
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := tx.exec(ctx, "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE delivered_at IS NULL AND id IN ("+in+")", args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == int64(len(ids)) {
		return err
	}
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE id IN ("+in+")", args[1:]...).Scan(&n); err != nil {
		return err
	}
	if n < len(ids) {
		return fmt.Errorf("%d of ids %d..%d unknown: %w", len(ids)-n, ids[0], ids[len(ids)-1], ErrNotFound)
	}
	return nil
}

// MarkFailed records a failed delivery attempt: the cause (with DSN-like
// passwords redacted; callers redact their own secrets, such as webhook
// URLs, first) and when to try again. It returns ErrNotFound for an unknown
// id and ErrConflict for a message already delivered.
func (s *Store) MarkFailed(ctx context.Context, id int64, nextAttempt time.Time, cause error) error {
	v, err := timeValue(nextAttempt)
	if err != nil || !v.Valid {
		return fmt.Errorf("store: mark outbox message %d failed: next attempt %v: %w", id, nextAttempt, ErrInvalid)
	}
	msg := "unknown error"
	if cause != nil {
		msg = datasource.RedactString(cause.Error())
	}
	err = s.updateUndelivered(ctx, id, "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ? AND delivered_at IS NULL",
		v, cleanText(msg), id)
	if err != nil {
		return fmt.Errorf("store: mark outbox message %d failed: %w", id, err)
	}
	return nil
}

// updateUndelivered runs an UPDATE on an undelivered message, telling an
// unknown id (ErrNotFound) from a delivered message (ErrConflict).
func (s *Store) updateUndelivered(ctx context.Context, id int64, q string, args ...any) error {
	return s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE id = ?", id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return fmt.Errorf("already delivered: %w", ErrConflict)
	})
}
