package checks

import (
	"context"
	"database/sql"
	"fmt"
)

// EachRow runs query in tx and calls fn once per row with the column names
// and the row's values (nil for NULL, otherwise the driver's type). The
// values slice is reused between rows: copy what must outlive the call.
// Rows stream one at a time; nothing is buffered.
func EachRow(ctx context.Context, tx *sql.Tx, query string, fn func(cols []string, vals []any) error) error {
	return EachTypedRow(ctx, tx, query, func(cols []Column, names []string, vals []any) error { return fn(names, vals) })
}

// Column is a column of a query's result: its name and its type as the
// database names it (for example NUMERIC, DECIMAL, TEXT; empty when the
// driver does not say).
type Column struct {
	Name, DatabaseType string
}

// EachTypedRow is EachRow for a check that needs the columns' database
// types: fn gets the columns, their names, and the row's values.
func EachTypedRow(ctx context.Context, tx *sql.Tx, query string, fn func(cols []Column, names []string, vals []any) error) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return fmt.Errorf("query columns: %w", err)
	}
	cols := make([]Column, len(types))
	names := make([]string, len(types))
	for i, t := range types {
		cols[i] = Column{Name: t.Name(), DatabaseType: t.DatabaseTypeName()}
		names[i] = t.Name()
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
		if err := fn(cols, names, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	return nil
}
