package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEntry is one recorded action: who (Actor) did what (Action, e.g.
// "redrive", "ack", "silence") to what (Target, e.g. a check id or queue),
// with what parameters or outcome (Detail), from where (Remote: an address
// or "cli"), and when (At, UTC).
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
	Remote string
}

// Audit appends an entry to the audit log. A zero At is the store's clock;
// ID is assigned. Actor and Action are required.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return fmt.Errorf("store: audit: actor and action are required (actor %q, action %q)", e.Actor, e.Action)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	at, err := timeValue(e.At)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	_, err = s.write.ExecContext(ctx, s.d.rebind("INSERT INTO audit_log (at, actor, action, target, detail, remote) VALUES (?, ?, ?, ?, ?, ?)"),
		at, cleanText(e.Actor), cleanText(e.Action), cleanText(e.Target), cleanText(e.Detail), cleanText(e.Remote))
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditLog returns the newest entries first, at most limit of them
// (DefaultLimit when limit <= 0, never more than MaxLimit).
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	entries, err := scanAll(scanAudit)(s.read.QueryContext(ctx, s.d.rebind("SELECT "+auditColumns+" FROM audit_log ORDER BY id DESC LIMIT ?"), pageSize(limit)))
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return entries, nil
}

const auditColumns = "id, at, actor, action, target, detail, remote"

func scanAudit(row scanner) (AuditEntry, error) {
	var e AuditEntry
	var at sql.NullInt64
	if err := row.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.Remote); err != nil {
		return AuditEntry{}, err
	}
	e.At = timeFrom(at)
	return e, nil
}
