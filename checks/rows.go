package checks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Tx is the read-only transaction a check's queries run in (see
// SQLSource.ReadOnly). EachRow is the only way to query it, so every query
// of every kind is held to the same rules: it must return a result set, and
// after it the session must still be inside the transaction ReadOnly opened.
type Tx struct {
	tx *sql.Tx
	// inside reports whether the session is still inside the read-only
	// transaction the datasource opened.
	inside  func(ctx context.Context, tx *sql.Tx) (bool, error)
	queries int
	stopped bool // a query broke a rule: no further query runs
}

// NewTx wraps the read-only transaction a SQLSource opened. inside reports
// whether the session is still in that very transaction, still read-only
// (each driver asks its own way); EachRow asks it after each query.
func NewTx(tx *sql.Tx, inside func(ctx context.Context, tx *sql.Tx) (bool, error)) *Tx {
	return &Tx{tx: tx, inside: inside}
}

// StopRows, returned by EachRow's fn, stops reading the rows without error.
var StopRows = errors.New("stop reading rows")

// EachRow runs query in tx and calls fn once per row with the column names
// and the row's values (nil for NULL, otherwise the driver's type). The
// values slice is reused between rows: copy what must outlive the call.
// Rows stream one at a time; nothing is buffered. fn may return StopRows
// to read no further.
//
// A query that returns no result set (no columns: SET, COMMIT, DELETE...)
// is an error, and so is a query after which the session is no longer
// inside the read-only transaction, or after which that cannot be told. Both
// errors name the query by its position in the run and quote its start;
// the caller returns them, so the check ends before any further query (and
// EachRow refuses to run one after them).
func EachRow(ctx context.Context, tx *Tx, query string, fn func(cols []string, vals []any) error) error {
	if tx.stopped {
		return errors.New("an earlier query broke the read-only rules: no further query runs")
	}
	tx.queries++
	n := tx.queries
	rows, err := tx.tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("query columns: %w", err)
	}
	if len(cols) == 0 {
		if err := tx.verify(ctx, rows, n, query); err != nil {
			return err
		}
		tx.stopped = true
		return fmt.Errorf("query %d returns no result set, it is not a SELECT: %s", n, excerpt(query))
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		for i := range vals {
			vals[i] = nil
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("scan row: %w", err)
		}
		if err := fn(cols, vals); errors.Is(err, StopRows) {
			break
		} else if err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	return tx.verify(ctx, rows, n, query)
}

// verify closes rows and asks the datasource whether the session is still
// inside its read-only transaction.
func (t *Tx) verify(ctx context.Context, rows *sql.Rows, n int, query string) error {
	if err := rows.Close(); err != nil {
		return fmt.Errorf("close rows: %w", err)
	}
	ok, err := t.inside(ctx, t.tx)
	if err != nil {
		t.stopped = true
		return fmt.Errorf("after query %d, cannot verify the read-only transaction: %w", n, err)
	}
	if !ok {
		t.stopped = true
		return fmt.Errorf("query %d left the read-only transaction: %s", n, excerpt(query))
	}
	return nil
}

// excerpt is the start of a query on one line, for an error message.
func excerpt(query string) string {
	q := strings.Join(strings.Fields(query), " ")
	if r := []rune(q); len(r) > 80 {
		q = string(r[:80]) + "…"
	}
	return q
}
