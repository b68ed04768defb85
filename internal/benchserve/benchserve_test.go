package benchserve_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the store vigil writes

	"github.com/vigilhq/vigil/internal/testdb"
)

// BenchmarkServe measures the real `vigil serve` binary in its own process
// with many checks every 10s, on a SQLite store and on a PostgreSQL store
// (one replica, and three sharing the checks): once every check has run at
// least twice it samples, over a window (60s; VIGIL_BENCH_WINDOW to
// change), vigil's average CPU (% of one core, from /proc/<pid>/stat, per
// replica), its RSS (peak VmHWM and the highest VmRSS sampled in the window,
// from /proc/<pid>/status), recorded runs per second, and how long after
// start the last check first ran. On PostgreSQL it also samples the CPU of
// the backends serving vigil (found by application_name) and of the
// server's background processes, counts in the store every (check, tick)
// due in the window that ran twice or never, and the runs per replica; the
// -kill case kills -9 one of three replicas a third into the window and
// counts the ticks missing within one lease_ttl of it and outside. The http
// checks call an httptest endpoint in this process, whose CPU is not
// counted. Pick cases with -bench, e.g. make bench-serve
// BENCH_SERVE=BenchmarkServe/http-1000.
//
// It takes minutes, so it runs only with VIGIL_BENCH_SERVE=1 (make
// bench-serve). VIGIL_BENCH_PROFILE=DIR also writes each vigil's CPU and
// heap profiles there (from a binary built with -tags vigilprofile), for
// `go tool pprof`; VIGIL_BENCH_BIN=FILE measures that vigil binary instead
// of this tree's (to compare before and after a change).
func BenchmarkServe(b *testing.B) {
	if os.Getenv("VIGIL_BENCH_SERVE") == "" {
		b.Skip("takes minutes: run it with VIGIL_BENCH_SERVE=1 (make bench-serve)")
	}
	window := time.Minute
	if v := os.Getenv("VIGIL_BENCH_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("VIGIL_BENCH_WINDOW: %v", err)
		}
		window = d
	}
	profileDir := os.Getenv("VIGIL_BENCH_PROFILE")
	bin := os.Getenv("VIGIL_BENCH_BIN")
	if bin == "" {
		bin = buildVigil(b, profileDir != "")
	}
	var single float64 // CPU of the one replica of http-10000-postgres, for the 3-replica ratio
	for _, tc := range []benchCase{
		{name: "http-1000", kind: "http", checks: 1000, store: "sqlite", replicas: 1},
		{name: "sql-1000", kind: "sql", checks: 1000, store: "sqlite", replicas: 1},
		{name: "http-10000", kind: "http", checks: 10000, store: "sqlite", replicas: 1},
		{name: "http-1000-postgres", kind: "http", checks: 1000, store: "postgres", replicas: 1},
		{name: "http-10000-postgres-1", kind: "http", checks: 10000, store: "postgres", replicas: 1},
		{name: "http-10000-postgres-3", kind: "http", checks: 10000, store: "postgres", replicas: 3},
		{name: "http-10000-postgres-3-kill", kind: "http", checks: 10000, store: "postgres", replicas: 3, kill: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				var profile string
				if profileDir != "" {
					profile = filepath.Join(profileDir, tc.name)
				}
				m := measureServe(b, bin, tc, 10*time.Second, window, profile)
				b.ReportMetric(m.cpuPercent, "cpu%")
				b.ReportMetric(mib(m.peakRSS), "peak-MiB")
				b.ReportMetric(mib(m.windowRSS), "window-MiB")
				b.ReportMetric(m.checksPerSec, "checks/s")
				b.ReportMetric(m.lastFirstRun.Seconds(), "last-first-run-s")
				b.Logf("%s: %d %s checks every 10s, %s store, %d replica(s), %s window: CPU %.1f%% of one core (per replica %s), "+
					"peak RSS %.1f MiB (VmHWM; highest VmRSS in the window %.1f MiB, of which anonymous %.1f MiB, file %.1f MiB), "+
					"%.1f checks/s, last check first ran %.1fs after the process started (%.1fs after it logged serving); "+
					"%d of %d runs passed; %.0f log bytes/s",
					tc.name, tc.checks, tc.kind, tc.store, tc.replicas, window, m.cpuPercent, percents(m.replicaCPU), mib(m.peakRSS), mib(m.windowRSS), mib(m.rssAnon), mib(m.rssFile),
					m.checksPerSec, m.lastFirstRun.Seconds(), m.lastFirstRunServing.Seconds(), m.passed, m.runs, m.logBytesPerSec)
				if m.logTail != "" {
					defer b.Logf("%s: lines vigil logged, by message: %s", tc.name, m.logTail)
				}
				if tc.store != "postgres" {
					continue
				}
				b.ReportMetric(m.storeCPU, "store-cpu%")
				b.ReportMetric(float64(m.duplicates), "duplicate-ticks")
				b.ReportMetric(float64(m.missing), "missing-ticks")
				b.Logf("%s: PostgreSQL backends serving vigil %.1f%% of one core (vigil + backends %.1f%%; postgres background processes %.1f%%, shared with other users of the server); "+
					"ticks due in the window %d: %d ran twice or more, %d never ran; runs per replica %v (max/min %.2f)",
					tc.name, m.storeCPU, m.cpuPercent+m.storeCPU, m.storeBackgroundCPU, m.ticks, m.duplicates, m.missing, m.runsPerReplica, m.spread)
				if tc.kill {
					b.Logf("%s: kill -9 of one replica at %s into the window: %d ticks missing within one lease_ttl (%s) of the kill, %d outside it",
						tc.name, m.killedAfter.Round(time.Second), m.missingInTTL, benchLeaseTTL, m.missing-m.missingInTTL)
				}
				switch {
				case tc.replicas == 1 && tc.checks == 10000:
					single = m.cpuPercent
				case tc.replicas == 3 && !tc.kill && single > 0:
					b.ReportMetric(100*median(m.replicaCPU)/single, "replica-cpu-vs-single%")
					b.Logf("%s: median per-replica CPU %.1f%% = %.0f%% of the single replica's %.1f%%",
						tc.name, median(m.replicaCPU), 100*median(m.replicaCPU)/single, single)
				}
			}
		})
	}
}

