// Package datasource opens the databases that checks validate and runs
// their queries read-only with a statement timeout.
package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/vigilhq/vigil/checks"
)

// SQL drivers a datasource may name.
const (
	Postgres = "postgres"
	MySQL    = "mysql"
	SQLite   = "sqlite"
)

// IsSQLDriver reports whether driver names a SQL datasource driver.
func IsSQLDriver(driver string) bool {
	return driver == Postgres || driver == MySQL || driver == SQLite
}

// SQL is a validated database. It implements checks.SQLSource.
type SQL struct {
	name   string
	driver string
	db     *sql.DB

	// allowPrivileged skips the inspection of the role (allow_privileged).
	allowPrivileged bool
	// inspectEvery is how long a verdict on the role holds.
	inspectEvery time.Duration

	mu          sync.Mutex
	mysqlTimer  string // "max_statement_time" (MariaDB, seconds) or "max_execution_time" (MySQL, ms)
	mysqlTested bool
	mysqlInside string // the query that reads whether the session is still in a read-only transaction

	role roleVerdict
}

// SQLOption adjusts a datasource that OpenSQL opens.
type SQLOption func(*SQL)

// AllowPrivileged makes the datasource run checks whatever its role may
// do (the datasource's allow_privileged: true): the role is not inspected.
func AllowPrivileged(allow bool) SQLOption { return func(s *SQL) { s.allowPrivileged = allow } }

// InspectEvery sets how long an inspection of the role holds before the
// next run inspects it again (grants change); the default is
// DefaultInspectEvery.
func InspectEvery(d time.Duration) SQLOption { return func(s *SQL) { s.inspectEvery = d } }

// DefaultInspectEvery is how often a datasource's role is inspected again.
const DefaultInspectEvery = 10 * time.Minute

// inspectTimeout bounds one inspection of the role before a run.
const inspectTimeout = 30 * time.Second

// OpenSQL opens the named datasource with the driver's own DSN format. It
// does not connect: an unreachable database shows up when a check runs.
// Errors name the datasource and never carry the DSN's password.
//
// Before its first run, and again every InspectEvery, the datasource
// inspects its role and refuses to run anything when the role could write
// or act on the server (see Inspect), unless AllowPrivileged is given.
//
// Writes are refused at every level the driver offers: PostgreSQL sessions
// default to read-only transactions; MySQL/MariaDB sessions are set READ
// ONLY on each run (so DDL, whose implicit commit ends a transaction, is
// refused too) and never allow several statements per query; SQLite files
// are opened mode=ro and query_only, so a missing file is an error rather
// than a new empty database. MySQL DATETIME and TIMESTAMP values are read as
// time.Time in UTC, with the session in UTC, unless the DSN sets parseTime,
// loc or time_zone.
func OpenSQL(name, driver, dsn string, opts ...SQLOption) (*SQL, error) {
	var db *sql.DB
	switch driver {
	case Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("datasource %s: parse postgres dsn: %w", name, Redact(err))
		}
		if cfg.RuntimeParams == nil {
			cfg.RuntimeParams = map[string]string{}
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		cfg.RuntimeParams["application_name"] = "vigil"
		db = stdlib.OpenDB(*cfg)
	case MySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("datasource %s: parse mysql dsn: %w", name, Redact(err))
		}
		// Read DATETIME and TIMESTAMP as time.Time in UTC, and have the
		// session speak UTC too, unless the DSN chose otherwise.
		if !strings.Contains(dsn, "parseTime=") {
			cfg.ParseTime = true
		}
		if _, set := cfg.Params["time_zone"]; !set && !strings.Contains(dsn, "loc=") {
			if cfg.Params == nil {
				cfg.Params = map[string]string{}
			}
			cfg.Params["time_zone"] = "'+00:00'"
		}
		// One statement per query: "COMMIT; DELETE ..." must not run.
		cfg.MultiStatements = false
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("datasource %s: mysql connector: %w", name, Redact(err))
		}
		db = sql.OpenDB(conn)
	case SQLite:
		var err error
		db, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err != nil {
			return nil, fmt.Errorf("datasource %s: open sqlite: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("datasource %s: unknown driver %q (want postgres, mysql or sqlite)", name, driver)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &SQL{name: name, driver: driver, db: db, inspectEvery: DefaultInspectEvery}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// sqliteDSN opens the file read-only (mode=ro: a missing file is an error,
// never created, and no statement can undo it) and adds the pragmas vigil
// needs: query_only and a wait on locks. A DSN's own mode=memory is kept;
// any other mode is replaced by ro.
func sqliteDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + dsn
	}
	path, query, _ := strings.Cut(dsn, "?")
	var params []string
	mode := "mode=ro"
	for _, p := range strings.Split(query, "&") {
		switch {
		case p == "":
		case p == "mode=memory":
			mode = p
		case strings.HasPrefix(p, "mode="):
		default:
			params = append(params, p)
		}
	}
	params = append(params, mode, "_pragma=query_only(1)", "_pragma=busy_timeout(5000)")
	return path + "?" + strings.Join(params, "&")
}

