package kindtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/memlimit"
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

// Passes are the measured passes a benchmark's test binary can run, each
// once, in a fresh process: given the path of the benchmark database, a
// pass does its work and returns a summary of what it found (a violation
// count, say), which must be the same on every run.
type Passes map[string]func(ctx context.Context, db string) (summary string, err error)

// Environment of a pass's process.
const (
	passEnv   = "VIGIL_BENCH_PASS"
	passDBEnv = "VIGIL_BENCH_DB"
	// RunsEnv sets how many times Compare runs each pass (at least 3, the
	// default).
	RunsEnv = "VIGIL_BENCH_RUNS"
	// ProfileEnv names a file each pass writes its CPU profile to (the
	// last run's is kept).
	ProfileEnv = "VIGIL_BENCH_CPUPROFILE"
)

// BenchMain is the TestMain of a package whose benchmarks use Compare: in
// a process Compare started it runs the pass it names and prints its
// summary; otherwise it runs the tests and benchmarks. It returns the exit
// code.
func BenchMain(m *testing.M, passes Passes) int {
	name := os.Getenv(passEnv)
	if name == "" {
		return m.Run()
	}
	// A pass runs as vigil's own process does, with its heap pacing.
	defer memlimit.Start()()
	pass, ok := passes[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kindtest: no benchmark pass %q\n", name)
		return 2
	}
	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kindtest: pass %s: cpu profile: %v\n", name, err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	summary, err := pass(context.Background(), os.Getenv(passDBEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kindtest: pass %s: %v\n", name, err)
		return 1
	}
	kib, err := peakRSSKiB()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kindtest: pass %s: %v\n", name, err)
		return 1
	}
	fmt.Printf("peak_kib=%d\nsummary=%s\n", kib, summary)
	return 0
}

// peakRSSKiB is this process's peak resident set size (VmHWM) in KiB. The
// kernel's rusage of a child is no substitute: it starts from the RSS of
// the parent that forked it.
func peakRSSKiB() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak rss: %w", err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("peak rss: no VmHWM in /proc/self/status")
}

// passRun is what one process of a pass used and found.
type passRun struct {
	cpu, wall time.Duration
	peakKiB   int64
	summary   string
}

// Compare runs the passes named pass and baseline over the database db in
// turn (pass, baseline, pass, ...), each run in a fresh process so that no
// state, size hint or heap carries over, RunsEnv times each (default 3).
// It reports the medians: cpu-s and scan-cpu-s (user + system CPU of each
// process), x-scan-cpu (the median of the pairs' CPU ratios, pass over
// baseline) and x-scan (the same in wall time), peak-MiB and scan-peak-MiB
// (each process's own peak resident set size, VmHWM).
// It fails the benchmark when a pass fails or its runs disagree on their
// summary, and returns pass's summary.
func Compare(b *testing.B, db, pass, baseline string) string {
	b.Helper()
	runs := 3
	if s := os.Getenv(RunsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("kindtest: %s=%q: %v", RunsEnv, s, err)
		}
		runs = max(runs, n)
	}
	var cpu, scanCPU, ratio, wallRatio, peak, scanPeak []float64
	summary := ""
	b.ResetTimer()
	for i := range runs {
		p := runPass(b, pass, db)
		s := runPass(b, baseline, db)
		if i > 0 && p.summary != summary {
			b.Fatalf("kindtest: pass %s found %q, an earlier run %q", pass, p.summary, summary)
		}
		summary = p.summary
		cpu = append(cpu, p.cpu.Seconds())
		scanCPU = append(scanCPU, s.cpu.Seconds())
		ratio = append(ratio, p.cpu.Seconds()/s.cpu.Seconds())
		wallRatio = append(wallRatio, p.wall.Seconds()/s.wall.Seconds())
		peak = append(peak, float64(p.peakKiB)/1024)
		scanPeak = append(scanPeak, float64(s.peakKiB)/1024)
	}
	b.StopTimer()
	b.ReportMetric(median(cpu), "cpu-s")
	b.ReportMetric(median(scanCPU), "scan-cpu-s")
	b.ReportMetric(median(ratio), "x-scan-cpu")
	b.ReportMetric(median(wallRatio), "x-scan")
	b.ReportMetric(median(peak), "peak-MiB")
	b.ReportMetric(median(scanPeak), "scan-peak-MiB")
	b.Logf("%s over %s, %d runs each: %s; CPU ratios %.3f", pass, baseline, runs, summary, ratio)
	return summary
}

