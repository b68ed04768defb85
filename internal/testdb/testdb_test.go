package testdb

import (
	"database/sql"
	"testing"
)

func TestOpenEachDriver(t *testing.T) {
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			db := Open(t, driver)
			db.Exec(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))", "INSERT INTO t (id, name) VALUES (1, 'a')")
			var n int
			if err := db.Admin.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
				t.Fatalf("count = %d, %v; want 1", n, err)
			}
		})
	}
}

// TestDSNMayOnlyRead: on the servers, DSN's role reads the tables the
// administrator creates, even after the role was made (PostgreSQL's ALTER
// DEFAULT PRIVILEGES; MariaDB's database-level GRANT SELECT), and the
// server refuses its writes for lack of privilege (SQLSTATE 42501, MariaDB
// error 1142), outside any read-only transaction. The role is gone after
// the test.
func TestDSNMayOnlyRead(t *testing.T) {
	for _, tt := range []struct{ driver, sqlDriver string }{{"postgres", "pgx"}, {"mysql", "mysql"}} {
		t.Run(tt.driver, func(t *testing.T) {
			var role string
			var root *sql.DB
			t.Run("inside", func(t *testing.T) {
				db := Open(t, tt.driver)
				role = db.Role
				db.Exec(t, "CREATE TABLE t (id INTEGER)", "INSERT INTO t (id) VALUES (1)")
				ro, err := sql.Open(tt.sqlDriver, db.DSN)
				if err != nil {
					t.Fatal(err)
				}
				defer ro.Close()
				var n int
				if err := ro.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
					t.Errorf("read as the role: %d, %v; want 1", n, err)
				}
				for _, w := range []string{"INSERT INTO t (id) VALUES (2)", "DELETE FROM t", "CREATE TABLE u (id INTEGER)", "DROP TABLE t"} {
					if _, err := ro.Exec(w); err == nil {
						t.Errorf("%s as the role: no error, want permission denied", w)
					}
				}
			})
			if tt.driver == "postgres" {
				root = connect(t, "pgx", PostgresAdmin, "PostgreSQL")
				var left int
				if err := root.QueryRow("SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&left); err != nil || left != 0 {
					t.Errorf("role %s after the test: %d, %v; want dropped", role, left, err)
				}
			} else {
				root = connect(t, "mysql", MySQLAdmin, "MariaDB")
				var left int
				if err := root.QueryRow("SELECT count(*) FROM mysql.user WHERE user = ?", role).Scan(&left); err != nil || left != 0 {
					t.Errorf("user %s after the test: %d, %v; want dropped", role, left, err)
				}
			}
			root.Close()
		})
	}
}
