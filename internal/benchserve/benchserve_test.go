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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the store vigil writes
)

// BenchmarkServe measures the real `vigil serve` binary in its own process
// with many checks every 10s on a SQLite store: once every check has run at
// least twice it samples, over a window (60s; VIGIL_BENCH_WINDOW to change),
// vigil's average CPU (% of one core, from /proc/<pid>/stat), its RSS (peak
// VmHWM and the highest VmRSS sampled in the window, from
// /proc/<pid>/status), recorded runs per second, and how long after start the
// last check first ran. The http checks call an httptest endpoint in this
// process, whose CPU is not counted.
//
// It takes minutes, so it runs only with VIGIL_BENCH_SERVE=1 (make
// bench-serve). VIGIL_BENCH_PROFILE=DIR also writes vigil's CPU and heap
// profiles there (from a binary built with -tags vigilprofile), for
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
	for _, tc := range []struct {
		name   string
		kind   string
		checks int
	}{
		{name: "http-1000", kind: "http", checks: 1000},
		{name: "sql-1000", kind: "sql", checks: 1000},
		{name: "http-10000", kind: "http", checks: 10000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				var profile string
				if profileDir != "" {
					profile = filepath.Join(profileDir, tc.name)
				}
				m := measureServe(b, bin, tc.kind, tc.checks, 10*time.Second, window, profile)
				b.ReportMetric(m.cpuPercent, "cpu%")
				b.ReportMetric(mib(m.peakRSS), "peak-MiB")
				b.ReportMetric(mib(m.windowRSS), "window-MiB")
				b.ReportMetric(m.checksPerSec, "checks/s")
				b.ReportMetric(m.lastFirstRun.Seconds(), "last-first-run-s")
				b.Logf("%s: %d %s checks every 10s, SQLite store, %s window: CPU %.1f%% of one core, "+
					"peak RSS %.1f MiB (VmHWM; highest VmRSS in the window %.1f MiB, of which anonymous %.1f MiB, file %.1f MiB), "+
					"%.1f checks/s, last check first ran %.1fs after the process started (%.1fs after it logged serving); "+
					"%d of %d runs passed; %.0f log bytes/s",
					tc.name, tc.checks, tc.kind, window, m.cpuPercent, mib(m.peakRSS), mib(m.windowRSS), mib(m.rssAnon), mib(m.rssFile),
					m.checksPerSec, m.lastFirstRun.Seconds(), m.lastFirstRunServing.Seconds(), m.passed, m.runs, m.logBytesPerSec)
			}
		})
	}
}

// serveFigures are one measurement of a vigil serve process.
type serveFigures struct {
	cpuPercent   float64       // CPU time over wall time in the window, in % of one core
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
}

