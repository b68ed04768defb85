package web

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// The dashboard benchmarks (issue 7) serve the overview and a check page
// over 1,000 checks and 1,000,000 stored runs on SQLite, with no response
// cache, and report the server time of each request as p50 and p99 (ms):
//
//	go test ./internal/web -run '^$' -bench 'Overview|CheckPage' -benchtime 300x
//
// Targets: a full page p50 <= 20 ms and p99 <= 50 ms, an htmx partial
// p50 <= 5 ms; issue 14: the check page with its 30-day chart and timeline
// p50 <= 20 ms, p99 <= 50 ms, the overview p50 <= 10 ms. The store is generated once (a few seconds) into
// $VIGIL_BENCH_DIR (default: the OS temp dir) and reused by later runs.
const (
	benchChecks = 1000
	benchRuns   = 1_000_000
	// benchVersion names the generated file; bump it when the data changes.
	benchVersion = "v5"
)

// benchNow is the benchmarks' clock: just after the newest run.
var benchNow = time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)

// benchCheckID is the id of check n.
func benchCheckID(n int) string { return fmt.Sprintf("check-%04d", n) }

// benchConfig configures the benchmark's checks: owners and tags in ten
// teams, so the filters have something to do; every 20th is an http check,
// whose chart has a third strip (its latency).
func benchConfig() *config.Config {
	cfg := &config.Config{}
	for n := range benchChecks {
		team := fmt.Sprintf("team-%d", n%10)
		kind := "sql"
		if n%20 == 0 {
			kind = "http"
		}
		cfg.Checks = append(cfg.Checks, config.Check{
			ID: benchCheckID(n), Kind: kind, Owner: team, Tags: []string{"team:" + team, "tier:" + fmt.Sprint(n%3)},
			Schedule: "@every 5m", Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1,
		})
	}
	return cfg
}

// benchStorePath returns the generated store's file, making it first when
// it is missing.
func benchStorePath(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("VIGIL_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("vigil-web-bench-%dx%d-%s.db", benchChecks, benchRuns, benchVersion))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	tmp := path + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := generateBenchStore(tmp); err != nil {
		os.Remove(tmp)
		b.Fatalf("generate the benchmark store: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %s", path, time.Since(start).Round(time.Millisecond))
	return path
}

// generateBenchStore fills a fresh store at path in one transaction of
// INSERT ... SELECT over a generated series. Checks are run in turn (run i
// is check i%1000, every 5 minutes, its measure its duration in ms); every
// 20th check has failed its last 5 runs (three violations each, with keys
// and an open incident that was reminded, acknowledged twice and
// silenced), every 50th (offset 1) errors its last run, and 2% of the
// other runs warn. Before the runs, 30 days of hourly rollups (12 runs an
// hour, as retention leaves them) complete a month of history.
func generateBenchStore(path string) error {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", path)
	if err != nil {
		return err
	}
	defer st.Close()
	perCheck := benchRuns / benchChecks
	first := benchNow.Add(-time.Duration(perCheck) * 5 * time.Minute).UnixNano()
	step := (5 * time.Minute).Nanoseconds()
	stmts := []string{
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %[1]d - 1),
s(i, status) AS (SELECT i, CASE
	WHEN (i %% %[2]d) %% 20 = 0 AND i / %[2]d >= %[5]d - 5 THEN 'fail'
	WHEN (i %% %[2]d) %% 50 = 1 AND i / %[2]d = %[5]d - 1 THEN 'error'
	WHEN abs(random()) %% 100 < 2 THEN 'warn'
	ELSE 'pass' END FROM n)
INSERT INTO runs (check_id, kind, status, violations, sample, duration_ns, error_text, started_at, keys_truncated, metrics, measure)
SELECT printf('check-%%04d', i %% %[2]d), 'sql', status,
	CASE status WHEN 'fail' THEN 3 WHEN 'warn' THEN 1 ELSE 0 END,
	CASE status
		WHEN 'fail' THEN '[{"key":"row-' || (i / %[2]d) || '","detail":"amount=-1 status=NULL"},{"key":"row-b","detail":"amount=0"},{"key":"row-c","detail":"dup of row-b"}]'
		WHEN 'warn' THEN '[{"key":"row-w","detail":"late by 12m"}]'
		ELSE '[]' END,
	5000000 + abs(random() %% 200000000), CASE status WHEN 'error' THEN 'dial tcp 10.0.0.9:5432: connection refused' ELSE '' END,
	%[3]d + (i / %[2]d) * %[4]d + (i %% %[2]d) * 1000000, FALSE, '{}', 5 + abs(random() %% 200)
FROM s ORDER BY i`, benchRuns, benchChecks, first, step, perCheck),
		fmt.Sprintf(`WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < %[1]d - 1),
c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < %[2]d - 1)
INSERT INTO run_rollups (check_id, hour, pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns, min_violations, max_measure)
SELECT printf('check-%%04d', n), (%[3]d / %[4]d - %[1]d + h.i) * %[4]d,
	CASE WHEN (n + h.i) %% 97 = 0 THEN 9 ELSE 12 END, CASE WHEN (n + h.i) %% 31 = 0 THEN 1 ELSE 0 END,
	CASE WHEN (n + h.i) %% 97 = 0 THEN 3 ELSE 0 END, 0, CASE WHEN (n + h.i) %% 97 = 0 THEN 4 ELSE 0 END,
	12 * 60000000, 0, 50 + abs(random() %% 150)