// benchCase is one configuration BenchmarkServe measures.
type benchCase struct {
	name     string
	kind     string // http or sql
	checks   int
	store    string // sqlite or postgres
	replicas int    // vigil serve processes sharing the store (postgres)
	kill     bool   // kill -9 the first replica a third into the window
}

// benchLeaseTTL is the replicas' lease_ttl in the PostgreSQL cases.
const benchLeaseTTL = 15 * time.Second

// serveFigures are one measurement of a vigil serve process.
type serveFigures struct {
	cpuPercent   float64       // CPU time over wall time in the window, in % of one core, all replicas
	replicaCPU   []float64     // the same per replica (the killed one's until it died)
	peakRSS      int64         // VmHWM at the end of the window, or windowRSS if larger (VmHWM lags), bytes
	windowRSS    int64         // highest VmRSS sampled in the window, bytes
	checksPerSec float64       // runs started in the window per second
	rssAnon      int64         // RssAnon at the end of the window, bytes
	rssFile      int64         // RssFile at the end of the window, bytes
	lastFirstRun time.Duration // from process start to the last check's first run
	// lastFirstRunServing is lastFirstRun counted from when vigil logged
	// that it serves (the scheduler starts then).
	lastFirstRunServing time.Duration
	runs, passed        int64   // runs started in the window, and how many passed
	logBytesPerSec      float64 // what vigil wrote to stderr in the window

	// PostgreSQL store only.
	storeCPU           float64 // the backends serving vigil, % of one core
	storeBackgroundCPU float64 // postgres processes that are no backend (WAL writer, checkpointer, ...)
	ticks              int     // (check, tick) pairs due in the window
	duplicates         int     // of them, run more than once
	missing            int     // of them, never run
	missingInTTL       int     // of missing, due within one lease_ttl after the kill
	runsPerReplica     map[string]int
	spread             float64       // max/min of runsPerReplica
	killedAfter        time.Duration // from the window's start to the kill

	logTail string // the last lines vigil logged, when it logged in the window
}

