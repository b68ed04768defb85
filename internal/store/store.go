// Package store is vigil's own database: run results with their violation
// keys, the audit log, each check's incident state, incidents, silences,
// the alert outbox and hourly rollups of pruned runs. One database/sql implementation serves SQLite
// (modernc.org/sqlite, the embedded default: WAL, foreign keys, one writer
// connection) and PostgreSQL (pgx; several replicas may share one database).
//
// The schema comes from the numbered SQL files embedded from migrations/,
// applied by Open. Timestamps are stored as BIGINT nanoseconds since the Unix
// epoch (UTC) on both drivers, so they round-trip exactly and sort as numbers.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/vigilhq/vigil/internal/datasource"
)

// ErrNotFound is returned when a run (or a check's latest run), an
// incident, a silence or an outbox message does not exist.
var ErrNotFound = errors.New("store: not found")

//go:embed migrations/*.sql
var embedded embed.FS

// Store is vigil's store. Its methods are safe for concurrent use.
type Store struct {
	driver string
	d      dialect
	write  *sql.DB // the only handle that writes (one connection on SQLite)
	read   *sql.DB // query-only pool on SQLite; the same pool as write on PostgreSQL
	now    func() time.Time
	stmts  stmts // the queries of every run, prepared
}

// Options tune OpenWith. The zero value is what Open uses.
type Options struct {
	// Now is the clock for audit entries without a time and for migration
	// records; time.Now when nil.
	Now func() time.Time

	migrations fs.FS // the migration files; the embedded migrations/ when nil (tests inject broken ones)
}

// Open opens the store for driver "sqlite" (dsn: a file path or file: URI)
// or "postgres" (dsn: a postgres:// URL or key=value string) and applies
// every pending migration before returning. It fails, and leaves no store
// open, when the database is unreachable or any migration fails.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	return OpenWith(ctx, driver, dsn, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, driver, dsn string, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.migrations == nil {
		sub, err := fs.Sub(embedded, "migrations")
		if err != nil {
			return nil, fmt.Errorf("store: open: %w", err)
		}
		o.migrations = sub
	}
	d, write, read, err := openDB(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", driver, datasource.Redact(err))
	}
	s := &Store{driver: driver, d: d, write: write, read: read, now: o.Now}
	ms, err := loadMigrations(o.migrations, d.name)
	if err == nil {
		err = migrate(ctx, write, d, ms, o.Now)
	}
	if err == nil {
		err = s.stmts.prepare(ctx, s)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", driver, datasource.Redact(err))
	}
	return s, nil
}

// Close closes the store's connections. Calls after Close fail.
func (s *Store) Close() error {
	err := errors.Join(s.stmts.close(), s.write.Close())
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Replicas reports whether several vigil processes may share the store:
// true on PostgreSQL, false on SQLite, whose file one process owns (it
// holds the only writer).
func (s *Store) Replicas() bool { return s.d.replicas }

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// DB returns the writing handle (on SQLite, a single connection: do not
// hold a transaction on it while calling other Store methods that write).
// It is for tests and for later features whose tables come from this
// package's migrations; write queries with ? placeholders through Rebind.
func (s *Store) DB() *sql.DB { return s.write }

// ReadDB returns the pool for reads: query-only connections on SQLite, the
// same pool as DB on PostgreSQL.
func (s *Store) ReadDB() *sql.DB { return s.read }

// Rebind rewrites a query written with ? placeholders for the store's
// driver ($1, $2, ... on PostgreSQL).
func (s *Store) Rebind(query string) string { return s.d.rebind(query) }
