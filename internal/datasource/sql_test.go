package datasource_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/testdb"
)

// open returns a fresh test database seeded with stmts and the vigil
// datasource "warehouse" over it.
func open(t *testing.T, driver string, stmts ...string) (*testdb.DB, *datasource.SQL) {
	t.Helper()
	db := testdb.Open(t, driver)
	db.Exec(t, stmts...)
	src, err := datasource.OpenSQL("warehouse", driver, db.DSN)
	if err != nil {
		t.Fatalf("OpenSQL: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return db, src
}

// query runs q read-only the way a check does and returns its rows as text.
func query(ctx context.Context, src *datasource.SQL, timeout time.Duration, q string) ([][]string, error) {
	var out [][]string
	err := src.ReadOnly(ctx, timeout, func(ctx context.Context, tx *checks.Tx) error {
		return checks.EachRow(ctx, tx, q, func(_ []string, vals []any) error {
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = checks.Text(v)
			}
			out = append(out, row)
			return nil
		})
	})
	return out, err
}

func count(t *testing.T, db *testdb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Admin.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	type write struct {
		name  string
		query string
		only  string // a driver, or "" for all
	}
	writes := []write{
		{name: "insert", query: "INSERT INTO t (id) VALUES (2)"},
		{name: "update", query: "UPDATE t SET id = 3"},
		{name: "delete", query: "DELETE FROM t"},
		{name: "create table", query: "CREATE TABLE created (id INT)"},
		{name: "drop table", query: "DROP TABLE t"},
		{name: "data-modifying CTE", query: "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", only: "postgres"},
		{name: "nextval", query: "SELECT nextval('s')", only: "postgres"},
		{name: "commit then delete", query: "COMMIT; DELETE FROM t", only: "mysql"},
		{name: "read write session then delete", query: "SET SESSION TRANSACTION READ WRITE; DELETE FROM t", only: "mysql"},
		{name: "query_only off then delete", query: "PRAGMA query_only = 0; DELETE FROM t", only: "sqlite"},
		{name: "query_only off", query: "PRAGMA query_only = 0", only: "sqlite"},
	}
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			seed := []string{"CREATE TABLE t (id INT)", "INSERT INTO t (id) VALUES (1)"}
			if driver == "postgres" {
				seed = append(seed, "CREATE SEQUENCE s")
			}
			db, src := open(t, driver, seed...)
			for _, w := range writes {
				if w.only != "" && w.only != driver {
					continue
				}
				t.Run(w.name, func(t *testing.T) {
					_, err := query(context.Background(), src, 5*time.Second, w.query)
					// A statement that changes no session state may be
					// allowed (PRAGMA query_only = 0 alone); what matters is
					// that nothing is written, here or by the next query.
					if err == nil && !strings.HasPrefix(w.query, "PRAGMA") {
						t.Errorf("%q: no error, want it refused", w.query)
					}
					if err != nil && !strings.Contains(err.Error(), "datasource warehouse") {
						t.Errorf("error %q does not name the datasource", err)
					}
					if _, err := query(context.Background(), src, 5*time.Second, "DELETE FROM t"); err == nil {
						t.Errorf("DELETE after %q: no error, want it refused", w.query)
					}
					if n := count(t, db, "t"); n != 1 {
						t.Errorf("after %q: t has %d rows, want 1", w.query, n)
					}
					var created int
					err = db.Admin.QueryRow("SELECT count(*) FROM created").Scan(&created)
					if err == nil {
						t.Errorf("after %q: table created exists", w.query)
					}
				})
			}
		})
	}
}

