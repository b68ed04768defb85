package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts holds the statements every run executes, prepared once when the
// store opens (database/sql prepares each again on any other connection the
// first time it runs there, and reuses it after). Parsing the same SQL for
// every run was the largest CPU cost of recording a run on SQLite.
//
// They are prepared up front because preparing on the SQLite writer needs
// its only connection, which a transaction in progress holds. A query
// missing from the set, or that did not prepare, runs unprepared.
type stmts struct {
	m map[stmtKey]*sql.Stmt // written only by prepare, before the store is shared
}

type stmtKey struct {
	db    *sql.DB
	query string // rebound for the dialect
}

// hotQueries are the queries of every run, prepared by Open: writes on the
// writing handle, reads on the reading pool. They are written with ?
// placeholders, like every query of this package.
func hotQueries(d dialect) (writes, reads []string) {
	writes = []string{placeholderStateSQL, lockStateSQL + d.forUpdate, d.insertIDQuery(insertRunSQL),
		activeSilencesSQL, saveStateSQL, runPairSQL, runKeysSQL}
	reads = []string{runPairSQL, runKeysSQL}
	return writes, reads
}

// prepare prepares the hot queries.
func (c *stmts) prepare(ctx context.Context, s *Store) error {
	c.m = map[stmtKey]*sql.Stmt{}
	writes, reads := hotQueries(s.d)
	for _, set := range []struct {
		db      *sql.DB
		queries []string
	}{{s.write, writes}, {s.read, reads}} {
		for _, q := range set.queries {
			q = s.d.rebind(q)
			st, err := set.db.PrepareContext(ctx, q)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("prepare: %w", ctx.Err())
				}
				// Its table is missing (a test's own migrations): the
				// query runs unprepared and reports the error when used.
				continue
			}
			c.m[stmtKey{set.db, q}] = st
		}
	}
	return nil
}

// get returns query (rebound) prepared on db, if it is a hot query.
func (c *stmts) get(db *sql.DB, query string) (*sql.Stmt, bool) {
	st, ok := c.m[stmtKey{db, query}]
	return st, ok
}

// close closes every statement.
func (c *stmts) close() error {
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// execFixed is exec through the prepared statement of a hot query.
func (tx *Tx) execFixed(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := tx.s.d.rebind(query)
	if st, ok := tx.s.stmts.get(tx.s.write, q); ok {
		return tx.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, q, args...)
}

// queryRowFixed is queryRow through the prepared statement of a hot query.
func (tx *Tx) queryRowFixed(ctx context.Context, query string, args ...any) *sql.Row {
	q := tx.s.d.rebind(query)
	if st, ok := tx.s.stmts.get(tx.s.write, q); ok {
		return tx.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, q, args...)
}

// fixedQuerier runs hot queries of a transaction through their prepared
// statements (and any other query as it is).
type fixedQuerier struct{ tx *Tx }

func (f fixedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := f.tx.s.d.rebind(query)
	if st, ok := f.tx.s.stmts.get(f.tx.s.write, q); ok {
		return f.tx.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return f.tx.tx.QueryContext(ctx, q, args...)
}

// writeFixed runs a hot query on the writing handle, outside a transaction.
func (s *Store) writeFixed(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := s.d.rebind(query)
	if st, ok := s.stmts.get(s.write, q); ok {
		return st.ExecContext(ctx, args...)
	}
	return s.write.ExecContext(ctx, q, args...)
}

// readRowFixed queries one row of a hot query on the reading pool.
func (s *Store) readRowFixed(ctx context.Context, query string, args ...any) *sql.Row {
	q := s.d.rebind(query)
	if st, ok := s.stmts.get(s.read, q); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return s.read.QueryRowContext(ctx, q, args...)
}

// readFixed queries a hot query on the reading pool.
func (s *Store) readFixed(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := s.d.rebind(query)
	if st, ok := s.stmts.get(s.read, q); ok {
		return st.QueryContext(ctx, args...)
	}
	return s.read.QueryContext(ctx, q, args...)
}

// insertIDQuery is an INSERT of a table with an id column as insertID runs
// it.
func (d dialect) insertIDQuery(insert string) string {
	if d.lastInsertID {
		return insert
	}
	return insert + " RETURNING id"
}

// insertID runs an INSERT (a hot query, without RETURNING) and returns the
// new row's id.
func (tx *Tx) insertID(ctx context.Context, insert string, args ...any) (int64, error) {
	q := tx.s.d.insertIDQuery(insert)
	if !tx.s.d.lastInsertID {
		var id int64
		err := tx.queryRowFixed(ctx, q, args...).Scan(&id)
		return id, err
	}
	res, err := tx.execFixed(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}
