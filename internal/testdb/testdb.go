// Package testdb gives tests a fresh, isolated database on each real server
// the machine runs: a SQLite file in t.TempDir(), a PostgreSQL schema and a
// MariaDB/MySQL database, each dropped when the test ends.
//
// When a server is unreachable the test is skipped, except under CI=true,
// where it fails: CI must never pass by skipping.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
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

// DB is one isolated test database. Admin has full write access (to seed
// data); DSN is in the driver's own format, as a vigil config would name it.
type DB struct {
	Driver string // postgres | mysql | sqlite
	DSN    string
	Admin  *sql.DB
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
	return &DB{Driver: "sqlite", DSN: path, Admin: admin}
}

// Postgres returns a fresh schema in the test database; its DSN selects it
// through search_path.
func Postgres(tb testing.TB) *DB {
	tb.Helper()
	root := connect(tb, "pgx", PostgresAdmin, "PostgreSQL")
	schema := "vt_" + randomName()
	if _, err := root.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("testdb: create schema: %v", err)
	}
	dsn := PostgresAdmin + "&search_path=" + schema
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("testdb: open postgres: %v", err)
	}
	tb.Cleanup(func() {
		admin.Close()
		if _, err := root.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("testdb: drop schema: %v", err)
		}
		root.Close()
	})
	return &DB{Driver: "postgres", DSN: dsn, Admin: admin}
}

// MySQL returns a fresh database on the MariaDB/MySQL server.
func MySQL(tb testing.TB) *DB {
	tb.Helper()
	root := connect(tb, "mysql", MySQLAdmin, "MariaDB")
	name := "vt_" + randomName()
	if _, err := root.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		tb.Fatalf("testdb: create database: %v", err)
	}
	cfg, err := mysql.ParseDSN(MySQLAdmin)
	if err != nil {
		tb.Fatalf("testdb: parse %s: %v", MySQLAdmin, err)
	}
	cfg.DBName = name
	dsn := cfg.FormatDSN()
	admin, err := sql.Open("mysql", dsn+"?parseTime=true&multiStatements=true")
	if err != nil {
		tb.Fatalf("testdb: open mysql: %v", err)
	}
	tb.Cleanup(func() {
		admin.Close()
		if _, err := root.Exec("DROP DATABASE " + name); err != nil {
			tb.Errorf("testdb: drop database: %v", err)
		}
		root.Close()
	})
	return &DB{Driver: "mysql", DSN: dsn, Admin: admin}
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
