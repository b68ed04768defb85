package store

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigilhq/vigil/internal/testdb"
)

func files(names ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, n := range names {
		fsys[n] = &fstest.MapFile{Data: []byte("-- " + n)}
	}
	return fsys
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		sqlite  []string // files chosen for sqlite, in order
		pg      []string // files chosen for postgres, in order
		wantErr string
	}{
		{name: "embedded set", fsys: nil,
			sqlite: embeddedFor(t, "sqlite"),
			pg:     embeddedFor(t, "postgres")},
		{name: "portable and dialect files, ordered by number with gaps",
			fsys:   files("0010_later.sql", "0001_init.sqlite.sql", "0001_init.postgres.sql", "0004_x.sql"),
			sqlite: []string{"0001_init.sqlite.sql", "0004_x.sql", "0010_later.sql"},
			pg:     []string{"0001_init.postgres.sql", "0004_x.sql", "0010_later.sql"}},
		{name: "empty", fsys: files(), sqlite: nil, pg: nil},
		{name: "missing dialect file", fsys: files("0001_init.sqlite.sql"), wantErr: "migration 0001_init: missing 0001_init.postgres.sql"},
		{name: "portable and dialect file for one number", fsys: files("0001_init.sql", "0001_init.sqlite.sql", "0001_init.postgres.sql"), wantErr: "both a portable and a dialect-specific file"},
		{name: "duplicate number", fsys: files("0001_init.sql", "0001_other.sql"), wantErr: "version 1 is also used by"},
		{name: "unknown dialect", fsys: files("0001_init.mysql.sql"), wantErr: "migration 0001_init.mysql.sql: want NNNN_name.sql"},
		{name: "number not four digits", fsys: files("1_init.sql"), wantErr: "migration 1_init.sql: want"},
		{name: "no name", fsys: files("0001.sql"), wantErr: "migration 0001.sql: want"},
		{name: "version zero", fsys: files("0000_init.sql"), wantErr: "migration 0000_init.sql: want"},
		{name: "not sql", fsys: files("0001_init.sql", "README.md"), wantErr: "migration README.md: want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := tt.fsys
			if fsys == nil {
				fsys = embeddedMigrations(t)
			}
			for _, c := range []struct {
				dialect string
				want    []string
			}{{"sqlite", tt.sqlite}, {"postgres", tt.pg}} {
				ms, err := loadMigrations(fsys, c.dialect)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("loadMigrations(%s) error = %v, want one containing %q", c.dialect, err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("loadMigrations(%s): %v", c.dialect, err)
				}
				var got []string
				for _, m := range ms {
					got = append(got, m.name)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("loadMigrations(%s) = %v, want %v", c.dialect, got, c.want)
				}
			}
		})
	}
}

