package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/store/storetest"
	"github.com/vigilhq/vigil/internal/testdb"
)

func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	db := testdb.Postgres(t)
	s, err := store.Open(context.Background(), "postgres", db.AdminDSN)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before testdb drops the schema
	return s
}

func TestSQLite(t *testing.T) { storetest.Run(t, openSQLite) }

func TestPostgres(t *testing.T) { storetest.Run(t, openPostgres) }

// TestInMemorySQLite: ":memory:" works (one connection serves reads and
// writes, since each connection would otherwise have its own database).
func TestInMemorySQLite(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite", ":memory:")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := s.RecordResult(ctx, checks.Result{Check: "mem", Kind: "sql", Status: checks.Fail, Keys: []string{fmt.Sprint(w, i)}}); err != nil {
					t.Errorf("RecordResult: %v", err)
				}
				if _, err := s.LatestResult(ctx, "mem"); err != nil {
					t.Errorf("LatestResult: %v", err)
				}
			}
		})
	}
	wg.Wait()
	runs, err := s.Results(ctx, "mem", 0, 100)
	if err != nil {
		t.Fatalf("Results: %v", err)
	}
	if len(runs) != 20 {
		t.Fatalf("Results returned %d runs, want 20", len(runs))
	}
	changes, err := s.KeyChanges(ctx, runs[0].ID)
	if err != nil {
		t.Fatalf("KeyChanges: %v", err)
	}
	if len(changes.New) != 1 || len(changes.Fixed) != 1 {
		t.Errorf("KeyChanges = %+v, want one new and one fixed key", changes)
	}
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name, driver, dsn string
	}{
		{name: "unknown driver", driver: "mysql", dsn: "root@tcp(127.0.0.1:3306)/test"},
		{name: "empty sqlite dsn", driver: "sqlite", dsn: ""},
		{name: "sqlite file in a missing directory", driver: "sqlite", dsn: filepath.Join(t.TempDir(), "missing", "vigil.db")},
		{name: "unreachable postgres", driver: "postgres", dsn: "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), tt.driver, tt.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q, %q) = nil error", tt.driver, tt.dsn)
			}
			if msg := err.Error(); strings.Contains(msg, "hunter2") {
				t.Errorf("error leaks the password: %s", msg)
			}
		})
	}
}

// TestReopenSQLite: data and the applied migrations survive a restart.
func TestReopenSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := store.Open(ctx, "sqlite", path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	id, err := s.RecordResult(ctx, checks.Result{Check: "a", Kind: "sql", Status: checks.Fail, Keys: []string{"k"}})
	if err != nil {
		t.Fatalf("RecordResult: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = store.Open(ctx, "sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.LatestResult(ctx, "a")
	if err != nil || got.ID != id {
		t.Fatalf("LatestResult after reopen = %d, %v; want run %d", got.ID, err, id)
	}
	next, err := s.RecordResult(ctx, checks.Result{Check: "a", Kind: "sql", Status: checks.Pass})
	if err != nil || next <= id {
		t.Fatalf("RecordResult after reopen = %d, %v; want an id above %d", next, err, id)
	}
}

// BenchmarkRecordResult measures one stored run on SQLite by number of
// violation keys.
func BenchmarkRecordResult(b *testing.B) {
	for _, n := range []int{0, 100, checks.MaxKeys} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s, err := store.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatalf("Open: %v", err)
			}
			defer s.Close()
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("P-%07d/EN-FLOOD-01", i)
			}
			sample := make([]checks.Violation, 0, checks.SampleSize)
			for i := 0; i < n && i < checks.SampleSize; i++ {
				sample = append(sample, checks.Violation{Key: keys[i], Detail: "needs 1 copy, has 0"})
			}
			r := checks.Result{Check: "missing-endorsements", Kind: "endorsements", Status: checks.Fail, Violations: n,
				Sample: sample, Keys: keys, Duration: time.Second, StartedAt: time.Now(), Metrics: map[string]float64{"policies": 1e5}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.RecordResult(context.Background(), r); err != nil {
					b.Fatalf("RecordResult: %v", err)
				}
			}
		})
	}
}

// TestReplicas: PostgreSQL stores are shared by replicas (which claim each
// tick); a SQLite store belongs to one process.
func TestReplicas(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(t *testing.T) *store.Store
		want bool
	}{
		{name: "sqlite", open: openSQLite, want: false},
		{name: "postgres", open: openPostgres, want: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.open(t).Replicas(); got != tt.want {
				t.Errorf("Replicas() = %v, want %v", got, tt.want)
			}
		})
	}
}