// Name is the datasource's configured name.
func (s *SQL) Name() string { return s.name }

// Driver is postgres, mysql or sqlite.
func (s *SQL) Driver() string { return s.driver }

// DB exposes the pool (for tests and the demo seeding its own database).
func (s *SQL) DB() *sql.DB { return s.db }

// Close closes the pool.
func (s *SQL) Close() error { return s.db.Close() }

// QuoteIdent quotes an identifier, keeping a schema.table or
// database.table qualifier as two quoted parts.
func (s *SQL) QuoteIdent(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if s.driver == MySQL {
			parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
		} else {
			parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

// ReadOnly runs fn in a READ ONLY transaction with a statement timeout. The
// transaction is always rolled back: a check never writes. fn's queries run
// through checks.EachRow, which ends the run as soon as a query returns no
// result set or leaves the transaction (the session is then closed, never
// reused). A datasource whose role may write or act on the server is
// refused before anything runs (see Inspect).
func (s *SQL) ReadOnly(ctx context.Context, timeout time.Duration, fn func(ctx context.Context, tx *checks.Tx) error) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("datasource %s: %w", s.name, Redact(err))
		}
	}()
	// The role's inspection is not one of the check's statements: it has a
	// bound of its own (within the caller's), not the statement timeout.
	vetCtx, cancelVet := context.WithTimeout(ctx, inspectTimeout)
	err = s.vet(vetCtx)
	cancelVet()
	if err != nil {
		return err
	}
	if timeout > 0 {
		// The server's own timer (statement_timeout, max_statement_time)
		// stops each statement after timeout and says so. This deadline is
		// the backstop for a server that does not answer, a little later,
		// so that where the caller sets no earlier deadline a slow statement
		// ends by the server's timer, not by a dropped connection. The run
		// as a whole is bounded by its caller (the scheduler, run --once).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+s.clientGrace(timeout))
		defer cancel()
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		s.forgetRole() // after a reconnect, the role is inspected again
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if err := s.prepareSession(ctx, conn, timeout); err != nil {
		s.forgetRole()
		return err
	}
	// One snapshot for all of a check's queries where the driver offers it.
	opts := &sql.TxOptions{ReadOnly: true}
	if s.driver != SQLite {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		s.forgetRole()
		return fmt.Errorf("begin read-only transaction: %w", err)
	}
	defer func() {
		tx.Rollback() //nolint:errcheck // read-only: nothing to keep
		if err != nil {
			// A failed run may have left state in its session (a SET, a
			// transaction of its own): close it rather than reuse it.
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the error is the point
		}
	}()
	if s.driver == Postgres && timeout > 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeoutMillis(timeout))); err != nil {
			return fmt.Errorf("set statement timeout: %w", err)
		}
	}
	inside, err := s.insideCheck(ctx, tx)
	if err != nil {
		return err
	}
	if err := fn(ctx, checks.NewTx(tx, inside)); err != nil {
		if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		return err
	}
	return nil
}

// clientGrace is how long after the statement timeout the client gives up
// waiting for the server to report it: the setup before the statement and
// the round trip of the server's error. SQLite runs in this process and has
// no timer of its own: the deadline is the timer.
func (s *SQL) clientGrace(timeout time.Duration) time.Duration {
	if s.driver == SQLite {
		return 0
	}
	return time.Second + timeout/10
}