FROM h, c`, 30*24-perCheck*5/60-1, benchChecks, first, int64(time.Hour)),
		`INSERT INTO run_keys (run_id, violation_key)
SELECT r.id, k.key FROM runs r, (SELECT 'row-b' AS key UNION ALL SELECT 'row-c') k WHERE r.status = 'fail'`,
		`INSERT INTO run_keys (run_id, violation_key)
SELECT id, json_extract(sample, '$[0].key') FROM runs WHERE status = 'fail'`,
		`INSERT INTO check_state (check_id, kind, owner, runbook, tags, status, since, non_pass, passes, failing_since, incident_id, last_run_id, updated_at)
SELECT r.check_id, 'sql', 'team-' || (CAST(substr(r.check_id, 7) AS INTEGER) % 10), '', '[]', r.status, r.started_at,
	CASE WHEN r.status IN ('fail', 'error') THEN 1 ELSE 0 END, CASE r.status WHEN 'pass' THEN 1 ELSE 0 END,
	CASE WHEN r.status IN ('fail', 'error') THEN r.started_at END, NULL, r.id, r.started_at
FROM runs r WHERE r.id IN (SELECT MAX(id) FROM runs GROUP BY check_id)`,
		`INSERT INTO incidents (check_id, since, opened_at, opened_status, last_status, last_violations, worst_violations, opened_run_id, last_run_id)
SELECT check_id, since, since, status, status, 3, 3, last_run_id, last_run_id FROM check_state WHERE status IN ('fail', 'error')`,
		`UPDATE check_state SET incident_id = (SELECT id FROM incidents i WHERE i.check_id = check_state.check_id)`,
		fmt.Sprintf(`INSERT INTO silences (matcher, until_at, author, reason, created_at, starts_at)
VALUES ('check-0040', %[1]d, 'oscar', 'known issue, fix deploying', %[2]d, %[2]d), ('team:team-3', %[1]d, 'oscar', 'maintenance window', %[2]d, %[2]d),
	('check-0020', %[1]d, 'oscar', 'dedupe rerun', %[2]d, %[2]d)`,
			benchNow.Add(2*time.Hour).UnixNano(), benchNow.Add(-time.Hour).UnixNano()),
		fmt.Sprintf(`INSERT INTO outbox (check_id, incident_id, kind, payload, created_at, attempts, next_attempt_at, delivered_at)
SELECT check_id, id, k.kind, '{}', opened_at + k.after, 1, opened_at + k.after, opened_at + k.after
FROM incidents, (SELECT 'opened' AS kind, 0 AS after UNION ALL SELECT 'reminder', %[1]d UNION ALL SELECT 'reminder', %[2]d) k`,
			(10 * time.Minute).Nanoseconds(), (20 * time.Minute).Nanoseconds()),
		fmt.Sprintf(`INSERT INTO audit_log (at, actor, action, target, detail, remote)