func TestSQLiteNeverCreatesTheFile(t *testing.T) {
	tests := []struct {
		name string
		dsn  func(path string) string
	}{
		{name: "plain path", dsn: func(p string) string { return p }},
		{name: "file URI", dsn: func(p string) string { return "file:" + p }},
		{name: "file URI asking for rwc", dsn: func(p string) string { return "file:" + p + "?mode=rwc&cache=private" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.db")
			src, err := datasource.OpenSQL("warehouse", datasource.SQLite, tt.dsn(path))
			if err != nil {
				t.Fatalf("OpenSQL: %v", err)
			}
			defer src.Close()
			_, err = query(context.Background(), src, time.Second, "SELECT 1")
			if err == nil || !strings.Contains(err.Error(), "datasource warehouse") {
				t.Errorf("query on a missing file: error %v, want one naming the datasource", err)
			}
			if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("stat %s: %v, want the file not created", path, statErr)
			}
		})
	}
}

func TestStatementTimeout(t *testing.T) {
	tests := []struct {
		name   string
		driver string
		slow   string
		// setting reads the server-side timer inside the transaction
		// ("" for SQLite, which has none: the context deadline interrupts it).
		setting string
		want    string
	}{
		{name: "postgres", driver: "postgres", slow: "SELECT pg_sleep(5)", setting: "SHOW statement_timeout", want: "300ms"},
		{name: "mariadb", driver: "mysql", slow: "SELECT SLEEP(5)", setting: "SELECT @@max_statement_time", want: "0.3"},
		{name: "sqlite", driver: "sqlite", slow: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, src := open(t, tt.driver, "CREATE TABLE t (id INT)")
			if tt.setting != "" {
				rows, err := query(context.Background(), src, 300*time.Millisecond, tt.setting)
				if err != nil {
					t.Fatalf("%s: %v", tt.setting, err)
				}
				if got := strings.TrimRight(strings.TrimRight(rows[0][0], "0"), "."); got != tt.want && rows[0][0] != tt.want {
					t.Errorf("%s = %q, want %q", tt.setting, rows[0][0], tt.want)
				}
			}
			start := time.Now()
			_, err := query(context.Background(), src, 300*time.Millisecond, tt.slow)
			if err == nil {
				t.Fatalf("%s: no error after %s, want a timeout", tt.slow, time.Since(start))
			}
			if !strings.HasPrefix(err.Error(), "datasource warehouse: ") {
				t.Errorf("error %q does not name the datasource", err)
			}
			// The server's timer and the context deadline race; either
			// may report it.
			msg := err.Error()
			if !strings.Contains(msg, "timed out after 300ms") && !strings.Contains(msg, "statement timeout") && !strings.Contains(msg, "max_statement_time") {
				t.Errorf("error %q does not say the statement timed out", err)
			}
		})
	}
}

// TestServerSideTimeout proves the servers' own timers stop a statement
// even when the client keeps waiting (the query's context never ends).
func TestServerSideTimeout(t *testing.T) {
	tests := []struct {
		name   string
		driver string
		slow   string
		want   string
	}{
		{name: "postgres statement_timeout", driver: "postgres", slow: "SELECT pg_sleep(5)", want: "statement timeout"},
		{name: "mariadb max_statement_time", driver: "mysql", slow: "SELECT SLEEP(5)", want: "max_statement_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, src := open(t, tt.driver)
			err := src.ReadOnly(context.Background(), 300*time.Millisecond, func(ctx context.Context, tx *checks.Tx) error {
				return checks.EachRow(context.WithoutCancel(ctx), tx, tt.slow, func([]string, []any) error { return nil })
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want the server's %q", err, tt.want)
			}
		})
	}
}