// measureServe starts tc.replicas vigil serve processes with tc.checks
// checks of tc.kind every interval on tc.store, waits until each check has
// run twice, measures over window (killing the first replica a third into
// it with tc.kill), then stops them with SIGTERM and reads the runs from
// the store.
func measureServe(b *testing.B, bin string, tc benchCase, interval, window time.Duration, profile string) serveFigures {
	b.Helper()
	dir := b.TempDir()
	storeLine := fmt.Sprintf("store: {driver: sqlite, dsn: %q}\n", filepath.Join(dir, "vigil.db"))
	var db *sql.DB
	var err error
	if tc.store == "postgres" {
		pg := testdb.Postgres(b)
		dsn := pg.AdminDSN + "&application_name=" + benchApp
		storeLine = fmt.Sprintf("store: {driver: postgres, dsn: %q}\nscheduler: {lease_ttl: %s}\n", dsn, benchLeaseTTL)
		db = pg.Admin
	}
	cfgPath := writeBenchConfig(b, dir, tc.kind, tc.checks, interval, storeLine)

	start := time.Now()
	var procs []*exec.Cmd
	var logs []*logTail
	var servingAt time.Time
	for i := range tc.replicas {
		cmd := exec.Command(bin, "serve", "-c", cfgPath, "--listen", "127.0.0.1:0")
		if profile != "" {
			p := fmt.Sprintf("%s-%d", profile, i)
			cmd.Env = append(os.Environ(), "VIGIL_CPUPROFILE="+p+".cpu.pprof", "VIGIL_MEMPROFILE="+p+".heap.pprof")
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		l := &logTail{}
		serving := make(chan struct{})
		go l.read(stderr, serving)
		select {
		case <-serving:
			servingAt = time.Now()
		case <-time.After(time.Minute):
			b.Fatalf("vigil serve did not start in 1m:\n%s", l)
		}
		procs, logs = append(procs, cmd), append(logs, l)
	}
	allLogs := func() string {
		var sb strings.Builder
		for i, l := range logs {
			fmt.Fprintf(&sb, "replica %d:\n%s\n", i, l)
		}
		return sb.String()
	}
	if db == nil {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "vigil.db")+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
	}
	q := func(query string) string { return rebind(tc.store, query) }
	// Every check has run at least twice before the window opens; a tenth
	// of the checks missing after ten intervals means vigil cannot keep up,
	// which is a figure too, so the window opens anyway after twenty.
	for deadline := time.Now().Add(20 * interval); ; time.Sleep(time.Second) {
		var twice int
		if err := db.QueryRow("SELECT COUNT(*) FROM (SELECT check_id FROM runs GROUP BY check_id HAVING COUNT(*) >= 2) x").Scan(&twice); err != nil {
			b.Fatalf("count runs: %v\n%s", err, allLogs())
		}
		if twice == tc.checks {
			break
		}
		if time.Now().After(deadline) {
			b.Logf("only %d of %d checks ran twice in %s; measuring anyway", twice, tc.checks, 20*interval)
			break
		}
	}

	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.Process.Pid
	}
	var backends *pgBackends
	if tc.store == "postgres" {
		backends = watchBackends(b, db)
		defer backends.stop()
	}
	cpu0 := make([]time.Duration, len(pids))
	for i, pid := range pids {
		cpu0[i] = procCPU(b, pid)
	}
	wall0 := time.Now()
	logs0 := int64(0)
	for _, l := range logs {
		logs0 += l.bytes()
	}
	cpuAtKill := time.Duration(0)
	var killedAt time.Time
	var windowRSS int64
	for end := wall0.Add(window); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if tc.kill && killedAt.IsZero() && time.Since(wall0) >= window/3 {
			cpuAtKill = procCPU(b, pids[0])
			procs[0].Process.Signal(syscall.SIGKILL)
			procs[0].Wait()
			killedAt = time.Now()
		}
		for i, pid := range pids {
			if i == 0 && !killedAt.IsZero() {
				continue
			}
			windowRSS = max(windowRSS, procMem(b, pid)["VmRSS"])
		}
	}
	wall1 := time.Now()
	elapsed := wall1.Sub(wall0)
	f := serveFigures{}
	for i, pid := range pids {
		var used time.Duration
		if i == 0 && !killedAt.IsZero() {
			used = cpuAtKill - cpu0[0]
		} else {
			used = procCPU(b, pid) - cpu0[i]
		}
		f.replicaCPU = append(f.replicaCPU, 100*used.Seconds()/elapsed.Seconds())
		f.cpuPercent += f.replicaCPU[i]
	}
	logs1 := int64(0)
	for _, l := range logs {
		logs1 += l.bytes()
	}
	last := pids[len(pids)-1]
	mem := procMem(b, last)
	windowRSS = max(windowRSS, mem["VmRSS"])
	if backends != nil {
		f.storeCPU, f.storeBackgroundCPU = backends.cpu(elapsed)
	}

	for i, p := range procs {
		if i == 0 && !killedAt.IsZero() {
			continue
		}
		if err := p.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
	}
	for i, p := range procs {
		if i == 0 && !killedAt.IsZero() {
			continue
		}
		done := make(chan error, 1)
		go func() { done <- p.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("vigil serve exited with %v after SIGTERM\n%s", err, allLogs())
			}
		case <-time.After(time.Minute):
			b.Fatalf("vigil serve did not exit within 1m of SIGTERM\n%s", allLogs())
		}
	}

	if profile != "" {
		for _, l := range logs {
			for _, line := range strings.Split(l.String(), "\n") {
				if strings.Contains(line, "memory at exit") {
					b.Log(line)
				}
			}
		}
	}
	f.peakRSS = max(mem["VmHWM"], windowRSS) // the kernel updates VmHWM lazily
	f.windowRSS = windowRSS
	f.rssAnon, f.rssFile = mem["RssAnon"], mem["RssFile"]
	f.logBytesPerSec = float64(logs1-logs0) / elapsed.Seconds()
	if logs1 > logs0 {
		var sb strings.Builder
		for i, l := range logs {
			fmt.Fprintf(&sb, "replica %d: %s; ", i, l.counts())
		}
		f.logTail = sb.String()
	}
	w0, w1 := wall0.UnixNano(), wall1.UnixNano()
	err = db.QueryRow(q("SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END), 0) FROM runs WHERE started_at >= ? AND started_at < ?"), w0, w1).Scan(&f.runs, &f.passed)
	if err != nil {
		b.Fatalf("count runs in the window: %v", err)
	}
	f.checksPerSec = float64(f.runs) / elapsed.Seconds()
	var ran int
	var lastFirst int64
	err = db.QueryRow("SELECT COUNT(*), COALESCE(MAX(first), 0) FROM (SELECT MIN(started_at) AS first FROM runs GROUP BY check_id) x").Scan(&ran, &lastFirst)
	if err != nil {
		b.Fatalf("first runs: %v", err)
	}
	if ran != tc.checks {
		b.Fatalf("%d of %d checks ever ran\n%s", ran, tc.checks, allLogs())
	}
	f.lastFirstRun = time.Unix(0, lastFirst).Sub(start)
	f.lastFirstRunServing = time.Unix(0, lastFirst).Sub(servingAt)
	if f.passed == 0 {
		b.Fatalf("no run passed in the window: the measurement is of broken checks\n%s", allLogs())
	}
	if tc.store == "postgres" {
		countTicks(b, db, &f, wall0, wall1, interval, killedAt)
	}
	return f
}

