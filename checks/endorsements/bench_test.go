package endorsements_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/endorsements"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/internal/datasource"
)

// The benchmark data set: 1,000,000 policies, about 3,000,000 endorsement
// rows and 1,300,000 attribute rows in a SQLite file generated once and
// kept in the user cache directory (see kindtest.CachedSQLite).
const (
	benchPolicies = 1_000_000
	benchRules    = `endorsements:
  - code: EN-00
    auto_attach: {new: yes, renewal: yes, reissue: copy}
  - code: EN-01
    when: {state: [FL, LA]}
    auto_attach: {new: yes, renewal: yes, reissue: copy}
  - code: EN-02
    when: {coverage: [flood]}
    auto_attach: {new: yes, reissue: copy}
  - code: EN-03
    when: {coverage: [wind, quake], state: [TX, CA, FL]}
    auto_attach: {renewal: yes, reissue: yes}
  - code: EN-04
    when: {agency: [AG-1, AG-2, AG-3, AG-4, AG-5]}
    auto_attach: {new: yes}
  - code: EN-05
    auto_attach: {reissue: copy}
  - code: EN-06
    when: {state: NY}
    auto_attach: {new: yes, renewal: no, reissue: copy}
  - code: EN-07
    when: {coverage: fire}
    auto_attach: {renewal: yes}
  - code: EN-08
    when: {agency: [AG-10, AG-20], coverage: [flood, fire]}
    auto_attach: {new: yes, renewal: yes, reissue: yes}
  - code: EN-09
    auto_attach: {new: no, renewal: no, reissue: no}
`
	benchPoliciesQuery     = "SELECT policy_id, transaction_type, reissue_of, state, agency FROM policies"
	benchEndorsementsQuery = "SELECT policy_id, endorsement FROM endorsements"
	benchAttributesQuery   = "SELECT policy_id, name, value FROM attributes"
)

// benchRSSEnv makes the test binary run one measured pass over the data
// set and print its peak RSS instead of running tests.
const benchRSSEnv = "VIGIL_ENDORSEMENTS_BENCH_RSS"

func TestMain(m *testing.M) {
	if mode := os.Getenv(benchRSSEnv); mode != "" {
		os.Exit(rssChild(mode, os.Getenv(benchRSSEnv+"_DB")))
	}
	os.Exit(m.Run())
}

// rssChild runs the check ("check") or the bare scan ("scan") once over db
// and prints the process's peak resident set size.
func rssChild(mode, db string) int {
	src, err := datasource.OpenSQL("bench", "sqlite", db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Close()
	if mode == "check" {
		c, err := benchCheck(src)
		if err == nil {
			_, err = c.Run(context.Background())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	} else if _, err := scanOnly(context.Background(), src); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kib, err := kindtest.PeakRSSKiB()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("peak_rss_kib=%d\n", kib)
	return 0
}

// benchDB returns the path of the benchmark database, generating it first
// when it does not exist yet.
func benchDB(b *testing.B) string {
	b.Helper()
	return kindtest.CachedSQLite(b, fmt.Sprintf("endorsements-%d-v1.db", benchPolicies), generate)
}

// generate writes the policies, endorsements and attributes tables.
func generate(tx *sql.Tx) error {
	n := strconv.Itoa(benchPolicies)
	stmts := []string{
		"CREATE TABLE policies (policy_id TEXT, transaction_type TEXT, reissue_of TEXT, state TEXT, agency TEXT)",
		"CREATE TABLE endorsements (policy_id TEXT, endorsement TEXT)",
		"CREATE TABLE attributes (policy_id TEXT, name TEXT, value TEXT)",
		// 50% new, 30% renewal, 20% reissue (of a policy 7 earlier, or of
		// one that does not exist), and 1 in 100,000 of an unknown type.
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + n + `)
		INSERT INTO policies SELECT printf('P-%07d', i),
			CASE WHEN i % 100000 = 0 THEN 'cancel' WHEN i % 10 < 5 THEN 'new' WHEN i % 10 < 8 THEN 'renewal' ELSE 'reissue' END,
			CASE WHEN i % 10 >= 8 AND i > 7 THEN (CASE WHEN i % 50 = 9 THEN printf('Q-%07d', i) ELSE printf('P-%07d', i - 7) END) END,
			CASE WHEN i % 97 = 0 THEN NULL ELSE substr('FLLATXCANYWAOHGAILAZ', 1 + 2 * (i % 10), 2) END,
			'AG-' || (i % 40)
		FROM n`,
		// About three endorsements per policy from 30 codes, some missing.
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + n + `),
		k(j) AS (VALUES (0), (1), (2), (3))
		INSERT INTO endorsements SELECT printf('P-%07d', i), printf('EN-%02d', (i * 7 + j * 11) % 30)
		FROM n, k WHERE (j < 3 OR i % 4 = 0) AND (i + j) % 23 <> 0`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + n + `)
		INSERT INTO attributes SELECT printf('P-%07d', i), 'coverage', CASE i % 4 WHEN 0 THEN 'flood' WHEN 1 THEN 'wind' WHEN 2 THEN 'fire' ELSE 'quake' END FROM n
		UNION ALL SELECT printf('P-%07d', i), 'coverage', 'flood' FROM n WHERE i % 3 = 0`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			return err
		}
	}
	return nil
}

// benchCheck builds the benchmark's check over src.
func benchCheck(src checks.SQLSource) (checks.Check, error) {
	dir, err := os.MkdirTemp("", "vigil-endorsements-rules")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(benchRules), 0o600); err != nil {
		return nil, err
	}
	spec := endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: benchPoliciesQuery, EndorsementsQuery: benchEndorsementsQuery, AttributesQuery: benchAttributesQuery}
	if ps := spec.Validate(checks.SpecEnv{BaseDir: dir}); len(ps) > 0 {
		return nil, fmt.Errorf("validate: %+v", ps)
	}
	return spec.Build(checks.Deps{CheckID: "bench", BaseDir: dir, SQL: src, Timeout: 10 * time.Minute})
}

