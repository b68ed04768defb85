package duplicates_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/duplicates"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/internal/datasource"
)

// benchRows is the size of the benchmark table.
const benchRows = 1_000_000

const benchQuery = "SELECT id, policy_id, doc_type, at FROM documents"

// BenchmarkDuplicates runs the check over a million rows of a SQLite file;
// compare with BenchmarkDuplicatesScanOnly, which only runs the query and
// scans the rows.
func BenchmarkDuplicates(b *testing.B) {
	src := benchSource(b)
	spec := kindtest.Decode(b, duplicates.Kind, "{query: '"+benchQuery+"', key_columns: [policy_id, doc_type], window: 2s}")
	c := kindtest.Build(b, spec, deps(src))
	var res checks.Result
	cpu := kindtest.CPUTime(b)
	for b.Loop() {
		var err error
		if res, err = c.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Violations), "violations")
	kindtest.ReportCPU(b, cpu)
	kindtest.ReportPeakRSS(b)
}

// BenchmarkDuplicatesScanOnly runs the same query and scans every row, as
// the check does, and nothing else.
func BenchmarkDuplicatesScanOnly(b *testing.B) {
	src := benchSource(b)
	cpu := kindtest.CPUTime(b)
	for b.Loop() {
		if n, err := kindtest.ScanRows(context.Background(), src, benchQuery); err != nil || n != benchRows {
			b.Fatalf("scanned %d rows: %v", n, err)
		}
	}
	kindtest.ReportCPU(b, cpu)
	kindtest.ReportPeakRSS(b)
}

// benchSource opens the benchmark database, generating it once into the
// user cache directory.
func benchSource(b *testing.B) *datasource.SQL {
	b.Helper()
	path := kindtest.CachedSQLite(b, fmt.Sprintf("duplicates-%d-v1.db", benchRows), generate)
	return kindtest.Source(b, "bench", "sqlite", path)
}

// generate writes the documents table: about 300,000 policies with up to
// three document types, written over a month, with 1% of rows written again
// within 3s of another row of the same key; 10% of times are RFC 3339 text.
func generate(tx *sql.Tx) error {
	if _, err := tx.Exec("CREATE TABLE documents (id INTEGER PRIMARY KEY, policy_id TEXT, doc_type TEXT, at TEXT)"); err != nil {
		return err
	}
	rows, err := kindtest.NewInserter(tx, "documents", 4)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"declaration", "endorsement", "invoice"}
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
		if err := rows.Insert(i+1, policy, doc, text); err != nil {
			return err
		}
	}
	return rows.Flush()
}
