package testdb

import "testing"

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