SELECT opened_at + k.after, k.actor, 'ack', 'incident ' || id || ' (' || check_id || ')', 'note: looking at ' || check_id, '127.0.0.1'
FROM incidents, (SELECT 'oscar' AS actor, %[1]d AS after UNION ALL SELECT 'alice', %[2]d) k`,
			(12 * time.Minute).Nanoseconds(), (15 * time.Minute).Nanoseconds()),
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.80s...: %w", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = st.DB().ExecContext(ctx, "ANALYZE")
	return err
}

// benchServer is a local-mode server over the generated store.
func benchServer(b *testing.B) *Server {
	b.Helper()
	st, err := store.Open(context.Background(), "sqlite", benchStorePath(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s, err := New(Options{Store: st, Config: benchConfig(), Now: func() time.Time { return benchNow }, LocalUser: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchServe serves GET target b.N times straight through the Fiber
// handler (no network, no response cache) and reports the server time of
// one request as p50-ms and p99-ms. headers are name, value pairs.
func benchServe(b *testing.B, s *Server, target string, headers ...string) {
	b.Helper()
	h := s.app.Handler()
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
	serve := func() (time.Duration, int, int) {
		var req fasthttp.Request
		req.Header.SetMethod(fasthttp.MethodGet)
		req.SetRequestURI(target)
		req.Header.SetHost("localhost")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, remote, nil)
		start := time.Now()
		h(&ctx)
		return time.Since(start), ctx.Response.StatusCode(), len(ctx.Response.Body())
	}
	if _, code, n := serve(); code != fasthttp.StatusOK || n == 0 { // warm up, and check it works
		b.Fatalf("GET %s = %d (%d bytes)", target, code, n)
	}
	times := make([]time.Duration, 0, b.N)
	var bytes int
	b.ResetTimer()
	for b.Loop() {
		d, _, n := serve()
		times = append(times, d)
		bytes = n
	}
	b.StopTimer()
	slices.Sort(times)
	ms := func(q float64) float64 {
		return float64(times[min(len(times)-1, int(q*float64(len(times))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(bytes)/1024, "KiB/page")
}

// BenchmarkOverview is the whole overview page over 1,000 checks: the
// ones not passing listed, each with its history strip, and the count of
// passing ones.
func BenchmarkOverview(b *testing.B) {
	benchServe(b, benchServer(b), "/")
}

// BenchmarkOverviewPartial is the overview's htmx poll (overview_body).
func BenchmarkOverviewPartial(b *testing.B) {
	benchServe(b, benchServer(b), "/", "HX-Request", "true")
}

// BenchmarkOverviewFiltered is the overview filtered to one team.
func BenchmarkOverviewFiltered(b *testing.B) {
	benchServe(b, benchServer(b), "/?owner=team-3")
}

// BenchmarkCheckPage is the page of a failing check with an open incident.
func BenchmarkCheckPage(b *testing.B) {
	benchServe(b, benchServer(b), "/checks/"+benchCheckID(20))
}

// BenchmarkCheckPage30Days is the page of a failing check with its 30-day
// chart (720 hourly intervals, from 1,000 runs and the rollups before them)
// and its incident's timeline.
func BenchmarkCheckPage30Days(b *testing.B) {
	benchServe(b, benchServer(b), "/checks/"+benchCheckID(20)+"?range=30d")
}

// BenchmarkCheckPagePartial is the check page's htmx poll (check_live).
func BenchmarkCheckPagePartial(b *testing.B) {
	benchServe(b, benchServer(b), "/checks/"+benchCheckID(20), "HX-Request", "true")
}

// BenchmarkOverviewPassingListed is the overview with its passing checks
// listed too (show=passing): every one of the 1,000 rows.
func BenchmarkOverviewPassingListed(b *testing.B) {
	benchServe(b, benchServer(b), "/?show=passing")
}