// benchApp is the application_name of vigil's PostgreSQL connections, by
// which the benchmark finds the backends serving them.
const benchApp = "vigil-bench"

// countTicks counts, for every check, the ticks due in [w0, w1 - 2
// intervals) and how many runs each got, from the store: tick claims give
// each check's tick phase, and a run belongs to the tick at or before its
// start (runs start well within an interval of their tick). It also counts
// the runs per replica (claims by holder).
func countTicks(b *testing.B, db *sql.DB, f *serveFigures, w0, w1 time.Time, interval time.Duration, killed time.Time) {
	b.Helper()
	iv := int64(interval)
	phase := map[string]int64{}
	f.runsPerReplica = map[string]int{}
	rows, err := db.Query("SELECT check_id, scheduled_at, holder FROM tick_claims WHERE scheduled_at >= $1 AND scheduled_at < $2",
		w0.Add(-3*interval).UnixNano(), w1.UnixNano())
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id, holder string
		var at int64
		if err := rows.Scan(&id, &at, &holder); err != nil {
			b.Fatal(err)
		}
		phase[id] = at % iv
		if at >= w0.UnixNano() {
			f.runsPerReplica[holder]++
		}
	}
	rows.Close()
	runs := map[string]map[int64]int{} // check -> tick -> runs
	rows, err = db.Query("SELECT check_id, started_at FROM runs WHERE started_at >= $1 AND started_at < $2",
		w0.Add(-interval).UnixNano(), w1.Add(interval).UnixNano())
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			b.Fatal(err)
		}
		p, ok := phase[id]
		if !ok {
			continue
		}
		tick := at - ((at-p)%iv+iv)%iv
		if runs[id] == nil {
			runs[id] = map[int64]int{}
		}
		runs[id][tick]++
	}
	rows.Close()
	var ids []string
	if err := func() error {
		r, err := db.Query("SELECT DISTINCT check_id FROM runs")
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return r.Err()
	}(); err != nil {
		b.Fatal(err)
	}
	from, to := w0.UnixNano(), w1.Add(-2*interval).UnixNano()
	for _, id := range ids {
		p, ok := phase[id]
		if !ok {
			n := int((to - from) / iv)
			f.ticks += n
			f.missing += n
			continue
		}
		first := from + ((p-from)%iv+iv)%iv
		for t := first; t < to; t += iv {
			f.ticks++
			switch n := runs[id][t]; {
			case n == 0:
				f.missing++
				if !killed.IsZero() && t >= killed.Add(-interval).UnixNano() && t <= killed.Add(benchLeaseTTL).UnixNano() {
					f.missingInTTL++
				}
			case n > 1:
				f.duplicates++
			}
		}
	}
	lo, hi := 0, 0
	for _, n := range f.runsPerReplica {
		if lo == 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if lo > 0 {
		f.spread = float64(hi) / float64(lo)
	}
	if !killed.IsZero() {
		f.killedAfter = killed.Sub(w0)
	}
}