func TestZeroTimeoutClearsTheLimit(t *testing.T) {
	_, src := open(t, "mysql")
	if _, err := query(context.Background(), src, 300*time.Millisecond, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	rows, err := query(context.Background(), src, 0, "SELECT @@max_statement_time")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "0" && strings.Trim(rows[0][0], "0.") != "" {
		t.Errorf("max_statement_time after a run with no timeout = %q, want 0", rows[0][0])
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestUnreachable(t *testing.T) {
	port := closedPort(t)
	const secret = "s3cret-pw"
	tests := []struct {
		name   string
		driver string
		dsn    string
	}{
		{name: "postgres url", driver: "postgres", dsn: fmt.Sprintf("postgres://vigil:%s@127.0.0.1:%d/test?sslmode=disable&connect_timeout=2", secret, port)},
		{name: "postgres key=value", driver: "postgres", dsn: fmt.Sprintf("host=127.0.0.1 port=%d user=vigil password=%s dbname=test sslmode=disable connect_timeout=2", port, secret)},
		{name: "mysql", driver: "mysql", dsn: fmt.Sprintf("vigil:%s@tcp(127.0.0.1:%d)/test?timeout=2s", secret, port)},
		{name: "sqlite missing directory", driver: "sqlite", dsn: filepath.Join(t.TempDir(), "no", "such", "dir.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := datasource.OpenSQL("warehouse", tt.driver, tt.dsn)
			if err != nil {
				t.Fatalf("OpenSQL: %v (opening must not connect)", err)
			}
			defer src.Close()
			_, err = query(context.Background(), src, 5*time.Second, "SELECT 1")
			if err == nil {
				t.Fatal("no error, want the database unreachable")
			}
			if !strings.HasPrefix(err.Error(), "datasource warehouse: ") {
				t.Errorf("error %q does not start with the datasource", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestOpenSQLErrors(t *testing.T) {
	const secret = "s3cret-pw"
	tests := []struct {
		name   string
		driver string
		dsn    string
		want   string
	}{
		{name: "unknown driver", driver: "oracle", dsn: "x", want: `datasource warehouse: unknown driver "oracle"`},
		{name: "bad postgres url", driver: "postgres", dsn: "postgres://vigil:" + secret + "@127.0.0.1:notaport/test", want: "datasource warehouse: parse postgres dsn"},
		{name: "bad mysql dsn", driver: "mysql", dsn: "vigil:" + secret + "@tcp(127.0.0.1:3306)/test?parseTime=maybe", want: "datasource warehouse: parse mysql dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := datasource.OpenSQL("warehouse", tt.driver, tt.dsn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// qualifier returns the schema (postgres), database (mysql) or attached
// name (sqlite) that holds the test database's tables.
func qualifier(t *testing.T, db *testdb.DB) string {
	t.Helper()
	switch db.Driver {
	case "postgres":
		u, err := url.Parse(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query().Get("search_path")
	case "mysql":
		cfg, err := mysql.ParseDSN(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.DBName
	default:
		return "main"
	}
}

func TestQualifiedAndQuotedNames(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db, src := open(t, driver)
			weird := `Load "Log"` + "`s"
			db.Exec(t,
				"CREATE TABLE loads (id INT)",
				"INSERT INTO loads (id) VALUES (7)",
				"CREATE TABLE "+src.QuoteIdent(weird)+" ("+src.QuoteIdent("Row Id")+" INT)",
				"INSERT INTO "+src.QuoteIdent(weird)+" VALUES (8)",
			)
			q := qualifier(t, db)
			tests := []struct {
				name  string
				query string
				want  string
			}{
				{name: "qualified", query: "SELECT id FROM " + q + ".loads", want: "7"},
				{name: "quoted qualified", query: "SELECT id FROM " + src.QuoteIdent(q+".loads"), want: "7"},
				{name: "quoted odd names", query: "SELECT " + src.QuoteIdent("Row Id") + " FROM " + src.QuoteIdent(q) + "." + src.QuoteIdent(weird), want: "8"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rows, err := query(context.Background(), src, 5*time.Second, tt.query)
					if err != nil {
						t.Fatalf("%s: %v", tt.query, err)
					}
					if len(rows) != 1 || rows[0][0] != tt.want {
						t.Errorf("%s = %v, want [[%s]]", tt.query, rows, tt.want)
					}
				})
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct {
		name   string
		driver string
		ident  string
		want   string
	}{
		{name: "postgres plain", driver: "postgres", ident: "loads", want: `"loads"`},
		{name: "postgres schema.table", driver: "postgres", ident: "etl.loads", want: `"etl"."loads"`},
		{name: "postgres embedded quote", driver: "postgres", ident: `a"b`, want: `"a""b"`},
		{name: "sqlite embedded quote", driver: "sqlite", ident: `a"b`, want: `"a""b"`},
		{name: "mysql database.table", driver: "mysql", ident: "dw.loads", want: "`dw`.`loads`"},
		{name: "mysql embedded backtick", driver: "mysql", ident: "a`b", want: "`a``b`"},
		{name: "mysql double quote kept", driver: "mysql", ident: `a"b`, want: "`a\"b`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := map[string]string{
				"postgres": "postgres://x@127.0.0.1/x",
				"mysql":    "x@tcp(127.0.0.1)/x",
				"sqlite":   filepath.Join(t.TempDir(), "x.db"),
			}[tt.driver]
			src, err := datasource.OpenSQL("warehouse", tt.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := src.QuoteIdent(tt.ident); got != tt.want {
				t.Errorf("QuoteIdent(%q) = %s, want %s", tt.ident, got, tt.want)
			}
		})
	}
}

func TestMySQLTimestamps(t *testing.T) {
	// DATETIME and TIMESTAMP read as time.Time in UTC unless the DSN says
	// otherwise; text stays text.
	db, src := open(t, "mysql",
		"CREATE TABLE l (dt DATETIME, ts TIMESTAMP NULL, txt VARCHAR(40))",
		"INSERT INTO l VALUES ('2024-01-02 03:04:05', '2024-01-02 03:04:05', '2024-01-02 03:04:05')",
	)
	var got []any
	err := src.ReadOnly(context.Background(), 5*time.Second, func(ctx context.Context, tx *checks.Tx) error {
		return checks.EachRow(ctx, tx, "SELECT dt, ts, txt FROM l", func(_ []string, vals []any) error {
			got = append(got, vals...)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, v := range got[:2] {
		ts, ok := v.(time.Time)
		if !ok || !ts.Equal(want) {
			t.Errorf("column %d = %#v, want %s", i, v, want)
		}
	}
	if _, ok := got[2].(time.Time); ok {
		t.Errorf("VARCHAR column read as time.Time, want text")
	}

	explicit, err := datasource.OpenSQL("warehouse", "mysql", db.DSN+"?parseTime=false")
	if err != nil {
		t.Fatal(err)
	}
	defer explicit.Close()
	rows, err := query(context.Background(), explicit, 5*time.Second, "SELECT dt FROM l")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "2024-01-02 03:04:05" {
		t.Errorf("with parseTime=false: %q, want the server's text", rows[0][0])
	}
}

func TestMySQLMultiStatementsStayOff(t *testing.T) {
	db, _ := open(t, "mysql", "CREATE TABLE t (id INT)", "INSERT INTO t (id) VALUES (1)")
	src, err := datasource.OpenSQL("warehouse", "mysql", db.DSN+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, q := range []string{"COMMIT; DELETE FROM t", "SET SESSION TRANSACTION READ WRITE; DELETE FROM t"} {
		if _, err := query(context.Background(), src, 5*time.Second, q); err == nil {
			t.Errorf("%q: no error, want it refused", q)
		}
		if n := count(t, db, "t"); n != 1 {
			t.Errorf("after %q: t has %d rows, want 1", q, n)
		}
	}
}

func TestSQLiteReadsAClosedWALDatabase(t *testing.T) {
	// A WAL database whose writer has closed (no -wal or -shm file left)
	// still reads through the read-only datasource.
	path := filepath.Join(t.TempDir(), "wal.db")
	w, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CREATE TABLE t (id INT)", "INSERT INTO t VALUES (42)"} {
		if _, err := w.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat -wal: %v, want it gone after close", err)
	}
	src, err := datasource.OpenSQL("warehouse", datasource.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows, err := query(context.Background(), src, 5*time.Second, "SELECT id FROM t")
	if err != nil || len(rows) != 1 || rows[0][0] != "42" {
		t.Errorf("rows %v, error %v; want [[42]]", rows, err)
	}
}
