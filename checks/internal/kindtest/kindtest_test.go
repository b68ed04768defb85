package kindtest_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/internal/testdb"
)

func TestSeedTimestampKeepsMicroseconds(t *testing.T) {
	want := time.Date(2024, 1, 2, 10, 0, 0, 123456000, time.UTC)
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			kindtest.Seed(t, db,
				"CREATE TABLE stamps (at {ts})",
				"INSERT INTO stamps VALUES ('2024-01-02 10:00:00.123456')",
			)
			var got time.Time
			if err := db.Admin.QueryRow("SELECT at FROM stamps").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Errorf("read back %s, want %s", got, want)
			}
		})
	}
}

func TestCachedSQLite(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	calls := 0
	fill := func(tx *sql.Tx) error {
		calls++
		if _, err := tx.Exec("CREATE TABLE n (i INTEGER)"); err != nil {
			return err
		}
		rows, err := kindtest.NewInserter(tx, "n", 1)
		if err != nil {
			return err
		}
		for i := range 1234 { // two full batches and a partial one
			if err := rows.Insert(i); err != nil {
				return err
			}
		}
		if err := rows.Insert(1, 2); err == nil {
			return errors.New("Insert with two values for one column: no error")
		}
		return rows.Flush()
	}
	path := kindtest.CachedSQLite(t, "n.db", fill)
	if want := filepath.Join(cache, "vigil-bench", "n.db"); path != want {
		t.Errorf("path %q, want %q", path, want)
	}
	if again := kindtest.CachedSQLite(t, "n.db", fill); again != path || calls != 1 {
		t.Errorf("second call: path %q (first %q), fill called %d times; want the same path and 1 call", again, path, calls)
	}
	src := kindtest.Source(t, "cached", "sqlite", path)
	var n, sum int
	if err := src.DB().QueryRow("SELECT COUNT(*), SUM(i) FROM n").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 1234 || sum != 1233*1234/2 {
		t.Errorf("table holds %d rows summing to %d, want 1234 summing to %d", n, sum, 1233*1234/2)
	}
	if n, err := kindtest.ScanRows(context.Background(), src, "SELECT i FROM n", "SELECT i FROM n WHERE i < 10"); err != nil || n != 1244 {
		t.Errorf("ScanRows read %d rows (%v), want 1234 + 10", n, err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}
