package duplicates_test

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

// benchRows is the size of the benchmark table.
const benchRows = 1_000_000

const benchQuery = "SELECT id, policy_id, doc_type, at FROM documents"

// BenchmarkDuplicates runs the check over a million rows of a SQLite file;
// compare with BenchmarkDuplicatesScanOnly, which only runs the query and
// scans the rows.
func BenchmarkDuplicates(b *testing.B) {
	src := benchSource(b)
	c := build(b, "{query: '"+benchQuery+"', key_columns: [policy_id, doc_type], window: 2s}", src)
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

// BenchmarkDuplicatesScanOnly runs the same query and scans every row, as
// the check does, and nothing else.
func BenchmarkDuplicatesScanOnly(b *testing.B) {
	src := benchSource(b)
	cpu := cpuTime()
	for b.Loop() {
		n := 0
		err := src.ReadOnly(context.Background(), time.Minute, func(ctx context.Context, tx *sql.Tx) error {
			return checks.EachRow(ctx, tx, benchQuery, func([]string, []any) error { n++; return nil })
		})
		if err != nil || n != benchRows {
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
	path := filepath.Join(dir, "vigil-bench", fmt.Sprintf("duplicates-%d-v1.db", benchRows))
	if _, err := os.Stat(path); err != nil {
		generate(b, path)
	}
	return openSource(b, &testdb.DB{Driver: "sqlite", DSN: path})
}

// generate writes the documents table: about 300,000 policies with up to
// three document types, written over a month, with 1% of rows written again
// within 3s of another row of the same key; 10% of times are RFC 3339 text.
func generate(b *testing.B, path string) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := sql.Open("sqlite", "file:"+tmp)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"declaration", "endorsement", "invoice"}
	err = func() error {
		if _, err := db.Exec("CREATE TABLE documents (id INTEGER PRIMARY KEY, policy_id TEXT, doc_type TEXT, at TEXT)"); err != nil {
			return err
		}
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		const batch = 500
		stmt, err := tx.Prepare("INSERT INTO documents VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", batch), ","))
		if err != nil {
			return err
		}
		args := make([]any, 0, 4*batch)
		var policy, doc string
		var at time.Time
		for i := range benchRows {
			if i == 0 || rng.IntN(100) != 0 {
				policy = "P-" + strconv.Itoa(rng.IntN(300_000))
				doc = types[rng.IntN(len(types))]
				at = base.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
			} else {
				at = at.Add(time.Duration(rng.Int64N(int64(3 * time.Second))))
			}
			text := at.Format(time.DateTime)
			if rng.IntN(10) == 0 {
				text = at.Format(time.RFC3339Nano)
			}
			args = append(args, i+1, policy, doc, text)
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