// insideCheck returns how to ask, after each query, whether the session is
// still inside the read-only transaction just begun on tx:
//   - PostgreSQL: no transaction id assigned (nothing written),
//     transaction_read_only on, and the same virtual transaction id as now
//     (a COMMIT or ROLLBACK followed by anything is another transaction);
//   - MariaDB: @@in_transaction and the session's read-only flag, which
//     prepareSession set (SET SESSION TRANSACTION READ WRITE clears it);
//   - SQLite: query_only still on (the file is opened read-only as well).
func (s *SQL) insideCheck(ctx context.Context, tx *sql.Tx) (func(context.Context, *sql.Tx) (bool, error), error) {
	switch s.driver {
	case Postgres:
		var vxid string
		var modern bool
		err := tx.QueryRowContext(ctx, `SELECT (SELECT virtualtransaction FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'virtualxid'),
			current_setting('server_version_num')::int >= 130000`).Scan(&vxid, &modern)
		if err != nil {
			return nil, fmt.Errorf("read the transaction id: %w", err)
		}
		xid := "txid_current_if_assigned()" // PostgreSQL 10 to 12
		if modern {
			xid = "pg_current_xact_id_if_assigned()"
		}
		q := `SELECT ` + xid + ` IS NULL AND current_setting('transaction_read_only') = 'on'
			AND (SELECT virtualtransaction FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'virtualxid') = $1`
		return func(ctx context.Context, tx *sql.Tx) (bool, error) {
			var ok sql.NullBool
			err := tx.QueryRowContext(ctx, q, vxid).Scan(&ok)
			return ok.Valid && ok.Bool, err
		}, nil
	case MySQL:
		q, err := s.mysqlInsideQuery(ctx, tx)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx *sql.Tx) (bool, error) {
			var ok sql.NullBool
			err := tx.QueryRowContext(ctx, q).Scan(&ok)
			return ok.Valid && ok.Bool, err
		}, nil
	default:
		return func(ctx context.Context, tx *sql.Tx) (bool, error) {
			var on int
			err := tx.QueryRowContext(ctx, "PRAGMA query_only").Scan(&on)
			return on == 1, err
		}, nil
	}
}

// mysqlInsideQuery finds, once per datasource, the query that reads whether
// the session is in a transaction and read-only: MariaDB names the flag
// tx_read_only (transaction_read_only from 11.1); MySQL has no
// @@in_transaction, so only its session flag can be read.
func (s *SQL) mysqlInsideQuery(ctx context.Context, tx *sql.Tx) (string, error) {
	s.mu.Lock()
	q := s.mysqlInside
	s.mu.Unlock()
	if q != "" {
		return q, nil
	}
	var last error
	for _, q := range []string{
		"SELECT @@in_transaction = 1 AND @@session.tx_read_only = 1",
		"SELECT @@in_transaction = 1 AND @@session.transaction_read_only = 1",
		"SELECT @@session.transaction_read_only = 1",
	} {
		var ok sql.NullBool
		if last = tx.QueryRowContext(ctx, q).Scan(&ok); last == nil {
			s.mu.Lock()
			s.mysqlInside = q
			s.mu.Unlock()
			return q, nil
		}
		var me *mysql.MySQLError
		if !errors.As(last, &me) || me.Number != 1193 { // 1193: unknown system variable
			break
		}
	}
	return "", fmt.Errorf("read the transaction state: %w", last)
}

// prepareSession sets the per-connection statement timeout for MySQL and
// MariaDB (which name it differently) and makes their session read-only (a
// READ ONLY transaction alone does not stop DDL, whose implicit commit ends
// it), and sets query_only for SQLite. A timeout of 0 clears the limit.
func (s *SQL) prepareSession(ctx context.Context, conn *sql.Conn, timeout time.Duration) error {
	switch s.driver {
	case SQLite:
		if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
			return fmt.Errorf("set query_only: %w", err)
		}
	case MySQL:
		if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
			return fmt.Errorf("set session read only: %w", err)
		}
		s.mu.Lock()
		variable, tested := s.mysqlTimer, s.mysqlTested
		s.mu.Unlock()
		try := []string{"max_statement_time", "max_execution_time"}
		if tested {
			try = []string{variable}
		}
		for _, v := range try {
			value := fmt.Sprint(timeoutMillis(timeout))
			if v == "max_statement_time" {
				value = fmt.Sprintf("%.3f", float64(timeoutMillis(timeout))/1000)
			}
			if _, err := conn.ExecContext(ctx, "SET SESSION "+v+" = "+value); err == nil {
				s.mu.Lock()
				s.mysqlTimer, s.mysqlTested = v, true
				s.mu.Unlock()
				return nil
			} else if tested || ctx.Err() != nil {
				return fmt.Errorf("set statement timeout: %w", err)
			}
		}
		return fmt.Errorf("set statement timeout: server supports neither max_statement_time nor max_execution_time")
	}
	return nil
}

// timeoutMillis is timeout in whole milliseconds for the servers' timers:
// 0 (no limit) when timeout is not positive, else at least 1, so that a
// sub-millisecond timeout never turns into "no limit".
func timeoutMillis(timeout time.Duration) int64 {
	if timeout <= 0 {
		return 0
	}
	return max(timeout.Milliseconds(), 1)
}