// measureServe starts vigil serve with n checks of kind every interval,
// waits until each has run twice, measures over window, then stops vigil
// with SIGTERM and reads the runs from its store.
func measureServe(b *testing.B, bin, kind string, n int, interval, window time.Duration, profile string) serveFigures {
	b.Helper()
	dir := b.TempDir()
	cfgPath := writeBenchConfig(b, dir, kind, n, interval)

	cmd := exec.Command(bin, "serve", "-c", cfgPath, "--listen", "127.0.0.1:0")
	if profile != "" {
		cmd.Env = append(os.Environ(), "VIGIL_CPUPROFILE="+profile+".cpu.pprof", "VIGIL_MEMPROFILE="+profile+".heap.pprof")
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var exited atomic.Bool
	b.Cleanup(func() {
		if !exited.Load() {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	logs := &logTail{}
	serving := make(chan struct{})
	go logs.read(stderr, serving)
	var servingAt time.Time
	select {
	case <-serving:
		servingAt = time.Now()
	case <-time.After(time.Minute):
		b.Fatalf("vigil serve did not start in 1m:\n%s", logs)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "vigil.db")+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// Every check has run at least twice before the window opens; a tenth
	// of the checks missing after ten intervals means vigil cannot keep up,
	// which is a figure too, so the window opens anyway after twenty.
	for deadline := time.Now().Add(20 * interval); ; time.Sleep(time.Second) {
		var twice int
		if err := db.QueryRow("SELECT COUNT(*) FROM (SELECT check_id FROM runs GROUP BY check_id HAVING COUNT(*) >= 2)").Scan(&twice); err != nil {
			b.Fatalf("count runs: %v\n%s", err, logs)
		}
		if twice == n {
			break
		}
		if time.Now().After(deadline) {
			b.Logf("only %d of %d checks ran twice in %s; measuring anyway", twice, n, 20*interval)
			break
		}
	}

	pid := cmd.Process.Pid
	cpu0, wall0, logs0 := procCPU(b, pid), time.Now(), logs.bytes()
	var windowRSS int64
	for end := wall0.Add(window); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		windowRSS = max(windowRSS, procMem(b, pid)["VmRSS"])
	}
	cpu1, wall1, logs1 := procCPU(b, pid), time.Now(), logs.bytes()
	mem := procMem(b, pid)
	windowRSS = max(windowRSS, mem["VmRSS"])
	elapsed := wall1.Sub(wall0)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		exited.Store(true)
		if err != nil {
			b.Fatalf("vigil serve exited with %v after SIGTERM\n%s", err, logs)
		}
	case <-time.After(time.Minute):
		b.Fatalf("vigil serve did not exit within 1m of SIGTERM\n%s", logs)
	}

	if profile != "" {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "memory at exit") {
				b.Log(line)
			}
		}
	}
	f := serveFigures{
		cpuPercent:     100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds(),
		peakRSS:        max(mem["VmHWM"], windowRSS), // the kernel updates VmHWM lazily
		windowRSS:      windowRSS,
		rssAnon:        mem["RssAnon"],
		rssFile:        mem["RssFile"],
		logBytesPerSec: float64(logs1-logs0) / elapsed.Seconds(),
	}
	w0, w1 := wall0.UnixNano(), wall1.UnixNano()
	err = db.QueryRow("SELECT COUNT(*), COALESCE(SUM(status = 'pass'), 0) FROM runs WHERE started_at >= ? AND started_at < ?", w0, w1).Scan(&f.runs, &f.passed)
	if err != nil {
		b.Fatalf("count runs in the window: %v", err)
	}
	f.checksPerSec = float64(f.runs) / elapsed.Seconds()
	var ran int
	var lastFirst int64
	err = db.QueryRow("SELECT COUNT(*), COALESCE(MAX(first), 0) FROM (SELECT MIN(started_at) AS first FROM runs GROUP BY check_id)").Scan(&ran, &lastFirst)
	if err != nil {
		b.Fatalf("first runs: %v", err)
	}
	if ran != n {
		b.Fatalf("%d of %d checks ever ran\n%s", ran, n, logs)
	}
	f.lastFirstRun = time.Unix(0, lastFirst).Sub(start)
	f.lastFirstRunServing = time.Unix(0, lastFirst).Sub(servingAt)
	if f.passed == 0 {
		b.Fatalf("no run passed in the window: the measurement is of broken checks\n%s", logs)
	}
	return f
}

// writeBenchConfig writes vigil.yaml with n checks of kind (http against an
// httptest endpoint, or sql against a SQLite datasource), each scheduled
// every interval and covered by one runbook, and returns its path.
func writeBenchConfig(b *testing.B, dir, kind string, n int, interval time.Duration) string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%05d", i)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "store: {driver: sqlite, dsn: %q}\n", filepath.Join(dir, "vigil.db"))
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
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read stat: %v", err)
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	rest := string(raw[strings.LastIndexByte(string(raw), ')')+2:])
	fields := strings.Fields(rest) // fields[0] is field 3 (state)
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse stat %q", raw)
	}
	return time.Duration(utime+stime) * clockTick
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
}

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
