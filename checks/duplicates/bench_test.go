package duplicates_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks/duplicates"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
)

// benchRows is the size of the benchmark table.
const benchRows = 1_000_000

const (
	benchQuery = "SELECT id, policy_id, doc_type, at FROM documents"
	benchSpec  = "{query: '" + benchQuery + "', key_columns: [policy_id, doc_type], window: 2s}"
)

func TestMain(m *testing.M) {
	os.Exit(kindtest.BenchMain(m, kindtest.Passes{
		"check": kindtest.SpecPass(duplicates.Kind, benchSpec, deps),
		"scan":  kindtest.ScanPass(benchQuery),
	}))
}

// BenchmarkDuplicates runs the check and a bare scan of its query in turn,
// each in a fresh process, over a million documents, and reports the
// check's CPU time as a multiple of the scan's (x-scan-cpu) and each one's
// peak RSS (see kindtest.Compare).
func BenchmarkDuplicates(b *testing.B) {
	db := kindtest.CachedSQLite(b, fmt.Sprintf("duplicates-%d-v2.db", benchRows), generate)
	kindtest.Compare(b, db, "check", "scan")
}

// generate writes the documents table: documents of 300,000 policies ("P-"
// and ten digits, a few policies with many documents, most with a handful)
// of six types (skewed), written over a year in random order, with 1% of
// rows written again within 3s of another row of the same key; 10% of
// times are RFC 3339 text.
func generate(tx *sql.Tx) error {
	if _, err := tx.Exec("CREATE TABLE documents (id INTEGER PRIMARY KEY, policy_id TEXT, doc_type TEXT, at TEXT)"); err != nil {
		return err
	}
	rows, err := kindtest.NewInserter(tx, "documents", 4)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	policies := rand.NewZipf(rng, 1.05, 50, 299_999)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"declaration", "invoice", "endorsement_schedule", "id_card", "cancellation_notice", "certificate_of_insurance"}
	var policy, doc string
	var at time.Time
	for i := range benchRows {
		if i == 0 || rng.IntN(100) != 0 {
			policy = fmt.Sprintf("P-%010d", 1_200_000+3*int(policies.Uint64()))
			doc = types[min(rng.IntN(10), len(types)-1)]
			at = base.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
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