// pgBackends samples the CPU time of the PostgreSQL backends serving vigil
// (found by application_name in pg_stat_activity) and of the server's
// background processes, every 250ms, so backends that exit in the window
// still count what they used until their last sample.
type pgBackends struct {
	mu       sync.Mutex
	first    map[int]time.Duration // CPU at the first sample of each backend
	last     map[int]time.Duration
	bgFirst  map[int]time.Duration
	bgLast   map[int]time.Duration
	done     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

func watchBackends(b *testing.B, db *sql.DB) *pgBackends {
	w := &pgBackends{first: map[int]time.Duration{}, last: map[int]time.Duration{}, bgFirst: map[int]time.Duration{}, bgLast: map[int]time.Duration{},
		done: make(chan struct{}), stopped: make(chan struct{})}
	w.sample(db)
	go func() {
		defer close(w.stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.sample(db)
			}
		}
	}()
	return w
}

func (w *pgBackends) sample(db *sql.DB) {
	var pids []int
	rows, err := db.Query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", benchApp)
	if err == nil {
		for rows.Next() {
			var pid int
			if rows.Scan(&pid) == nil {
				pids = append(pids, pid)
			}
		}
		rows.Close()
	}
	bg := postgresBackground()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, pid := range pids {
		if cpu, ok := cpuOf(pid); ok {
			if _, seen := w.first[pid]; !seen {
				w.first[pid] = cpu
			}
			w.last[pid] = cpu
		}
	}
	for pid, cpu := range bg {
		if _, seen := w.bgFirst[pid]; !seen {
			w.bgFirst[pid] = cpu
		}
		w.bgLast[pid] = cpu
	}
}