func embeddedMigrations(t *testing.T) fstest.MapFS {
	t.Helper()
	entries, err := embedded.ReadDir("migrations")
	if err != nil {
		t.Fatalf("read embedded migrations: %v", err)
	}
	fsys := fstest.MapFS{}
	for _, e := range entries {
		b, err := embedded.ReadFile("migrations/" + e.Name())
		if err != nil {
			t.Fatalf("read %s: %v", e.Name(), err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// embeddedFor lists the embedded migration files that apply to dialect
// (portable ones and its own), in version order. The embedded set grows
// with each feature, so tests derive it rather than list it.
func embeddedFor(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := embedded.ReadDir("migrations")
	if err != nil {
		t.Fatalf("read embedded migrations: %v", err)
	}
	var out []string
	for _, e := range entries {
		stem := strings.TrimSuffix(e.Name(), ".sql")
		other := false
		for _, dn := range dialectNames {
			other = other || (dn != dialect && strings.HasSuffix(stem, "."+dn))
		}
		if !other {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	if len(out) < 2 || out[0] != "0001_init."+dialect+".sql" || out[1] != "0002_audit."+dialect+".sql" {
		t.Fatalf("embedded migrations for %s = %v, want 0001_init and 0002_audit first", dialect, out)
	}
	return out
}

type applied struct {
	version   int
	name      string
	appliedAt int64
}

func schemaMigrations(t *testing.T, db *sql.DB) []applied {
	t.Helper()
	rows, err := db.Query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.version, &a.name, &a.appliedAt); err != nil {
			t.Fatalf("scan schema_migrations: %v", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return out
}

func tableExists(t *testing.T, db *testdb.DB, table string) bool {
	t.Helper()
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
	if db.Driver == "postgres" {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
	}
	var n int
	if err := db.Admin.QueryRow(q, table).Scan(&n); err != nil {
		t.Fatalf("look for table %s: %v", table, err)
	}
	return n > 0
}

var storeDrivers = []string{"sqlite", "postgres"}

func TestMigrationsRecordedOnce(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.Open(t, driver)
			first := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			s, err := OpenWith(ctx, driver, db.AdminDSN, Options{Now: func() time.Time { return first }})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			var want []applied
			for _, name := range embeddedFor(t, driver) {
				version, err := strconv.Atoi(name[:4])
				if err != nil {
					t.Fatalf("migration %s: %v", name, err)
				}
				want = append(want, applied{version, name, first.UnixNano()})
			}
			if got := schemaMigrations(t, s.DB()); !slices.Equal(got, want) {
				t.Fatalf("schema_migrations = %v, want %v", got, want)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for _, table := range []string{"runs", "run_keys", "audit_log", "check_state", "incidents", "silences", "outbox", "run_rollups"} {
				if !tableExists(t, db, table) {
					t.Errorf("table %s missing after migration", table)
				}
			}

			// Reopening applies nothing again (applied_at would move).
			later := first.Add(time.Hour)
			s, err = OpenWith(ctx, driver, db.AdminDSN, Options{Now: func() time.Time { return later }})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			if got := schemaMigrations(t, s.DB()); !slices.Equal(got, want) {
				t.Fatalf("after reopen schema_migrations = %v, want %v", got, want)
			}
		})
	}
}

func TestFailingMigrationLeavesNoPartialState(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.Open(t, driver)
			good := fstest.MapFS{"0001_good.sql": {Data: []byte("CREATE TABLE good (x INTEGER NOT NULL);")}}
			broken := fstest.MapFS{
				"0001_good.sql":   good["0001_good.sql"],
				"0002_broken.sql": {Data: []byte("CREATE TABLE partial (x INTEGER);\nINSERT INTO good (x) VALUES (1);\nCREATE TABLE broken (;")},
			}
			s, err := OpenWith(ctx, driver, db.AdminDSN, Options{migrations: broken})
			if err == nil {
				s.Close()
				t.Fatalf("Open with a broken migration = nil error")
			}
			if !strings.Contains(err.Error(), "apply 0002_broken.sql") {
				t.Errorf("error = %v, want it to name 0002_broken.sql", err)
			}
			if got, want := schemaMigrations(t, db.Admin), []applied{{1, "0001_good.sql", 0}}; len(got) != 1 || got[0].version != want[0].version || got[0].name != want[0].name {
				t.Errorf("schema_migrations = %v, want only %v", got, want)
			}
			if tableExists(t, db, "partial") {
				t.Errorf("table created by the failed migration survived")
			}
			var n int
			if err := db.Admin.QueryRow("SELECT COUNT(*) FROM good").Scan(&n); err != nil || n != 0 {
				t.Errorf("rows inserted by the failed migration: %d (err %v), want 0", n, err)
			}

			fixed := fstest.MapFS{
				"0001_good.sql":   good["0001_good.sql"],
				"0002_broken.sql": {Data: []byte("CREATE TABLE partial (x INTEGER);\nINSERT INTO good (x) VALUES (1);")},
			}
			s, err = OpenWith(ctx, driver, db.AdminDSN, Options{migrations: fixed})
			if err != nil {
				t.Fatalf("Open after fixing the migration: %v", err)
			}
			defer s.Close()
			if got := schemaMigrations(t, s.DB()); len(got) != 2 {
				t.Errorf("schema_migrations = %v, want versions 1 and 2", got)
			}
			if err := db.Admin.QueryRow("SELECT COUNT(*) FROM good").Scan(&n); err != nil || n != 1 {
				t.Errorf("rows in good = %d (err %v), want 1", n, err)
			}
		})
	}
}

func TestNewerRecordedVersionIsTolerated(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.Open(t, driver)
			s, err := Open(ctx, driver, db.AdminDSN)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if _, err := s.DB().Exec(s.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), 9999, "9999_from_a_newer_binary.sql", 1); err != nil {
				t.Fatalf("insert: %v", err)
			}
			s.Close()
			s, err = Open(ctx, driver, db.AdminDSN)
			if err != nil {
				t.Fatalf("reopen with a newer version recorded: %v", err)
			}
			s.Close()
		})
	}
}

// TestReplicasMigrateTogether: replicas starting at once on one PostgreSQL
// schema apply each migration exactly once and all start.
func TestReplicasMigrateTogether(t *testing.T) {
	db := testdb.Postgres(t)
	ctx := context.Background()
	const replicas = 4
	stores := make([]*Store, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := Open(ctx, "postgres", db.AdminDSN)
			if err != nil {
				t.Errorf("replica %d: Open: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			s.Close()
		}
	}
	if got, want := schemaMigrations(t, db.Admin), embeddedFor(t, "postgres"); len(got) != len(want) {
		t.Errorf("schema_migrations = %v, want %d rows", got, len(want))
	}
}

func TestSQLiteConnections(t *testing.T) {
	db := testdb.SQLite(t)
	s, err := Open(context.Background(), "sqlite", db.AdminDSN)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	tests := []struct {
		name   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{name: "writer journal", db: s.DB(), pragma: "journal_mode", want: "wal"},
		{name: "writer foreign keys", db: s.DB(), pragma: "foreign_keys", want: "1"},
		{name: "writer busy timeout", db: s.DB(), pragma: "busy_timeout", want: "5000"},
		{name: "reader busy timeout", db: s.ReadDB(), pragma: "busy_timeout", want: "5000"},
		{name: "reader query only", db: s.ReadDB(), pragma: "query_only", want: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := tt.db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
	if got := s.DB().Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
	if _, err := s.ReadDB().Exec("INSERT INTO audit_log (at, actor, action, target, detail, remote) VALUES (1, 'a', 'b', '', '', '')"); err == nil {
		t.Errorf("a write through ReadDB succeeded, want query_only to refuse it")
	}
	// Foreign keys are enforced: a key for a missing run is refused.
	if _, err := s.DB().Exec("INSERT INTO run_keys (run_id, violation_key) VALUES (424242, 'k')"); err == nil {
		t.Errorf("inserting a key for a missing run succeeded, want a foreign key error")
	}
}
