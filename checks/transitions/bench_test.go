package transitions_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/testdb"
)

// benchEntities × 5 events is the size of the benchmark table.
const benchEntities = 200_000

const benchQuery = "SELECT entity, state, at FROM events"

// BenchmarkTransitions runs the check over a million events of a SQLite
// file; compare with BenchmarkTransitionsScanOnly, which only runs the
// query and scans the rows.
func BenchmarkTransitions(b *testing.B) {
	src := benchSource(b)
	c := build(b, "{query: '"+benchQuery+"', initial: [pending], "+
		"allowed: {pending: [pending, paid, cancelled], paid: [shipped, cancelled], shipped: [delivered], delivered: [returned], cancelled: [refunded]}}", src)
	var res checks.Result
	cpu := cpuTime()
	for b.Loop() {
		var err error
		if res, err = c.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Violations), "violations")
	reportCPU(b, cpu)
	reportPeakRSS(b)
}

// BenchmarkTransitionsScanOnly runs the same query and scans every row, as
// the check does, and nothing else.
func BenchmarkTransitionsScanOnly(b *testing.B) {
	src := benchSource(b)
	cpu := cpuTime()
	for b.Loop() {
		n := 0
		err := src.ReadOnly(context.Background(), time.Minute, func(ctx context.Context, tx *sql.Tx) error {
			return checks.EachRow(ctx, tx, benchQuery, func([]string, []any) error { n++; return nil })
		})
		if err != nil || n != 5*benchEntities {
			b.Fatalf("scanned %d rows: %v", n, err)
		}
	}
	reportCPU(b, cpu)
	reportPeakRSS(b)
}

// benchSource opens the benchmark database, generating it once into the
// user cache directory.
func benchSource(b *testing.B) *datasource.SQL {
	b.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "vigil-bench", fmt.Sprintf("transitions-%d-v2.db", 5*benchEntities))
	if _, err := os.Stat(path); err != nil {
		generate(b, path)
	}
	return openSource(b, &testdb.DB{Driver: "sqlite", DSN: path})
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
func generate(b *testing.B, path string) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
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

	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := sql.Open("sqlite", "file:"+tmp)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = func() error {
		if _, err := db.Exec("CREATE TABLE events (entity TEXT, state TEXT, at TEXT)"); err != nil {
			return err
		}
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		const batch = 500
		stmt, err := tx.Prepare("INSERT INTO events VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?),", batch), ","))
		if err != nil {
			return err
		}
		args := make([]any, 0, 3*batch)
		for _, e := range events {
			text := e.at.Format(time.DateTime)
			if rng.IntN(10) == 0 {
				text = e.at.Format(time.RFC3339Nano)
			}
			args = append(args, e.entity, e.state, text)
			if len(args) == cap(args) {
				if _, err := stmt.Exec(args...); err != nil {
					return err
				}
				args = args[:0]
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		b.Fatalf("generate %s: %v", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per iteration since start, which a busy
// machine disturbs less than wall time.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// reportPeakRSS reports the process's peak resident set (VmHWM) in MiB.
func reportPeakRSS(b *testing.B) {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err == nil {
				b.ReportMetric(float64(kb)/1024, "peak-MiB")
			}
		}
	}
}
