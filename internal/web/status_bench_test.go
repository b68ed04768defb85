package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// The status page benchmarks (issue 18 §1): /status over 1,000 checks with
// the dashboard benchmarks' 1,000,000 raw runs (the last 3.5 days) and 90
// days of hourly rollups before them (about 2,100,000 rows), on SQLite:
//
//	go test ./internal/web -run '^$' -bench 'StatusPage|Healthz' -benchtime 300x
//
// Target: p50 <= 10 ms. The page is built at most every 15 s
// (statuspage.DefaultMaxAge) and its rendering kept, so most requests are
// served from memory; StatusPageRebuild and StatusPageCold measure the
// builds themselves. Healthz is the baseline of the same stack.

// benchStatusStorePath returns the generated store (the dashboard
// benchmark's runs plus rollups), making it first when it is missing.
func benchStatusStorePath(b *testing.B) string {
	b.Helper()
	runs := benchStorePath(b)
	path := filepath.Join(filepath.Dir(runs), fmt.Sprintf("vigil-status-bench-%dx90d-%s.db", benchChecks, benchVersion))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	tmp := path + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := generateStatusBenchStore(runs, tmp); err != nil {
		os.Remove(tmp)
		b.Fatalf("generate the status benchmark store: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %s", path, time.Since(start).Round(time.Millisecond))
	return path
}

// generateStatusBenchStore copies the runs store and adds an hourly rollup
// per check for every hour of the 90 days before its first raw run: 12
// runs an hour; in 2 % of the hours one warns, in 0.5 % one to three fail
// and in 0.1 % one errors (the skew of a healthy fleet).
func generateStatusBenchStore(runs, path string) error {
	ctx := context.Background()
	raw, err := os.ReadFile(runs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	st, err := store.Open(ctx, "sqlite", path)
	if err != nil {
		return err
	}
	defer st.Close()
	hour := time.Hour.Nanoseconds()
	var firstRaw int64
	if err := st.DB().QueryRowContext(ctx, "SELECT MIN(started_at) FROM runs").Scan(&firstRaw); err != nil {
		return err
	}
	last := firstRaw/hour*hour - hour
	hours := int64(90 * 24)
	q := fmt.Sprintf(`WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < %[1]d - 1),
c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < %[2]d - 1),
r(check_id, hour, roll) AS (SELECT printf('check-%%04d', n), %[3]d - i * %[4]d, abs(random()) %% 1000 FROM h, c)
INSERT INTO run_rollups (check_id, hour, pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns)
SELECT check_id, hour,
	12 - (CASE WHEN roll < 20 THEN 1 ELSE 0 END) - (CASE WHEN roll >= 990 THEN 1 + roll %% 3 ELSE 0 END) - (CASE WHEN roll BETWEEN 985 AND 989 THEN 1 ELSE 0 END),
	CASE WHEN roll < 20 THEN 1 ELSE 0 END,
	CASE WHEN roll >= 990 THEN 1 + roll %% 3 ELSE 0 END,
	CASE WHEN roll BETWEEN 985 AND 989 THEN 1 ELSE 0 END,
	CASE WHEN roll >= 990 THEN 3 ELSE 0 END, 12 * 40000000
FROM r ORDER BY roll`, hours, benchChecks, last, hour)
	if _, err := st.DB().ExecContext(ctx, q); err != nil {
		return err
	}
	_, err = st.DB().ExecContext(ctx, "ANALYZE")
	return err
}

// benchStatusConfig puts the 1,000 checks on a public status page in ten
// groups (one per team tag), with a public name for every tenth check.
func benchStatusConfig() *config.Config {
	cfg := benchConfig()
	p := &config.StatusPage{Title: "Acme status", Public: true, Names: map[string]string{}}
	for t := range 10 {
		g := config.StatusGroup{Name: fmt.Sprintf("Team %d services", t), Slug: fmt.Sprintf("team-%d-services", t)}
		for _, c := range cfg.Checks {
			if c.Tags[0] == fmt.Sprintf("team:team-%d", t) {
				g.Checks = append(g.Checks, c.ID)
			}
		}
		p.Groups = append(p.Groups, g)
	}
	for n := 0; n < benchChecks; n += 10 {
		p.Names[benchCheckID(n)] = fmt.Sprintf("Public service %d", n)
	}
	cfg.StatusPage = p
	return cfg
}

// benchStatusServer serves the status page over the generated store on
// the clock now.
func benchStatusServer(b *testing.B, now func() time.Time) *Server {
	b.Helper()
	st, err := store.Open(context.Background(), "sqlite", benchStatusStorePath(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s, err := New(Options{Store: st, Config: benchStatusConfig(), Now: now, LocalUser: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func fixedNow() time.Time { return benchNow }

// BenchmarkHealthz is the baseline: the cheapest route on the same stack.
func BenchmarkHealthz(b *testing.B) {
	benchServe(b, benchStatusServer(b, fixedNow), "/healthz")
}

// BenchmarkStatusPage is GET /status as browsers and proxies send it
// between builds: the rendering kept, gzipped.
func BenchmarkStatusPage(b *testing.B) {
	benchServe(b, benchStatusServer(b, fixedNow), "/status", "Accept-Encoding", "gzip, deflate, br")
}

// BenchmarkStatusPagePlain is GET /status without compression.
func BenchmarkStatusPagePlain(b *testing.B) {
	benchServe(b, benchStatusServer(b, fixedNow), "/status")
}

// BenchmarkStatusPageJSON is GET /api/v1/status, gzipped.
func BenchmarkStatusPageJSON(b *testing.B) {
	benchServe(b, benchStatusServer(b, fixedNow), "/api/v1/status", "Accept-Encoding", "gzip")
}

// BenchmarkStatusPageRebuild is a rebuild of the page past its max age
// (done in the background while requests are served the previous one):
// yesterday and today counted again, older days kept, then rendered.
func BenchmarkStatusPageRebuild(b *testing.B) {
	var ticks atomic.Int64
	s := benchStatusServer(b, func() time.Time { return benchNow.Add(time.Duration(ticks.Load()) * 16 * time.Second) })
	benchBuilds(b, func() *Server { return s }, func() { ticks.Add(1) })
}

// BenchmarkStatusPageCold is the first build of a new server (Warm, at
// start): every one of the 90 days counted from the store.
func BenchmarkStatusPageCold(b *testing.B) {
	path := benchStatusStorePath(b)
	st, err := store.Open(context.Background(), "sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := benchStatusConfig()
	benchBuilds(b, func() *Server {
		s, err := New(Options{Store: st, Config: cfg, Now: fixedNow, LocalUser: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}, func() {})
}

// benchBuilds times b.N builds and renderings of the status page of the
// server next returns, calling before ahead of each; it reports p50-ms and
// p99-ms.
func benchBuilds(b *testing.B, next func() *Server, before func()) {
	b.Helper()
	if _, err := next().rebuildStatus(context.Background()); err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	for b.Loop() {
		s := next()
		before()
		start := time.Now()
		if _, err := s.rebuildStatus(context.Background()); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)])/float64(time.Millisecond), "p99-ms")
}