// cpu returns the backends' and the background processes' CPU since the
// first sample, in % of one core over elapsed. A backend first seen after
// the first sample started in the window (a new pool connection): its
// first sample is close to its start, and what it used before is not
// counted.
func (w *pgBackends) cpu(elapsed time.Duration) (backends, background float64) {
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	var sum, bg time.Duration
	for pid, c := range w.last {
		sum += c - w.first[pid]
	}
	for pid, c := range w.bgLast {
		bg += c - w.bgFirst[pid]
	}
	return 100 * sum.Seconds() / elapsed.Seconds(), 100 * bg.Seconds() / elapsed.Seconds()
}

func (w *pgBackends) stop() {
	w.stopOnce.Do(func() { close(w.done); <-w.stopped })
}

// postgresBackground returns the CPU time of each postgres process that is
// not a client backend (WAL writer, checkpointer, background writer,
// autovacuum), by pid.
func postgresBackground() map[int]time.Duration {
	out := map[int]time.Duration{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range dirs {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		title := string(raw) // "postgres: 15/main: walwriter" on Debian, "postgres: walwriter" elsewhere
		if !strings.HasPrefix(title, "postgres: ") {
			continue
		}
		for _, role := range []string{": checkpointer", ": background writer", ": walwriter", ": autovacuum", ": logical replication launcher"} {
			if strings.Contains(title, role) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
				if cpu, ok := cpuOf(pid); ok {
					out[pid] = cpu
				}
			}
		}
	}
	return out
}

func rebind(store, query string) string {
	if store != "postgres" {
		return query
	}
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percents(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f%%", x)
	}
	return strings.Join(parts, ", ")
}

// writeBenchConfig writes vigil.yaml with n checks of kind (http against an
// httptest endpoint, or sql against a SQLite datasource), each scheduled
// every interval and covered by one runbook, and returns its path.
func writeBenchConfig(b *testing.B, dir, kind string, n int, interval time.Duration, storeLine string) string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%05d", i)
	}
	var cfg strings.Builder
	cfg.WriteString(storeLine)
	switch kind {
	case "http":
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "ok")
		}))
		b.Cleanup(api.Close)
		cfg.WriteString("datasources: {}\nchecks:\n")
		for _, id := range ids {
			fmt.Fprintf(&cfg, "  - {id: %s, kind: http, url: \"%s/%s\", schedule: \"@every %s\", runbook: bench, owner: bench}\n", id, api.URL, id, interval)
		}
	case "sql":
		data := filepath.Join(dir, "data.db")
		seed, err := sql.Open("sqlite", data)
		if err != nil {
			b.Fatal(err)
		}
		_, err = seed.Exec(`CREATE TABLE policies (id TEXT PRIMARY KEY, state TEXT NOT NULL, premium INTEGER NOT NULL);
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
			INSERT INTO policies SELECT printf('P-%05d', i), 'FL', 100 + i FROM n`)
		seed.Close()
		if err != nil {
			b.Fatalf("seed the datasource: %v", err)
		}
		fmt.Fprintf(&cfg, "datasources:\n  policies: {driver: sqlite, dsn: %q}\nchecks:\n", data)
		for _, id := range ids {
			fmt.Fprintf(&cfg, "  - {id: %s, kind: sql, datasource: policies, query: \"SELECT id AS key, premium FROM policies WHERE premium < 0\", schedule: \"@every %s\", runbook: bench, owner: bench}\n", id, interval)
		}
	default:
		b.Fatalf("unknown kind %q", kind)
	}
	runbook := "---\ntitle: bench\nchecks: [" + strings.Join(ids, ", ") + "]\n---\n" +
		"## Meaning\nm\n## Impact\ni\n## Diagnosis\nd\n## Mitigation\nx\n## Escalation\ne\n"
	if err := os.MkdirAll(filepath.Join(dir, "runbooks"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "runbooks", "bench.md"), []byte(runbook), 0o644); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// buildVigil builds this tree's vigil; with profiling, with -tags