// scanOnly runs the check's three queries and reads every row, doing
// nothing else: the floor the check's own time is compared with.
func scanOnly(ctx context.Context, src checks.SQLSource) (int, error) {
	return kindtest.ScanRows(ctx, src, benchPoliciesQuery, benchAttributesQuery, benchEndorsementsQuery)
}

// reportPeakRSS runs one pass of mode in a fresh process and reports its
// peak RSS in MiB.
func reportPeakRSS(b *testing.B, mode, db string) {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchRSSEnv+"="+mode, benchRSSEnv+"_DB="+db)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("peak RSS child (%s): %v: %s", mode, err, out)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "peak_rss_kib=")
	kib, err := strconv.Atoi(s)
	if !ok || err != nil {
		b.Fatalf("peak RSS child (%s) printed %q", mode, out)
	}
	b.ReportMetric(float64(kib)/1024, "peak-MiB")
}

// BenchmarkEndorsements times the check over the benchmark data set and
// reports its time as a multiple of a bare scan of the same queries
// (x-scan in wall time and x-scan-cpu in CPU time, both measured alternately
// in the same iterations), the violations it
// found, and the peak RSS of one run in a fresh process.
func BenchmarkEndorsements(b *testing.B) {
	db := benchDB(b)
	src := kindtest.Source(b, "bench", "sqlite", db)
	c, err := benchCheck(src)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var scanTime, checkTime, scanCPU, checkCPU time.Duration
	var res checks.Result
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		start, startCPU := time.Now(), kindtest.CPUTime(b)
		if _, err := scanOnly(ctx, src); err != nil {
			b.Fatal(err)
		}
		scanTime += time.Since(start)
		scanCPU += kindtest.CPUTime(b) - startCPU
		b.StartTimer()
		start, startCPU = time.Now(), kindtest.CPUTime(b)
		res, err = c.Run(ctx)
		checkTime += time.Since(start)
		checkCPU += kindtest.CPUTime(b) - startCPU
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(checkTime)/float64(scanTime), "x-scan")
	b.ReportMetric(float64(checkCPU)/float64(scanCPU), "x-scan-cpu")
	b.ReportMetric(float64(res.Violations), "violations")
	reportPeakRSS(b, "check", db)
}

// BenchmarkEndorsementsScanOnly times the bare scan of the check's three
// queries, the baseline for BenchmarkEndorsements.
func BenchmarkEndorsementsScanOnly(b *testing.B) {
	db := benchDB(b)
	src := kindtest.Source(b, "bench", "sqlite", db)
	ctx := context.Background()
	rows := 0
	b.ResetTimer()
	for range b.N {
		var err error
		if rows, err = scanOnly(ctx, src); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows), "rows")
	reportPeakRSS(b, "scan", db)
}
