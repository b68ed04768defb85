// Package testdb gives tests a fresh, isolated database on each real server
// the machine runs: a SQLite file in t.TempDir(), a PostgreSQL schema and a
// MariaDB/MySQL database, each dropped when the test ends. On the servers,
// DSN connects as a per-test role that may only read the test's tables
// (what vigil wants of a validated database); AdminDSN and Admin connect as
// the server's administrator.
//
// When a server is unreachable the test is skipped, except under CI=true,
// where it fails: CI must never pass by skipping.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	_ "modernc.org/sqlite"             // "sqlite" driver
)

// Server addresses, overridable for other machines.
var (
	PostgresAdmin = envOr("VIGIL_TEST_PG", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	MySQLAdmin    = envOr("VIGIL_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/test")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// DB is one isolated test database. DSNs are in the driver's own format,
// as a vigil config would name them.
type DB struct {
	Driver string // postgres | mysql | sqlite
	// DSN connects as a role that may only read the test database's tables,
	// those created later included: a datasource vigil accepts. (SQLite has
	// no roles: DSN is the file's path.)
	DSN string
	// AdminDSN connects as the server's administrator (superuser, root) to
	// the same database: for vigil's own store, or a privileged datasource.
	AdminDSN string
	// Admin is a pool on AdminDSN, to seed data.
	Admin *sql.DB
	// Role is the read-only role's name (the MariaDB user is Role@'%').
	Role string
}

// Drivers lists the validated-database drivers every check kind is tested on.
var Drivers = []string{"sqlite", "postgres", "mysql"}

// Open returns a fresh database for driver ("sqlite", "postgres" or "mysql").
func Open(tb testing.TB, driver string) *DB {
	tb.Helper()
	switch driver {
	case "sqlite":
		return SQLite(tb)
	case "postgres":
		return Postgres(tb)
	case "mysql":
		return MySQL(tb)
	}
	tb.Fatalf("testdb: unknown driver %q", driver)
	return nil
}

// SQLite returns a fresh SQLite database file.
func SQLite(tb testing.TB) *DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "test.db")
	admin, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		tb.Fatalf("testdb: open sqlite: %v", err)
	}
	admin.SetMaxOpenConns(1)
	tb.Cleanup(func() { admin.Close() })
	return &DB{Driver: "sqlite", DSN: path, AdminDSN: path, Admin: admin}
}

// Postgres returns a fresh schema in the test database and a LOGIN role
// (cluster-wide, so randomly named) with USAGE on it and SELECT on every
// table the administrator creates there; DSN selects the schema through
// search_path.
func Postgres(tb testing.TB) *DB {
	tb.Helper()
	root := connect(tb, "pgx", PostgresAdmin, "PostgreSQL")
	schema := "vt_" + randomName()
	role, password := schema, randomName()
	var admin string
	if err := root.QueryRow("SELECT current_user").Scan(&admin); err != nil {
		tb.Fatalf("testdb: current_user: %v", err)
	}
	for _, stmt := range []string{
		"CREATE SCHEMA " + schema,
		"CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"ALTER DEFAULT PRIVILEGES FOR ROLE " + quotePG(admin) + " IN SCHEMA " + schema + " GRANT SELECT ON TABLES TO " + role,
	} {
		if _, err := root.Exec(stmt); err != nil {
			tb.Fatalf("testdb: %s: %v", stmt, err)
		}
	}
	adminDSN := PostgresAdmin + "&search_path=" + schema
	u, err := url.Parse(adminDSN)
	if err != nil {
		tb.Fatalf("testdb: parse %s: %v", PostgresAdmin, err)
	}
	u.User = url.UserPassword(role, password)
	pool, err := sql.Open("pgx", adminDSN)
	if err != nil {
		tb.Fatalf("testdb: open postgres: %v", err)
	}
	tb.Cleanup(func() {
		pool.Close()
		for _, stmt := range []string{"DROP SCHEMA " + schema + " CASCADE", "DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := root.Exec(stmt); err != nil {
				tb.Errorf("testdb: %s: %v", stmt, err)
			}
		}
		root.Close()
	})
	return &DB{Driver: "postgres", DSN: u.String(), AdminDSN: adminDSN, Admin: pool, Role: role}
}

// quotePG quotes a PostgreSQL identifier.
func quotePG(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// MySQL returns a fresh database on the MariaDB/MySQL server and a user
// (server-wide, so randomly named) with SELECT on it.
func MySQL(tb testing.TB) *DB {
	tb.Helper()
	root := connect(tb, "mysql", MySQLAdmin, "MariaDB")
	name := "vt_" + randomName()
	password := randomName()
	for _, stmt := range []string{
		"CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
		"CREATE USER '" + name + "'@'%' IDENTIFIED BY '" + password + "'",
		"GRANT SELECT ON " + name + ".* TO '" + name + "'@'%'",
	} {
		if _, err := root.Exec(stmt); err != nil {
			tb.Fatalf("testdb: %s: %v", stmt, err)
		}
	}
	cfg, err := mysql.ParseDSN(MySQLAdmin)
	if err != nil {
		tb.Fatalf("testdb: parse %s: %v", MySQLAdmin, err)
	}
	cfg.DBName = name
	adminDSN := cfg.FormatDSN()
	cfg.User, cfg.Passwd = name, password
	dsn := cfg.FormatDSN()
	admin, err := sql.Open("mysql", adminDSN+"?parseTime=true&multiStatements=true")
	if err != nil {
		tb.Fatalf("testdb: open mysql: %v", err)
	}
	tb.Cleanup(func() {
		admin.Close()
		for _, stmt := range []string{"DROP DATABASE " + name, "DROP USER '" + name + "'@'%'"} {
			if _, err := root.Exec(stmt); err != nil {
				tb.Errorf("testdb: %s: %v", stmt, err)
			}
		}
		root.Close()
	})
	return &DB{Driver: "mysql", DSN: dsn, AdminDSN: adminDSN, Admin: admin, Role: name}
}

// connect opens and pings a server, skipping (or failing under CI=true)
// when it is not reachable.
func connect(tb testing.TB, driver, dsn, what string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = db.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("testdb: %s is required under CI=true but unreachable: %v", what, err)
		}
		tb.Skipf("testdb: %s unreachable (set CI=true to make this fail): %v", what, err)
	}
	return db
}

func randomName() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Exec runs statements on the admin connection, failing the test on error.
func (d *DB) Exec(tb testing.TB, stmts ...string) {
	tb.Helper()
	for _, s := range stmts {
		if _, err := d.Admin.Exec(s); err != nil {
			tb.Fatalf("testdb: %s: exec %q: %v", d.Driver, s, err)
		}
	}
}