// vigilprofile, which writes CPU and heap profiles named by
// VIGIL_CPUPROFILE and VIGIL_MEMPROFILE.
func buildVigil(b *testing.B, profiling bool) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "vigil")
	args := []string{"build", "-o", bin}
	if profiling {
		args = append(args, "-tags", "vigilprofile")
	}
	build := exec.Command("go", append(args, "github.com/vigilhq/vigil/cmd/vigil")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build vigil: %v", err)
	}
	return bin
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time (user + system) pid has used.
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	cpu, ok := cpuOf(pid)
	if !ok {
		b.Fatalf("read /proc/%d/stat", pid)
	}
	return cpu
}

// cpuOf returns the CPU time (user + system) pid has used, false when it
// cannot be read (the process is gone).
func cpuOf(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	rest := string(raw[strings.LastIndexByte(string(raw), ')')+2:])
	fields := strings.Fields(rest) // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

var statusKB = regexp.MustCompile(`(?m)^(VmHWM|VmRSS|RssAnon|RssFile):\s+(\d+) kB$`)

// procMem returns pid's peak (VmHWM) and current (VmRSS, split into RssAnon
// and RssFile) resident set sizes in bytes, by name.
func procMem(b *testing.B, pid int) map[string]int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("read status: %v", err)
	}
	out := map[string]int64{}
	for _, m := range statusKB.FindAllStringSubmatch(string(raw), -1) {
		kb, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = kb << 10
	}
	if len(out) != 4 {
		b.Fatalf("status has %v, want VmHWM, VmRSS, RssAnon and RssFile:\n%s", out, raw)
	}
	return out
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// logTail counts what vigil logs and keeps the last lines for failure
// messages.
type logTail struct {
	mu    sync.Mutex
	n     int64
	lines []string
	msgs  map[string]int // lines by msg="..."
}

var logMsg = regexp.MustCompile(`level=(\w+) msg="([^"]*)"`)

// read consumes r, closing serving once vigil logs that it serves.
func (l *logTail) read(r io.Reader, serving chan<- struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	once := sync.OnceFunc(func() { close(serving) })
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		l.n += int64(len(line)) + 1
		l.lines = append(l.lines, line)
		if m := logMsg.FindStringSubmatch(line); m != nil {
			if l.msgs == nil {
				l.msgs = map[string]int{}
			}
			l.msgs[m[1]+" "+m[2]]++
		}
		if len(l.lines) > 40 {
			l.lines = l.lines[len(l.lines)-20:]
		}
		l.mu.Unlock()
		if strings.Contains(line, `msg="vigil serving"`) {
			once()
		}
	}
	io.Copy(io.Discard, r)
}

func (l *logTail) bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// counts lists how many lines vigil logged with each level and message.
func (l *logTail) counts() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var counts []string
	for m, n := range l.msgs {
		counts = append(counts, fmt.Sprintf("%d× %s", n, m))
	}
	slices.Sort(counts)
	return strings.Join(counts, ", ")
}
