package kindtest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// ScanRows runs queries in one read-only transaction of src and reads every
// row, doing nothing else: the floor a check's own time is compared with. It
// returns how many rows the queries returned together. Its statement timeout
// is ten minutes.
func ScanRows(ctx context.Context, src checks.SQLSource, queries ...string) (int, error) {
	rows := 0
	err := src.ReadOnly(ctx, 10*time.Minute, func(ctx context.Context, tx *checks.Tx) error {
		for _, q := range queries {
			if err := checks.EachRow(ctx, tx, q, func([]string, []any) error { rows++; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	return rows, err
}

// CPUTime is the user and system CPU time this process has used so far: on
// a busy machine it compares two measurements more fairly than wall time.
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("kindtest: getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the CPU time per iteration since start (a CPUTime taken
// before the loop) as cpu-ms/op.
func ReportCPU(b *testing.B, start time.Duration) {
	b.Helper()
	b.ReportMetric(float64(CPUTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// PeakRSSKiB is this process's peak resident set size (VmHWM) in KiB. It
// reads /proc/self/status, so it fails where there is no /proc.
func PeakRSSKiB() (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0, fmt.Errorf("peak rss: %w", err)
			}
			return kib, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	return 0, fmt.Errorf("peak rss: no VmHWM in /proc/self/status")
}

// ReportPeakRSS reports this process's peak resident set size as
// peak-MiB. Where it cannot be read it reports nothing and logs why.
func ReportPeakRSS(b *testing.B) {
	b.Helper()
	kib, err := PeakRSSKiB()
	if err != nil {
		b.Logf("kindtest: peak-MiB not reported: %v", err)
		return
	}
	b.ReportMetric(float64(kib)/1024, "peak-MiB")
}

// CachedSQLite returns the path of the SQLite file name in the user cache
// directory (vigil-bench/name), creating it first with fill when it is not
// there. fill runs in one transaction on a fresh file, which takes its name
// only once fill has committed, so an interrupted run leaves nothing behind
// that a later run would trust. Delete the file to generate it again.
func CachedSQLite(tb testing.TB, name string, fill func(tx *sql.Tx) error) string {
	tb.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "vigil-bench", name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := generate(path, fill); err != nil {
		tb.Fatalf("kindtest: generate %s: %v", path, err)
	}
	return path
}

// generate fills a temporary file beside path, then renames it to path.
func generate(path string, fill func(tx *sql.Tx) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	defer os.Remove(tmp)
	db, err := sql.Open("sqlite", "file:"+tmp+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit there is nothing to undo
	if err := fill(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// insertBatch is how many rows one INSERT of an Inserter carries.
const insertBatch = 500

// Inserter adds rows to a table in multi-row INSERTs, the fast way to fill
// a benchmark table. Call Flush after the last row.
type Inserter struct {
	tx      *sql.Tx
	table   string
	columns int
	batch   *sql.Stmt // inserts insertBatch rows
	args    []any
}

// NewInserter prepares to insert rows of columns values into table.
func NewInserter(tx *sql.Tx, table string, columns int) (*Inserter, error) {
	stmt, err := tx.Prepare(insertSQL(table, columns, insertBatch))
	if err != nil {
		return nil, fmt.Errorf("insert into %s: prepare: %w", table, err)
	}
	return &Inserter{tx: tx, table: table, columns: columns, batch: stmt, args: make([]any, 0, columns*insertBatch)}, nil
}

// Insert adds one row, writing a batch when one is full.
func (in *Inserter) Insert(values ...any) error {
	if len(values) != in.columns {
		return fmt.Errorf("insert into %s: %d values, want %d", in.table, len(values), in.columns)
	}
	in.args = append(in.args, values...)
	if len(in.args) < cap(in.args) {
		return nil
	}
	_, err := in.batch.Exec(in.args...)
	in.args = in.args[:0]
	if err != nil {
		return fmt.Errorf("insert into %s: %w", in.table, err)
	}
	return nil
}

// Flush writes the rows of the last, partly filled batch.
func (in *Inserter) Flush() error {
	if len(in.args) == 0 {
		return nil
	}
	_, err := in.tx.Exec(insertSQL(in.table, in.columns, len(in.args)/in.columns), in.args...)
	in.args = in.args[:0]
	if err != nil {
		return fmt.Errorf("insert into %s: %w", in.table, err)
	}
	return nil
}

// insertSQL is an INSERT of rows rows of columns placeholders each.
func insertSQL(table string, columns, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", columns), ", ") + ")"
	return "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}
