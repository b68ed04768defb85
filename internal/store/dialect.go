package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// dialect holds everything that differs between SQLite and PostgreSQL. The
// rest of the package writes portable SQL with ? placeholders, RETURNING and
// ON CONFLICT, which both engines accept.
type dialect struct {
	name string // "sqlite" | "postgres": the suffix of dialect-specific migration files
	// placeholder returns the n-th (1-based) bind parameter.
	placeholder func(n int) string
	// lockMigrations serializes migrations between processes sharing the
	// database, for the rest of tx.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
	// forUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends ("" on SQLite, whose single writer already excludes
	// every other writing transaction).
	forUpdate string
	// greatest and least name the functions returning the larger and the
	// smaller of their arguments.
	greatest, least string
	// lastInsertID: read an inserted row's id with LastInsertId instead of
	// RETURNING id, which SQLite runs as a trigger and so keeps a statement
	// journal for (a memory allocation and page copy per insert).
	lastInsertID bool
	// replicas: several vigil processes may share the store (PostgreSQL);
	// SQLite has one writer process.
	replicas bool
	// groupPerBucket: count runs (RunCounts) with one statement per time
	// bucket. SQLite sorts every GROUP BY on a computed bucket in a
	// temporary B-tree (ten times the cost of the scan over 2,000,000
	// rollups); per bucket, grouping by check follows the index.
	groupPerBucket bool
}

var (
	sqliteDialect = dialect{
		name:        "sqlite",
		placeholder: func(int) string { return "?" },
		// One writer connection and BEGIN IMMEDIATE (see sqliteWriterDSN)
		// already make each migration transaction exclusive.
		lockMigrations: func(context.Context, *sql.Tx) error { return nil },
		forUpdate:      "",
		greatest:       "MAX",
		least:          "MIN",
		lastInsertID:   true,
		groupPerBucket: true,
	}
	postgresDialect = dialect{
		name:        "postgres",
		placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
		// A transaction-scoped advisory lock, keyed by the schema, so replicas
		// starting together apply each migration once; it is released at
		// commit or rollback, so it cannot leak into the pool.
		lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(1986094924, hashtext(current_schema()))")
			return err
		},
		forUpdate: " FOR UPDATE",
		greatest:  "GREATEST",
		least:     "LEAST",
		replicas:  true,
	}
)

// rebind rewrites the ? placeholders of a query for the dialect. Queries in
// this package never contain a literal question mark.
func (d dialect) rebind(query string) string {
	if d.placeholder(1) == "?" {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString(d.placeholder(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// openDB opens the writer and reader pools for a driver. On PostgreSQL
// both are the same pool; on SQLite the writer is one connection and the
// readers are query-only (an in-memory database has a single connection for
// both, since each connection would otherwise see its own database).
func openDB(driver, dsn string) (d dialect, write, read *sql.DB, err error) {
	switch driver {
	case "sqlite":
		if dsn == "" {
			return d, nil, nil, fmt.Errorf("empty sqlite dsn")
		}
		write, err = sql.Open("sqlite", sqliteDSN(dsn, writerParams))
		if err != nil {
			return d, nil, nil, err
		}
		write.SetMaxOpenConns(1)
		if sqliteInMemory(dsn) {
			write.SetConnMaxIdleTime(0)
			write.SetConnMaxLifetime(0)
			return sqliteDialect, write, write, nil
		}
		read, err = sql.Open("sqlite", sqliteDSN(dsn, readerParams))
		if err != nil {
			write.Close()
			return d, nil, nil, err
		}
		read.SetMaxOpenConns(4)
		read.SetMaxIdleConns(4)
		return sqliteDialect, write, read, nil
	case "postgres":
		write, err = sql.Open("pgx", dsn)
		if err != nil {
			return d, nil, nil, err
		}
		write.SetMaxOpenConns(10)
		write.SetMaxIdleConns(5)
		return postgresDialect, write, write, nil
	}
	return d, nil, nil, fmt.Errorf("unknown driver %q (want sqlite or postgres)", driver)
}

// SQLite connection settings. Each is a modernc.org/sqlite DSN parameter; a
// parameter the operator already put in the DSN wins.
var (
	writerParams = []string{
		"_busy_timeout=5000",
		"_journal_mode=WAL",
		"_synchronous=NORMAL",
		"_foreign_keys=1",
		"_txlock=immediate", // take the write lock at BEGIN: no upgrade deadlocks
	}
	readerParams = []string{
		"_busy_timeout=5000",
		"_foreign_keys=1",
		"_query_only=1", // only the writer connection writes
	}
)

// sqliteDSN turns a path or file: URI into a file: URI with params appended.
func sqliteDSN(dsn string, params []string) string {
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for _, p := range params {
		name := p[:strings.IndexByte(p, '=')+1]
		if strings.Contains(dsn, "?"+name) || strings.Contains(dsn, "&"+name) {
			continue
		}
		dsn += sep + p
		sep = "&"
	}
	return dsn
}

func sqliteInMemory(dsn string) bool {
	return dsn == ":memory:" || strings.HasPrefix(dsn, "file::memory:") || strings.Contains(dsn, "mode=memory")
}
