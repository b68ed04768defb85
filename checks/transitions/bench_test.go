package transitions_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/checks/transitions"
)

// benchEvents is the size of the benchmark table.
const benchEvents = 1_000_000

const (
	benchQuery = "SELECT entity, state, at FROM events"
	benchSpec  = "{query: '" + benchQuery + "', initial: [pending], " +
		"allowed: {pending: [pending, paid, cancelled], paid: [shipped, cancelled], shipped: [delivered], delivered: [returned], cancelled: [refunded]}}"
)

func TestMain(m *testing.M) {
	os.Exit(kindtest.BenchMain(m, kindtest.Passes{
		"check": kindtest.SpecPass(transitions.Kind, benchSpec, deps),
		"scan":  kindtest.ScanPass(benchQuery),
	}))
}

// BenchmarkTransitions runs the check and a bare scan of its query in
// turn, each in a fresh process, over a million events in random order, and
// reports the check's CPU time as a multiple of the scan's (x-scan-cpu) and
// each one's peak RSS (see kindtest.Compare).
func BenchmarkTransitions(b *testing.B) {
	db := kindtest.CachedSQLite(b, fmt.Sprintf("transitions-%d-v3.db", benchEvents), generate)
	kindtest.Compare(b, db, "check", "scan")
}

type benchEvent struct {
	entity, state string
	at            time.Time
}

// generate writes the events table, in random order: orders ("ORD-" and
// ten digits) that go pending, paid, shipped, delivered and maybe returned,
// or are cancelled and refunded. Histories are skewed: most orders have 3
// to 5 events, a few retry payment many times (pending, pending, ...). 1% of
// orders have two events' times swapped. 10% of times are RFC 3339 text.
func generate(tx *sql.Tx) error {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	flows := [][]string{
		{"pending", "paid", "shipped", "delivered"},
		{"pending", "paid", "shipped", "delivered", "returned"},
		{"pending", "paid", "cancelled", "refunded"},
		{"pending", "cancelled"},
	}
	retries := rand.NewZipf(rng, 1.3, 1, 40)
	events := make([]benchEvent, 0, benchEvents)
	for i := 0; len(events) < benchEvents; i++ {
		entity := fmt.Sprintf("ORD-%010d", 3_000_000+7*i)
		var flow []string
		switch r := rng.IntN(100); {
		case r < 70:
			flow = flows[0]
		case r < 80:
			flow = flows[1]
		case r < 92:
			flow = flows[2]
		default:
			flow = flows[3]
		}
		if n := retries.Uint64(); n > 0 {
			extra := make([]string, 0, len(flow)+int(n))
			for range n {
				extra = append(extra, "pending")
			}
			flow = append(extra, flow...)
		}
		at := base.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
		first := len(events)
		for _, state := range flow {
			events = append(events, benchEvent{entity, state, at})
			at = at.Add(time.Duration(1+rng.IntN(3600)) * time.Second)
		}
		if rng.IntN(100) == 0 {
			j := first + rng.IntN(len(flow)-1)
			events[j].at, events[j+1].at = events[j+1].at, events[j].at
		}
	}
	events = events[:benchEvents]
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
