package transitions_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/checks/transitions"
	"github.com/vigilhq/vigil/internal/datasource"
)

// benchEntities × 5 events is the size of the benchmark table.
const benchEntities = 200_000

const benchQuery = "SELECT entity, state, at FROM events"

// BenchmarkTransitions runs the check over a million events of a SQLite
// file; compare with BenchmarkTransitionsScanOnly, which only runs the
// query and scans the rows.
func BenchmarkTransitions(b *testing.B) {
	src := benchSource(b)
	spec := kindtest.Decode(b, transitions.Kind, "{query: '"+benchQuery+"', initial: [pending], "+
		"allowed: {pending: [pending, paid, cancelled], paid: [shipped, cancelled], shipped: [delivered], delivered: [returned], cancelled: [refunded]}}")
	c := kindtest.Build(b, spec, deps(src))
	var res checks.Result
	cpu := kindtest.CPUTime(b)
	for b.Loop() {
		var err error
		if res, err = c.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Violations), "violations")
	kindtest.ReportCPU(b, cpu)
	kindtest.ReportPeakRSS(b)
}

// BenchmarkTransitionsScanOnly runs the same query and scans every row, as
// the check does, and nothing else.
func BenchmarkTransitionsScanOnly(b *testing.B) {
	src := benchSource(b)
	cpu := kindtest.CPUTime(b)
	for b.Loop() {
		if n, err := kindtest.ScanRows(context.Background(), src, benchQuery); err != nil || n != 5*benchEntities {
			b.Fatalf("scanned %d rows: %v", n, err)
		}
	}
	kindtest.ReportCPU(b, cpu)
	kindtest.ReportPeakRSS(b)
}

// benchSource opens the benchmark database, generating it once into the
// user cache directory.
func benchSource(b *testing.B) *datasource.SQL {
	b.Helper()
	path := kindtest.CachedSQLite(b, fmt.Sprintf("transitions-%d-v2.db", 5*benchEntities), generate)
	return kindtest.Source(b, "bench", "sqlite", path)
}

type benchEvent struct {
	entity, state string
	at            time.Time
}

// generate writes the events table: orders that go pending, paid, shipped,
// delivered, returned (or are cancelled and refunded), five events each,
// stored in random order;
// 1% of orders have two events' times swapped. 10% of times are RFC 3339
// text.
func generate(tx *sql.Tx) error {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	flows := [][]string{
		{"pending", "paid", "shipped", "delivered", "returned"},
		{"pending", "pending", "paid", "cancelled", "refunded"},
	}
	events := make([]benchEvent, 0, 5*benchEntities)
	for i := range benchEntities {
		entity := fmt.Sprintf("O-%06d", i)
		flow := flows[0]
		if rng.IntN(10) == 0 {
			flow = flows[1]
		}
		at := base.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		first := len(events)
		for _, state := range flow {
			events = append(events, benchEvent{entity, state, at})
			at = at.Add(time.Duration(1+rng.IntN(3600)) * time.Second)
		}
		if rng.IntN(100) == 0 {
			j := first + rng.IntN(4)
			events[j].at, events[j+1].at = events[j+1].at, events[j].at
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	if _, err := tx.Exec("CREATE TABLE events (entity TEXT, state TEXT, at TEXT)"); err != nil {
		return err
	}
	rows, err := kindtest.NewInserter(tx, "events", 3)
	if err != nil {
		return err
	}
	for _, e := range events {
		text := e.at.Format(time.DateTime)
		if rng.IntN(10) == 0 {
			text = e.at.Format(time.RFC3339Nano)
		}
		if err := rows.Insert(e.entity, e.state, text); err != nil {
			return err
		}
	}
	return rows.Flush()
}
