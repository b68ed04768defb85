package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SLOIncident is a span during which an SLO burned its error budget too
// fast: opened by a burn-rate alert, resolved when the alert cleared. The
// engine decides; the store keeps it.
type SLOIncident struct {
	ID  int64
	SLO string
	// Severity is "ticket" or "page": the highest the incident reached.
	Severity    string
	OpenedAt    time.Time
	EscalatedAt time.Time // zero unless a ticket became a page
	ResolvedAt  time.Time // zero while open
	// BurnRates are the burn rates by window ("5m", "1h", ...) when it
	// opened or last escalated.
	BurnRates map[string]float64
	// Announced is true once an alert about it (opened or escalated) was
	// enqueued.
	Announced bool
}

// Open reports whether the incident has not resolved.
func (i SLOIncident) Open() bool { return i.ResolvedAt.IsZero() }

const sloIncidentColumns = "id, slo, severity, opened_at, escalated_at, resolved_at, burn_rates, announced"

func scanSLOIncident(row scanner) (SLOIncident, error) {
	var (
		i                           SLOIncident
		opened, escalated, resolved sql.NullInt64
		burn                        string
	)
	if err := row.Scan(&i.ID, &i.SLO, &i.Severity, &opened, &escalated, &resolved, &burn, &i.Announced); err != nil {
		return SLOIncident{}, err
	}
	i.OpenedAt, i.EscalatedAt, i.ResolvedAt = timeFrom(opened), timeFrom(escalated), timeFrom(resolved)
	if err := json.Unmarshal([]byte(burn), &i.BurnRates); err != nil {
		return SLOIncident{}, fmt.Errorf("slo incident %d: decode burn rates: %w", i.ID, err)
	}
	return i, nil
}

func encodeBurn(b map[string]float64) (string, error) {
	if b == nil {
		b = map[string]float64{}
	}
	return encodeJSON(b)
}

// OpenSLOIncident inserts an open incident for in.SLO (SLO, Severity and
// OpenedAt required: ErrInvalid; BurnRates and Announced are kept,
// EscalatedAt and ResolvedAt ignored) and returns it with its ID. It fails with
// ErrConflict when the SLO already has an open incident.
func (tx *Tx) OpenSLOIncident(ctx context.Context, in SLOIncident) (SLOIncident, error) {
	wrap := func(err error) error { return fmt.Errorf("store: open slo incident for %s: %w", in.SLO, err) }
	if in.SLO == "" || in.Severity == "" || in.OpenedAt.IsZero() {
		return SLOIncident{}, wrap(fmt.Errorf("slo, severity and opening time are required: %w", ErrInvalid))
	}
	opened, err := timeValue(in.OpenedAt)
	if err != nil {
		return SLOIncident{}, wrap(fmt.Errorf("%w: %w", err, ErrInvalid))
	}
	burn, err := encodeBurn(in.BurnRates)
	if err != nil {
		return SLOIncident{}, wrap(err)
	}
	// ON CONFLICT on the one-open-incident index: a second writer
	// waits for the first, then inserts nothing.
	out, err := scanSLOIncident(tx.queryRow(ctx, `INSERT INTO slo_incidents (slo, severity, opened_at, burn_rates, announced) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (slo) WHERE resolved_at IS NULL DO NOTHING RETURNING `+sloIncidentColumns,
		cleanText(in.SLO), cleanText(in.Severity), opened, burn, in.Announced))
	if errors.Is(err, sql.ErrNoRows) {
		return SLOIncident{}, wrap(fmt.Errorf("the slo has an open incident: %w", ErrConflict))
	}
	if err != nil {
		return SLOIncident{}, wrap(err)
	}
	return out, nil
}

// EscalateSLOIncident raises an open incident from severity from to
// severity to at `at`, with the burn rates that did it; announced marks it
// announced (it stays announced once it was). It returns the
// incident as updated, or ErrConflict when the incident is no longer open
// at severity from (another writer got there first), ErrNotFound for an
// unknown id.
func (tx *Tx) EscalateSLOIncident(ctx context.Context, id int64, from, to string, at time.Time, burn map[string]float64, announced bool) (SLOIncident, error) {
	wrap := func(err error) error { return fmt.Errorf("store: escalate slo incident %d: %w", id, err) }
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return SLOIncident{}, wrap(fmt.Errorf("time %v: %w", at, ErrInvalid))
	}
	b, err := encodeBurn(burn)
	if err != nil {
		return SLOIncident{}, wrap(err)
	}
	out, err := tx.updateSLOIncident(ctx, id, "UPDATE slo_incidents SET severity = ?, escalated_at = ?, burn_rates = ?, announced = (announced OR ?) WHERE id = ? AND resolved_at IS NULL AND severity = ? RETURNING "+sloIncidentColumns,
		cleanText(to), v, b, announced, id, cleanText(from))
	if err != nil {
		return SLOIncident{}, wrap(err)
	}
	return out, nil
}

// ResolveSLOIncident resolves an open incident at `at`. Errors as
// EscalateSLOIncident (ErrConflict when it has resolved already).
func (tx *Tx) ResolveSLOIncident(ctx context.Context, id int64, at time.Time) (SLOIncident, error) {
	wrap := func(err error) error { return fmt.Errorf("store: resolve slo incident %d: %w", id, err) }
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return SLOIncident{}, wrap(fmt.Errorf("time %v: %w", at, ErrInvalid))
	}
	out, err := tx.updateSLOIncident(ctx, id, "UPDATE slo_incidents SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL RETURNING "+sloIncidentColumns, v, id)
	if err != nil {
		return SLOIncident{}, wrap(err)
	}
	return out, nil
}

func (tx *Tx) updateSLOIncident(ctx context.Context, id int64, q string, args ...any) (SLOIncident, error) {
	return updateRow(ctx, tx, "slo_incidents", id, scanSLOIncident, fmt.Sprintf("slo incident %d changed meanwhile", id), q, args...)
}

// SLOIncidents returns an SLO's incidents newest first (every SLO's when
// slo is ""), at most limit (DefaultLimit when <= 0, never more than
// MaxLimit), only the open ones when openOnly.
func (s *Store) SLOIncidents(ctx context.Context, slo string, openOnly bool, limit int) ([]SLOIncident, error) {
	q, args := "SELECT "+sloIncidentColumns+" FROM slo_incidents WHERE 1 = 1", []any{}
	if slo != "" {
		q, args = q+" AND slo = ?", append(args, slo)
	}
	if openOnly {
		q += " AND resolved_at IS NULL"
	}
	q, args = q+" ORDER BY id DESC LIMIT ?", append(args, pageSize(limit))
	out, err := scanAll(scanSLOIncident)(s.read.QueryContext(ctx, s.d.rebind(q), args...))
	if err != nil {
		return nil, fmt.Errorf("store: slo incidents: %w", err)
	}
	return out, nil
}