// runPass runs one pass in a fresh process of this test binary.
func runPass(b *testing.B, pass, db string) passRun {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), passEnv+"="+pass, passDBEnv+"="+db)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("kindtest: pass %s: %v: %s", pass, err, stderr.String())
	}
	var peak int64
	var summary string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if s, ok := strings.CutPrefix(line, "peak_kib="); ok {
			peak, err = strconv.ParseInt(s, 10, 64)
		} else if s, ok := strings.CutPrefix(line, "summary="); ok {
			summary = s
		}
	}
	if peak == 0 || summary == "" || err != nil {
		b.Fatalf("kindtest: pass %s printed %q", pass, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatalf("kindtest: pass %s: no rusage on this system", pass)
	}
	return passRun{
		cpu:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		wall:    wall,
		peakKiB: peak,
		summary: summary,
	}
}

// median returns the middle value (the mean of the two middle ones for an
// even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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

// Summary describes a result in one line for Compare: its status, its
// violation count and a digest of its keys and sample, so two runs that
// found different things never print the same summary.
func Summary(res checks.Result) string {
	h := sha256.New()
	for _, k := range res.Keys {
		fmt.Fprintf(h, "%q\n", k)
	}
	for _, v := range res.Sample {
		fmt.Fprintf(h, "%q %q\n", v.Key, v.Detail)
	}
	return fmt.Sprintf("%s, %d violations, digest %x", res.Status, res.Violations, h.Sum(nil)[:8])
}

// ScanPass is a pass that opens the SQLite database it is given, reads
// every row of queries in one read-only transaction, doing nothing else (the
// baseline a check's pass is compared with), and reports the row count.
func ScanPass(queries ...string) func(ctx context.Context, db string) (string, error) {
	return func(ctx context.Context, db string) (string, error) {
		src, err := datasource.OpenSQL("bench", "sqlite", db)
		if err != nil {
			return "", err
		}
		defer src.Close()
		n, err := ScanRows(ctx, src, queries...)
		return strconv.Itoa(n) + " rows", err
	}
}

// CheckPass is a pass that opens the SQLite database it is given, builds a
// check over it with build, runs it once and reports its Summary.
func CheckPass(build func(src checks.SQLSource) (checks.Check, error)) func(ctx context.Context, db string) (string, error) {
	return func(ctx context.Context, db string) (string, error) {
		src, err := datasource.OpenSQL("bench", "sqlite", db)
		if err != nil {
			return "", err
		}
		defer src.Close()
		c, err := build(src)
		if err != nil {
			return "", err
		}
		res, err := c.Run(ctx)
		if err != nil {
			return "", err
		}
		return Summary(res), nil
	}
}

// SpecPass is a CheckPass for a check of kind whose kind-specific YAML is
// spec, built with deps(src).
func SpecPass(kind checks.Kind, spec string, deps func(checks.SQLSource) checks.Deps) func(ctx context.Context, db string) (string, error) {
	return CheckPass(func(src checks.SQLSource) (checks.Check, error) {
		s := kind.NewSpec()
		if err := DecodeYAML(s, spec); err != nil {
			return nil, err
		}
		if ps := s.Validate(checks.SpecEnv{}); len(ps) > 0 {
			return nil, fmt.Errorf("validate: %+v", ps)
		}
		return s.Build(deps(src))
	})
}
