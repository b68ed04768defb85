package store

import (
	"context"
	"database/sql"
	"errors"
)

// Errors for requests the store refuses; match them with errors.Is.
var (
	// ErrInvalid: a required field is missing or a value is out of range.
	ErrInvalid = errors.New("store: invalid")
	// ErrConflict: the request does not fit the current state, such as
	// acknowledging a resolved incident or ending a silence that has ended.
	ErrConflict = errors.New("store: conflict")
)

// Tx is a writing transaction for changes that must commit together: the
// engine stores a result, moves the check's state and enqueues its alert in
// one. A Tx is used by one goroutine, only inside the function given to
// WithTx.
type Tx struct {
	s  *Store
	tx *sql.Tx
}

// WithTx runs fn in one transaction on the writing handle. It commits when
// fn returns nil and rolls back otherwise, returning fn's error. On SQLite
// the transaction holds the single writer, so fn must not call Store
// methods that write (they would wait for it forever); reads through the
// Store see the state before the transaction.
func (s *Store) WithTx(ctx context.Context, fn func(tx *Tx) error) error {
	return inTx(ctx, s.write, func(tx *sql.Tx) error { return fn(&Tx{s: s, tx: tx}) })
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.s.d.rebind(q), args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.s.d.rebind(q), args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.s.d.rebind(q), args...)
}
