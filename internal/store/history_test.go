package store

import (
	"context"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"testing/fstest"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/testdb"
)

// migrationsUpTo is the embedded migrations numbered up to last.
func migrationsUpTo(t *testing.T, last int) fs.FS {
	t.Helper()
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()[:4]); err != nil || n > last {
			continue
		}
		b, err := fs.ReadFile(sub, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// TestRecentHistoryMigration: the migration that adds check_recent fills
// it from the runs already stored, and the trigger carries on from there.
func TestRecentHistoryMigration(t *testing.T) {
	tests := []struct{ name, driver string }{{"sqlite", "sqlite"}, {"postgres", "postgres"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := filepath.Join(t.TempDir(), "vigil.db")
			if tt.driver == "postgres" {
				dsn = testdb.Postgres(t).AdminDSN
			}
			old, err := OpenWith(ctx, tt.driver, dsn, Options{migrations: migrationsUpTo(t, 7)})
			if err != nil {
				t.Fatalf("open at migration 7: %v", err)
			}
			// Runs as that schema stores them (RecordResult writes today's).
			insert := func(check string, st checks.Status, violations int) int64 {
				t.Helper()
				var id int64
				err := old.DB().QueryRowContext(ctx, old.Rebind(`INSERT INTO runs
	(check_id, kind, status, violations, sample, duration_ns, error_text, started_at, keys_truncated, metrics)
	VALUES (?, 'sql', ?, ?, '[]', 0, '', NULL, FALSE, 'null') RETURNING id`), check, string(st), violations).Scan(&id)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			var ids []int64
			for i, st := range []checks.Status{checks.Pass, checks.Fail, checks.Warn, checks.Error, checks.Fail} {
				ids = append(ids, insert("a", st, i))
			}
			insert("b", checks.Pass, 0)
			old.Close()

			s, err := Open(ctx, tt.driver, dsn)
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			defer s.Close()
			got, err := s.RecentHistory(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := []checks.Status{checks.Fail, checks.Error, checks.Warn, checks.Fail, checks.Pass}
			if a := got["a"]; a.Last.ID != ids[4] || a.Last.Violations != 4 || !reflect.DeepEqual(a.Recent, want) || len(got) != 2 {
				t.Fatalf("after the migration: a = %+v, %d checks; want last run %d, recent %v", a, len(got), ids[4], want)
			}
			if _, err := s.RecordResult(ctx, checks.Result{Check: "a", Kind: "sql", Status: checks.Pass}); err != nil {
				t.Fatal(err)
			}
			got, err = s.RecentHistory(ctx, 2)
			if err != nil {
				t.Fatal(err)
			}
			if a := got["a"].Recent; !reflect.DeepEqual(a, []checks.Status{checks.Pass, checks.Fail}) {
				t.Errorf("after one more run: recent = %v, want [pass fail]", a)
			}
		})
	}
}
