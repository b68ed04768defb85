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
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("query columns: %w", err)
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
		if err := fn(cols, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	return nil
}
